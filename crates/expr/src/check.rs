//! The static checker, run before evaluation like expr's compile-time checker: unknown names,
//! arity, and operator type errors where both operand types are known (`asFloat(x) == "1"` is a
//! compile error, while `m.field == "1"` on an `any` field is a runtime comparison).
//! Types come from the environment's values; anything dynamic is [`Type::Unknown`].

use crate::ast::{BinOp, MapKey, Node, NodeKind, UnOp};
use crate::builtins;
use crate::eval::Env;
use crate::parser::predicate;
use crate::value::Value;

/// A static type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Go `interface{}`: known only at run time.
    Unknown,
    /// The `nil` literal.
    Nil,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `float64`.
    Float,
    /// `string`.
    String,
    /// A slice with the given element type.
    Array(Box<Type>),
    /// A map with string keys and the given value type.
    Map(Box<Type>),
    /// `time.Time`.
    Time,
    /// `time.Duration`.
    Duration,
}

impl Type {
    /// The static type expr derives from an environment value (a nil value is unknown).
    pub fn of(v: &Value) -> Type {
        match v {
            Value::Nil => Type::Unknown,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::String(_) => Type::String,
            Value::Array(_) => Type::Array(Box::new(Type::Unknown)),
            Value::Map(_) => Type::Map(Box::new(Type::Unknown)),
            Value::Time(_) => Type::Time,
            Value::Duration(_) => Type::Duration,
        }
    }

    /// The Go name used in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Type::Unknown => "interface {}",
            Type::Nil => "nil",
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Float => "float64",
            Type::String => "string",
            Type::Array(_) => "[]interface {}",
            Type::Map(_) => "map[string]interface {}",
            Type::Time => "time.Time",
            Type::Duration => "time.Duration",
        }
    }

    fn num(&self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }
    fn unknown(&self) -> bool {
        matches!(self, Type::Unknown)
    }
    fn is(&self, other: &Type) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
    fn bool_like(&self) -> bool {
        matches!(self, Type::Bool | Type::Unknown)
    }
    fn str_like(&self) -> bool {
        matches!(self, Type::String | Type::Unknown)
    }
    fn ordered(&self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::String | Type::Time | Type::Duration)
    }
}

/// The element type a predicate sees when iterating a value of type `t`.
pub(crate) fn element(t: &Type) -> Option<Type> {
    match t {
        Type::Array(e) => Some((**e).clone()),
        Type::Unknown | Type::Nil => Some(Type::Unknown),
        _ => None,
    }
}

/// Checks `node` against `env` and returns its type.
pub(crate) fn check(node: &Node, env: &Env) -> Result<Type, String> {
    Checker { env, scopes: Vec::new(), locals: Vec::new(), reduces: Vec::new() }.check(node)
}

struct Checker<'a> {
    env: &'a Env,
    scopes: Vec<Type>,
    /// `let` variables in scope, innermost last.
    locals: Vec<(String, Type)>,
    /// The `scopes` depths of `reduce` predicates, where `#acc` exists.
    reduces: Vec<usize>,
}

fn mismatch(op: &str, l: &Type, r: &Type) -> String {
    format!("invalid operation: {op} (mismatched types {} and {})", l.name(), r.name())
}

