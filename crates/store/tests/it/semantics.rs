//! API-server semantics of the store: field selectors on list and watch, list versions
//! (`resourceVersion` + `resourceVersionMatch`), streaming-list watches, dry runs.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, DryRun, Error, FieldSelector, INITIAL_EVENTS_END,
    ListParams, Object, Patch, Subresource, VersionMatch, WatchEvent, WatchParams, WatchStream,
};

use crate::common::*;

async fn next(stream: &mut WatchStream) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no watch event within 10 s")
        .expect("watch stream ended")
        .expect("watch stream failed")
}

async fn nothing_more(stream: &mut WatchStream) {
    let more = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(more.is_err(), "unexpected event: {more:?}");
}

fn describe(event: &WatchEvent) -> String {
    let kind = match event {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        WatchEvent::Bookmark(_) => "BOOKMARK",
    };
    format!("{kind} {}", event.object().name())
}

fn fields(text: &str) -> Option<FieldSelector> {
    Some(FieldSelector::parse(text).unwrap())
}

fn names(objects: &[Object]) -> Vec<&str> {
    objects.iter().map(Object::name).collect()
}

async fn set_phase(store: &weir_store::Store, name: &str, phase: &str) {
    let pods = rt("pods");
    let patch = Patch::Merge(json!({"status": {"phase": phase}}));
    store.patch(&pods, Some("ns"), name, &patch, Subresource::Status).await.unwrap();
}

#[tokio::test]
async fn lists_filter_on_fields_and_refuse_unsupported_ones() {
    let (_dir, store) = store();
    let (cm, pods) = (rt("cm"), rt("pods"));
    for name in ["a", "b"] {
        store.create(&cm, obj(&cm, Some("ns"), name, json!({}))).await.unwrap();
        store.create(&pods, obj(&pods, Some("ns"), name, json!({}))).await.unwrap();
    }
    set_phase(&store, "b", "Running").await;
    let list = |rt, text: &str| {
        let store = store.clone();
        let params = ListParams { field_selector: fields(text), ..ListParams::default() };
        async move { store.list(&rt, None, &params).await }
    };
    assert_eq!(names(&list(cm.clone(), "metadata.name=a").await.unwrap().items), ["a"]);
    assert_eq!(names(&list(cm.clone(), "metadata.name!=a").await.unwrap().items), ["b"]);
    assert_eq!(names(&list(pods.clone(), "status.phase=Running").await.unwrap().items), ["b"]);
    assert_eq!(names(&list(pods.clone(), "status.phase!=Running").await.unwrap().items), ["a"]);
    let err = list(cm.clone(), "status.phase=Running").await.unwrap_err();
    assert_eq!(
        (err.status(), err.to_string()),
        (400, "field label not supported: status.phase".into())
    );
    let err = store
        .watch(&cm, None, &WatchParams { field_selector: fields("spec.x=1"), ..Default::default() })
        .await
        .err()
        .expect("an unsupported field is refused on watch too");
    assert_eq!(err.status(), 400);
}

#[tokio::test]
async fn field_filtered_watches_see_objects_enter_and_leave_the_selection() {
    // As Kubernetes' watch cache: a change that makes an object match is ADDED, one that makes
    // it stop matching is DELETED (kubectl get pods --field-selector status.phase=Running -w).
    let (_dir, store) = store();
    let pods = rt("pods");
    store.create(&pods, obj(&pods, Some("ns"), "p", json!({}))).await.unwrap();
    store.create(&pods, obj(&pods, Some("ns"), "q", json!({}))).await.unwrap();
    let start = store.revision().to_string();
    let params = WatchParams { field_selector: fields("status.phase=Running"), ..from(&start) };
    let mut w = store.watch(&pods, None, &params).await.unwrap();
    set_phase(&store, "p", "Running").await;
    assert_eq!(describe(&next(&mut w).await), "ADDED p");
    let mut labelled = store.get(&pods, Some("ns"), "p").await.unwrap();
    labelled.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
    store.update(&pods, labelled).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "MODIFIED p");
    set_phase(&store, "q", "Pending").await; // never matched: nothing
    set_phase(&store, "p", "Succeeded").await;
    let left = next(&mut w).await;
    assert_eq!(describe(&left), "DELETED p");
    assert_eq!(left.object().field("status").unwrap()["phase"], "Succeeded");
    nothing_more(&mut w).await;

    // The same from the events table (a watcher resuming from an old version).
    let replay = WatchParams { field_selector: fields("status.phase=Running"), ..from(&start) };
    let mut w = store.watch(&pods, None, &replay).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED p");
    assert_eq!(describe(&next(&mut w).await), "MODIFIED p");
    assert_eq!(describe(&next(&mut w).await), "DELETED p");
}

