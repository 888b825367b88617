//! The `Cluster` contract through `KubeCluster`: what the embedded store guarantees, seen
//! through kube-rs and weir's API.

use serde_json::json;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, LabelSelector, ListParams, Object, Patch,
    PropagationPolicy, Subresource,
};

use crate::harness::{Weir, config_map, namespace, rt};

#[tokio::test]
async fn create_get_list_update_patch_delete() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "contract").await;
    let cms = rt("configmaps");

    let mut object = config_map("contract", "one", "1");
    object.metadata.labels = Some([("app".to_owned(), "a".to_owned())].into());
    let created = cluster.create(&cms, object).await.expect("create");
    assert!(!created.uid().is_empty(), "the server filled the uid");
    assert!(!created.resource_version().is_empty());
    cluster.create(&cms, config_map("contract", "two", "2")).await.expect("create two");

    let read = cluster.get(&cms, Some("contract"), "one").await.expect("get");
    assert_eq!(read.field("data"), Some(&json!({"k": "1"})));
    assert_eq!((read.api_version.as_str(), read.kind.as_str()), ("v1", "ConfigMap"));

    let all = cluster.list(&cms, Some("contract"), &ListParams::default()).await.expect("list");
    let names: Vec<&str> = all.items.iter().map(Object::name).collect();
    assert_eq!(names, ["one", "two"]);
    assert!(!all.resource_version.is_empty(), "a list carries the version to watch from");
    let selector = LabelSelector::parse("app=a").expect("selector");
    let labelled =
        cluster.list(&cms, Some("contract"), &ListParams::labels(selector)).await.expect("list");
    assert_eq!(labelled.items.iter().map(Object::name).collect::<Vec<_>>(), ["one"]);

    let mut changed = read.clone();
    changed.data.insert("data".to_owned(), json!({"k": "changed"}));
    let updated = cluster.update(&cms, changed).await.expect("update");
    assert_ne!(updated.resource_version(), read.resource_version());

    // The version `read` carries is stale now: the write is refused, nothing changes.
    let mut stale = read.clone();
    stale.data.insert("data".to_owned(), json!({"k": "lost"}));
    let conflict = cluster.update(&cms, stale).await.expect_err("stale update");
    assert!(matches!(conflict, Error::Conflict { .. }), "{conflict:?}");
    assert!(conflict.is_transient());
    let now = cluster.get(&cms, Some("contract"), "one").await.expect("get");
    assert_eq!(now.field("data"), Some(&json!({"k": "changed"})));

    let merged = cluster
        .patch(
            &cms,
            Some("contract"),
            "one",
            &Patch::Merge(json!({"data": {"extra": "x"}})),
            Subresource::Main,
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.field("data"), Some(&json!({"k": "changed", "extra": "x"})));
    let ops = serde_json::from_value(json!([{"op": "remove", "path": "/data/extra"}]))
        .expect("json patch");
    let patched = cluster
        .patch(&cms, Some("contract"), "one", &Patch::Json(ops), Subresource::Main)
        .await
        .expect("json patch");
    assert_eq!(patched.field("data"), Some(&json!({"k": "changed"})));

    let gone = cluster
        .delete(&cms, Some("contract"), "two", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(matches!(gone, DeleteOutcome::Deleted(ref o) if o.name() == "two"), "{gone:?}");
    let missing = cluster.get(&cms, Some("contract"), "two").await.expect_err("deleted");
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
}

#[tokio::test]
async fn duplicates_missing_objects_and_preconditions_are_the_api_errors() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "errors").await;
    let cms = rt("configmaps");
    let created = cluster.create(&cms, config_map("errors", "c", "1")).await.expect("create");

    let duplicate = cluster.create(&cms, config_map("errors", "c", "2")).await.expect_err("dup");
    assert!(matches!(duplicate, Error::AlreadyExists { .. }), "409 AlreadyExists: {duplicate:?}");
    let missing = cluster.get(&cms, Some("errors"), "nope").await.expect_err("404");
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    let patch_missing = cluster
        .patch(&cms, Some("errors"), "nope", &Patch::Merge(json!({})), Subresource::Main)
        .await
        .expect_err("404 on patch");
    assert!(matches!(patch_missing, Error::NotFound { .. }), "{patch_missing:?}");

    let wrong_uid = DeleteParams {
        precondition_uid: Some("not-the-uid".to_owned()),
        ..DeleteParams::default()
    };
    let refused =
        cluster.delete(&cms, Some("errors"), "c", &wrong_uid).await.expect_err("precondition");
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    cluster.get(&cms, Some("errors"), "c").await.expect("still there");

    let right = DeleteParams {
        precondition_uid: Some(created.uid().to_owned()),
        precondition_resource_version: Some(created.resource_version().to_owned()),
        propagation_policy: PropagationPolicy::Background,
    };
    cluster.delete(&cms, Some("errors"), "c", &right).await.expect("delete with preconditions");
}

#[tokio::test]
async fn status_is_a_subresource_and_finalizers_hold_deletion() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "status").await;
    // A Rollout: a custom resource with a status subresource (no controller runs here).
    let templates = rt("rollouts");
    let mut template = Object::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "t", "namespace": "status"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "t"}},
            "template": {"metadata": {"labels": {"app": "t"}},
                         "spec": {"containers": [{"name": "c", "image": "example/t:1"}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}}
        }
    }))
    .expect("rollout");
    template.metadata.finalizers = Some(vec!["weir.dev/test".to_owned()]);
    let created = cluster.create(&templates, template).await.expect("create");

    // A status write changes status only; a main-resource write never touches status.
    let mut with_status = created.clone();
    with_status.data.insert("status".to_owned(), json!({"message": "from status"}));
    let mut other_spec = created.field("spec").cloned().unwrap_or_default();
    other_spec["replicas"] = json!(5);
    with_status.data.insert("spec".to_owned(), other_spec);
    let written = cluster.update_status(&templates, with_status).await.expect("update_status");
    assert_eq!(written.field("status"), Some(&json!({"message": "from status"})));
    assert_eq!(written.field("spec"), created.field("spec"), "spec unchanged by a status write");
    let patched = cluster
        .patch(
            &templates,
            Some("status"),
            "t",
            &Patch::Merge(json!({"status": {"message": "patched"}})),
            Subresource::Status,
        )
        .await
        .expect("status patch");
    assert_eq!(patched.field("status"), Some(&json!({"message": "patched"})));

    let pending = cluster
        .delete(&templates, Some("status"), "t", &DeleteParams::default())
        .await
        .expect("delete");
    let DeleteOutcome::Pending(held) = pending else {
        panic!("a finalizer holds the object: {pending:?}");
    };
    assert!(held.metadata.deletion_timestamp.is_some());
    cluster.get(&templates, Some("status"), "t").await.expect("still there");
    cluster
        .patch(
            &templates,
            Some("status"),
            "t",
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            Subresource::Main,
        )
        .await
        .expect("remove the finalizer");
    let gone = cluster.get(&templates, Some("status"), "t").await.expect_err("gone");
    assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
}
