//! Create, read, update, status, patch: the metadata rules Kubernetes clients rely on.

use serde_json::json;
use weir_cluster::{Cluster, Error, LabelSelector, ListParams, Object, Patch, Subresource};
use weir_store::MAX_OBJECT_BYTES;

use crate::common::*;

#[tokio::test]
async fn create_fills_server_owned_metadata() {
    let clock = ManualClock::at("2026-03-01T10:20:30.987654Z");
    let (_dir, store) = store_with(clock.options());
    let pods = rt("pods");
    let created =
        store.create(&pods, obj(&pods, Some("ns"), "web", json!({"a": 1}))).await.unwrap();
    assert_eq!(created.uid().len(), 36);
    assert!(rv(&created) > 0);
    assert_eq!(created.metadata.generation, Some(1));
    let ts = created.metadata.creation_timestamp.as_ref().unwrap();
    assert_eq!(ts.0.to_string(), "2026-03-01T10:20:30Z", "second precision, from the clock");
    let got = store.get(&pods, Some("ns"), "web").await.unwrap();
    assert_eq!(got, created);

    let err = store.create(&pods, obj(&pods, Some("ns"), "web", json!({}))).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(err.status(), 409);

    let second = store.create(&pods, obj(&pods, Some("ns"), "other", json!({}))).await.unwrap();
    assert!(rv(&second) > rv(&created), "one global, growing resourceVersion");
    assert_ne!(second.uid(), created.uid());
}

#[tokio::test]
async fn generation_moves_with_spec_only() {
    let (_dir, store) = store();
    let ro = rt("rollouts");
    let created =
        store.create(&ro, obj(&ro, Some("ns"), "r", json!({"replicas": 1}))).await.unwrap();

    let relabelled = store.update(&ro, with_labels(created.clone(), &[("a", "b")])).await.unwrap();
    assert_eq!(relabelled.metadata.generation, Some(1));
    assert!(rv(&relabelled) > rv(&created));

    let mut status = relabelled.clone();
    status.data.insert("status".into(), json!({"phase": "Healthy"}));
    let with_status = store.update_status(&ro, status).await.unwrap();
    assert_eq!(with_status.metadata.generation, Some(1));

    let mut changed = with_status.clone();
    changed.data.insert("spec".into(), json!({"replicas": 3}));
    let changed = store.update(&ro, changed).await.unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(changed.field("status"), Some(&json!({"phase": "Healthy"})));
}

#[tokio::test]
async fn stale_resource_version_conflicts_and_empty_is_unconditional() {
    let (_dir, store) = store();
    let cm = rt("configmaps");
    let created = store.create(&cm, obj(&cm, Some("ns"), "c", json!(1))).await.unwrap();
    let mut first = created.clone();
    first.data.insert("spec".into(), json!(2));
    store.update(&cm, first).await.unwrap();

    let mut stale = created.clone();
    stale.data.insert("spec".into(), json!(3));
    let err = store.update(&cm, stale.clone()).await.unwrap_err();
    assert_eq!(err.status(), 409);
    assert!(err.to_string().contains("the object has been modified"), "{err}");
    assert!(matches!(err, Error::Conflict { .. }));

    stale.metadata.resource_version = None;
    let forced = store.update(&cm, stale).await.unwrap();
    assert_eq!(spec(&forced), json!(3));

    let mut wrong_uid = forced.clone();
    wrong_uid.metadata.uid = Some("not-the-uid".into());
    assert_eq!(store.update(&cm, wrong_uid).await.unwrap_err().status(), 409);

    let missing = obj(&cm, Some("ns"), "nope", json!(1));
    assert_eq!(store.update(&cm, missing).await.unwrap_err().status(), 404);
}

#[tokio::test]
async fn status_and_main_resource_are_written_separately() {
    let (_dir, store) = store();
    let ro = rt("rollouts");
    let mut body = obj(&ro, Some("ns"), "r", json!({"replicas": 1}));
    body.data.insert("status".into(), json!({"phase": "Ignored"}));
    let created = store.create(&ro, body).await.unwrap();
    assert_eq!(created.field("status"), None, "create drops status like Kubernetes");

    let mut both = created.clone();
    both.data.insert("spec".into(), json!({"replicas": 9}));
    both.data.insert("status".into(), json!({"phase": "Progressing"}));
    both.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
    let after_status = store.update_status(&ro, both.clone()).await.unwrap();
    assert_eq!(spec(&after_status), json!({"replicas": 1}), "status update leaves spec");
    assert_eq!(after_status.metadata.labels, None, "and metadata");
    assert_eq!(after_status.field("status"), Some(&json!({"phase": "Progressing"})));
    assert_eq!(after_status.metadata.generation, Some(1));

    let mut main = after_status.clone();
    main.data.insert("status".into(), json!({"phase": "Hacked"}));
    main.data.insert("spec".into(), json!({"replicas": 2}));
    let after_main = store.update(&ro, main).await.unwrap();
    assert_eq!(after_main.field("status"), Some(&json!({"phase": "Progressing"})));
    assert_eq!(spec(&after_main), json!({"replicas": 2}));

    let mut stale = after_status.clone();
    stale.data.insert("status".into(), json!({"phase": "Stale"}));
    let err = store.update_status(&ro, stale).await.unwrap_err();
    assert_eq!(err.status(), 409, "status updates honour the resourceVersion too");

    let mut server_owned = after_main.clone();
    server_owned.metadata.generation = Some(42);
    server_owned.metadata.creation_timestamp = None;
    let kept = store.update(&ro, server_owned).await.unwrap();
    assert_eq!(kept, after_main, "uid, generation, creationTimestamp are the server's");
}

