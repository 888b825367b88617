//! The expectations of the Istio vectors: error texts, API verbs, and route / destination /
//! DestinationRule checks on the objects a step left behind.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Outcome;
use crate::{Lookup, ObjectKey, ObjectSnapshot, RouterError};

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn check_error(expect: &Value, err: Option<&RouterError>) -> Result<(), String> {
    let msg = err.map(ToString::to_string);
    if let Some(want) = expect.get("error") {
        match (want, &msg) {
            (Value::Null, None) => {}
            (Value::Null, Some(m)) => return Err(format!("unexpected error: {m}")),
            (Value::String(w), Some(m)) if w == m => {}
            (w, m) => return Err(format!("error: want {w}, got {m:?}")),
        }
    }
    if let Some(parts) = expect.get("error_contains").and_then(Value::as_array) {
        let m = msg.as_deref().ok_or("want an error, got none")?;
        for p in parts {
            let p = p.as_str().unwrap_or("");
            if !m.contains(p) {
                return Err(format!("error {m:?} does not contain {p:?}"));
            }
        }
    }
    if expect.get("error_any") == Some(&Value::Bool(true)) && msg.is_none() {
        return Err("want an error, got none".into());
    }
    if expect.get("error_is_not_found") == Some(&Value::Bool(true))
        && !err.is_some_and(RouterError::is_not_found)
    {
        return Err(format!("want NotFound, got {msg:?}"));
    }
    Ok(())
}

fn check_destination(dest: &Value, want: &Value) -> Result<(), String> {
    for (k, w) in want.as_object().into_iter().flatten() {
        let ok = match k.as_str() {
            "index" => true,
            "host" => dest["destination"]["host"] == *w,
            "subset" => {
                dest["destination"]["subset"].as_str().unwrap_or("") == w.as_str().unwrap_or("")
            }
            "weight" => num(&dest["weight"]).unwrap_or(0.0) == num(w).unwrap_or(-1.0),
            "port_number" => num(&dest["destination"]["port"]["number"]) == num(w),
            _ => return Err(format!("unhandled destination check {k}")),
        };
        if !ok {
            return Err(format!("destination {dest}: {k} != {w}"));
        }
    }
    Ok(())
}

fn check_route(route: &Value, want: &Value) -> Result<(), String> {
    let dests = route["route"].as_array().cloned().unwrap_or_default();
    for (k, w) in want.as_object().into_iter().flatten() {
        let fail = |what: String| Err(format!("{k}: {what} (route {route})"));
        match k.as_str() {
            "index" => {}
            "name" => {
                if route["name"].as_str().unwrap_or("") != w.as_str().unwrap_or("") {
                    return fail(format!("want {w}"));
                }
            }
            "weights" => {
                for (host, weight) in w.as_object().into_iter().flatten() {
                    let Some(d) = dests.iter().find(|d| d["destination"]["host"] == *host) else {
                        return fail(format!("no destination {host}"));
                    };
                    if num(&d["weight"]).unwrap_or(0.0) != num(weight).unwrap_or(-1.0) {
                        return fail(format!("{host} weight {} != {weight}", d["weight"]));
                    }
                }
            }
            "destinations" => {
                for d in w.as_array().into_iter().flatten() {
                    let i = d["index"].as_u64().unwrap_or(0) as usize;
                    let got = dests.get(i).ok_or(format!("no destination {i}"))?;
                    check_destination(got, d)?;
                }
            }
            "route_len" => {
                if dests.len() as u64 != w.as_u64().unwrap_or(0) {
                    return fail(format!("len {}", dests.len()));
                }
            }
            "port" => {
                let mut ports: Vec<i64> = route["match"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["port"].as_i64())
                    .filter(|p| *p != 0)
                    .collect();
                ports.dedup();
                if ports != [w.as_i64().unwrap_or(0)] {
                    return fail(format!("ports {ports:?}"));
                }
            }
            "sniHosts" => {
                let got: BTreeSet<&str> = route["match"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|m| m["sniHosts"].as_array().into_iter().flatten())
                    .filter_map(Value::as_str)
                    .collect();
                let want: BTreeSet<&str> =
                    w.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if got != want {
                    return fail(format!("sni {got:?}"));
                }
            }
            "has_keys" => {
                for key in w.as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if route.get(key).is_none() {
                        return fail(format!("missing {key}"));
                    }
                }
            }
            "absent_hosts" => {
                for host in w.as_array().into_iter().flatten() {
                    if dests.iter().any(|d| d["destination"]["host"] == *host) {
                        return fail(format!("{host} present"));
                    }
                }
            }
            "mirror" => {
                let m = &route["mirror"];
                if m["host"] != w["host"]
                    || m["subset"].as_str().unwrap_or("") != w["subset"].as_str().unwrap_or("")
                {
                    return fail(format!("mirror {m}"));
                }
            }
            "mirror_absent" => {
                if route.get("mirror").is_some() {
                    return fail("mirror present".into());
                }
            }
            "mirrorPercentage" => {
                if num(&route["mirrorPercentage"]["value"]) != num(w) {
                    return fail(format!("{}", route["mirrorPercentage"]));
                }
            }
            _ => return Err(format!("unhandled route check {k}")),
        }
    }
    Ok(())
}

