//! `weir-expr`: the subset of [expr-lang](https://expr-lang.org) (v1.17 semantics) that Argo
//! Rollouts analysis conditions use, and Argo's evaluation wrapper ([`argo`]).
//!
//! ```
//! use weir_expr::{Value, argo};
//!
//! let data = Value::from_json_go(&serde_json::json!({
//!     "service_apdex": {"values": {"values": [{"value": 9950}, {"value": 9990}]}}
//! }));
//! let ok = argo::evaluate_condition(
//!     "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})",
//!     &data,
//! );
//! assert_eq!(ok, Ok(true));
//! ```
//!
//! Pipeline: lexer → Pratt parser → AST → static check against an [`Env`] → tree-walking
//! evaluation. [`compile`] parses once; [`Program::run`] checks and evaluates against an
//! environment as often as needed. Nothing panics on any input; deeply nested input is rejected.

mod ast;
mod builtins;
mod check;
mod eval;
mod lexer;
mod parser;
mod time;
mod value;

pub mod argo;

pub use check::Type;
pub use eval::{Env, HostFn, HostFnImpl};
pub use value::{Duration, Time, Value};

/// A syntax error, or a check error (unknown name, mismatched types), without position info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// expr's message, e.g. `unexpected token Number("10.000000")`.
    pub message: String,
}

/// Any failure to produce a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Parsing or checking failed.
    #[error("{0}")]
    Compile(#[from] CompileError),
    /// Evaluation failed (expr's runtime error text).
    #[error("{0}")]
    Runtime(String),
}

/// A parsed expression, reusable across evaluations and threads.
#[derive(Debug, Clone)]
pub struct Program {
    source: String,
    root: ast::Node,
}

/// Parses `source`.
pub fn compile(source: &str) -> Result<Program, CompileError> {
    let root = parser::parse(source).map_err(|message| CompileError { message })?;
    Ok(Program { source: source.to_owned(), root })
}

impl Program {
    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Type-checks against `env` (what expr does at compile time) and returns the result type.
    pub fn check(&self, env: &Env) -> Result<Type, CompileError> {
        check::check(&self.root, env).map_err(|message| CompileError { message })
    }

    /// Checks, then evaluates against `env`.
    pub fn run(&self, env: &Env) -> Result<Value, Error> {
        self.check(env)?;
        eval::eval(&self.root, env).map_err(Error::Runtime)
    }
}

/// Compiles and runs `source` against `env`.
pub fn eval(source: &str, env: &Env) -> Result<Value, Error> {
    compile(source)?.run(env)
}

#[cfg(test)]
mod tests;
