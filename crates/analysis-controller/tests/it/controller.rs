//! The controller's own behaviour: restarts neither lose nor repeat measurements, terminate,
//! TTL deletion, an unknown provider, and Secrets in arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use weir_analysis_controller::Providers;
use weir_cluster::{Cluster, Object, Patch, Subresource};

use crate::support::{
    NS, World, eventually, last, measurements, message, phase, result, rt, serve,
};

async fn counting_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/n",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { format!("{n}") }
        }),
    );
    (serve(app).await, hits)
}

#[tokio::test]
async fn a_restarted_controller_continues_without_losing_or_repeating_measurements() {
    let (addr, hits) = counting_server().await;
    let mut world = World::start(Providers::standard()).await;
    let name = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    interval: 1s\n    count: 3\n    provider:\n      web:\n        url: http://{addr}/n\n"
        ))
        .await;
    world
        .wait_run(&name, 20, |r| {
            r.status.as_ref().and_then(|s| s.metric_results.as_ref()).is_some_and(|m| !m.is_empty())
        })
        .await;
    world.stop_controller().await;
    let before = world.get_run(&name).await.expect("run");
    world.start_controller(Providers::standard());
    let r = world.completed(&name, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let ms = measurements(&r, "m");
    assert_eq!(ms.len(), 3, "{ms:?}");
    assert_eq!(result(&r, "m").count, Some(3));
    let kept = measurements(&before, "m");
    assert_eq!(&ms[..kept.len()], kept, "earlier measurements are kept as they were");
    let values: Vec<&str> = ms.iter().filter_map(|m| m.value.as_deref()).collect();
    let mut unique = values.clone();
    unique.dedup();
    assert_eq!(values, unique, "no measurement is repeated");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn terminate_ttl_unknown_providers_and_secret_arguments() {
    let (addr, _) = counting_server().await;
    let world = World::start(Providers::standard()).await;
    // Terminate: an unbounded metric stops with "Run Terminated".
    let endless = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    interval: 1s\n    provider:\n      web:\n        url: http://{addr}/n\n"
        ))
        .await;
    world.wait_run(&endless, 20, |r| phase(r) == "Running").await;
    let patch = Patch::Merge(serde_json::json!({"spec": {"terminate": true}}));
    world
        .store
        .patch(&rt("analysisruns"), Some(NS), &endless, &patch, Subresource::Main)
        .await
        .expect("terminate");
    let r = world.completed(&endless, 20).await;
    assert_eq!((phase(&r), message(&r)), ("Successful", "Run Terminated"));
    let events = world.store.list(&rt("events"), Some(NS), &Default::default()).await;
    let reasons: Vec<String> = events
        .expect("events")
        .items
        .iter()
        .filter(|e| {
            e.field("involvedObject").and_then(|o| o.get("name")) == Some(&endless.clone().into())
        })
        .filter_map(|e| e.field("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .collect();
    assert!(reasons.contains(&"AnalysisRunSuccessful".to_owned()), "{reasons:?}");

    // TTL: a completed run is deleted once its TTL has expired.
    let ttl = world
        .create_run(&format!(
            "spec:\n  ttlStrategy:\n    secondsAfterCompletion: 1\n  metrics:\n  - name: m\n    provider:\n      web:\n        url: http://{addr}/n\n"
        ))
        .await;
    let store = world.store.clone();
    eventually(20, "the TTL deletion", || {
        let store = store.clone();
        let ttl = ttl.clone();
        async move { store.get(&rt("analysisruns"), Some(NS), &ttl).await.is_err() }
    })
    .await;

    // A provider weir does not implement is an Error measurement, not a crash.
    let unknown = world
        .create_run(
            "spec:\n  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n    provider:\n      graphite:\n        address: http://x\n        query: q\n",
        )
        .await;
    let r = world.completed(&unknown, 20).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(
        last(&r, "m").message.as_deref(),
        Some("provider Graphite is not supported by weir")
    );

    // Secrets: read from the run's namespace, masked in messages.
    let mut secret = Object::new("v1", "Secret", Some(NS), "creds");
    secret.data.insert("stringData".into(), serde_json::json!({"path": "n"}));
    secret.data.insert("data".into(), serde_json::json!({"bad": "c2Vrcml0"}));
    world.store.create(&rt("secrets"), secret).await.expect("secret");
    let with_secret = world
        .create_run(&format!(
            "spec:\n  args:\n  - name: bad\n    valueFrom:\n      secretKeyRef: {{name: creds, key: bad}}\n  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n    provider:\n      web:\n        url: http://{addr}/{{{{args.bad}}}}\n"
        ))
        .await;
    let r = world.completed(&with_secret, 20).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert_eq!(msg, "received non 2xx response code: 404");
    let missing = world
        .create_run(
            "spec:\n  args:\n  - name: x\n    valueFrom:\n      secretKeyRef: {name: nope, key: k}\n  metrics:\n  - name: m\n    provider:\n      web:\n        url: http://x/{{args.x}}\n",
        )
        .await;
    let r = world.completed(&missing, 20).await;
    assert_eq!(
        (phase(&r), message(&r)),
        ("Error", "Unable to resolve metric arguments: secrets \"nope\" not found")
    );
}
