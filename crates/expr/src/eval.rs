//! The tree-walking evaluator with expr's runtime semantics (`runtime.Equal`, `Less`, `Add`,
//! `Fetch`, `In`, ...), the predicate built-ins, and the environment (variables and host
//! functions) an expression runs against.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::ast::{BinOp, MapKey, Node, NodeKind, UnOp};
use crate::builtins;
use crate::check::Type;
use crate::value::{Duration, Value, equal};

/// The most elements a range (`a..b`) may produce.
const MAX_RANGE: i64 = 1_000_000;

/// A host function's implementation.
pub type HostFnImpl = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

/// A function provided by the environment (like a Go func in expr's env map).
#[derive(Clone)]
pub struct HostFn {
    /// Exact number of arguments.
    pub arity: usize,
    /// Static return type for the checker.
    pub ret: Type,
    /// The implementation; an `Err` is a runtime error (Go panics become errors).
    pub call: Arc<HostFnImpl>,
}

impl fmt::Debug for HostFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFn").field("arity", &self.arity).field("ret", &self.ret).finish()
    }
}

/// The environment: variables and host functions visible to an expression.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, Value>,
    funcs: BTreeMap<String, HostFn>,
}

impl Env {
    /// An empty environment (expr built-ins are always available).
    pub fn new() -> Env {
        Env::default()
    }

    /// Adds or replaces a variable.
    pub fn with_var(mut self, name: impl Into<String>, value: Value) -> Env {
        self.vars.insert(name.into(), value);
        self
    }

    /// Adds or replaces a host function.
    pub fn with_fn(
        mut self,
        name: impl Into<String>,
        arity: usize,
        ret: Type,
        call: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Env {
        self.funcs.insert(name.into(), HostFn { arity, ret, call: Arc::new(call) });
        self
    }

    pub(crate) fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    pub(crate) fn function(&self, name: &str) -> Option<&HostFn> {
        self.funcs.get(name)
    }
}

/// Why evaluation stopped.
pub(crate) enum Stop {
    /// A runtime error with expr's message.
    Error(String),
    /// `?.` met nil: the enclosing chain evaluates to nil.
    ChainNil,
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::Error(s)
    }
}

type R = Result<Value, Stop>;

/// Evaluates a checked tree.
pub(crate) fn eval(node: &Node, env: &Env) -> Result<Value, String> {
    let mut ctx = Ctx { env, scopes: Vec::new(), locals: Vec::new(), accumulators: Vec::new() };
    match ctx.eval(node) {
        Ok(v) => Ok(v),
        Err(Stop::ChainNil) => Ok(Value::Nil),
        Err(Stop::Error(e)) => Err(e),
    }
}

struct Ctx<'a> {
    env: &'a Env,
    scopes: Vec<(Value, usize)>,
    /// `let` variables in scope, innermost last.
    locals: Vec<(String, Value)>,
    /// `#acc` of the `reduce` predicates running, with their `scopes` depth.
    accumulators: Vec<(usize, Value)>,
}

fn not_bool(v: &Value) -> Stop {
    let t = if v.is_nil() { "nil" } else { v.go_type() };
    Stop::Error(format!("interface conversion: interface {{}} is {t}, not bool"))
}

fn truth(v: &Value) -> Result<bool, Stop> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(not_bool(other)),
    }
}