#[tokio::test]
async fn a_name_selector_streams_only_that_object() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let params = WatchParams { field_selector: fields("metadata.name=x"), ..Default::default() };
    let mut w = store.watch(&cm, Some("ns"), &params).await.unwrap();
    store.create(&cm, obj(&cm, Some("ns"), "y", json!({}))).await.unwrap();
    store.create(&cm, obj(&cm, Some("ns"), "x", json!({}))).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED x");
    nothing_more(&mut w).await;
}

#[tokio::test]
async fn streaming_lists_end_their_initial_events_with_an_annotated_bookmark() {
    let (_dir, store) = store();
    let cm = rt("cm");
    for name in ["a", "b"] {
        store.create(&cm, obj(&cm, Some("ns"), name, json!({}))).await.unwrap();
    }
    let revision = store.revision().to_string();
    let params = WatchParams {
        send_initial_events: true,
        bookmarks: true,
        resource_version: Some("1".to_owned()),
        ..Default::default()
    };
    let mut w = store.watch(&cm, None, &params).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED a");
    assert_eq!(describe(&next(&mut w).await), "ADDED b");
    let end = next(&mut w).await;
    let WatchEvent::Bookmark(bookmark) = &end else { panic!("expected a bookmark: {end:?}") };
    assert_eq!(bookmark.resource_version(), revision);
    let annotations = bookmark.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get(INITIAL_EVENTS_END).map(String::as_str), Some("true"));
    store.create(&cm, obj(&cm, Some("ns"), "c", json!({}))).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED c");
}

#[tokio::test]
async fn lists_read_the_version_they_are_asked_for() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let a = store.create(&cm, obj(&cm, Some("ns"), "a", json!({"v": 1}))).await.unwrap();
    store.create(&cm, obj(&cm, Some("ns"), "b", json!({}))).await.unwrap();
    let then = store.revision();
    let mut changed = a.clone();
    changed.data.insert("spec".into(), json!({"v": 2}));
    store.update(&cm, changed).await.unwrap();
    store.delete(&cm, Some("ns"), "b", &DeleteParams::default()).await.unwrap();
    store.create(&cm, obj(&cm, Some("ns"), "c", json!({}))).await.unwrap();
    let now = store.revision();

    let at = |rv: u64, m| ListParams {
        resource_version: Some(rv.to_string()),
        version_match: m,
        ..Default::default()
    };
    let exact = store.list(&cm, None, &at(then, VersionMatch::Exact)).await.unwrap();
    assert_eq!(names(&exact.items), ["a", "b"]);
    assert_eq!(exact.items[0].field("spec"), Some(&json!({"v": 1})));
    assert_eq!(exact.resource_version, then.to_string());

    let latest = store.list(&cm, None, &at(then, VersionMatch::NotOlderThan)).await.unwrap();
    assert_eq!((names(&latest.items), latest.resource_version), (vec!["a", "c"], now.to_string()));
    let any = store.list(&cm, None, &at(0, VersionMatch::Unset)).await.unwrap();
    assert_eq!(names(&any.items), ["a", "c"]);

    for m in [VersionMatch::Exact, VersionMatch::NotOlderThan] {
        let err = store.list(&cm, None, &at(now + 5, m)).await.unwrap_err();
        assert_eq!(err.status(), 504, "{err}");
        assert_eq!(
            err.to_string(),
            format!("Too large resource version: {}, current: {now}", now + 5)
        );
    }
    let err = store.list(&cm, None, &at(0, VersionMatch::Exact)).await.unwrap_err();
    assert_eq!(err.status(), 422);
    let unset = ListParams { version_match: VersionMatch::Exact, ..Default::default() };
    assert_eq!(store.list(&cm, None, &unset).await.unwrap_err().status(), 422);
}

#[tokio::test]
async fn an_exact_list_older_than_the_retained_history_is_expired() {
    let opts = weir_store::StoreOptions { event_retention: 4, ..Default::default() };
    let (_dir, store) = store_with(opts);
    let cm = rt("cm");
    let a = store.create(&cm, obj(&cm, Some("ns"), "a", json!({}))).await.unwrap();
    let first = store.revision();
    for i in 0..10 {
        let mut next = store.get(&cm, Some("ns"), "a").await.unwrap();
        next.data.insert("spec".into(), json!({"i": i}));
        store.update(&cm, next).await.unwrap();
    }
    assert!(!a.uid().is_empty());
    let params = ListParams {
        resource_version: Some(first.to_string()),
        version_match: VersionMatch::Exact,
        ..Default::default()
    };
    let err = store.list(&cm, None, &params).await.unwrap_err();
    assert!(matches!(err, Error::Expired { .. }), "{err:?}");
}