fn check_routes(vs: &Value, kind: &str, want: &Value) -> Result<(), String> {
    let routes = vs["spec"][kind].as_array().cloned().unwrap_or_default();
    for (k, w) in want.as_object().into_iter().flatten() {
        match k.as_str() {
            "count" => {
                if routes.len() as u64 != w.as_u64().unwrap_or(0) {
                    return Err(format!("{kind}: {} routes, want {w}", routes.len()));
                }
            }
            "routes" => {
                for r in w.as_array().into_iter().flatten() {
                    let i = r["index"].as_u64().unwrap_or(0) as usize;
                    let got = routes.get(i).ok_or(format!("{kind}[{i}] missing"))?;
                    check_route(got, r).map_err(|e| format!("{kind}[{i}] {e}"))?;
                }
            }
            "absent_names" => {
                for n in w.as_array().into_iter().flatten() {
                    if routes.iter().any(|r| r["name"] == *n) {
                        return Err(format!("{kind}: route {n} present"));
                    }
                }
            }
            _ => return Err(format!("unhandled {kind} check {k}")),
        }
    }
    Ok(())
}

/// Go's `encoding/json` text: keys sorted, no spaces.
fn go_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                Value::Object(b.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn check_destination_rule(dr: &Value, want: &Value) -> Result<(), String> {
    let subsets = dr["spec"]["subsets"].as_array().cloned().unwrap_or_default();
    for (k, w) in want.as_object().into_iter().flatten() {
        match k.as_str() {
            "note" => {}
            "annotations" => {
                for (a, v) in w.as_object().into_iter().flatten() {
                    if dr["metadata"]["annotations"][a] != *v {
                        return Err(format!("annotation {a}: {}", dr["metadata"]));
                    }
                }
            }
            "subsets_count" => {
                if subsets.len() as u64 != w.as_u64().unwrap_or(0) {
                    return Err(format!("{} subsets", subsets.len()));
                }
            }
            "subsets" => {
                for s in w.as_array().into_iter().flatten() {
                    let i = s["index"].as_u64().unwrap_or(0) as usize;
                    let got = subsets.get(i).ok_or(format!("subset {i} missing"))?;
                    if let Some(name) = s.get("name")
                        && got["name"] != *name
                    {
                        return Err(format!("subset {i} name {}", got["name"]));
                    }
                    if let Some(labels) = s.get("labels")
                        && got["labels"] != *labels
                    {
                        return Err(format!("subset {i} labels {}", got["labels"]));
                    }
                }
            }
            "exact_json" => {
                let got = go_json(dr);
                if got != w.as_str().unwrap_or("") {
                    return Err(format!("json {got}"));
                }
            }
            "exact_object" => {
                if dr != w {
                    return Err(format!("object {dr}"));
                }
            }
            _ => return Err(format!("unhandled destinationRule check {k}")),
        }
    }
    Ok(())
}

fn find_object<'a>(
    state: &'a ObjectSnapshot,
    keys: &[ObjectKey],
    kind: &str,
    name: Option<&str>,
) -> Option<&'a Value> {
    keys.iter().filter(|k| k.kind == kind && name.is_none_or(|n| k.name == n)).find_map(|k| {
        match state.get(k) {
            Lookup::Found(v) => Some(v),
            _ => None,
        }
    })
}

pub(super) fn check_step(
    state: &ObjectSnapshot,
    all_actions: &[&str],
    step: &Value,
    step_actions: &[&str],
    out: &Outcome,
    keys: &[ObjectKey],
) -> Result<(), String> {
    let expect = &step["expect"];
    check_error(expect, out.error.as_ref())?;
    let vs = out.object.as_ref().or_else(|| {
        find_object(state, keys, "VirtualService", Some("vsvc"))
            .or_else(|| find_object(state, keys, "VirtualService", None))
    });
    for (k, w) in expect.as_object().into_iter().flatten() {
        match k.as_str() {
            "error"
            | "error_contains"
            | "error_any"
            | "error_is_not_found"
            | "note"
            | "source_message"
            | "modified_object_not_null" => {}
            "client_actions" => {
                let want: Vec<&str> =
                    w.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if step_actions != want {
                    return Err(format!("actions {step_actions:?}, want {want:?}"));
                }
            }
            "client_actions_cumulative" => {
                let want: Vec<&str> =
                    w.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if all_actions != want {
                    return Err(format!("cumulative actions {:?}, want {want:?}", all_actions));
                }
            }
            "client_action_counts" => {
                for (verb, n) in w.as_object().into_iter().flatten() {
                    let n = n.as_u64().unwrap_or(0) as usize;
                    let count = |v: &str| step_actions.iter().filter(|a| **a == v).count();
                    let ok = match verb.as_str() {
                        "update_at_most" => count("update") <= n,
                        v => count(v) == n,
                    };
                    if !ok {
                        return Err(format!("{verb}: actions {step_actions:?}"));
                    }
                }
            }
            "http" | "tls" | "tcp" => {
                let vs = vs.ok_or("no VirtualService to check")?;
                check_routes(vs, k, w)?;
            }
            "objects" => {
                for (name, checks) in w.as_object().into_iter().flatten() {
                    let vs = find_object(state, keys, "VirtualService", Some(name))
                        .ok_or(format!("no VirtualService {name}"))?;
                    for (kind, c) in checks.as_object().into_iter().flatten() {
                        check_routes(vs, kind, c).map_err(|e| format!("{name}: {e}"))?;
                    }
                }
            }
            "destinationRule" => {
                let dr = find_object(state, keys, "DestinationRule", None)
                    .ok_or("no DestinationRule")?;
                check_destination_rule(dr, w)?;
            }
            "result" | "delay" | "replicaSetName" | "indexes" => {
                let got = out.result.as_ref().and_then(|r| r.get(k)).ok_or("no result")?;
                if got != w {
                    return Err(format!("{k}: got {got}, want {w}"));
                }
            }
            _ => return Err(format!("unhandled expectation {k}")),
        }
    }
    Ok(())
}
