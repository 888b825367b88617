//! expr's non-predicate built-in functions (`len`, `abs`, `int`, `string`, `split`, `now`,
//! `duration`, `date`, `min`, `mean`, `median`, `hasPrefix`, ...) and the `time.Time` / `time.Duration` methods conditions may
//! call. Predicate built-ins (`all`, `filter`, ...) live in the evaluator.

use crate::check::{Type, element};
use crate::time::{DEFAULT_LAYOUTS, parse_time};
use crate::value::{Duration, Time, Value, go_quote};

/// `(min, max)` argument counts of a built-in; `None` for unknown names.
pub(crate) fn arity(name: &str) -> Option<(usize, Option<usize>)> {
    Some(match name {
        "now" => (0, Some(0)),
        "len" | "abs" | "ceil" | "floor" | "round" | "int" | "float" | "string" | "upper"
        | "lower" | "keys" | "values" | "first" | "last" | "duration" => (1, Some(1)),
        "trim" | "join" => (1, Some(2)),
        "trimPrefix" | "trimSuffix" | "indexOf" | "lastIndexOf" | "hasPrefix" | "hasSuffix" => {
            (2, Some(2))
        }
        "split" => (2, Some(3)),
        "replace" => (3, Some(3)),
        "date" => (1, Some(3)),
        "min" | "max" | "mean" | "median" | "concat" => (1, None),
        "type" | "reverse" | "uniq" | "flatten" => (1, Some(1)),
        "get" | "take" | "repeat" => (2, Some(2)),
        "sort" => (1, Some(2)),
        _ => return None,
    })
}

/// The static return type of a built-in call.
pub(crate) fn return_type(name: &str, args: &[Type]) -> Type {
    match name {
        "now" | "date" => Type::Time,
        "duration" => Type::Duration,
        "len" | "int" | "indexOf" | "lastIndexOf" => Type::Int,
        "ceil" | "floor" | "round" | "float" | "mean" | "median" => Type::Float,
        "hasPrefix" | "hasSuffix" => Type::Bool,
        "type" | "repeat" => Type::String,
        "reverse" | "uniq" | "take" | "sort" => match args.first() {
            Some(t @ Type::Array(_)) => t.clone(),
            _ => Type::Array(Box::new(Type::Unknown)),
        },
        "concat" | "flatten" => Type::Array(Box::new(Type::Unknown)),
        "string" | "upper" | "lower" | "trim" | "trimPrefix" | "trimSuffix" | "join"
        | "replace" => Type::String,
        "split" | "keys" => Type::Array(Box::new(Type::String)),
        "abs" => match args.first() {
            Some(t @ (Type::Int | Type::Float)) => t.clone(),
            _ => Type::Unknown,
        },
        "first" | "last" => args.first().and_then(element).unwrap_or(Type::Unknown),
        "values" => Type::Array(Box::new(Type::Unknown)),
        _ => Type::Unknown,
    }
}

fn invalid(name: &str, v: &Value) -> String {
    format!("invalid argument for {name} (type {})", v.go_type())
}

fn string_arg<'a>(name: &str, v: &'a Value) -> Result<&'a str, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(invalid(name, other)),
    }
}

