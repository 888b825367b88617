//! Small read helpers over `serde_json::Value` trees: the health checks, the diff and the
//! sync plan read Kubernetes objects as JSON, so a missing or mistyped field is data, not a
//! panic.

use serde_json::Value;

/// The value at a dotted path of object keys (`&["status", "phase"]`).
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// A string at `path`, if it is one.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// An integer at `path`; numeric strings count too (old Argo Rollouts wrote some as strings).
pub(crate) fn int_at(value: &Value, path: &[&str]) -> Option<i64> {
    match at(value, path)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer at `path`, 0 when absent (Go's zero value).
pub(crate) fn int_or_zero(value: &Value, path: &[&str]) -> i64 {
    int_at(value, path).unwrap_or(0)
}

/// The array at `path`, empty when absent.
pub(crate) fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// An annotation of the object.
pub(crate) fn annotation<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    str_at(value, &["metadata", "annotations", key])
}

/// The API group of an `apiVersion` ("" for the core group).
pub(crate) fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}
