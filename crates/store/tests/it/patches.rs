//! Strategic merge patch and server-side apply through `Store::patch`: what is stored, what a
//! refused patch leaves, and apply creating an object.

use serde_json::{Value, json};
use weir_cluster::{Cluster, Error, Object, Patch, Subresource};

use crate::common::*;

fn deployment(image: &str) -> Object {
    let deploys = rt("deployments");
    obj(
        &deploys,
        Some("ns"),
        "web",
        json!({"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "x", "image": image, "ports": [{"containerPort": 80}]}]}}}),
    )
}

fn has_directive(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k.starts_with('$') || has_directive(v)),
        Value::Array(items) => items.iter().any(has_directive),
        _ => false,
    }
}

#[tokio::test]
async fn a_strategic_merge_patch_stores_no_directive() {
    let (_dir, store) = store();
    let deploys = rt("deployments");
    store.create(&deploys, deployment("v1")).await.unwrap();
    // kubectl apply's three-way patch after an image edit (issue 12).
    let patch = Patch::Strategic(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "x"}],
        "containers": [{"name": "x", "image": "v2"}]}}}}));
    let patched =
        store.patch(&deploys, Some("ns"), "web", &patch, Subresource::Main).await.unwrap();
    let stored = store.get(&deploys, Some("ns"), "web").await.unwrap();
    assert_eq!(patched, stored);
    let value = stored.to_value();
    assert!(!has_directive(&value), "{value}");
    // The image changed and nothing the patch did not name was lost (the API server's defaults,
    // such as a port's protocol, are there too).
    let containers = value["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "x");
    assert_eq!(containers[0]["image"], "v2");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
}

#[tokio::test]
async fn a_refused_strategic_merge_patch_changes_nothing() {
    let (_dir, store) = store();
    let deploys = rt("deployments");
    let created = store.create(&deploys, deployment("v1")).await.unwrap();
    let patch = Patch::Strategic(
        json!({"spec": {"template": {"spec": {"containers": [{"image": "v2"}]}}}}),
    );
    let err =
        store.patch(&deploys, Some("ns"), "web", &patch, Subresource::Main).await.unwrap_err();
    assert_eq!(
        err,
        Error::BadRequest("map: map[image:v2] does not contain declared merge key: name".into())
    );
    assert_eq!(store.get(&deploys, Some("ns"), "web").await.unwrap(), created);

    let rollouts = rt("rollouts");
    store.create(&rollouts, obj(&rollouts, Some("ns"), "r", json!({"replicas": 1}))).await.unwrap();
    let smp = Patch::Strategic(json!({"spec": {"replicas": 2}}));
    let err = store.patch(&rollouts, Some("ns"), "r", &smp, Subresource::Main).await.unwrap_err();
    assert_eq!(err.status(), 415, "{err}");
}

fn apply(manager: &str, replicas: u32, force: bool) -> Patch {
    Patch::Apply {
        config: json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": replicas}}),
        field_manager: manager.to_owned(),
        force,
    }
}

#[tokio::test]
async fn apply_creates_then_conflicts_then_forces() {
    let clock = ManualClock::at("2026-03-01T10:20:30Z");
    let (_dir, store) = store_with(clock.options());
    let deploys = rt("deployments");
    let created = store
        .patch(&deploys, Some("ns"), "web", &apply("a", 2, false), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.uid().len(), 36);
    let managed = serde_json::to_value(&created.metadata.managed_fields).unwrap();
    assert_eq!(
        managed,
        json!([{"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "manager": "a", "operation": "Apply", "time": "2026-03-01T10:20:30Z"}])
    );

    clock.set("2026-03-01T10:21:00Z");
    let again = store
        .patch(&deploys, Some("ns"), "web", &apply("a", 2, false), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(again, created, "an unchanged re-apply writes nothing");

    let err = store
        .patch(&deploys, Some("ns"), "web", &apply("b", 3, false), Subresource::Main)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 409);
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    assert_eq!(store.get(&deploys, Some("ns"), "web").await.unwrap(), created);

    let forced = store
        .patch(&deploys, Some("ns"), "web", &apply("b", 3, true), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(forced.data["spec"]["replicas"], 3);
    let managers: Vec<&str> = forced
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    assert_eq!(managers, ["b"]);
}

#[tokio::test]
async fn apply_with_another_name_is_refused_and_creates_nothing() {
    let (_dir, store) = store();
    let deploys = rt("deployments");
    let err = store
        .patch(&deploys, Some("ns"), "other", &apply("a", 1, false), Subresource::Main)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::BadRequest(
            "the name of the object (web) does not match the name on the URL (other)".into()
        )
    );
    assert!(matches!(store.get(&deploys, Some("ns"), "other").await, Err(Error::NotFound { .. })));
    // Apply creates through the main resource only.
    let err = store
        .patch(&deploys, Some("ns"), "web", &apply("a", 1, false), Subresource::Status)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
    let merge = Patch::Merge(json!({"spec": {"replicas": 1}}));
    let err =
        store.patch(&deploys, Some("ns"), "web", &merge, Subresource::Main).await.unwrap_err();
    assert_eq!(err.status(), 404);
}
