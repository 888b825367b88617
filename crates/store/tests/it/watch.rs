//! Watches: initial list, replay, resume, expiry, filters, bookmarks.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use weir_cluster::{
    Cluster, DeleteParams, Error, LabelSelector, Object, WatchEvent, WatchParams, WatchStream,
};
use weir_store::StoreOptions;

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

fn from(rv: &str) -> WatchParams {
    WatchParams { resource_version: Some(rv.to_owned()), ..WatchParams::default() }
}

#[tokio::test]
async fn initial_list_then_live_changes() {
    let (_dir, store) = store();
    let pods = rt("pods");
    for name in ["b", "a"] {
        store.create(&pods, obj(&pods, Some("ns"), name, json!({}))).await.unwrap();
    }
    store.create(&rt("svc"), obj(&rt("svc"), Some("ns"), "other-kind", json!({}))).await.unwrap();
    let mut w = store.watch(&pods, None, &WatchParams::default()).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED a");
    assert_eq!(describe(&next(&mut w).await), "ADDED b");

    let c = store.create(&pods, obj(&pods, Some("ns"), "c", json!({}))).await.unwrap();
    let mut changed = c.clone();
    changed.data.insert("spec".into(), json!({"x": 1}));
    let changed = store.update(&pods, changed).await.unwrap();
    store.delete(&pods, Some("ns"), "a", &DeleteParams::default()).await.unwrap();

    let added = next(&mut w).await;
    assert_eq!(added, WatchEvent::Added(c));
    assert_eq!(next(&mut w).await, WatchEvent::Modified(changed));
    let deleted = next(&mut w).await;
    assert_eq!(describe(&deleted), "DELETED a");
    assert_eq!(deleted.resource_version(), Some(store.revision().to_string().as_str()));
    nothing_more(&mut w).await;
}

#[tokio::test]
async fn replay_from_a_resource_version_and_resume_without_gaps() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let mut current = store.create(&cm, obj(&cm, Some("ns"), "c", json!({"n": 0}))).await.unwrap();
    let start = current.resource_version().to_owned();
    let mut expected = Vec::new();
    for n in 1..=20 {
        current.data.insert("spec".into(), json!({"n": n}));
        current = store.update(&cm, current).await.unwrap();
        expected.push(rv(&current));
    }

    let mut seen = Vec::new();
    let mut w = store.watch(&cm, Some("ns"), &from(&start)).await.unwrap();
    for _ in 0..7 {
        seen.push(next(&mut w).await);
    }
    drop(w);
    // More writes while nobody watches.
    for n in 21..=30 {
        current.data.insert("spec".into(), json!({"n": n}));
        current = store.update(&cm, current).await.unwrap();
        expected.push(rv(&current));
    }
    let resume = seen.last().unwrap().resource_version().unwrap().to_owned();
    let mut w = store.watch(&cm, Some("ns"), &from(&resume)).await.unwrap();
    while seen.len() < expected.len() {
        seen.push(next(&mut w).await);
    }
    nothing_more(&mut w).await;
    let seen_rvs: Vec<u64> =
        seen.iter().map(|e| e.resource_version().unwrap().parse().unwrap()).collect();
    assert_eq!(seen_rvs, expected, "every change exactly once, in order");
    assert!(seen.iter().all(|e| matches!(e, WatchEvent::Modified(_))));
    let last = seen.last().unwrap().object();
    assert_eq!(spec(last), json!({"n": 30}));
}

#[tokio::test]
async fn slow_watcher_catches_up_on_a_burst() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let mut w = store.watch(&cm, None, &from(&store.revision().to_string())).await.unwrap();
    for i in 0..1500 {
        store.create(&cm, obj(&cm, Some("ns"), &format!("c{i}"), json!({}))).await.unwrap();
    }
    for i in 0..1500 {
        assert_eq!(describe(&next(&mut w).await), format!("ADDED c{i}"));
    }
    nothing_more(&mut w).await;
}

#[tokio::test]
async fn pruned_history_is_expired() {
    let opts = StoreOptions { event_retention: 10, ..StoreOptions::default() };
    let (_dir, store) = store_with(opts);
    let cm = rt("cm");
    for i in 0..100 {
        store.create(&cm, obj(&cm, Some("ns"), &format!("c{i}"), json!({}))).await.unwrap();
    }
    let err = store.watch(&cm, None, &from("1")).await.err().expect("rv 1 is pruned");
    assert!(matches!(err, Error::Expired { requested: 1, .. }), "{err}");
    assert_eq!(err.status(), 410);
    let Error::Expired { oldest, .. } = err else { unreachable!() };
    // The oldest resumable version still works, and sees everything after it.
    let mut w = store.watch(&cm, None, &from(&oldest.to_string())).await.unwrap();
    let first = next(&mut w).await;
    assert_eq!(first.resource_version(), Some((oldest + 1).to_string().as_str()));

    assert_eq!(store.watch(&cm, None, &from("abc")).await.err().unwrap().status(), 400);
}

#[tokio::test]
async fn watcher_overtaken_by_pruning_gets_expired_not_a_gap() {
    let opts = StoreOptions { event_retention: 10, ..StoreOptions::default() };
    let (_dir, store) = store_with(opts);
    let cm = rt("cm");
    let mut w = store.watch(&cm, None, &from("0")).await.unwrap();
    let mut w_from_now =
        store.watch(&cm, None, &from(&store.revision().to_string())).await.unwrap();
    for i in 0..100 {
        store.create(&cm, obj(&cm, Some("ns"), &format!("c{i}"), json!({}))).await.unwrap();
    }
    for stream in [&mut w, &mut w_from_now] {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap();
        let err = item.unwrap().unwrap_err();
        assert_eq!(err.status(), 410);
        assert!(stream.next().await.is_none(), "the stream ends after Expired");
    }
}

