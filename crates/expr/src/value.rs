//! Runtime values with Go/expr semantics: the dynamic types an expression sees, their Go type
//! names (for error messages), Go `%v` formatting, and conversions from JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use crate::time::{Duration, Time};

/// A runtime value. Arrays and maps are reference-counted so that member access and closures
/// do not deep-copy provider results.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Go `nil` (also a nil pointer, slice or map).
    #[default]
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int` (64-bit).
    Int(i64),
    /// Go `float64`.
    Float(f64),
    /// Go `string`.
    String(String),
    /// Go `[]any`.
    Array(Arc<Vec<Value>>),
    /// Go `map[string]any`.
    Map(Arc<BTreeMap<String, Value>>),
    /// Go `time.Time`.
    Time(Time),
    /// Go `time.Duration`.
    Duration(Duration),
}

impl Value {
    /// An array value.
    pub fn array(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Array(Arc::new(items.into_iter().collect()))
    }

    /// A map value.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(Arc::new(entries.into_iter().map(|(k, v)| (k.into(), v)).collect()))
    }

    /// A Go `[]float64`, e.g. a Prometheus instant vector or a Graphite/Wavefront series.
    pub fn float_array(items: &[f64]) -> Value {
        Value::array(items.iter().map(|f| Value::Float(*f)))
    }

    /// JSON decoded the way Go's `encoding/json` decodes into `any`: every number is a
    /// `float64`, objects are `map[string]any`, arrays are `[]any`.
    pub fn from_json_go(json: &serde_json::Value) -> Value {
        Self::convert_json(json, false)
    }

    /// JSON where integral numbers that fit an `i64` become `int` (for providers whose Go code
    /// builds results with `int` values, e.g. New Relic counts); other numbers are `float64`.
    pub fn from_json_typed(json: &serde_json::Value) -> Value {
        Self::convert_json(json, true)
    }

    fn convert_json(json: &serde_json::Value, keep_ints: bool) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match (keep_ints, n.as_i64()) {
                (true, Some(i)) => Value::Int(i),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::array(items.iter().map(|v| Self::convert_json(v, keep_ints)))
            }
            serde_json::Value::Object(map) => {
                Value::map(map.iter().map(|(k, v)| (k.clone(), Self::convert_json(v, keep_ints))))
            }
        }
    }

    /// The value as JSON (NaN and ±Inf, which JSON cannot hold, become `null`; times and
    /// durations become their Go string form).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::Time(_) | Value::Duration(_) => serde_json::Value::String(self.to_string()),
        }
    }

    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The Go type name as `%T` prints it (`int`, `float64`, `string`, `<nil>`, ...).
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }
    }

    /// The number as `f64` for `int` and `float64` values.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Nil, Into::into)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(Arc::new(v))
    }
}

/// Go `%v` formatting.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&go_float(*x)),
            Value::String(s) => f.write_str(s),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("map[")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Time(t) => write!(f, "{t}"),
            Value::Duration(d) => write!(f, "{d}"),
        }
    }
}

/// Go `strconv.FormatFloat(x, 'g', -1, 64)`, which is what `%v` prints for a `float64`.
pub(crate) fn go_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e6".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    // Go: %e when exp < -4 || exp >= eprec, and eprec is 6 for the shortest formatting.
    if !(-4..6).contains(&exp) {
        push_exp(&mut out, &digits, exp);
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

fn push_exp(out: &mut String, digits: &str, exp: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

/// Go `strconv.Quote`, as expr's messages print strings.
pub(crate) use weir_gocompat::quote as go_quote;

/// expr's `runtime.Equal`: numbers compare by value across int/float, `nil == nil`, otherwise
/// Go `reflect.DeepEqual` (so nested elements must have the same dynamic type).
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        _ => deep_equal(a, b),
    }
}

fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formatting() {
        let cases = [
            (10.0, "10"),
            (0.5, "0.5"),
            (1.1, "1.1"),
            (-1.1, "-1.1"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.0003332881882246533, "0.0003332881882246533"),
            (1e21, "1e+21"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ];
        for (x, want) in cases {
            assert_eq!(go_float(x), want, "{x}");
        }
    }

    #[test]
    fn go_v_formatting() {
        let v = Value::array([Value::Int(1), Value::Float(6.6)]);
        assert_eq!(v.to_string(), "[1 6.6]");
        let m = Value::map([("b", Value::Int(2)), ("a", Value::from("x"))]);
        assert_eq!(m.to_string(), "map[a:x b:2]");
    }

    #[test]
    fn json_numbers_are_float64() {
        let j = serde_json::json!({"a": 1, "b": [2, 3.5]});
        let v = Value::from_json_go(&j);
        assert_eq!(
            v,
            Value::map([("a", Value::Float(1.0)), ("b", Value::float_array(&[2.0, 3.5]))])
        );
        let t = Value::from_json_typed(&j);
        let b = Value::array([Value::Int(2), Value::Float(3.5)]);
        assert_eq!(t, Value::map([("a", Value::Int(1)), ("b", b)]));
    }
}