impl Ctx<'_> {
    fn local(&self, name: &str) -> Option<&Value> {
        self.locals.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Out of line so `eval`'s frame stays small for deep trees.
    #[inline(never)]
    fn let_binding(&mut self, name: &str, value: &Node, body: &Node) -> R {
        let v = self.eval(value)?;
        self.locals.push((name.to_owned(), v));
        let out = self.eval(body);
        self.locals.pop();
        out
    }

    /// One node. The arms are small or out of line: in a debug build every local of every
    /// arm takes its own slot in this recursive function's frame, which bounds how deep a
    /// tree evaluates on a 2 MiB stack.
    fn eval(&mut self, node: &Node) -> R {
        Ok(match &*node.kind {
            NodeKind::Nil => Value::Nil,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::Int(*i),
            NodeKind::Float(f) => Value::Float(*f),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Ident(name) => self.ident(name)?,
            NodeKind::Pointer(name) => self.pointer(name.as_deref())?,
            NodeKind::Unary(op, a) => self.unary(*op, a)?,
            NodeKind::Binary(BinOp::And, a, b) => {
                Value::Bool(truth(&self.eval(a)?)? && truth(&self.eval(b)?)?)
            }
            NodeKind::Binary(BinOp::Or, a, b) => {
                Value::Bool(truth(&self.eval(a)?)? || truth(&self.eval(b)?)?)
            }
            NodeKind::Binary(BinOp::Coalesce, a, b) => self.coalesce(a, b)?,
            NodeKind::Binary(op, a, b) => self.binary(*op, a, b)?,
            NodeKind::Matches(a, b, cached) => self.matches(a, b, cached.as_deref())?,
            NodeKind::Ternary(c, y, n) => {
                if truth(&self.eval(c)?)? {
                    self.eval(y)?
                } else {
                    self.eval(n)?
                }
            }
            NodeKind::Member { obj, prop, optional } => self.member(obj, prop, *optional)?,
            NodeKind::Chain(n) => match self.eval(n) {
                Err(Stop::ChainNil) => Value::Nil,
                other => other?,
            },
            NodeKind::Slice { obj, from, to } => self.slice(obj, from.as_ref(), to.as_ref())?,
            NodeKind::Call { name, args } => self.call(name, args)?,
            NodeKind::Method { obj, name, args } => self.method(obj, name, args)?,
            NodeKind::Closure(n) => self.eval(n)?,
            NodeKind::Let { name, value, body } => self.let_binding(name, value, body)?,
            NodeKind::Array(items) => self.array(items)?,
            NodeKind::Map(entries) => self.map(entries)?,
        })
    }

    #[inline(never)]
    fn ident(&self, name: &str) -> R {
        match self.local(name).or_else(|| self.env.var(name)) {
            Some(v) => Ok(v.clone()),
            None => Err(format!("unknown name {name}").into()),
        }
    }

    #[inline(never)]
    fn pointer(&self, name: Option<&str>) -> R {
        match (self.scopes.last(), name) {
            (Some((v, _)), None) => Ok(v.clone()),
            (Some(_), Some("acc")) => match self.accumulators.last() {
                Some((depth, acc)) if *depth == self.scopes.len() => Ok(acc.clone()),
                _ => Err("unknown pointer #acc".to_owned().into()),
            },
            (Some((_, i)), Some(_)) => Ok(Value::Int(*i as i64)),
            (None, _) => Err("cannot use pointer accessor outside predicate".to_owned().into()),
        }
    }

    #[inline(never)]
    fn unary(&mut self, op: UnOp, a: &Node) -> R {
        let v = self.eval(a)?;
        Ok(match (op, v) {
            (UnOp::Not, v) => Value::Bool(!truth(&v)?),
            (UnOp::Neg, Value::Int(i)) => Value::Int(i.wrapping_neg()),
            (UnOp::Neg, Value::Float(f)) => Value::Float(-f),
            (UnOp::Neg, Value::Duration(d)) => Value::Duration(Duration(d.0.wrapping_neg())),
            (UnOp::Plus, v @ (Value::Int(_) | Value::Float(_))) => v,
            (op, v) => {
                let sym = if op == UnOp::Neg { "-" } else { "+" };
                return Err(format!("invalid operation: {sym} {}", v.go_type()).into());
            }
        })
    }

    #[inline(never)]
    fn coalesce(&mut self, a: &Node, b: &Node) -> R {
        match self.eval(a) {
            Ok(Value::Nil) | Err(Stop::ChainNil) => self.eval(b),
            other => other,
        }
    }

    #[inline(never)]
    fn binary(&mut self, op: BinOp, a: &Node, b: &Node) -> R {
        let l = self.eval(a)?;
        let r = self.eval(b)?;
        Ok(binary(op, &l, &r)?)
    }

    #[inline(never)]
    fn matches(&mut self, a: &Node, b: &Node, cached: Option<&Regex>) -> R {
        let l = self.eval(a)?;
        let r = self.eval(b)?;
        let (Value::String(s), Value::String(p)) = (&l, &r) else {
            return Err(format!(
                "invalid operation: matches (mismatched types {} and {})",
                l.go_type(),
                r.go_type()
            )
            .into());
        };
        let matched = match cached {
            Some(re) => re.is_match(s),
            None => Regex::new(p).map_err(|e| e.to_string())?.is_match(s),
        };
        Ok(Value::Bool(matched))
    }

    #[inline(never)]
    fn member(&mut self, obj: &Node, prop: &Node, optional: bool) -> R {
        let o = self.eval(obj)?;
        if optional && o.is_nil() {
            return Err(Stop::ChainNil);
        }
        let p = self.eval(prop)?;
        Ok(fetch(&o, &p)?)
    }

    #[inline(never)]
    fn slice(&mut self, obj: &Node, from: Option<&Node>, to: Option<&Node>) -> R {
        let o = self.eval(obj)?;
        let from = from.map(|n| self.eval(n)).transpose()?;
        let to = to.map(|n| self.eval(n)).transpose()?;
        Ok(slice(&o, from.as_ref(), to.as_ref())?)
    }

    #[inline(never)]
    fn method(&mut self, obj: &Node, name: &str, args: &[Node]) -> R {
        let o = self.eval(obj)?;
        let args = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
        Ok(builtins::call_method(&o, name, &args)?)
    }

    #[inline(never)]
    fn array(&mut self, items: &[Node]) -> R {
        Ok(Value::array(items.iter().map(|i| self.eval(i)).collect::<Result<Vec<_>, _>>()?))
    }

    #[inline(never)]
    fn map(&mut self, entries: &[(MapKey, Node)]) -> R {
        let mut map = BTreeMap::new();
        for (k, v) in entries {
            let key = match k {
                MapKey::Lit(s) => s.clone(),
                MapKey::Expr(n) => match self.eval(n)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            };
            map.insert(key, self.eval(v)?);
        }
        Ok(Value::Map(Arc::new(map)))
    }

    fn call(&mut self, name: &str, args: &[Node]) -> R {
        if crate::parser::predicate(name).is_some() {
            return self.predicate(name, args);
        }
        let values = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
        if let Some(f) = self.env.function(name) {
            return Ok((f.call)(&values)?);
        }
        Ok(builtins::call(name, &values)?)
    }

    /// `reduce(items, step[, initial])`: without `initial`, the first item starts `#acc` and
    /// the steps begin at the second; an empty list without `initial` gives nil.
    fn reduce(&mut self, items: &[Value], args: &[Node]) -> R {
        let Some(step) = args.get(1) else {
            return Err("not enough arguments to call reduce".to_owned().into());
        };
        let (mut acc, start) = match args.get(2) {
            Some(initial) => (self.eval(initial)?, 0),
            None => match items.first() {
                Some(first) => (first.clone(), 1),
                None => return Ok(Value::Nil),
            },
        };
        for (i, item) in items.iter().enumerate().skip(start) {
            self.scopes.push((item.clone(), i));
            self.accumulators.push((self.scopes.len(), acc));
            let out = self.eval(step);
            self.accumulators.pop();
            self.scopes.pop();
            acc = out?;
        }
        Ok(acc)
    }

    fn predicate(&mut self, name: &str, args: &[Node]) -> R {
        let Some(first) = args.first() else {
            return Err(format!("not enough arguments to call {name}").into());
        };
        let collection = self.eval(first)?;
        let items: Arc<Vec<Value>> = match &collection {
            Value::Array(items) => items.clone(),
            Value::Map(m) if m.is_empty() => Arc::new(Vec::new()),
            Value::Nil => {
                return Err("reflect: call of reflect.Value.Len on zero Value".to_owned().into());
            }
            other => {
                return Err(
                    format!("builtin {name} takes only array (got {})", other.go_type()).into()
                );
            }
        };
        if name == "reduce" {
            return self.reduce(&items, args);
        }
        let closure = args.get(1);
        let mut results = Vec::new();
        let mut count = 0i64;
        for (i, item) in items.iter().enumerate() {
            let out = match closure {
                Some(c) => {
                    self.scopes.push((item.clone(), i));
                    let out = self.eval(c);
                    self.scopes.pop();
                    out?
                }
                None => item.clone(),
            };
            if matches!(name, "map" | "sum" | "sortBy" | "groupBy") {
                results.push(out);
                continue;
            }
            let hit = match out {
                Value::Bool(b) => b,
                other if name == "count" && closure.is_none() => {
                    return Err(not_bool(&other));
                }
                other => {
                    return Err(format!(
                        "predicate should return boolean (got {})",
                        other.go_type()
                    )
                    .into());
                }
            };
            match name {
                "all" if !hit => return Ok(Value::Bool(false)),
                "any" if hit => return Ok(Value::Bool(true)),
                "none" if hit => return Ok(Value::Bool(false)),
                "find" if hit => return Ok(item.clone()),
                "findIndex" if hit => return Ok(Value::Int(i as i64)),
                "findLast" | "findLastIndex" if hit => {
                    results.clear();
                    results.push(if name == "findLast" {
                        item.clone()
                    } else {
                        Value::Int(i as i64)
                    });
                }
                "filter" if hit => results.push(item.clone()),
                "one" | "count" if hit => count += 1,
                "one" if count > 1 => return Ok(Value::Bool(false)),
                _ => {}
            }
        }
        Ok(match name {
            "all" | "none" => Value::Bool(true),
            "any" => Value::Bool(false),
            "one" => Value::Bool(count == 1),
            "count" => Value::Int(count),
            "filter" | "map" => Value::array(results),
            "find" | "findLast" => results.pop().unwrap_or(Value::Nil),
            "findIndex" | "findLastIndex" => results.pop().unwrap_or(Value::Int(-1)),
            "sortBy" => {
                let order = match args.get(2) {
                    Some(n) => Some(self.eval(n)?),
                    None => None,
                };
                builtins::sort_by(&items, &results, order.as_ref())?
            }
            "groupBy" => builtins::group_by(&items, &results),
            "sum" => {
                let mut acc = Value::Int(0);
                for r in &results {
                    acc = match (&acc, r) {
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            binary(BinOp::Add, &acc, r)?
                        }
                        _ => {
                            return Err(
                                format!("invalid argument for sum (type {})", r.go_type()).into()
                            );
                        }
                    };
                }
                acc
            }
            _ => Value::Nil,
        })
    }
}