impl Checker<'_> {
    /// `let name = value; body`; out of line so `check`'s frame stays small for deep trees.
    #[inline(never)]
    fn let_binding(&mut self, name: &str, value: &Node, body: &Node) -> Result<Type, String> {
        if self.env.var(name).is_some() {
            return Err(format!("cannot redeclare {name}"));
        }
        if self.env.function(name).is_some() {
            return Err(format!("cannot redeclare function {name}"));
        }
        if builtins::arity(name).is_some() || crate::parser::predicate(name).is_some() {
            return Err(format!("cannot redeclare builtin {name}"));
        }
        if self.locals.iter().any(|(n, _)| n == name) {
            return Err(format!("cannot redeclare variable {name}"));
        }
        let t = self.check(value)?;
        self.locals.push((name.to_owned(), t));
        let body = self.check(body);
        self.locals.pop();
        body
    }

    /// One node's type. Arms are small or out of line, so the recursive frame stays small
    /// in debug builds too (see `eval`).
    fn check(&mut self, node: &Node) -> Result<Type, String> {
        Ok(match &*node.kind {
            NodeKind::Nil => Type::Nil,
            NodeKind::Bool(_) => Type::Bool,
            NodeKind::Int(_) => Type::Int,
            NodeKind::Float(_) => Type::Float,
            NodeKind::Str(_) => Type::String,
            NodeKind::Ident(name) => self.ident(name)?,
            NodeKind::Pointer(name) => self.pointer(name.as_deref())?,
            NodeKind::Unary(op, a) => self.unary(*op, a)?,
            NodeKind::Binary(op, a, b) => self.binary(*op, a, b)?,
            NodeKind::Matches(a, b, _) => self.matches(a, b)?,
            NodeKind::Ternary(c, y, n) => self.ternary(c, y, n)?,
            NodeKind::Member { obj, prop, .. } => self.member(obj, prop)?,
            NodeKind::Chain(n) | NodeKind::Closure(n) => self.check(n)?,
            NodeKind::Let { name, value, body } => self.let_binding(name, value, body)?,
            NodeKind::Slice { obj, from, to } => self.slice(obj, from.as_ref(), to.as_ref())?,
            NodeKind::Call { name, args } => self.call(name, args)?,
            NodeKind::Method { obj, name, args } => self.method(obj, name, args)?,
            NodeKind::Array(items) => self.array(items)?,
            NodeKind::Map(entries) => self.map(entries)?,
        })
    }

    #[inline(never)]
    fn ident(&self, name: &str) -> Result<Type, String> {
        if let Some((_, t)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(t.clone());
        }
        match self.env.var(name) {
            Some(v) => Ok(Type::of(v)),
            None if self.env.function(name).is_some() || builtins::arity(name).is_some() => {
                Ok(Type::Unknown)
            }
            None => Err(format!("unknown name {name}")),
        }
    }

    #[inline(never)]
    fn pointer(&self, name: Option<&str>) -> Result<Type, String> {
        match (name, self.scopes.last()) {
            (_, None) => Err("cannot use pointer accessor outside predicate".into()),
            (None, Some(t)) => Ok(t.clone()),
            (Some("index"), Some(_)) => Ok(Type::Int),
            (Some("acc"), Some(_)) if self.reduces.last() == Some(&self.scopes.len()) => {
                Ok(Type::Unknown)
            }
            (Some(other), Some(_)) => Err(format!("unknown pointer #{other}")),
        }
    }

    #[inline(never)]
    fn unary(&mut self, op: UnOp, a: &Node) -> Result<Type, String> {
        let t = self.check(a)?;
        Ok(match op {
            UnOp::Not if t.bool_like() => Type::Bool,
            UnOp::Neg | UnOp::Plus if t.num() || t.unknown() => t,
            UnOp::Neg if t == Type::Duration => t,
            _ => {
                let sym = match op {
                    UnOp::Not => "not",
                    UnOp::Neg => "-",
                    UnOp::Plus => "+",
                };
                return Err(format!("invalid operation: {sym} (mismatched type {})", t.name()));
            }
        })
    }

    #[inline(never)]
    fn binary(&mut self, op: BinOp, a: &Node, b: &Node) -> Result<Type, String> {
        let l = self.check(a)?;
        let r = self.check(b)?;
        binary(op, &l, &r)
    }

    #[inline(never)]
    fn matches(&mut self, a: &Node, b: &Node) -> Result<Type, String> {
        let l = self.check(a)?;
        let r = self.check(b)?;
        if !l.str_like() || !r.str_like() {
            return Err(mismatch("matches", &l, &r));
        }
        Ok(Type::Bool)
    }

    #[inline(never)]
    fn ternary(&mut self, c: &Node, y: &Node, n: &Node) -> Result<Type, String> {
        let ct = self.check(c)?;
        if !ct.bool_like() {
            return Err(format!("non-bool expression (type {}) used as condition", ct.name()));
        }
        let yt = self.check(y)?;
        let nt = self.check(n)?;
        Ok(if yt == nt { yt } else { Type::Unknown })
    }

    #[inline(never)]
    fn member(&mut self, obj: &Node, prop: &Node) -> Result<Type, String> {
        let ot = self.check(obj)?;
        let pt = self.check(prop)?;
        member(&ot, &pt, prop)
    }

    #[inline(never)]
    fn slice(
        &mut self,
        obj: &Node,
        from: Option<&Node>,
        to: Option<&Node>,
    ) -> Result<Type, String> {
        let ot = self.check(obj)?;
        for bound in from.into_iter().chain(to) {
            let t = self.check(bound)?;
            if !(t.is(&Type::Int) || t.unknown()) {
                return Err(format!("invalid slice index (type {})", t.name()));
            }
        }
        match ot {
            Type::Array(_) | Type::String | Type::Unknown => Ok(ot),
            _ => Err(format!("cannot slice {}", ot.name())),
        }
    }

    #[inline(never)]
    fn method(&mut self, obj: &Node, name: &str, args: &[Node]) -> Result<Type, String> {
        let ot = self.check(obj)?;
        for a in args {
            self.check(a)?;
        }
        match ot {
            Type::Unknown => Ok(Type::Unknown),
            Type::Time | Type::Duration => builtins::method_type(&ot, name)
                .ok_or_else(|| format!("type {} has no method {name}", ot.name())),
            _ => Err(format!("type {} has no method {name}", ot.name())),
        }
    }

    #[inline(never)]
    fn array(&mut self, items: &[Node]) -> Result<Type, String> {
        let mut common: Option<Type> = None;
        for item in items {
            let t = self.check(item)?;
            common = match common {
                None => Some(t),
                Some(c) if c == t => Some(c),
                Some(_) => Some(Type::Unknown),
            };
        }
        Ok(Type::Array(Box::new(common.unwrap_or(Type::Unknown))))
    }

    #[inline(never)]
    fn map(&mut self, entries: &[(MapKey, Node)]) -> Result<Type, String> {
        for (k, v) in entries {
            if let MapKey::Expr(k) = k {
                self.check(k)?;
            }
            self.check(v)?;
        }
        Ok(Type::Map(Box::new(Type::Unknown)))
    }

    fn call(&mut self, name: &str, args: &[Node]) -> Result<Type, String> {
        if predicate(name).is_some() {
            return self.predicate(name, args);
        }
        let arg_types = args.iter().map(|a| self.check(a)).collect::<Result<Vec<_>, _>>()?;
        let (min, max, ret) = if let Some(f) = self.env.function(name) {
            (f.arity, Some(f.arity), f.ret.clone())
        } else if let Some((min, max)) = builtins::arity(name) {
            (min, max, builtins::return_type(name, &arg_types))
        } else {
            return Err(format!("unknown name {name}"));
        };
        if args.len() < min {
            return Err(format!("not enough arguments to call {name}"));
        }
        if max.is_some_and(|max| args.len() > max) {
            return Err(format!("too many arguments to call {name}"));
        }
        Ok(ret)
    }

    fn predicate(&mut self, name: &str, args: &[Node]) -> Result<Type, String> {
        let Some(collection) = args.first() else {
            return Err(format!("not enough arguments to call {name}"));
        };
        let ct = self.check(collection)?;
        let elem = element(&ct)
            .ok_or_else(|| format!("builtin {name} takes only array (got {})", ct.name()))?;
        let body = match args.get(1) {
            Some(closure) => {
                self.scopes.push(elem.clone());
                if name == "reduce" {
                    self.reduces.push(self.scopes.len());
                }
                let t = self.check(closure);
                if name == "reduce" {
                    self.reduces.pop();
                }
                self.scopes.pop();
                Some(t?)
            }
            None => None,
        };
        if let Some(order) = args.get(2) {
            self.check(order)?;
        }
        let needs_bool = !matches!(name, "map" | "sum" | "sortBy" | "groupBy" | "reduce");
        if let Some(t) = &body
            && needs_bool
            && !t.bool_like()
        {
            return Err(format!("predicate should return boolean (got {})", t.name()));
        }
        Ok(match name {
            "all" | "any" | "none" | "one" => Type::Bool,
            "filter" | "sortBy" => Type::Array(Box::new(elem)),
            "groupBy" => Type::Map(Box::new(Type::Array(Box::new(elem)))),
            "map" => Type::Array(Box::new(body.unwrap_or(Type::Unknown))),
            "count" | "findIndex" | "findLastIndex" => Type::Int,
            "find" | "findLast" => elem,
            "sum" => match body.unwrap_or(elem) {
                t @ (Type::Int | Type::Float) => t,
                _ => Type::Unknown,
            },
            _ => Type::Unknown,
        })
    }
}

