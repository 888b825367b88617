//! The diff meets live objects as an API server returns them: with the defaults the user did
//! not write (`weir_apimachinery::defaults`, which the embedded store applies on every write).
//! Those must never show as drift, with or without a last-applied annotation.

use serde_json::{Value, json};
use weir_gitops::diff::{DiffOptions, diff};

use crate::Report;

const BOOKINFO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/seed-demo/application/bookinfo.yaml"
);

/// The object as a cluster would return it after `kubectl apply` (or after a create without
/// the annotation): server metadata, status and the defaults of its kind.
fn live_of(desired: &Value, annotate: bool) -> Value {
    let mut live = desired.clone();
    let group =
        desired["apiVersion"].as_str().unwrap_or("").rsplit_once('/').map_or("", |(g, _)| g);
    let kind = desired["kind"].as_str().unwrap_or("").to_owned();
    if let Some(fields) = live.as_object_mut() {
        let mut rest: serde_json::Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        weir_apimachinery::defaults::apply(group, &kind, &mut rest);
        fields.extend(rest);
    }
    let meta = &mut live["metadata"];
    meta["uid"] = json!("0c9e5a3e-1111-4222-8333-444455556666");
    meta["resourceVersion"] = json!("42");
    meta["generation"] = json!(1);
    meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    if annotate {
        meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!(desired.to_string());
    }
    live
}

#[test]
fn defaults_of_the_bookinfo_objects_are_not_drift() {
    let Ok(text) = std::fs::read_to_string(BOOKINFO) else {
        eprintln!("skipped: {BOOKINFO} is absent");
        return;
    };
    let mut report = Report::default();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let Ok(desired) = <Value as serde::Deserialize>::deserialize(document) else { continue };
        let kind = desired["kind"].as_str().unwrap_or("").to_owned();
        if !matches!(kind.as_str(), "Deployment" | "Service" | "ServiceAccount") {
            continue;
        }
        for annotate in [true, false] {
            let name = format!("{kind}/{} (annotated: {annotate})", desired["metadata"]["name"]);
            let live = live_of(&desired, annotate);
            assert_ne!(live, desired, "{name}: defaults were added");
            let result = diff(Some(&desired), Some(&live), &DiffOptions::default());
            report.check(&name, !result.modified, || {
                format!("predicted {} vs live {}", result.predicted_live, result.normalized_live)
            });
        }
    }
    assert!(report.passed >= 8, "bookinfo has Deployments and Services: {}", report.passed);
    report.finish("defaulted live objects");
}
