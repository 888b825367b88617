//! Watches through kube-rs: events in order from a list's version, resumption after the server
//! closes a watch, and `410 Gone` as `Error::Expired`.

use std::time::Duration;

use futures::StreamExt;
use weir_cluster::{
    Cluster, DeleteParams, Error, ListParams, Patch, Subresource, WatchEvent, WatchParams,
};
use weir_store::{Store, StoreOptions};

use crate::harness::{Weir, config_map, namespace, rt};

fn describe(event: &WatchEvent) -> String {
    let kind = match event {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        WatchEvent::Bookmark(_) => "BOOKMARK",
    };
    format!("{kind} {}", event.object().name())
}

#[tokio::test]
async fn watch_from_a_list_sees_every_later_change_in_order() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await.with_watch_timeout(1);
    namespace(&cluster, "w").await;
    let cms = rt("configmaps");
    cluster.create(&cms, config_map("w", "before", "0")).await.expect("create");
    let list = cluster.list(&cms, Some("w"), &ListParams::default()).await.expect("list");
    let params = WatchParams {
        resource_version: Some(list.resource_version.clone()),
        bookmarks: true,
        ..WatchParams::default()
    };
    let mut stream = cluster.watch(&cms, Some("w"), &params).await.expect("watch");

    cluster.create(&cms, config_map("w", "a", "1")).await.expect("create a");
    let merge = Patch::Merge(serde_json::json!({"data": {"k": "2"}}));
    cluster.patch(&cms, Some("w"), "a", &merge, Subresource::Main).await.expect("patch a");
    // Longer than the watch timeout: a server that honours timeoutSeconds closes the watch
    // in between, and the stream resumes from the last version without losing or repeating.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.delete(&cms, Some("w"), "a", &DeleteParams::default()).await.expect("delete a");
    cluster.create(&cms, config_map("w", "b", "1")).await.expect("create b");

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("an event within 20 s")
            .expect("the stream goes on")
            .expect("no error");
        if !matches!(event, WatchEvent::Bookmark(_)) {
            seen.push(describe(&event));
        }
    }
    assert_eq!(seen, ["ADDED a", "MODIFIED a", "DELETED a", "ADDED b"]);
}

#[tokio::test]
async fn a_watch_without_version_starts_with_the_current_objects() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "w0").await;
    let cms = rt("configmaps");
    cluster.create(&cms, config_map("w0", "x", "0")).await.expect("create");
    let mut stream = cluster.watch(&cms, Some("w0"), &WatchParams::default()).await.expect("watch");
    let first = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event")
        .expect("stream")
        .expect("event");
    assert_eq!(describe(&first), "ADDED x");
}

#[tokio::test]
async fn a_watch_from_a_pruned_version_is_expired() {
    // Fill a store with a tiny event retention so that early versions are pruned, then serve
    // it with `weir up` (the pruning point is stored in the database).
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    {
        let store =
            Store::open_with(&data, StoreOptions { event_retention: 8, ..StoreOptions::default() })
                .expect("store");
        let cms = rt("configmaps");
        for i in 0..40 {
            store.create(&cms, config_map("default", &format!("c{i}"), "x")).await.expect("create");
        }
    }
    let weir = Weir::start_in(dir, |c| c).await;
    let cluster = weir.cluster().await;
    let params = WatchParams { resource_version: Some("2".to_owned()), ..WatchParams::default() };
    let expired = match cluster.watch(&rt("configmaps"), Some("default"), &params).await {
        Err(e) => e,
        // Some servers accept the watch and send the 410 as an ERROR event.
        Ok(mut stream) => stream.next().await.expect("an item").expect_err("410"),
    };
    assert!(matches!(expired, Error::Expired { .. }), "{expired:?}");
}
