//! Deletion: finalizers, propagation policies, garbage collection, and its convergence on
//! reopen after a crash.

use futures::StreamExt;
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, ListParams, Object, Patch, PropagationPolicy,
    Subresource, WatchEvent, WatchParams,
};
use weir_store::Store;

use crate::common::*;

/// A deployment owning two replica sets owning two pods each.
struct Tree {
    deploy: Object,
    sets: Vec<Object>,
    pods: Vec<Object>,
}

async fn tree(store: &Store, block: bool, pod_finalizer: Option<&str>) -> Tree {
    let (d, r, p) = (rt("deploy"), rt("rs"), rt("pods"));
    let deploy = store.create(&d, obj(&d, Some("ns"), "web", json!({}))).await.unwrap();
    let mut sets = Vec::new();
    let mut pods = Vec::new();
    for s in 0..2 {
        let rs = owned_by(obj(&r, Some("ns"), &format!("web-{s}"), json!({})), &deploy, block);
        let rs = store.create(&r, rs).await.unwrap();
        for i in 0..2 {
            let mut pod =
                owned_by(obj(&p, Some("ns"), &format!("web-{s}-{i}"), json!({})), &rs, block);
            if let Some(f) = pod_finalizer {
                pod.metadata.finalizers = Some(vec![f.to_owned()]);
            }
            pods.push(store.create(&p, pod).await.unwrap());
        }
        sets.push(rs);
    }
    Tree { deploy, sets, pods }
}

async fn count(store: &Store, name: &str) -> usize {
    store.list(&rt(name), None, &ListParams::default()).await.unwrap().items.len()
}

fn policy(p: PropagationPolicy) -> DeleteParams {
    DeleteParams { propagation_policy: p, ..DeleteParams::default() }
}

#[tokio::test]
async fn background_deletion_collects_the_whole_tree() {
    let (_dir, store) = store();
    let t = tree(&store, false, None).await;
    let outcome = store
        .delete(&rt("deploy"), Some("ns"), "web", &policy(PropagationPolicy::Background))
        .await;
    let DeleteOutcome::Deleted(last) = outcome.unwrap() else { panic!("not deleted") };
    assert_eq!(last.uid(), t.deploy.uid());
    assert!(rv(&last) > rv(&t.pods[3]));
    assert_eq!((count(&store, "rs").await, count(&store, "pods").await), (0, 0));
    let err = store.get(&rt("deploy"), Some("ns"), "web").await.unwrap_err();
    assert_eq!(err.status(), 404);
}

#[tokio::test]
async fn foreground_deletion_removes_dependents_first() {
    let (_dir, store) = store();
    let t = tree(&store, true, None).await;
    let start = store.revision();
    let mut w = store
        .watch(
            &rt("deploy"),
            None,
            &WatchParams { resource_version: Some(start.to_string()), ..Default::default() },
        )
        .await
        .unwrap();
    let outcome = store
        .delete(&rt("deploy"), Some("ns"), "web", &policy(PropagationPolicy::Foreground))
        .await;
    assert!(matches!(outcome.unwrap(), DeleteOutcome::Deleted(_)));
    assert_eq!((count(&store, "rs").await, count(&store, "pods").await), (0, 0));
    let marked = w.next().await.unwrap().unwrap();
    let WatchEvent::Modified(marked) = marked else { panic!("{marked:?}") };
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.finalizers, Some(vec!["foregroundDeletion".to_owned()]));
    let gone = w.next().await.unwrap().unwrap();
    assert!(matches!(gone, WatchEvent::Deleted(_)), "{gone:?}");
    assert_eq!(t.sets.len(), 2);
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents_with_finalizers() {
    let (_dir, store) = store();
    let t = tree(&store, true, Some("example.com/hold")).await;
    let outcome = store
        .delete(&rt("deploy"), Some("ns"), "web", &policy(PropagationPolicy::Foreground))
        .await
        .unwrap();
    let DeleteOutcome::Pending(pending) = outcome else { panic!("should wait for pods") };
    assert!(pending.metadata.deletion_timestamp.is_some());
    for pod in &t.pods {
        let p = store.get(&rt("pods"), Some("ns"), pod.name()).await.unwrap();
        assert!(p.metadata.deletion_timestamp.is_some(), "pods are marked");
    }
    for rs in &t.sets {
        let r = store.get(&rt("rs"), Some("ns"), rs.name()).await.unwrap();
        assert!(r.metadata.deletion_timestamp.is_some(), "replica sets wait for their pods");
    }
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    for pod in &t.pods {
        store
            .patch(&rt("pods"), Some("ns"), pod.name(), &release, Subresource::Main)
            .await
            .unwrap();
    }
    assert_eq!(count(&store, "pods").await, 0);
    assert_eq!(count(&store, "rs").await, 0);
    assert_eq!(count(&store, "deploy").await, 0, "the owner goes last");
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let (_dir, store) = store();
    let t = tree(&store, false, None).await;
    let outcome =
        store.delete(&rt("deploy"), Some("ns"), "web", &policy(PropagationPolicy::Orphan)).await;
    assert!(matches!(outcome.unwrap(), DeleteOutcome::Deleted(_)));
    for rs in &t.sets {
        let r = store.get(&rt("rs"), Some("ns"), rs.name()).await.unwrap();
        assert_eq!(r.metadata.owner_references, None);
    }
    assert_eq!(count(&store, "pods").await, 4);
}