/// Calls a built-in; the checker has already validated the name and argument count.
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Nil);
    let a = arg(0);
    Ok(match name {
        "now" => Value::Time(Time::now()),
        "len" => match a {
            Value::String(s) => Value::Int(s.chars().count() as i64),
            Value::Array(items) => Value::Int(items.len() as i64),
            Value::Map(m) => Value::Int(m.len() as i64),
            other => return Err(invalid(name, other)),
        },
        "abs" => match a {
            Value::Int(i) => Value::Int(i.wrapping_abs()),
            Value::Float(f) => Value::Float(f.abs()),
            other => return Err(invalid(name, other)),
        },
        "ceil" | "floor" | "round" => {
            let f = a.as_f64().ok_or_else(|| invalid(name, a))?;
            Value::Float(match name {
                "ceil" => f.ceil(),
                "floor" => f.floor(),
                _ => f.round(),
            })
        }
        "int" => {
            match a {
                Value::Int(i) => Value::Int(*i),
                Value::Float(f) => Value::Int(*f as i64),
                Value::Duration(d) => Value::Int(d.0),
                Value::String(s) => Value::Int(s.parse::<i64>().map_err(|_| {
                    format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s))
                })?),
                other => return Err(format!("invalid operation: int({})", other.go_type())),
            }
        }
        "float" => match a {
            Value::Int(i) => Value::Float(*i as f64),
            Value::Float(f) => Value::Float(*f),
            Value::String(s) => Value::Float(parse_float(s)?),
            other => return Err(format!("invalid operation: float({})", other.go_type())),
        },
        "string" => Value::String(a.to_string()),
        "upper" => Value::String(string_arg(name, a)?.to_uppercase()),
        "lower" => Value::String(string_arg(name, a)?.to_lowercase()),
        "trim" => {
            let s = string_arg(name, a)?;
            match args.get(1) {
                None => Value::from(s.trim()),
                Some(cut) => {
                    let cut = string_arg(name, cut)?;
                    Value::from(s.trim_matches(|c| cut.contains(c)))
                }
            }
        }
        "trimPrefix" => {
            let s = string_arg(name, a)?;
            let p = string_arg(name, arg(1))?;
            Value::from(s.strip_prefix(p).unwrap_or(s))
        }
        "trimSuffix" => {
            let s = string_arg(name, a)?;
            let p = string_arg(name, arg(1))?;
            Value::from(s.strip_suffix(p).unwrap_or(s))
        }
        "hasPrefix" | "hasSuffix" => {
            let s = string_arg(name, a)?;
            let p = string_arg(name, arg(1))?;
            Value::Bool(if name == "hasPrefix" { s.starts_with(p) } else { s.ends_with(p) })
        }
        "indexOf" | "lastIndexOf" => {
            let s = string_arg(name, a)?;
            let p = string_arg(name, arg(1))?;
            let found = if name == "indexOf" { s.find(p) } else { s.rfind(p) };
            Value::Int(found.map_or(-1, |i| s[..i].chars().count() as i64))
        }
        "replace" => {
            let s = string_arg(name, a)?;
            Value::from(s.replace(string_arg(name, arg(1))?, string_arg(name, arg(2))?))
        }
        "split" => {
            let s = string_arg(name, a)?;
            let sep = string_arg(name, arg(1))?;
            let n = match args.get(2) {
                None => -1,
                Some(Value::Int(n)) => *n,
                Some(other) => return Err(invalid(name, other)),
            };
            Value::array(go_split(s, sep, n).into_iter().map(Value::from))
        }
        "join" => {
            let Value::Array(items) = a else { return Err(invalid(name, a)) };
            let sep = match args.get(1) {
                Some(v) => string_arg(name, v)?,
                None => "",
            };
            let parts = items.iter().map(|v| string_arg(name, v)).collect::<Result<Vec<_>, _>>()?;
            Value::String(parts.join(sep))
        }
        "keys" | "values" => {
            let Value::Map(m) = a else { return Err(invalid(name, a)) };
            if name == "keys" {
                Value::array(m.keys().map(|k| Value::String(k.clone())))
            } else {
                Value::array(m.values().cloned())
            }
        }
        "first" | "last" => match a {
            Value::Array(items) => {
                let item = if name == "first" { items.first() } else { items.last() };
                item.cloned().unwrap_or(Value::Nil)
            }
            _ => Value::Nil,
        },
        "min" | "max" => min_max(name, args)?,
        "type" => Value::from(match a {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }),
        "get" => get(a, arg(1)),
        "reverse" => {
            let Value::Array(items) = a else {
                return Err(format!("cannot reverse {}", a.go_type()));
            };
            Value::array(items.iter().rev().cloned())
        }
        "take" => {
            let Value::Array(items) = a else {
                return Err(format!("cannot take from {}", a.go_type()));
            };
            let Value::Int(n) = arg(1) else {
                return Err(format!("cannot take {} elements", arg(1).go_type()));
            };
            let n = usize::try_from(*n).unwrap_or(0).min(items.len());
            Value::array(items[..n].iter().cloned())
        }
        "uniq" => {
            let Value::Array(items) = a else { return Err(format!("cannot uniq {}", a.go_type())) };
            let mut out: Vec<Value> = Vec::new();
            for item in items.iter() {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Value::array(out)
        }
        "concat" => {
            let mut out = Vec::new();
            for v in args {
                let Value::Array(items) = v else {
                    return Err(format!("cannot concat {}", v.go_type()));
                };
                out.extend(items.iter().cloned());
            }
            Value::array(out)
        }
        "flatten" => {
            let Value::Array(_) = a else { return Err(format!("cannot flatten {}", a.go_type())) };
            let mut out = Vec::new();
            flatten(a, &mut out);
            Value::array(out)
        }
        "sort" => sort(a, args.get(1))?,
        "repeat" => {
            let s = string_arg(name, a)?;
            match arg(1) {
                Value::Int(n) if *n >= 0 && s.len().saturating_mul(*n as usize) <= MAX_REPEAT => {
                    Value::String(s.repeat(*n as usize))
                }
                Value::Int(n) if *n < 0 => return Err("strings: negative Repeat count".into()),
                Value::Int(_) => return Err("strings: Repeat output length overflow".into()),
                other => return Err(invalid(name, other)),
            }
        }
        "mean" => {
            let values = numbers(name, args)?;
            if values.is_empty() {
                Value::Float(0.0)
            } else {
                Value::Float(values.iter().sum::<f64>() / values.len() as f64)
            }
        }
        "median" => {
            let mut values = numbers(name, args)?;
            values.sort_by(f64::total_cmp);
            let n = values.len();
            Value::Float(match n {
                0 => 0.0,
                _ if n % 2 == 1 => values[n / 2],
                _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
            })
        }
        "duration" => Value::Duration(Duration::parse(string_arg(name, a)?)?),
        "date" => Value::Time(date(args)?),
        _ => return Err(format!("unknown name {name}")),
    })
}

