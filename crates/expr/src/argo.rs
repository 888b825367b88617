//! Argo Rollouts' condition evaluation (`utils/evaluate`): the environment (`result`, `asInt`,
//! `asFloat`, `isNaN`, `isInf`, `isNil`, `default`), `EvalCondition`, `EvaluateResult` with its
//! phase rules and error wording, and `EvalTime` for Prometheus range-query bounds.
//!
//! Build `result` the way the provider's Go code does: [`Value::float_array`] for a Prometheus
//! vector/matrix or Graphite series, [`Value::Float`] for a scalar, [`Value::from_json_go`] for
//! decoded JSON (every number `float64`), [`Value::Int`] where Go used `int`, and
//! [`Value::Nil`] for a nil pointer/slice/map.

use crate::builtins::parse_float;
use crate::value::go_quote;
use crate::{Env, Program, Time, Type, Value, compile};

/// A measurement phase as `EvaluateResult` decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The success condition held (or no condition was set).
    Successful,
    /// The failure condition held, or only a success condition was set and it did not hold.
    Failed,
    /// Both conditions were set and neither held.
    Inconclusive,
    /// A condition could not be evaluated.
    Error,
}

/// Argo's `isNil`: nil, or a nil pointer/slice/map (all represented as [`Value::Nil`]).
pub fn is_nil(result: &Value) -> bool {
    result.is_nil()
}

/// Argo's `isNilOrEmpty`: nil or an empty slice (decides the "no data" error wording).
pub fn is_nil_or_empty(result: &Value) -> bool {
    match result {
        Value::Nil => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn not_supported(func: &str, v: &Value) -> String {
    let t = if v.is_nil() { "<nil>" } else { v.go_type() };
    format!("{func}() not supported on {t} {v}")
}

/// Argo's `asInt`: numbers truncate toward zero, strings go through `strconv.ParseInt`.
pub fn as_int(v: &Value) -> Result<Value, String> {
    match v {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => Ok(Value::Int(*f as i64)),
        Value::String(s) => {
            let plain = !s.is_empty() && !s.contains('_');
            match s.parse::<i64>() {
                Ok(i) if plain => Ok(Value::Int(i)),
                _ => {
                    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
                    let reason = if plain
                        && !digits.is_empty()
                        && digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    };
                    Err(format!("strconv.ParseInt: parsing {}: {reason}", go_quote(s)))
                }
            }
        }
        other => Err(not_supported("asInt", other)),
    }
}

/// Argo's `asFloat`: numbers convert, strings go through `strconv.ParseFloat`.
pub fn as_float(v: &Value) -> Result<Value, String> {
    match v {
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::String(s) => parse_float(s).map(Value::Float),
        other => Err(not_supported("asFloat", other)),
    }
}

fn float_arg(func: &str, args: &[Value]) -> Result<f64, String> {
    match args.first() {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Int(i)) => Ok(*i as f64),
        other => Err(format!(
            "reflect: Call using {} as type float64 (calling {func})",
            other.map_or("zero Value", Value::go_type)
        )),
    }
}

fn helpers(env: Env) -> Env {
    env.with_fn("isNaN", 1, Type::Bool, |a| Ok(Value::Bool(float_arg("isNaN", a)?.is_nan())))
        .with_fn("isInf", 1, Type::Bool, |a| Ok(Value::Bool(float_arg("isInf", a)?.is_infinite())))
}

/// The environment Argo gives a condition: `result` plus the helper functions. `isNil` and
/// `default` ignore their (first) argument and look at this `result`.
pub fn environment(result: &Value) -> Env {
    let for_is_nil = result.clone();
    let for_default = result.clone();
    helpers(Env::new())
        .with_var("result", result.clone())
        .with_fn("asInt", 1, Type::Int, |a| as_int(a.first().unwrap_or(&Value::Nil)))
        .with_fn("asFloat", 1, Type::Float, |a| as_float(a.first().unwrap_or(&Value::Nil)))
        .with_fn("isNil", 1, Type::Bool, move |_| Ok(Value::Bool(for_is_nil.is_nil())))
        .with_fn("default", 2, Type::Unknown, move |a| {
            Ok(if for_default.is_nil() {
                a.get(1).cloned().unwrap_or(Value::Nil)
            } else {
                for_default.clone()
            })
        })
}

/// Argo's `EvalCondition` for a compiled program.
pub fn evaluate_program(program: &Program, result: &Value) -> Result<bool, String> {
    match program.run(&environment(result)).map_err(|e| e.to_string())? {
        Value::Bool(b) => Ok(b),
        other => Err(format!("expected bool, but got {}", other.go_type())),
    }
}

/// Argo's `EvalCondition`: the condition must evaluate to a bool.
pub fn evaluate_condition(expr: &str, result: &Value) -> Result<bool, String> {
    let program = compile(expr).map_err(|e| e.to_string())?;
    evaluate_program(&program, result)
}

fn wrap(which: &str, expr: &str, cause: String, result: &Value) -> String {
    let cause = if is_nil_or_empty(result) {
        "metric result is nil or empty: no data returned from the metric provider".to_owned()
    } else {
        cause
    };
    format!("could not evaluate {which} {}: {cause}", go_quote(expr))
}

/// Argo's `EvaluateResult`: the phase of a measurement from its result and the metric's
/// `successCondition` / `failureCondition` (empty = not set), with the error message for
/// [`Phase::Error`].
pub fn evaluate_result(result: &Value, success: &str, failure: &str) -> (Phase, Option<String>) {
    let mut success_held = false;
    let mut failure_held = false;
    if !success.is_empty() {
        match evaluate_condition(success, result) {
            Ok(b) => success_held = b,
            Err(e) => {
                return (Phase::Error, Some(wrap("successCondition", success, e, result)));
            }
        }
    }
    if !failure.is_empty() {
        match evaluate_condition(failure, result) {
            Ok(b) => failure_held = b,
            Err(e) => {
                return (Phase::Error, Some(wrap("failureCondition", failure, e, result)));
            }
        }
    }
    match (success.is_empty(), failure.is_empty()) {
        (true, true) => return (Phase::Successful, None),
        (false, true) => failure_held = !success_held,
        (true, false) => success_held = !failure_held,
        (false, false) => {}
    }
    let phase = if failure_held {
        Phase::Failed
    } else if !success_held {
        Phase::Inconclusive
    } else {
        Phase::Successful
    };
    (phase, None)
}

/// Argo's `EvalTime` (Prometheus `rangeQuery.start` / `end`, e.g. `now() - duration("5m")`).
pub fn evaluate_time(expr: &str) -> Result<Time, String> {
    let program = compile(expr).map_err(|e| e.to_string())?;
    match program.run(&helpers(Env::new())).map_err(|e| e.to_string())? {
        Value::Time(t) => Ok(t),
        other => Err(format!("expected time.Time, but got {}", other.go_type())),
    }
}