fn to_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => Ok(*f as i64),
        other => Err(format!("invalid operation: int({})", other.go_type())),
    }
}

/// expr's `runtime.Fetch`.
fn fetch(from: &Value, key: &Value) -> Result<Value, String> {
    let length_index = |len: usize| -> Result<usize, String> {
        let i = to_int(key)?;
        let adjusted = if i < 0 { i.saturating_add(len as i64) } else { i };
        if adjusted < 0 || adjusted >= len as i64 {
            return Err(format!("index out of range: {adjusted} (array length is {len})"));
        }
        Ok(adjusted as usize)
    };
    match from {
        Value::Map(m) => match key {
            Value::String(k) => Ok(m.get(k).cloned().unwrap_or(Value::Nil)),
            _ => Ok(Value::Nil),
        },
        Value::Array(items) => Ok(items[length_index(items.len())?].clone()),
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::String(chars[length_index(chars.len())?].to_string()))
        }
        other => Err(format!("cannot fetch {key} from {}", other.go_type())),
    }
}

/// expr's `runtime.Slice`.
fn slice(from: &Value, a: Option<&Value>, b: Option<&Value>) -> Result<Value, String> {
    let bounds = |len: usize| -> Result<(usize, usize), String> {
        let len = len as i64;
        let mut lo = a.map(to_int).transpose()?.unwrap_or(0);
        let mut hi = b.map(to_int).transpose()?.unwrap_or(len);
        if lo < 0 {
            lo = lo.saturating_add(len).max(0);
        }
        if hi < 0 {
            hi = hi.saturating_add(len).max(0);
        }
        hi = hi.min(len);
        lo = lo.min(hi);
        Ok((lo as usize, hi as usize))
    };
    match from {
        Value::Array(items) => {
            let (lo, hi) = bounds(items.len())?;
            Ok(Value::array(items[lo..hi].iter().cloned()))
        }
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (lo, hi) = bounds(chars.len())?;
            Ok(Value::String(chars[lo..hi].iter().collect()))
        }
        other => Err(format!("cannot slice {}", other.go_type())),
    }
}