#[tokio::test]
async fn dependents_with_another_live_owner_only_lose_the_reference() {
    let (_dir, store) = store();
    let (r, p) = (rt("rs"), rt("pods"));
    let a = store.create(&r, obj(&r, Some("ns"), "a", json!({}))).await.unwrap();
    let b = store.create(&r, obj(&r, Some("ns"), "b", json!({}))).await.unwrap();
    let shared = owned_by(owned_by(obj(&p, Some("ns"), "shared", json!({})), &a, false), &b, false);
    store.create(&p, shared).await.unwrap();
    store.delete(&r, Some("ns"), "a", &DeleteParams::default()).await.unwrap();
    let pod = store.get(&p, Some("ns"), "shared").await.unwrap();
    let owners: Vec<&str> =
        pod.metadata.owner_references.iter().flatten().map(|o| o.name.as_str()).collect();
    assert_eq!(owners, ["b"]);
    store.delete(&r, Some("ns"), "b", &DeleteParams::default()).await.unwrap();
    assert_eq!(store.get(&p, Some("ns"), "shared").await.unwrap_err().status(), 404);
}

#[tokio::test]
async fn finalizers_keep_an_object_pending_until_removed() {
    let clock = ManualClock::at("2026-01-01T00:00:00Z");
    let (_dir, store) = store_with(clock.options());
    let cm = rt("cm");
    let mut body = obj(&cm, Some("ns"), "held", json!({}));
    body.metadata.finalizers = Some(vec!["a/one".into(), "a/two".into()]);
    store.create(&cm, body).await.unwrap();

    clock.set("2026-01-01T00:05:00Z");
    let outcome = store.delete(&cm, Some("ns"), "held", &DeleteParams::default()).await.unwrap();
    let DeleteOutcome::Pending(pending) = outcome else { panic!("finalizers hold it") };
    assert_eq!(
        pending.metadata.deletion_timestamp.as_ref().unwrap().0.to_string(),
        "2026-01-01T00:05:00Z"
    );
    // Deleting again changes nothing.
    clock.set("2026-01-01T00:06:00Z");
    let again = store.delete(&cm, Some("ns"), "held", &DeleteParams::default()).await.unwrap();
    assert_eq!(again, DeleteOutcome::Pending(pending.clone()));

    let mut more = pending.clone();
    more.metadata.finalizers.as_mut().unwrap().push("a/three".into());
    assert_eq!(store.update(&cm, more).await.unwrap_err().status(), 422, "no new finalizers");

    let mut one_left = pending.clone();
    one_left.metadata.finalizers = Some(vec!["a/two".into()]);
    one_left.metadata.deletion_timestamp = None; // server-owned: ignored
    let one_left = store.update(&cm, one_left).await.unwrap();
    assert!(one_left.metadata.deletion_timestamp.is_some());

    let mut w = store
        .watch(
            &cm,
            None,
            &WatchParams {
                resource_version: Some(one_left.resource_version().into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut none_left = one_left.clone();
    none_left.metadata.finalizers = None;
    let last = store.update(&cm, none_left).await.unwrap();
    assert_eq!(store.get(&cm, Some("ns"), "held").await.unwrap_err().status(), 404);
    let event = w.next().await.unwrap().unwrap();
    assert_eq!(event, WatchEvent::Deleted(last));
}

#[tokio::test]
async fn delete_preconditions_and_missing_objects() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let created = store.create(&cm, obj(&cm, Some("ns"), "c", json!({}))).await.unwrap();
    let wrong_uid = DeleteParams { precondition_uid: Some("nope".into()), ..Default::default() };
    assert_eq!(store.delete(&cm, Some("ns"), "c", &wrong_uid).await.unwrap_err().status(), 409);
    let wrong_rv =
        DeleteParams { precondition_resource_version: Some("1234".into()), ..Default::default() };
    assert_eq!(store.delete(&cm, Some("ns"), "c", &wrong_rv).await.unwrap_err().status(), 409);
    let right = DeleteParams {
        precondition_uid: Some(created.uid().into()),
        precondition_resource_version: Some(created.resource_version().into()),
        ..Default::default()
    };
    assert!(matches!(
        store.delete(&cm, Some("ns"), "c", &right).await.unwrap(),
        DeleteOutcome::Deleted(_)
    ));
    assert_eq!(store.delete(&cm, Some("ns"), "c", &right).await.unwrap_err().status(), 404);
}

#[tokio::test]
async fn collection_converges_on_reopen_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (uid, pending_uid) = {
        let store = Store::open(dir.path()).unwrap();
        let t = tree(&store, true, None).await;
        // A foreground deletion that was "interrupted" before its dependents went: simulate by
        // marking an owner by hand below.
        let cm = rt("cm");
        let owner = store.create(&cm, obj(&cm, Some("ns"), "owner", json!({}))).await.unwrap();
        let dep = owned_by(obj(&cm, Some("ns"), "dep", json!({})), &owner, true);
        store.create(&cm, dep).await.unwrap();
        (t.deploy.uid().to_owned(), owner.uid().to_owned())
    };
    {
        // The crash: the owner row is gone, its dependents are not.
        let conn = rusqlite::Connection::open(dir.path().join("weir.db")).unwrap();
        let removed = conn.execute("DELETE FROM objects WHERE uid = ?1", [&uid]).unwrap();
        assert_eq!(removed, 1);
        // And an owner marked for foreground deletion whose dependents were never deleted.
        let body: String = conn
            .query_row("SELECT body FROM objects WHERE uid = ?1", [&pending_uid], |r| r.get(0))
            .unwrap();
        let mut owner: serde_json::Value = serde_json::from_str(&body).unwrap();
        owner["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        owner["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        conn.execute(
            "UPDATE objects SET body = ?1 WHERE uid = ?2",
            [owner.to_string(), pending_uid.clone()],
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(count(&store, "deploy").await, 0);
    assert_eq!(count(&store, "rs").await, 0, "dependents of the vanished owner are collected");
    assert_eq!(count(&store, "pods").await, 0, "recursively");
    assert_eq!(count(&store, "cm").await, 0, "the pending foreground deletion finished");
}

/// Issue 16 item 3 / issue 14 item 9: a controller that read its owner just before the owner
/// was deleted creates a dependent naming the vanished owner. The Kubernetes garbage collector
/// deletes such a dependent (all its owners are absent); here it goes in the very write that
/// created it, so nothing (no ReplicaSet, no Pod, no Pod process) survives its owner.
#[tokio::test]
async fn a_dependent_created_after_its_owner_was_deleted_is_collected_at_once() {
    let (_dir, store) = store();
    let (d, r, p) = (rt("deploy"), rt("rs"), rt("pods"));
    for attempt in 0..3 {
        let name = format!("web-{attempt}");
        let deploy = store.create(&d, obj(&d, Some("ns"), &name, json!({}))).await.unwrap();
        store.delete(&d, Some("ns"), &name, &DeleteParams::default()).await.unwrap();
        let start = store.revision();
        // The late ReplicaSet: the create is answered as the API server answers it...
        let rs = owned_by(obj(&r, Some("ns"), &format!("{name}-rs"), json!({})), &deploy, true);
        let rs = store.create(&r, rs).await.unwrap();
        assert!(!rs.uid().is_empty());
        // ...and so is a Pod for it, created by a controller that still had it cached.
        let pod = owned_by(obj(&p, Some("ns"), &format!("{name}-pod"), json!({})), &rs, true);
        store.create(&p, pod).await.unwrap();
        assert_eq!(count(&store, "rs").await, 0, "the ReplicaSet of a deleted owner is collected");
        assert_eq!(count(&store, "pods").await, 0, "and so is the Pod of a collected ReplicaSet");
        // Watchers see each dependent come and go.
        let mut w = store
            .watch(
                &p,
                None,
                &WatchParams { resource_version: Some(start.to_string()), ..Default::default() },
            )
            .await
            .unwrap();
        let kinds: Vec<&str> = [w.next().await, w.next().await]
            .iter()
            .map(|e| match e {
                Some(Ok(WatchEvent::Added(_))) => "ADDED",
                Some(Ok(WatchEvent::Deleted(_))) => "DELETED",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["ADDED", "DELETED"]);
    }
}

#[tokio::test]
async fn a_patch_naming_only_gone_owners_collects_the_object_but_one_live_owner_keeps_it() {
    let (_dir, store) = store();
    let (r, cm) = (rt("rs"), rt("cm"));
    let gone = store.create(&r, obj(&r, Some("ns"), "gone", json!({}))).await.unwrap();
    store.delete(&r, Some("ns"), "gone", &DeleteParams::default()).await.unwrap();
    let live = store.create(&r, obj(&r, Some("ns"), "live", json!({}))).await.unwrap();
    let refs = |owners: &[&Object]| {
        let refs: Vec<Value> = owners
            .iter()
            .map(|o| {
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o.name(),
                       "uid": o.uid()})
            })
            .collect();
        Patch::Merge(json!({"metadata": {"ownerReferences": refs}}))
    };
    store.create(&cm, obj(&cm, Some("ns"), "kept", json!({}))).await.unwrap();
    store.patch(&cm, Some("ns"), "kept", &refs(&[&gone, &live]), Subresource::Main).await.unwrap();
    assert!(store.get(&cm, Some("ns"), "kept").await.is_ok(), "one live owner keeps it");
    store.create(&cm, obj(&cm, Some("ns"), "dropped", json!({}))).await.unwrap();
    store.patch(&cm, Some("ns"), "dropped", &refs(&[&gone]), Subresource::Main).await.unwrap();
    let err = store.get(&cm, Some("ns"), "dropped").await.unwrap_err();
    assert_eq!(err.status(), 404, "an object whose every owner is gone is collected");
    // Unrelated writes to objects without owners are untouched.
    assert!(store.get(&r, Some("ns"), "live").await.is_ok());
}

#[tokio::test]
async fn a_dependent_created_under_an_owner_in_foreground_deletion_is_deleted_too() {
    let (_dir, store) = store();
    let (r, p) = (rt("rs"), rt("pods"));
    let rs = store.create(&r, obj(&r, Some("ns"), "rs", json!({}))).await.unwrap();
    // A blocking dependent held by a finalizer keeps the owner's foreground deletion pending.
    let mut held = owned_by(obj(&p, Some("ns"), "held", json!({})), &rs, true);
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    store.create(&p, held).await.unwrap();
    store.delete(&r, Some("ns"), "rs", &policy(PropagationPolicy::Foreground)).await.unwrap();
    let late = owned_by(obj(&p, Some("ns"), "late", json!({})), &rs, true);
    store.create(&p, late).await.unwrap();
    assert_eq!(store.get(&p, Some("ns"), "late").await.unwrap_err().status(), 404);
    // The owner still waits for the held one.
    let owner = store.get(&r, Some("ns"), "rs").await.unwrap();
    assert!(owner.metadata.deletion_timestamp.is_some());
}
