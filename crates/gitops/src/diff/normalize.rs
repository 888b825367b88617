//! Normalization before comparing (`diff.Normalize` and remarshalling): drop
//! `metadata.creationTimestamp`, `status` and the platform's own metadata ([`super::platform`]), fold Secret `stringData` into base64 `data`,
//! treat empty role rules as absent, sort Endpoints subsets, and make numbers canonical.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::json;

/// A normalized copy of `obj`.
pub fn normalize(obj: &Value) -> Value {
    let mut out = obj.clone();
    canonical_numbers(&mut out);
    remove_null_creation_timestamps(&mut out);
    super::platform::remove_platform_metadata(&mut out);
    if let Some(map) = out.as_object_mut() {
        map.remove("status");
    }
    let kind = json::str_at(&out, &["kind"]).unwrap_or("").to_string();
    match kind.as_str() {
        "Secret" => normalize_secret(&mut out),
        "Role" | "ClusterRole" => {
            if out.get("rules").and_then(Value::as_array).is_some_and(Vec::is_empty)
                && let Some(map) = out.as_object_mut()
            {
                map.remove("rules");
            }
        }
        "Endpoints" => sort_endpoints(&mut out),
        _ => {}
    }
    out
}

/// Folds `stringData` into `data` (base64), and turns null data values into "".
pub fn normalize_secret(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else { return };
    let string_data = map.remove("stringData");
    let data = map.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    let Some(data) = data.as_object_mut() else { return };
    if let Some(Value::Object(sd)) = string_data {
        for (k, v) in sd {
            // Non-string values are invalid; they are kept as they are so they still diff.
            let folded = match v {
                Value::String(s) => Value::String(STANDARD.encode(s.as_bytes())),
                other => other,
            };
            data.insert(k, folded);
        }
    }
    for v in data.values_mut() {
        if v.is_null() {
            *v = Value::String(String::new());
        }
    }
    if data.is_empty() {
        map.remove("data");
    }
}

/// Removes `metadata.namespace` and an empty `metadata.annotations`.
pub fn remove_namespace_and_empty_annotations(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("namespace");
        if meta.get("annotations").and_then(Value::as_object).is_some_and(Map::is_empty) {
            meta.remove("annotations");
        }
    }
}

fn canonical_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if n.as_i64().is_none()
                && let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_numbers),
        Value::Object(map) => map.values_mut().for_each(canonical_numbers),
        _ => {}
    }
}

/// `creationTimestamp: null` (typed zero values) anywhere, and the object's own timestamp.
fn remove_null_creation_timestamps(v: &mut Value) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("creationTimestamp");
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("creationTimestamp").is_some_and(Value::is_null) {
                    map.remove("creationTimestamp");
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(v);
}

fn sort_endpoints(obj: &mut Value) {
    let Some(subsets) = obj.get_mut("subsets").and_then(Value::as_array_mut) else { return };
    for subset in subsets.iter_mut() {
        for key in ["addresses", "notReadyAddresses"] {
            if let Some(list) = subset.get_mut(key).and_then(Value::as_array_mut) {
                list.sort_by_key(|a| json::str_at(a, &["ip"]).unwrap_or("").to_string());
            }
        }
        if let Some(ports) = subset.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut() {
                if let Some(map) = p.as_object_mut() {
                    map.entry("protocol").or_insert_with(|| Value::from("TCP"));
                }
            }
            ports.sort_by_key(|p| {
                (
                    json::str_at(p, &["name"]).unwrap_or("").to_string(),
                    json::int_or_zero(p, &["port"]),
                    json::str_at(p, &["protocol"]).unwrap_or("").to_string(),
                )
            });
        }
    }
    subsets.sort_by_key(|s| s.to_string());
}