fn mismatch(op: &str, l: &Value, r: &Value) -> String {
    format!("invalid operation: {} {op} {}", l.go_type(), r.go_type())
}

/// Ordering for `<`-style operators: numbers across int/float, strings, times, durations.
fn compare(op: BinOp, l: &Value, r: &Value) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
        (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
        _ => match (l.as_f64(), r.as_f64()) {
            // NaN compares false with everything, as in Go.
            (Some(a), Some(b)) => match a.partial_cmp(&b) {
                Some(o) => Some(o),
                None => return Ok(false),
            },
            _ => return Err(mismatch(op.symbol(), l, r)),
        },
    };
    let ord = ord.unwrap_or(Ordering::Equal);
    Ok(match op {
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

fn string_op(op: BinOp, l: &Value, r: &Value) -> Result<bool, String> {
    let (Value::String(a), Value::String(b)) = (l, r) else {
        let bad = if matches!(l, Value::String(_)) { r } else { l };
        let t = if bad.is_nil() { "nil" } else { bad.go_type() };
        return Err(format!("interface conversion: interface {{}} is {t}, not string"));
    };
    Ok(match op {
        BinOp::Contains => a.contains(b.as_str()),
        BinOp::StartsWith => a.starts_with(b.as_str()),
        _ => a.ends_with(b.as_str()),
    })
}

fn arith(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    use Value::{Duration as D, Float, Int, String as S, Time as T};
    Ok(match (op, l, r) {
        (BinOp::Add, Int(a), Int(b)) => Int(a.wrapping_add(*b)),
        (BinOp::Sub, Int(a), Int(b)) => Int(a.wrapping_sub(*b)),
        (BinOp::Mul, Int(a), Int(b)) => Int(a.wrapping_mul(*b)),
        (BinOp::Mod, Int(_), Int(0)) => return Err("runtime error: integer divide by zero".into()),
        (BinOp::Mod, Int(a), Int(b)) => Int(a.wrapping_rem(*b)),
        (BinOp::Add, S(a), S(b)) => S(format!("{a}{b}")),
        (BinOp::Add, T(t), D(d)) | (BinOp::Add, D(d), T(t)) => T(t.add(*d)),
        (BinOp::Sub, T(t), D(d)) => T(t.add(Duration(d.0.wrapping_neg()))),
        (BinOp::Sub, T(a), T(b)) => D(a.sub(b)),
        (BinOp::Add, D(a), D(b)) => D(Duration(a.0.wrapping_add(b.0))),
        (BinOp::Sub, D(a), D(b)) => D(Duration(a.0.wrapping_sub(b.0))),
        (BinOp::Mul, D(a), Int(b)) | (BinOp::Mul, Int(b), D(a)) => {
            D(Duration(a.0.wrapping_mul(*b)))
        }
        (BinOp::Mod, _, _) => return Err(mismatch("%", l, r)),
        _ => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => Float(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => a.powf(b),
            }),
            _ => return Err(mismatch(op.symbol(), l, r)),
        },
    })
}

fn binary(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    Ok(match op {
        BinOp::Eq => Value::Bool(equal(l, r)),
        BinOp::Ne => Value::Bool(!equal(l, r)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Value::Bool(compare(op, l, r)?),
        BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => Value::Bool(string_op(op, l, r)?),
        BinOp::In => Value::Bool(match r {
            Value::Array(items) => items.iter().any(|i| equal(i, l)),
            Value::Map(m) => match l {
                Value::String(k) => m.contains_key(k),
                _ => false,
            },
            Value::Nil => false,
            other => return Err(format!("operator \"in\" not defined on {}", other.go_type())),
        }),
        BinOp::Range => {
            let (Value::Int(a), Value::Int(b)) = (l, r) else {
                return Err(mismatch("..", l, r));
            };
            if b.saturating_sub(*a) >= MAX_RANGE {
                return Err(format!("range {a}..{b} is too large (at most {MAX_RANGE} elements)"));
            }
            Value::array((*a..=*b).map(Value::Int))
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow => {
            arith(op, l, r)?
        }
        // Short-circuit operators are evaluated by the caller.
        BinOp::And | BinOp::Or | BinOp::Coalesce => Value::Nil,
    })
}