#[tokio::test]
async fn dry_runs_answer_like_writes_and_keep_nothing() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let dry = store.dry_run();
    let mut w = store.watch(&cm, None, &from_now(&store)).await.unwrap();
    let revision = store.revision();

    let created = dry.create(&cm, obj(&cm, Some("ns"), "a", json!({"k": 1}))).await.unwrap();
    assert!(!created.uid().is_empty(), "a dry-run create has a uid, as on a cluster");
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.metadata.resource_version, None);
    assert!(matches!(store.get(&cm, Some("ns"), "a").await, Err(Error::NotFound { .. })));
    // The same rules run: a bad name is refused.
    let err = dry.create(&cm, obj(&cm, Some("ns"), "Bad_Name", json!({}))).await.unwrap_err();
    assert_eq!(err.status(), 422);

    let stored = store.create(&cm, obj(&cm, Some("ns"), "a", json!({"k": 1}))).await.unwrap();
    let after_create = store.revision();
    assert_eq!(describe(&next(&mut w).await), "ADDED a");
    assert_eq!(after_create, revision + 1, "the dry runs consumed no resourceVersion");
    let err = dry.create(&cm, obj(&cm, Some("ns"), "a", json!({}))).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");

    let mut changed = stored.clone();
    changed.data.insert("spec".into(), json!({"k": 2}));
    let updated = dry.update(&cm, changed.clone()).await.unwrap();
    assert_eq!(updated.field("spec"), Some(&json!({"k": 2})));
    assert_eq!(updated.metadata.generation, Some(2));
    assert_eq!(updated.resource_version(), stored.resource_version());
    let patched = dry
        .patch(&cm, Some("ns"), "a", &Patch::Merge(json!({"spec": {"k": 3}})), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(patched.field("spec"), Some(&json!({"k": 3})));
    changed.metadata.resource_version = Some("12345".to_owned());
    let err = dry.update(&cm, changed).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "preconditions hold in dry runs: {err:?}");

    let outcome = dry.delete(&cm, Some("ns"), "a", &DeleteParams::default()).await.unwrap();
    let DeleteOutcome::Deleted(last) = outcome else { panic!("{outcome:?}") };
    assert_eq!(last.name(), "a");
    assert_eq!(store.get(&cm, Some("ns"), "a").await.unwrap(), stored);
    assert_eq!(store.revision(), after_create);
    nothing_more(&mut w).await;
}

fn from(rv: &str) -> WatchParams {
    WatchParams { resource_version: Some(rv.to_owned()), ..WatchParams::default() }
}

fn from_now(store: &weir_store::Store) -> WatchParams {
    from(&store.revision().to_string())
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents_then_itself() {
    let (_dir, store) = store();
    let (ns, cm, pods) = (rt("namespaces"), rt("cm"), rt("pods"));
    let created = store.create(&ns, Object::new("v1", "Namespace", None, "team")).await.unwrap();
    assert_eq!(created.field("spec"), Some(&json!({"finalizers": ["kubernetes"]})));
    store.create(&cm, obj(&cm, Some("team"), "a", json!({}))).await.unwrap();
    let mut held = obj(&pods, Some("team"), "held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    store.create(&pods, held).await.unwrap();
    store.create(&cm, obj(&cm, Some("other"), "kept", json!({}))).await.unwrap();

    let outcome = store.delete(&ns, None, "team", &DeleteParams::default()).await.unwrap();
    let DeleteOutcome::Pending(terminating) = outcome else { panic!("{outcome:?}") };
    assert_eq!(terminating.field("status").unwrap()["phase"], "Terminating");
    assert!(store.list(&cm, Some("team"), &ListParams::default()).await.unwrap().items.is_empty());
    let held = store.get(&pods, Some("team"), "held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "marked, held by its finalizer");
    assert_eq!(
        store.list(&cm, Some("other"), &ListParams::default()).await.unwrap().items.len(),
        1
    );

    // Deleting again changes nothing; the last finalizer going takes the namespace with it.
    store.delete(&ns, None, "team", &DeleteParams::default()).await.unwrap();
    assert!(store.get(&ns, None, "team").await.is_ok());
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    store.patch(&pods, Some("team"), "held", &release, Subresource::Main).await.unwrap();
    assert!(matches!(store.get(&ns, None, "team").await, Err(Error::NotFound { .. })));

    // An empty namespace goes at once.
    store.create(&ns, Object::new("v1", "Namespace", None, "empty")).await.unwrap();
    let outcome = store.delete(&ns, None, "empty", &DeleteParams::default()).await.unwrap();
    assert!(matches!(outcome, DeleteOutcome::Deleted(_)), "{outcome:?}");
}

#[tokio::test]
async fn every_writer_gets_the_api_servers_defaults() {
    let (_dir, store) = store();
    let deploy = rt("deploy");
    let manifest = obj(
        &deploy,
        Some("ns"),
        "web",
        json!({"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}),
    );
    let created = store.create(&deploy, manifest).await.unwrap();
    let spec = created.field("spec").unwrap();
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
    // A patch that writes nothing new changes nothing (defaults are stable).
    let same = store
        .patch(&deploy, Some("ns"), "web", &Patch::Merge(json!({})), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(same, created);
}
