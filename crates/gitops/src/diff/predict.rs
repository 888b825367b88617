//! The predicted live object: the live object with the target merged in, the way a
//! kubectl-style three-way strategic merge would leave it. Fields of the last-applied
//! configuration that the target dropped are removed; fields only the server set are kept.
//! Lists of objects are merged by their merge key (`name`, `containerPort`, `port`,
//! `mountPath`, `ip`); other lists of the same length element by element, else replaced.

use serde_json::{Map, Value};

const MERGE_KEYS: &[&str] = &["name", "containerPort", "port", "mountPath", "ip", "devicePath"];

/// Strategic-merge keys of well-known list fields; other lists try [`MERGE_KEYS`] in order.
fn known_merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        _ => return None,
    })
}

/// `orig` is the last-applied configuration (`None` = two-way: the target stands in for it).
pub(crate) fn predict(orig: Option<&Value>, config: &Value, live: &Value) -> Value {
    predict_field("", orig, config, live)
}

fn predict_field(field: &str, orig: Option<&Value>, config: &Value, live: &Value) -> Value {
    match (config, live) {
        (Value::Object(c), Value::Object(l)) => Value::Object(merge_maps(orig, c, l)),
        (Value::Array(c), Value::Array(l)) => Value::Array(merge_lists(field, orig, c, l)),
        _ => config.clone(),
    }
}

fn merge_maps(
    orig: Option<&Value>,
    c: &Map<String, Value>,
    l: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = l.clone();
    if let Some(Value::Object(o)) = orig {
        for key in o.keys() {
            if !c.contains_key(key) {
                out.remove(key);
            }
        }
    }
    for (key, cv) in c {
        if cv.is_null() {
            out.remove(key);
            continue;
        }
        let merged = match l.get(key) {
            Some(lv) => predict_field(key, orig.and_then(|o| o.get(key)), cv, lv),
            None => cv.clone(),
        };
        out.insert(key.clone(), merged);
    }
    out
}

fn merge_key(field: &str, c: &[Value], l: &[Value]) -> Option<&'static str> {
    let usable = |k: &str| {
        let unique = |items: &[Value]| {
            let keys: Vec<&Value> = items.iter().filter_map(|v| v.get(k)).collect();
            keys.len() == items.len()
                && keys.iter().all(|x| !x.is_null())
                && keys.iter().enumerate().all(|(i, x)| !keys[..i].contains(x))
        };
        !c.is_empty() && unique(c) && unique(l)
    };
    match known_merge_key(field) {
        Some(k) => usable(k).then_some(k),
        None => MERGE_KEYS.iter().copied().find(|k| usable(k)),
    }
}

fn merge_lists(field: &str, orig: Option<&Value>, c: &[Value], l: &[Value]) -> Vec<Value> {
    let orig_items = orig.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    if let Some(key) = merge_key(field, c, l) {
        let find =
            |items: &[Value], v: &Value| items.iter().find(|x| x.get(key) == v.get(key)).cloned();
        // Like a strategic merge: live order is kept, items the target dropped since the last
        // apply are removed, items only the server added stay, new items are appended.
        let mut out = Vec::with_capacity(l.len().max(c.len()));
        for lv in l {
            match find(c, lv) {
                Some(cv) => out.push(predict(find(orig_items, &cv).as_ref(), &cv, lv)),
                None if find(orig_items, lv).is_none() => out.push(lv.clone()),
                None => {}
            }
        }
        out.extend(c.iter().filter(|cv| find(l, cv).is_none()).cloned());
        return out;
    }
    if c.len() == l.len() {
        return c
            .iter()
            .zip(l)
            .enumerate()
            .map(|(i, (cv, lv))| predict(orig_items.get(i), cv, lv))
            .collect();
    }
    c.to_vec()
}