#[tokio::test]
async fn no_op_update_keeps_resource_version() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let created = store.create(&cm, obj(&cm, Some("ns"), "c", json!({"k": "v"}))).await.unwrap();
    let before = store.revision();
    let mut same = created.clone();
    same.metadata.labels = Some(Default::default()); // empty == absent
    let again = store.update(&cm, same).await.unwrap();
    assert_eq!(again.resource_version(), created.resource_version());
    let status_noop = store.update_status(&cm, created.clone()).await.unwrap();
    assert_eq!(status_noop.resource_version(), created.resource_version());
    let patched = store
        .patch(&cm, Some("ns"), "c", &Patch::Merge(json!({"spec": {"k": "v"}})), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(patched.resource_version(), created.resource_version());
    assert_eq!(store.revision(), before);
}

#[tokio::test]
async fn merge_and_json_patches() {
    let (_dir, store) = store();
    let ro = rt("rollouts");
    let created = store
        .create(&ro, obj(&ro, Some("ns"), "r", json!({"replicas": 1, "paused": true})))
        .await
        .unwrap();

    let merged = store
        .patch(
            &ro,
            Some("ns"),
            "r",
            &Patch::Merge(json!({"spec": {"paused": null, "replicas": 5}, "metadata": {"labels": {"a": "b"}}})),
            Subresource::Main,
        )
        .await
        .unwrap();
    assert_eq!(spec(&merged), json!({"replicas": 5}));
    assert_eq!(merged.label("a"), Some("b"));
    assert_eq!(merged.metadata.generation, Some(2));

    let ops = br#"[{"op":"test","path":"/spec/replicas","value":5},{"op":"replace","path":"/spec/replicas","value":7}]"#;
    let json_patch = Patch::from_body("application/json-patch+json", ops).unwrap();
    let patched = store.patch(&ro, Some("ns"), "r", &json_patch, Subresource::Main).await.unwrap();
    assert_eq!(spec(&patched), json!({"replicas": 7}));

    let failing = Patch::from_body(
        "application/json-patch+json",
        br#"[{"op":"test","path":"/spec/replicas","value":1}]"#,
    )
    .unwrap();
    let err = store.patch(&ro, Some("ns"), "r", &failing, Subresource::Main).await.unwrap_err();
    assert_eq!(err.status(), 400);

    let status = Patch::Merge(json!({"spec": {"replicas": 100}, "status": {"phase": "Paused"}}));
    let st = store.patch(&ro, Some("ns"), "r", &status, Subresource::Status).await.unwrap();
    assert_eq!(spec(&st), json!({"replicas": 7}), "a status patch only takes status");
    assert_eq!(st.field("status"), Some(&json!({"phase": "Paused"})));

    let main_status = Patch::Merge(json!({"status": {"phase": "Nope"}}));
    let main = store.patch(&ro, Some("ns"), "r", &main_status, Subresource::Main).await.unwrap();
    assert_eq!(main.field("status"), Some(&json!({"phase": "Paused"})));

    for bad in [
        json!({"metadata": {"name": "x"}}),
        json!({"metadata": {"uid": "x"}}),
        json!({"metadata": {"namespace": "x"}}),
    ] {
        let err = store
            .patch(&ro, Some("ns"), "r", &Patch::Merge(bad), Subresource::Main)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
    }

    let stale = Patch::Merge(
        json!({"metadata": {"resourceVersion": created.resource_version()}, "spec": {"replicas": 1}}),
    );
    let err = store.patch(&ro, Some("ns"), "r", &stale, Subresource::Main).await.unwrap_err();
    assert_eq!(err.status(), 409, "a resourceVersion in a merge patch is a precondition");

    let missing =
        store.patch(&ro, Some("ns"), "zz", &Patch::Merge(json!({})), Subresource::Main).await;
    assert_eq!(missing.unwrap_err().status(), 404);
}

