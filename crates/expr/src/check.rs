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
    Checker { env, scopes: Vec::new() }.check(node)
}

struct Checker<'a> {
    env: &'a Env,
    scopes: Vec<Type>,
}

fn mismatch(op: &str, l: &Type, r: &Type) -> String {
    format!("invalid operation: {op} (mismatched types {} and {})", l.name(), r.name())
}

impl Checker<'_> {
    fn check(&mut self, node: &Node) -> Result<Type, String> {
        Ok(match &*node.kind {
            NodeKind::Nil => Type::Nil,
            NodeKind::Bool(_) => Type::Bool,
            NodeKind::Int(_) => Type::Int,
            NodeKind::Float(_) => Type::Float,
            NodeKind::Str(_) => Type::String,
            NodeKind::Ident(name) => match self.env.var(name) {
                Some(v) => Type::of(v),
                None if self.env.function(name).is_some() || builtins::arity(name).is_some() => {
                    Type::Unknown
                }
                None => return Err(format!("unknown name {name}")),
            },
            NodeKind::Pointer(name) => match (name.as_deref(), self.scopes.last()) {
                (_, None) => return Err("cannot use pointer accessor outside predicate".into()),
                (None, Some(t)) => t.clone(),
                (Some("index"), Some(_)) => Type::Int,
                (Some(other), Some(_)) => return Err(format!("unknown pointer #{other}")),
            },
            NodeKind::Unary(op, a) => {
                let t = self.check(a)?;
                match op {
                    UnOp::Not if t.bool_like() => Type::Bool,
                    UnOp::Neg | UnOp::Plus if t.num() || t.unknown() => t,
                    UnOp::Neg if t == Type::Duration => t,
                    _ => {
                        let sym = match op {
                            UnOp::Not => "not",
                            UnOp::Neg => "-",
                            UnOp::Plus => "+",
                        };
                        return Err(format!(
                            "invalid operation: {sym} (mismatched type {})",
                            t.name()
                        ));
                    }
                }
            }
            NodeKind::Binary(op, a, b) => {
                let l = self.check(a)?;
                let r = self.check(b)?;
                binary(*op, &l, &r)?
            }
            NodeKind::Matches(a, b, _) => {
                let l = self.check(a)?;
                let r = self.check(b)?;
                if !l.str_like() || !r.str_like() {
                    return Err(mismatch("matches", &l, &r));
                }
                Type::Bool
            }
            NodeKind::Ternary(c, y, n) => {
                let ct = self.check(c)?;
                if !ct.bool_like() {
                    return Err(format!(
                        "non-bool expression (type {}) used as condition",
                        ct.name()
                    ));
                }
                let yt = self.check(y)?;
                let nt = self.check(n)?;
                if yt == nt { yt } else { Type::Unknown }
            }
            NodeKind::Member { obj, prop, .. } => {
                let ot = self.check(obj)?;
                let pt = self.check(prop)?;
                member(&ot, &pt, prop)?
            }
            NodeKind::Chain(n) | NodeKind::Closure(n) => self.check(n)?,
            NodeKind::Slice { obj, from, to } => {
                let ot = self.check(obj)?;
                for bound in from.iter().chain(to.iter()) {
                    let t = self.check(bound)?;
                    if !(t.is(&Type::Int) || t.unknown()) {
                        return Err(format!("invalid slice index (type {})", t.name()));
                    }
                }
                match ot {
                    Type::Array(_) | Type::String | Type::Unknown => ot,
                    _ => return Err(format!("cannot slice {}", ot.name())),
                }
            }
            NodeKind::Call { name, args } => self.call(name, args)?,
            NodeKind::Method { obj, name, args } => {
                let ot = self.check(obj)?;
                for a in args {
                    self.check(a)?;
                }
                match ot {
                    Type::Unknown => Type::Unknown,
                    Type::Time | Type::Duration => builtins::method_type(&ot, name)
                        .ok_or_else(|| format!("type {} has no method {name}", ot.name()))?,
                    _ => return Err(format!("type {} has no method {name}", ot.name())),
                }
            }
            NodeKind::Array(items) => {
                let mut common: Option<Type> = None;
                for item in items {
                    let t = self.check(item)?;
                    common = match common {
                        None => Some(t),
                        Some(c) if c == t => Some(c),
                        Some(_) => Some(Type::Unknown),
                    };
                }
                Type::Array(Box::new(common.unwrap_or(Type::Unknown)))
            }
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    if let MapKey::Expr(k) = k {
                        self.check(k)?;
                    }
                    self.check(v)?;
                }
                Type::Map(Box::new(Type::Unknown))
            }
        })
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
                let t = self.check(closure);
                self.scopes.pop();
                Some(t?)
            }
            None => None,
        };
        let needs_bool = !matches!(name, "map" | "sum");
        if let Some(t) = &body
            && needs_bool
            && !t.bool_like()
        {
            return Err(format!("predicate should return boolean (got {})", t.name()));
        }
        Ok(match name {
            "all" | "any" | "none" | "one" => Type::Bool,
            "filter" => Type::Array(Box::new(elem)),
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
