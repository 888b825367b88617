//! `diff/vectors.yaml`: legacy two-/three-way diff, Secret masking, normalizers.

use serde_json::{Value, json};
use weir_gitops::diff::mask::hide_secret_data;
use weir_gitops::diff::text::unified;
use weir_gitops::diff::{
    DiffOptions, IgnoreDifferences, IgnoreRule, JqPath, diff, normalize_secret,
    remove_namespace_and_empty_annotations,
};

use crate::{Report, fixtures, load_yaml, s};

/// Loads an object spec: null, {object}, {file, mutate}.
fn object(spec: &Value) -> Option<Value> {
    if spec.is_null() {
        return None;
    }
    if let Some(obj) = spec.get("object") {
        return Some(obj.clone());
    }
    let Some(file) = spec.get("file").and_then(Value::as_str) else {
        return Some(spec.clone());
    };
    let text = std::fs::read_to_string(fixtures().join("diff").join(file)).expect("fixture");
    let mut obj: Value = serde_yaml_ng::from_str(&text).expect("parse");
    for m in spec["mutate"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let (keys, set) = match (m.get("set"), m.get("delete")) {
            (Some(k), _) => (k, true),
            (_, Some(k)) => (k, false),
            _ => continue,
        };
        let keys: Vec<&str> =
            keys.as_array().expect("keys").iter().filter_map(Value::as_str).collect();
        let (last, parents) = keys.split_last().expect("non-empty");
        let mut cur = &mut obj;
        for k in parents {
            cur = cur.as_object_mut().expect("object").entry(k.to_string()).or_insert(json!({}));
        }
        let map = cur.as_object_mut().expect("object");
        if set {
            map.insert(last.to_string(), m["value"].clone());
        } else {
            map.remove(*last);
        }
    }
    Some(obj)
}

fn rules(v: &Value) -> Result<IgnoreDifferences, String> {
    let mut out = IgnoreDifferences::default();
    for r in v.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let strings = |k: &str| -> Vec<String> {
            r[k].as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default()
        };
        let jq = strings("jqPathExpressions")
            .iter()
            .map(|e| JqPath::parse(e).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        out.rules.push(IgnoreRule {
            group: s(r, "group"),
            kind: s(r, "kind"),
            name: r["name"].as_str().map(String::from),
            namespace: r["namespace"].as_str().map(String::from),
            json_pointers: strings("jsonPointers"),
            jq_paths: jq,
            managed_fields_managers: strings("managedFieldsManagers"),
        });
    }
    Ok(out)
}

/// `a.b[0].c`, `x[k=v]`, annotations[key] lookups of the vector's `expect` maps.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = &r[..close];
            rest = &r[close + 1..];
            cur = match inner.parse::<usize>() {
                Ok(i) => cur.get(i)?,
                Err(_) => cur.get(inner)?,
            };
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        cur = cur.get(&rest[..end])?;
        rest = &rest[end..];
    }
    Some(cur)
}

fn check_fields(obj: &Value, fields: &Value) -> bool {
    fields.as_object().is_none_or(|m| {
        m.iter().all(|(path, want)| {
            let got =
                if let Some(inner) = path.strip_prefix("len(").and_then(|p| p.strip_suffix(')')) {
                    lookup(obj, inner).and_then(Value::as_array).map(|a| json!(a.len()))
                } else {
                    lookup(obj, path).cloned()
                };
            match want.as_str() {
                Some("<absent>") => got.is_none(),
                Some("<present>") => got.is_some(),
                Some("<absent or empty>") => got.is_none_or(|g| g == json!("") || g.is_null()),
                _ => got.as_ref() == Some(want),
            }
        })
    })
}

