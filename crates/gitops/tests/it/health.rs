//! `health/expected.yaml`: per-resource health and app health aggregation.

use serde_json::{Value, json};
use weir_gitops::ResourceKey;
use weir_gitops::health::app::{AppResource, aggregate, aggregate_with, format_causes};
use weir_gitops::health::{Health, HealthStatus, assess};

use crate::{Report, load_yaml, s};

#[test]
fn resource_health_vectors() {
    let doc = load_yaml("health/expected.yaml");
    let mut report = Report::default();
    for case in doc["cases"].as_array().expect("cases") {
        let file = s(case, "file");
        let obj = load_yaml(&format!("health/{file}"));
        let got = assess(&obj);
        let want_status = s(case, "status");
        let want_message = case.get("message").and_then(Value::as_str);
        report.check(
            &file,
            got.as_ref().is_some_and(|h| {
                h.status.as_str() == want_status && want_message.is_none_or(|m| m == h.message)
            }),
            || format!("want {want_status} {want_message:?}, got {got:?}"),
        );
    }
    report.finish("health");
}

struct Res {
    key: ResourceKey,
    target: Option<Value>,
    live: Option<Value>,
}

fn object_of(r: &Value, side: &str) -> Option<Value> {
    if let Some(inline) = r.get("target_and_live") {
        return Some(inline.clone());
    }
    let file = r.get(side)?.as_str()?;
    let mut obj = load_yaml(&format!("health/{file}"));
    if let Some(name) = r.get("name_override").and_then(Value::as_str) {
        obj["metadata"]["name"] = json!(name);
    }
    if let Some(a) = r.get("annotations_replaced_with") {
        obj["metadata"]["annotations"] = a.clone();
    }
    if side == "live"
        && let Some(a) = r.get("live_annotations_replaced_with")
    {
        obj["metadata"]["annotations"] = a.clone();
    }
    Some(obj)
}

fn resources(case: &Value) -> Vec<Res> {
    case["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| Res {
                    key: ResourceKey::new(
                        &s(r, "group"),
                        &s(r, "kind"),
                        &s(r, "namespace"),
                        &s(r, "name"),
                    ),
                    target: object_of(r, "target"),
                    live: object_of(r, "live"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn views(rs: &[Res]) -> Vec<AppResource<'_>> {
    rs.iter()
        .map(|r| AppResource { key: &r.key, target: r.target.as_ref(), live: r.live.as_ref() })
        .collect()
}

#[test]
fn app_health_aggregation_vectors() {
    let doc = load_yaml("health/expected.yaml");
    let agg = &doc["app_health_aggregation"];
    let mut report = Report::default();
    for case in agg["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        if let Some(table) = case.get("table").and_then(Value::as_array) {
            for (i, row) in table.iter().enumerate() {
                let row_name = format!("{name}[{i}]");
                let (rs, got) = if let Some(status) = row.get("override_status") {
                    let rs = vec![Res {
                        key: ResourceKey::new("", "Pod", "default", "running-pod"),
                        target: None,
                        live: Some(load_yaml(
                            "health/app-aggregation/pod-running-restart-always.yaml",
                        )),
                    }];
                    let status =
                        HealthStatus::parse(status.as_str().unwrap_or("")).expect("status");
                    let got = aggregate_with(&views(&rs), |_| {
                        Some(Health { status, message: String::new() })
                    });
                    (rs, got)
                } else {
                    let child = s(row, "child_health");
                    let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                        "metadata": {"name": "foo", "namespace": "default"},
                        "status": {"health": {"status": child}}});
                    let rs = vec![
                        Res {
                            key: ResourceKey::new("argoproj.io", "Application", "default", "foo"),
                            target: None,
                            live: Some(app),
                        },
                        Res { key: ResourceKey::default(), target: None, live: None },
                    ];
                    // Argo CD's opt-in Lua override for Applications: status.health or Progressing.
                    let got = aggregate_with(&views(&rs), |obj| {
                        if obj["kind"] == "Application" {
                            let st = obj["status"]["health"]["status"]
                                .as_str()
                                .and_then(HealthStatus::parse);
                            return Some(Health {
                                status: st.unwrap_or(HealthStatus::Progressing),
                                message: String::new(),
                            });
                        }
                        assess(obj)
                    });
                    (rs, got)
                };
                drop(rs);
                let (want, causes) = (s(row, "app_health"), s(row, "causes"));
                report.check(
                    &row_name,
                    got.status.as_str() == want && got.message == causes,
                    || format!("want {want} {causes:?}, got {got:?}"),
                );
            }
            continue;
        }
        let rs = resources(case);
        let got = aggregate(&views(&rs));
        let expect = &case["expect"];
        let (want, causes) = (s(expect, "app_health"), s(expect, "causes"));
        let mut ok = got.status.as_str() == want && got.message == causes;
        if let Some(per) = expect.get("resource_health").and_then(Value::as_array)
            && case["persist_resource_health"] == json!(true)
        {
            for (w, g) in per.iter().zip(&got.resources) {
                ok &= w.as_str() == g.as_ref().map(|h| h.status.as_str());
            }
        }
        report.check(&name, ok, || {
            format!("want {want} {causes:?} {:?}, got {got:?}", expect.get("resource_health"))
        });
    }
    for (i, case) in agg["format_health_causes"].as_array().expect("format").iter().enumerate() {
        let keys: Vec<ResourceKey> = match case.get("input").and_then(Value::as_array) {
            Some(input) => input
                .iter()
                .map(|k| {
                    ResourceKey::new(
                        &s(k, "group"),
                        &s(k, "kind"),
                        &s(k, "namespace"),
                        &s(k, "name"),
                    )
                })
                .collect(),
            None => (0..8)
                .map(|n| ResourceKey::new("", "Pod", "default", &format!("pod-{n}")))
                .collect(),
        };
        let refs: Vec<&ResourceKey> = keys.iter().collect();
        let got = format_causes(&refs);
        let ok = match case.get("expect").and_then(Value::as_str) {
            Some(want) => got == want,
            None => {
                got.contains(&s(case, "expect_contains"))
                    && got.matches("Pod:default/").count() == 3
            }
        };
        report.check(&format!("format_health_causes[{i}]"), ok, || got.clone());
    }
    report.finish("app health");
}