#[tokio::test]
async fn label_and_namespace_filters() {
    let (_dir, store) = store();
    let pods = rt("pods");
    let params = WatchParams {
        label_selector: Some(LabelSelector::parse("app=web").unwrap()),
        ..WatchParams::default()
    };
    let mut w = store.watch(&pods, Some("prod"), &params).await.unwrap();
    let pod = |ns, name, app| with_labels(obj(&pods, Some(ns), name, json!({})), &[("app", app)]);
    store.create(&pods, pod("prod", "db", "db")).await.unwrap();
    store.create(&pods, pod("dev", "web-dev", "web")).await.unwrap();
    store.create(&pods, pod("prod", "web-1", "web")).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED web-1");
    nothing_more(&mut w).await;
}

#[tokio::test]
async fn idle_watch_gets_bookmarks() {
    let opts =
        StoreOptions { bookmark_interval: Duration::from_millis(50), ..StoreOptions::default() };
    let (_dir, store) = store_with(opts);
    let vs = rt_version("vs", "v1beta1");
    store.create(&vs, obj(&vs, Some("ns"), "x", json!({}))).await.unwrap();
    let params = WatchParams { bookmarks: true, ..from(&store.revision().to_string()) };
    let mut w = store.watch(&vs, None, &params).await.unwrap();
    let event = next(&mut w).await;
    let WatchEvent::Bookmark(obj) = event else { panic!("expected a bookmark, got {event:?}") };
    assert_eq!(obj.api_version, "networking.istio.io/v1beta1");
    assert_eq!(obj.kind, "VirtualService");
    assert_eq!(obj.resource_version(), store.revision().to_string());
    assert_eq!(obj.data, Object::default().data);
}

#[tokio::test]
async fn watch_stream_is_static_and_send() {
    let (_dir, store) = store();
    let cm = rt("cm");
    let mut w = store.watch(&cm, None, &WatchParams::default()).await.unwrap();
    let task = tokio::spawn(async move { next(&mut w).await });
    store.create(&cm, obj(&cm, Some("ns"), "x", json!({}))).await.unwrap();
    assert_eq!(describe(&task.await.unwrap()), "ADDED x");
}

/// Runs the relabel scenario, then watches it from before it started.
async fn relabel_scenario(opts: StoreOptions) -> Vec<String> {
    let (_dir, store) = store_with(opts);
    let pods = rt("pods");
    let cm = rt("cm");
    store.create(&cm, obj(&cm, Some("ns"), "first", json!({}))).await.unwrap(); // rv 0 would list
    let start = store.revision().to_string();
    let web = |o: Object, app: &str| with_labels(o, &[("app", app)]);
    let mut p =
        store.create(&pods, web(obj(&pods, Some("ns"), "p", json!({})), "web")).await.unwrap();
    p = store.update(&pods, web(p, "db")).await.unwrap(); // stops matching
    p.data.insert("spec".into(), json!({"while": "hidden"}));
    p = store.update(&pods, p).await.unwrap(); // invisible
    p = store.update(&pods, web(p, "web")).await.unwrap(); // matches again
    p.data.insert("spec".into(), json!({"x": 1}));
    store.update(&pods, p).await.unwrap();
    store.delete(&pods, Some("ns"), "p", &DeleteParams::default()).await.unwrap();
    let params = WatchParams {
        resource_version: Some(start),
        label_selector: Some(LabelSelector::parse("app=web").unwrap()),
        ..WatchParams::default()
    };
    let mut w = store.watch(&pods, None, &params).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let e = next(&mut w).await;
        seen.push(format!("{} {}", describe(&e), e.object().label("app").unwrap()));
    }
    nothing_more(&mut w).await;
    seen
}

#[tokio::test]
async fn label_selector_watches_see_objects_enter_and_leave() {
    let expected =
        ["ADDED p web", "DELETED p db", "ADDED p web", "MODIFIED p web", "DELETED p web"];
    // Served from the in-memory window…
    assert_eq!(relabel_scenario(StoreOptions::default()).await, expected);
    // … and from the events table: the same answer.
    let no_window = StoreOptions { watch_window: 0, ..StoreOptions::default() };
    assert_eq!(relabel_scenario(no_window).await, expected);
}

#[tokio::test]
async fn watcher_behind_the_memory_window_reads_the_table_without_gaps() {
    let opts = StoreOptions { watch_window: 16, ..StoreOptions::default() };
    let (_dir, store) = store_with(opts);
    let cm = rt("cm");
    let mut w = store.watch(&cm, None, &from("0")).await.unwrap();
    let first = store.create(&cm, obj(&cm, Some("ns"), "c0", json!({}))).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED c0");
    for i in 1..100 {
        store.create(&cm, obj(&cm, Some("ns"), &format!("c{i}"), json!({}))).await.unwrap();
    }
    let mut rvs = Vec::new();
    for i in 1..100 {
        let e = next(&mut w).await;
        assert_eq!(describe(&e), format!("ADDED c{i}"));
        rvs.push(e.resource_version().unwrap().parse::<u64>().unwrap());
    }
    let expected: Vec<u64> = (rv(&first) + 1..rv(&first) + 100).collect();
    assert_eq!(rvs, expected);
    // Live again, from the window.
    store.create(&cm, obj(&cm, Some("ns"), "live", json!({}))).await.unwrap();
    assert_eq!(describe(&next(&mut w).await), "ADDED live");
    nothing_more(&mut w).await;
}