#[test]
fn diff_vectors() {
    let doc = load_yaml("diff/vectors.yaml");
    let mut report = Report::default();
    let diff_cases = doc["diff"]
        .as_array()
        .expect("diff")
        .iter()
        .chain(doc["diff_array"].as_array().expect("arr"));
    for case in diff_cases {
        let name = s(case, "name");
        let (config, live) = (object(&case["config"]), object(&case["live"]));
        let ignore = rules(&case["options"]["ignore_differences"]).expect("rules");
        let mut opts = DiffOptions {
            ignore_aggregated_roles: case["options"]["ignoreAggregatedRoles"] == json!(true),
            ignore,
        };
        if let Some(fields) = case["options"]["normalizer"]["remove_fields"].as_array() {
            for f in fields {
                let pointer: String = f
                    .as_array()
                    .expect("path")
                    .iter()
                    .map(|k| format!("/{}", k.as_str().unwrap_or("")))
                    .collect();
                opts.ignore.rules.push(IgnoreRule {
                    group: "*".into(),
                    kind: "*".into(),
                    json_pointers: vec![pointer],
                    ..IgnoreRule::default()
                });
            }
        }
        let got = diff(config.as_ref(), live.as_ref(), &opts);
        let e = &case["expect"];
        let mut ok = Some(got.modified) == e["modified"].as_bool();
        ok &= check_fields(&got.predicted_live, &e["predicted_live"]);
        ok &= check_fields(&got.normalized_live, &e["normalized_live"]);
        for (field, obj) in [
            ("predicted_live_json_contains", &got.predicted_live),
            ("normalized_live_json_contains", &got.normalized_live),
        ] {
            for needle in e[field].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                ok &= obj.to_string().contains(needle.as_str().unwrap_or(""));
            }
        }
        let text = unified("live", "predicted", &got.normalized_live, &got.predicted_live);
        if let Some(needle) = e["printed_diff_contains"].as_str() {
            ok &= text.contains(needle);
        }
        report.check(&name, ok, || {
            format!(
                "modified={} predicted={} live={}\n{text}",
                got.modified, got.predicted_live, got.normalized_live
            )
        });
    }

    for case in doc["hide_secret_data"].as_array().expect("hide") {
        let name = s(case, "name");
        let hide: Vec<String> = case["hide_annotations"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default();
        let (t, l) = hide_secret_data(
            object(&case["target"]).as_ref(),
            object(&case["live"]).as_ref(),
            &hide,
        );
        let e = &case["expect"];
        let la = |o: &Option<Value>| -> Value {
            o.as_ref()
                .and_then(|o| {
                    o.pointer(
                        "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                    )
                })
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .map(|v| v["data"].clone())
                .unwrap_or(Value::Null)
        };
        let data = |o: &Option<Value>| o.as_ref().map(|o| o["data"].clone()).unwrap_or(Value::Null);
        let mut ok = true;
        for (field, got) in [
            ("target_data", data(&t)),
            ("live_data", data(&l)),
            ("target_last_applied_data", la(&t)),
            ("live_last_applied_data", la(&l)),
        ] {
            if let Some(want) = e.get(field) {
                ok &= *want == got;
            }
        }
        for (field, obj) in [("target_annotations", &t), ("live_annotations", &l)] {
            if let Some(want) = e.get(field).and_then(Value::as_object) {
                for (k, v) in want {
                    ok &= obj.as_ref().and_then(|o| o["metadata"]["annotations"].get(k)) == Some(v);
                }
            }
        }
        for (field, obj) in [("target_json_not_contains", &t), ("live_json_not_contains", &l)] {
            for needle in e[field].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                ok &= !obj
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default()
                    .contains(needle.as_str().unwrap_or(""));
            }
        }
        if let Some(want) = e["annotations_subset_on_every_returned_object"].as_object() {
            for obj in [&t, &l].into_iter().flatten() {
                for (k, v) in want {
                    ok &= obj["metadata"]["annotations"].get(k) == Some(v);
                }
            }
        }
        report.check(&name, ok, || format!("target={t:?}\nlive={l:?}"));
    }

    for case in doc["normalize_secret"].as_array().expect("ns") {
        let mut obj = case["input"].clone();
        normalize_secret(&mut obj);
        let keys: Vec<String> =
            obj["data"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let mut want: Vec<String> = case["expect"]["data_has_keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        want.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        report.check(
            &s(case, "name"),
            obj.get("stringData").is_none() && keys_sorted == want,
            || format!("{obj}"),
        );
    }

    for case in doc["remove_namespace_annotation"].as_array().expect("rna") {
        let mut obj = case["input"].clone();
        remove_namespace_and_empty_annotations(&mut obj);
        let e = &case["expect"];
        let mut ok = obj["metadata"].get("namespace").is_none();
        if e.get("annotations").is_some_and(Value::is_null) {
            ok &= obj["metadata"].get("annotations").is_none();
        }
        if let Some(a) = e.get("metadata.annotations") {
            ok &= obj["metadata"]["annotations"] == *a;
        }
        report.check(&s(case, "name"), ok, || format!("{obj}"));
    }

    for case in doc["ignore_normalizer"].as_array().expect("ign") {
        let name = s(case, "name");
        let e = &case["expect"];
        if case.get("resource_overrides").is_some_and(|r| !r.is_null()) {
            report.skip(
                &name,
                "resource.customizations overrides come from argocd-cm, which weir does not read",
            );
            continue;
        }
        if name == "TestJQPathExpressionReturnsHelpfulError"
            || name == "TestNormalizeFailureLogIncludesResourceContext"
        {
            report.skip(&name, "jq functions (fromjson, |=) beyond the path subset; weir refuses the expression instead of logging");
            continue;
        }
        let built = rules(&case["ignore_differences"]);
        if e["construction_error"] == json!(true) {
            report.check(&name, built.is_err(), || "expected a construction error".into());
            continue;
        }
        let Ok(ign) = built else {
            report.check(&name, false, || format!("{built:?}"));
            continue;
        };
        let Some(mut obj) = object(&case["input"]) else {
            report.skip(&name, "no input");
            continue;
        };
        let before = obj.clone();
        ign.apply(&mut obj);
        let mut ok = true;
        for path in e["absent"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let p: String = path
                .as_array()
                .expect("path")
                .iter()
                .map(|k| format!("/{}", k.as_str().unwrap_or("")))
                .collect();
            ok &= obj.pointer(&p).is_none();
        }
        for path in e["present"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let p: String = path
                .as_array()
                .expect("path")
                .iter()
                .map(|k| format!("/{}", k.as_str().unwrap_or("")))
                .collect();
            ok &= obj.pointer(&p).is_some();
        }
        if e["unchanged"] == json!(true) {
            ok &= obj == before;
        }
        if let Some(m) = e.as_object() {
            for (k, v) in m.iter().filter(|(k, _)| k.contains('.')) {
                ok &= lookup(&obj, k) == Some(v);
            }
        }
        report.check(&name, ok, || format!("{obj}"));
    }

    for (section, why) in [
        (
            "structured_merge_diff",
            "needs the cluster's OpenAPI schema (openapiv2.bin is not in the fixtures)",
        ),
        ("server_side_diff", "needs an API server's server-side-apply dry-run"),
        ("exclude_manager_owned_ancestors", "server-side diff helper (managedFields sets)"),
        ("remarshal", "typed remarshalling through k8s schemas (quantities) is not implemented"),
        ("known_types_normalizer", "knownTypeFields normalizer is not implemented yet"),
        ("ignore_diff_config", "argocd-cm resource overrides merging is not implemented yet"),
        ("state_diff", "managedFieldsManagers need managedFields ownership, not implemented yet"),
        (
            "normalize_with_ignore_differences",
            "managedFieldsManagers need managedFields ownership, not implemented yet",
        ),
    ] {
        report.skip(section, why);
    }
    report.finish("diff");
}