/// Go `strconv.ParseFloat(s, 64)` with Go's error texts.
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(s));
    // Rust accepts a few spellings Go rejects ("infinity" is fine in both; "1." and ".5" too).
    if s.is_empty() || s.contains('_') || s.trim() != s {
        return Err(syntax());
    }
    let f: f64 = s.parse().map_err(|_| syntax())?;
    let body = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if f.is_infinite() && !body.starts_with("inf") {
        return Err(format!("strconv.ParseFloat: parsing {}: value out of range", go_quote(s)));
    }
    Ok(f)
}

/// Go `strings.SplitN` (`n < 0` = all).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let mut out: Vec<String> = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            if out.len() + 1 == limit {
                out.push(chars[i..].iter().collect());
                return out;
            }
            out.push(c.to_string());
        }
        return out;
    }
    s.splitn(limit, sep).map(str::to_owned).collect()
}

/// The longest string `repeat` builds (a condition has no use for more; this keeps hostile
/// input from exhausting memory).
const MAX_REPEAT: usize = 1 << 20;

/// expr's `get`: `v[key]`, or nil when the key or index does not exist.
fn get(v: &Value, key: &Value) -> Value {
    match (v, key) {
        (Value::Array(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let i = if *i < 0 { i + len } else { *i };
            usize::try_from(i).ok().and_then(|i| items.get(i)).cloned().unwrap_or(Value::Nil)
        }
        (Value::Map(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.clone()),
    }
}

/// `"asc"` (default) or `"desc"`: whether the order is descending.
fn descending(order: Option<&Value>) -> Result<bool, String> {
    match order {
        None => Ok(false),
        Some(Value::String(o)) if o == "asc" => Ok(false),
        Some(Value::String(o)) if o == "desc" => Ok(true),
        Some(other) => Err(format!("unknown order, use asc or desc: {other}")),
    }
}

/// The positions of `keys` in sorted order (stable): all numbers or all strings.
fn sorted_positions(keys: &[Value], desc: bool) -> Result<Vec<usize>, String> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if keys.iter().all(|v| v.as_f64().is_some()) {
        let f = |i: usize| keys[i].as_f64().unwrap_or(f64::NAN);
        order.sort_by(|&x, &y| f(x).total_cmp(&f(y)));
    } else if keys.iter().all(|v| matches!(v, Value::String(_))) {
        let s = |i: usize| match &keys[i] {
            Value::String(s) => s.as_str(),
            _ => "",
        };
        order.sort_by(|&x, &y| s(x).cmp(s(y)));
    } else {
        let kind = keys.iter().find(|v| v.as_f64().is_none()).map_or("?", Value::go_type);
        return Err(format!("cannot sort array of {kind}"));
    }
    if desc {
        order.reverse();
    }
    Ok(order)
}

/// expr's `sort(array[, "asc"|"desc"])` of numbers or of strings.
fn sort(a: &Value, order: Option<&Value>) -> Result<Value, String> {
    let Value::Array(items) = a else { return Err(format!("cannot sort {}", a.go_type())) };
    let positions = sorted_positions(items, descending(order)?)?;
    Ok(Value::array(positions.into_iter().map(|i| items[i].clone())))
}

/// expr's `sortBy(items, key[, order])`, given each item's key.
pub(crate) fn sort_by(
    items: &[Value],
    keys: &[Value],
    order: Option<&Value>,
) -> Result<Value, String> {
    let positions = sorted_positions(keys, descending(order)?)?;
    Ok(Value::array(positions.into_iter().map(|i| items[i].clone())))
}

/// expr's `groupBy(items, key)`, given each item's key: a map from the key (as a string) to
/// the items with that key, in order.
pub(crate) fn group_by(items: &[Value], keys: &[Value]) -> Value {
    let mut groups: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (item, key) in items.iter().zip(keys) {
        let key = match key {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        groups.entry(key).or_default().push(item.clone());
    }
    Value::Map(std::sync::Arc::new(groups.into_iter().map(|(k, v)| (k, Value::array(v))).collect()))
}

/// The numbers of `args`, arrays flattened (expr's `mean`/`median` argument rules).
fn numbers(name: &str, args: &[Value]) -> Result<Vec<f64>, String> {
    fn walk(name: &str, v: &Value, out: &mut Vec<f64>) -> Result<(), String> {
        match v {
            Value::Int(i) => out.push(*i as f64),
            Value::Float(f) => out.push(*f),
            Value::Array(items) => return items.iter().try_for_each(|i| walk(name, i, out)),
            other => return Err(invalid(name, other)),
        }
        Ok(())
    }
    let mut out = Vec::new();
    args.iter().try_for_each(|a| walk(name, a, &mut out))?;
    Ok(out)
}

fn min_max(name: &str, args: &[Value]) -> Result<Value, String> {
    fn walk(name: &str, v: &Value, best: &mut Option<Value>) -> Result<(), String> {
        match v {
            Value::Int(_) | Value::Float(_) => {
                let better = match best.as_ref().and_then(Value::as_f64) {
                    None => true,
                    Some(b) => {
                        let x = v.as_f64().unwrap_or(f64::NAN);
                        if name == "max" { x > b } else { x < b }
                    }
                };
                if better {
                    *best = Some(v.clone());
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|item| walk(name, item, best)),
            other => Err(invalid(name, other)),
        }
    }
    if let [single] = args
        && !matches!(single, Value::Array(_) | Value::Int(_) | Value::Float(_))
    {
        return Ok(single.clone());
    }
    let mut best = None;
    for a in args {
        walk(name, a, &mut best)?;
    }
    Ok(best.unwrap_or(Value::Nil))
}

fn date(args: &[Value]) -> Result<Time, String> {
    let value = string_arg("date", args.first().unwrap_or(&Value::Nil))?;
    if let Some(tz) = args.get(2) {
        match string_arg("date", tz)? {
            "UTC" | "" | "Local" => {}
            other => return Err(format!("unknown time zone {other}")),
        }
    }
    match args.get(1) {
        Some(layout) => parse_time(string_arg("date", layout)?, value),
        None => {
            let mut last = String::new();
            for layout in DEFAULT_LAYOUTS {
                match parse_time(layout, value) {
                    Ok(t) => return Ok(t),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// The static type of a `time.Time` / `time.Duration` method call.
pub(crate) fn method_type(recv: &Type, name: &str) -> Option<Type> {
    Some(match (recv, name) {
        (Type::Time, "Unix" | "UnixMilli" | "Year" | "Day" | "Hour" | "Minute" | "Second") => {
            Type::Int
        }
        (Type::Time, "Sub") => Type::Duration,
        (Type::Time, "Add") => Type::Time,
        (Type::Time, "Before" | "After" | "Equal") => Type::Bool,
        (Type::Duration, "Hours" | "Minutes" | "Seconds") => Type::Float,
        (Type::Duration, "Milliseconds" | "Microseconds" | "Nanoseconds") => Type::Int,
        (Type::Time | Type::Duration, "String") => Type::String,
        _ => return None,
    })
}

/// Calls a method on a time or duration value.
pub(crate) fn call_method(recv: &Value, name: &str, args: &[Value]) -> Result<Value, String> {
    let no_method = || format!("type {} has no method {name}", recv.go_type());
    let time_arg = || match args.first() {
        Some(Value::Time(t)) => Ok(*t),
        other => Err(format!(
            "cannot use {} as time.Time in argument to {name}",
            other.map_or("nothing", Value::go_type)
        )),
    };
    Ok(match recv {
        Value::Time(t) => {
            let secs = t.unix();
            let days = secs.div_euclid(86_400);
            let sod = secs.rem_euclid(86_400);
            match name {
                "Unix" => Value::Int(secs),
                "UnixMilli" => Value::Int(t.unix_nanos.div_euclid(1_000_000) as i64),
                "Year" | "Day" => {
                    let rfc = Time::from_unix(days * 86_400).to_rfc3339();
                    let field = if name == "Year" { rfc.split('-').next() } else { rfc.get(8..10) };
                    Value::Int(field.and_then(|f| f.parse().ok()).unwrap_or(0))
                }
                "Hour" => Value::Int(sod / 3600),
                "Minute" => Value::Int(sod / 60 % 60),
                "Second" => Value::Int(sod % 60),
                "Sub" => Value::Duration(t.sub(&time_arg()?)),
                "Add" => match args.first() {
                    Some(Value::Duration(d)) => Value::Time(t.add(*d)),
                    Some(Value::Int(n)) => Value::Time(t.add(Duration(*n))),
                    _ => return Err(format!("invalid argument for {name}")),
                },
                "Before" => Value::Bool(*t < time_arg()?),
                "After" => Value::Bool(*t > time_arg()?),
                "Equal" => Value::Bool(*t == time_arg()?),
                "String" => Value::String(t.to_string()),
                _ => return Err(no_method()),
            }
        }
        Value::Duration(d) => {
            let n = d.0;
            match name {
                "Hours" => Value::Float(n as f64 / 3.6e12),
                "Minutes" => Value::Float(n as f64 / 6e10),
                "Seconds" => Value::Float(n as f64 / 1e9),
                "Milliseconds" => Value::Int(n / 1_000_000),
                "Microseconds" => Value::Int(n / 1_000),
                "Nanoseconds" => Value::Int(n),
                "String" => Value::String(d.to_string()),
                _ => return Err(no_method()),
            }
        }
        Value::Nil => return Err(format!("cannot call method {name} on nil")),
        _ => return Err(no_method()),
    })
}