fn member(ot: &Type, pt: &Type, prop: &Node) -> Result<Type, String> {
    let field = match &*prop.kind {
        NodeKind::Str(s) => Some(s.as_str()),
        _ => None,
    };
    Ok(match ot {
        Type::Unknown | Type::Nil => Type::Unknown,
        Type::Map(e) => (**e).clone(),
        Type::Array(e) if pt.is(&Type::Int) || pt.unknown() => (**e).clone(),
        Type::String if pt.is(&Type::Int) || pt.unknown() => Type::String,
        Type::Array(_) | Type::String if pt.is(&Type::Float) => {
            return Err(format!(
                "array elements can only be selected using an integer (got {})",
                pt.name()
            ));
        }
        _ => match field {
            Some(f) => return Err(format!("type {} has no field {f}", ot.name())),
            None => return Err(format!("cannot fetch {} from {}", pt.name(), ot.name())),
        },
    })
}

fn binary(op: BinOp, l: &Type, r: &Type) -> Result<Type, String> {
    let any = l.unknown() || r.unknown();
    let err = || Err(mismatch(op.symbol(), l, r));
    let arith = || if *l == Type::Int && *r == Type::Int { Type::Int } else { Type::Float };
    match op {
        BinOp::Or | BinOp::And => {
            if l.bool_like() && r.bool_like() {
                Ok(Type::Bool)
            } else {
                err()
            }
        }
        BinOp::Eq | BinOp::Ne => {
            let ok = any
                || matches!(l, Type::Nil)
                || matches!(r, Type::Nil)
                || (l.num() && r.num())
                || l.is(r);
            if ok { Ok(Type::Bool) } else { err() }
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ok = (l.num() && r.num())
                || (l.ordered() && l.is(r))
                || (l.unknown() && (r.ordered() || r.unknown()))
                || (r.unknown() && l.ordered());
            if ok { Ok(Type::Bool) } else { err() }
        }
        BinOp::In => match r {
            Type::Array(_) | Type::Unknown | Type::Nil => Ok(Type::Bool),
            Type::Map(_) if l.str_like() || matches!(l, Type::Nil) => Ok(Type::Bool),
            Type::Map(_) => Err(format!("cannot use {} as type string in map key", l.name())),
            _ => err(),
        },
        BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => {
            if l.str_like() && r.str_like() {
                Ok(Type::Bool)
            } else {
                err()
            }
        }
        BinOp::Range => {
            let int_like = |t: &Type| t.is(&Type::Int) || t.unknown();
            if int_like(l) && int_like(r) { Ok(Type::Array(Box::new(Type::Int))) } else { err() }
        }
        BinOp::Coalesce => Ok(match (l, r) {
            (Type::Nil, _) => r.clone(),
            _ if l == r => l.clone(),
            _ => Type::Unknown,
        }),
        _ if any => Ok(Type::Unknown),
        BinOp::Add => match (l, r) {
            _ if l.num() && r.num() => Ok(arith()),
            (Type::String, Type::String) => Ok(Type::String),
            (Type::Time, Type::Duration) | (Type::Duration, Type::Time) => Ok(Type::Time),
            (Type::Duration, Type::Duration) => Ok(Type::Duration),
            _ => err(),
        },
        BinOp::Sub => match (l, r) {
            _ if l.num() && r.num() => Ok(arith()),
            (Type::Time, Type::Time) | (Type::Duration, Type::Duration) => Ok(Type::Duration),
            (Type::Time, Type::Duration) => Ok(Type::Time),
            _ => err(),
        },
        BinOp::Mul => match (l, r) {
            _ if l.num() && r.num() => Ok(arith()),
            (Type::Duration, Type::Int) | (Type::Int, Type::Duration) => Ok(Type::Duration),
            _ => err(),
        },
        BinOp::Div | BinOp::Pow if l.num() && r.num() => Ok(Type::Float),
        BinOp::Mod if *l == Type::Int && *r == Type::Int => Ok(Type::Int),
        _ => err(),
    }
}