#[tokio::test]
async fn namespaced_and_cluster_scoped_types() {
    let (_dir, store) = store();
    let pods = rt("pods");
    let err = store.create(&pods, obj(&pods, None, "p", json!({}))).await.unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(store.get(&pods, None, "p").await.unwrap_err().status(), 400);

    let ns = rt("namespaces");
    let created = store.create(&ns, obj(&ns, Some("ignored"), "team-a", json!({}))).await.unwrap();
    assert_eq!(created.namespace(), None);
    let got = store.get(&ns, Some("whatever"), "team-a").await.unwrap();
    assert_eq!(got.uid(), created.uid());
    assert_eq!(store.list(&ns, None, &ListParams::default()).await.unwrap().items.len(), 1);

    store.create(&pods, obj(&pods, Some("a"), "p", json!({}))).await.unwrap();
    store.create(&pods, obj(&pods, Some("b"), "p", json!({}))).await.unwrap();
    assert_eq!(store.get(&pods, Some("c"), "p").await.unwrap_err().status(), 404);
    let all = store.list(&pods, None, &ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let in_b = store.list(&pods, Some("b"), &ListParams::default()).await.unwrap();
    assert_eq!(in_b.items.len(), 1);
    assert_eq!(in_b.items[0].namespace(), Some("b"));
}

#[tokio::test]
async fn generate_name_and_name_validation() {
    let (_dir, store) = store();
    let pods = rt("pods");
    let mut body = obj(&pods, Some("ns"), "", json!({}));
    body.metadata.generate_name = Some("web-".into());
    let created = store.create(&pods, body.clone()).await.unwrap();
    let name = created.name();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    let other = store.create(&pods, body).await.unwrap();
    assert_ne!(other.name(), name);

    for bad in ["", "Upper", "under_score", "-lead"] {
        let err = store.create(&pods, obj(&pods, Some("ns"), bad, json!({}))).await.unwrap_err();
        assert_eq!(err.status(), 422, "{bad}");
        let Error::Invalid { causes, .. } = err else { panic!("not Invalid") };
        assert_eq!(causes[0].field, "metadata.name");
    }

    let wrong_kind = Object::new("v1", "Service", Some("ns"), "x");
    assert_eq!(store.create(&pods, wrong_kind).await.unwrap_err().status(), 400);
    let wrong_group = Object::new("apps/v1", "Pod", Some("ns"), "x");
    assert_eq!(store.create(&pods, wrong_group).await.unwrap_err().status(), 400);

    let huge = obj(&pods, Some("ns"), "big", json!("x".repeat(MAX_OBJECT_BYTES)));
    let err = store.create(&pods, huge).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(store.get(&pods, Some("ns"), "big").await.unwrap_err().status(), 404);
}

#[tokio::test]
async fn list_with_label_selectors_in_order() {
    let (_dir, store) = store();
    let pods = rt("pods");
    for (ns, name, labels) in [
        ("b", "p2", vec![("app", "web"), ("env", "prod")]),
        ("a", "p3", vec![("app", "web"), ("env", "stage")]),
        ("a", "p1", vec![("app", "db"), ("env", "prod")]),
        ("b", "p0", vec![("app", "web")]),
    ] {
        let o = with_labels(obj(&pods, Some(ns), name, json!({})), &labels);
        store.create(&pods, o).await.unwrap();
    }
    let names = |list: weir_cluster::ObjectList| {
        list.items
            .iter()
            .map(|o| format!("{}/{}", o.namespace().unwrap(), o.name()))
            .collect::<Vec<_>>()
    };
    let all = store.list(&pods, None, &ListParams::default()).await.unwrap();
    assert_eq!(all.resource_version, store.revision().to_string());
    assert_eq!(names(all), ["a/p1", "a/p3", "b/p0", "b/p2"]);
    let sel = |s: &str| ListParams::labels(LabelSelector::parse(s).unwrap());
    assert_eq!(
        names(store.list(&pods, None, &sel("app=web")).await.unwrap()),
        ["a/p3", "b/p0", "b/p2"]
    );
    assert_eq!(
        names(store.list(&pods, None, &sel("app=web,env!=prod")).await.unwrap()),
        ["a/p3", "b/p0"]
    );
    assert_eq!(
        names(store.list(&pods, None, &sel("env in (prod,stage)")).await.unwrap()),
        ["a/p1", "a/p3", "b/p2"]
    );
    assert_eq!(names(store.list(&pods, None, &sel("!env")).await.unwrap()), ["b/p0"]);
    assert_eq!(
        names(store.list(&pods, Some("b"), &sel("env notin (stage)")).await.unwrap()),
        ["b/p0", "b/p2"]
    );
}

#[tokio::test]
async fn api_version_follows_the_request_not_the_storage() {
    let (_dir, store) = store();
    let v1alpha3 = rt_version("vs", "v1alpha3");
    let v1 = rt_version("vs", "v1");
    let created = store
        .create(&v1alpha3, obj(&v1alpha3, Some("ns"), "reviews", json!({"hosts": ["r"]})))
        .await
        .unwrap();
    assert_eq!(created.api_version, "networking.istio.io/v1alpha3");
    let got = store.get(&v1, Some("ns"), "reviews").await.unwrap();
    assert_eq!(got.api_version, "networking.istio.io/v1");
    assert_eq!(got.uid(), created.uid());
    let listed =
        store.list(&rt_version("vs", "v1beta1"), None, &ListParams::default()).await.unwrap();
    assert_eq!(listed.items[0].api_version, "networking.istio.io/v1beta1");
    // Updating through another version is the same object and not a change by itself.
    let same = store.update(&v1, got.clone()).await.unwrap();
    assert_eq!(same.resource_version(), created.resource_version());
    assert_eq!(same.api_version, "networking.istio.io/v1");
}
