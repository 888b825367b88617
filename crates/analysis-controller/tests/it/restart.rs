//! Controller restarts in the middle of measurements: a web measurement cut off in flight is
//! taken again (never recorded twice, never lost), and an in-flight job measurement is
//! resumed from the status after a restart, with its Pod adopted rather than created again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use tokio::sync::watch;
use weir_analysis_controller::Providers;
use weir_cluster::{Cluster, ListParams};
use weir_node::NodeConfig;

use crate::support::{NS, World, eventually, measurements, phase, result, rt, serve};

/// `/n` answers the number of requests before it; request number `held` waits for the gate.
async fn counting_server_holding(held: usize) -> (String, Arc<AtomicUsize>, watch::Sender<bool>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (gate, _) = watch::channel(false);
    let (counter, open) = (hits.clone(), gate.clone());
    let app = axum::Router::new().route(
        "/n",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut open = open.subscribe();
            async move {
                if n == held {
                    let _ = open.wait_for(|o| *o).await;
                }
                n.to_string()
            }
        }),
    );
    (format!("http://{}/n", serve(app).await), hits, gate)
}

#[tokio::test]
async fn a_measurement_cut_off_by_a_restart_is_taken_again_not_twice() {
    let (url, hits, gate) = counting_server_holding(2).await;
    let mut world = World::start(Providers::standard()).await;
    let name = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    interval: 1s\n    count: 5\n    provider:\n      web:\n        url: {url}\n        timeoutSeconds: 120\n"
        ))
        .await;
    // Two measurements recorded, the third one in flight (held by the server).
    world.wait_run(&name, 30, |r| measurements_of(r) == 2).await;
    let h = hits.clone();
    eventually(30, "the third request in flight", || {
        let h = h.clone();
        async move { h.load(Ordering::SeqCst) == 3 }
    })
    .await;
    world.stop_controller().await;
    let before = world.get_run(&name).await.expect("run");
    assert_eq!(measurements_of(&before), 2, "nothing was written for the cut-off measurement");
    gate.send_replace(true);

    world.start_controller(Providers::standard());
    let r = world.completed(&name, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let values: Vec<&str> =
        measurements(&r, "m").iter().filter_map(|m| m.value.as_deref()).collect();
    // Request 2 was cut off: its answer is in no measurement, and the measurement was taken
    // again by request 3; each recorded measurement is a distinct request.
    assert_eq!(values, ["0", "1", "3", "4", "5"]);
    assert_eq!(&measurements(&r, "m")[..2], measurements(&before, "m"));
    assert_eq!(result(&r, "m").count, Some(5));
    assert_eq!(hits.load(Ordering::SeqCst), 6);
}

fn measurements_of(run: &weir_model::rollouts::AnalysisRun) -> usize {
    run.status
        .as_ref()
        .and_then(|s| s.metric_results.as_ref())
        .and_then(|m| m.first())
        .and_then(|m| m.measurements.as_ref())
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn an_in_flight_job_measurement_is_resumed_after_a_restart() {
    let mut world = World::start(Providers::new()).await;
    world.stop_controller().await;
    world.start_controller(Providers::embedded(world.store.clone(), None));
    let mut config = NodeConfig::new(world.dir.path());
    config.image_map = BTreeMap::from([(
        "check".to_owned(),
        vec!["sh".to_owned(), "-c".to_owned(), "sleep 2; exit 0".to_owned()],
    )]);
    let node = weir_controller::Shutdown::new();
    let agent = tokio::spawn(weir_node::run_node_agent(world.store.clone(), config, node.clone()));
    let name = world
        .create_run(
            "spec:\n  metrics:\n  - name: smoke\n    provider:\n      job:\n        spec:\n          template:\n            spec:\n              containers:\n              - name: check\n                image: check\n",
        )
        .await;
    // The measurement is in flight: its Pod exists, the run records it without finishedAt.
    world
        .wait_run(&name, 30, |r| {
            r.status.as_ref().and_then(|s| s.metric_results.as_ref()).is_some_and(|m| {
                m[0].measurements.as_ref().is_some_and(|ms| {
                    ms.len() == 1 && ms[0].phase == "Running" && ms[0].finished_at.is_none()
                })
            })
        })
        .await;
    world.stop_controller().await;
    // The Pod finishes while no controller is watching.
    let store = world.store.clone();
    eventually(60, "the job pod succeeded", || {
        let store = store.clone();
        async move {
            let pods = store.list(&rt("pods"), Some(NS), &ListParams::default()).await;
            let pods = pods.expect("pods").items;
            pods.len() == 1
                && pods[0].field("status").and_then(|s| s.get("phase")) == Some(&"Succeeded".into())
        }
    })
    .await;

    world.start_controller(Providers::embedded(world.store.clone(), None));
    let r = world.completed(&name, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let ms = measurements(&r, "smoke");
    assert_eq!(ms.len(), 1, "{ms:?}");
    assert_eq!(result(&r, "smoke").count, Some(1));
    let uid = r.metadata.uid.clone().unwrap_or_default();
    let job = ms[0].metadata.as_ref().and_then(|m| m.get("job-name")).cloned();
    assert_eq!(job, Some(format!("{uid}.smoke.1")));
    let pods = world.store.list(&rt("pods"), Some(NS), &ListParams::default()).await;
    assert_eq!(pods.expect("pods").items.len(), 1, "the Pod was adopted, not created again");
    node.trigger();
    world.stop_controller().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), agent).await;
}

/// Issue 16 item 2: after a restart of the controller (weir's), a bad verdict whose window —
/// the metric's interval for the web provider — reaches back before the restart is taken
/// again rather than counted; once the window lies after the restart, the failure counts and
/// the run fails (`weir_analysis::retake_after_restart`).
#[tokio::test]
async fn a_bad_verdict_spanning_a_restart_is_taken_again_and_a_later_one_counts() {
    let good = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = good.clone();
    let app = axum::Router::new().route(
        "/v",
        get(move || {
            let ok = flag.load(Ordering::SeqCst);
            async move { if ok { "1" } else { "0" } }
        }),
    );
    let url = format!("http://{}/v", serve(app).await);
    let mut world = World::start(Providers::standard()).await;
    let name = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    interval: 2s\n    successCondition: result == 1\n    provider:\n      web:\n        url: {url}\n"
        ))
        .await;
    world.wait_run(&name, 30, |r| measurements_of(r) >= 1).await;
    // The run now predates the next controller's start by more than a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    world.stop_controller().await;
    good.store(false, Ordering::SeqCst);
    let restarted = k8s_openapi::jiff::Timestamp::now();
    world.start_controller(Providers::standard());
    let r = world.completed(&name, 60).await;
    assert_eq!(phase(&r), "Failed", "a real failure still fails the run: {:?}", r.status);
    let failed: Vec<_> = measurements(&r, "m").iter().filter(|m| m.phase == "Failed").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let finished = failed[0].finished_at.as_ref().expect("finishedAt").0;
    // The controller started after `restarted`; the recorded failure's 2 s window lies after.
    let earliest = restarted.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(2));
    assert!(
        finished >= earliest.expect("time"),
        "a failure measured within its window of the restart was counted: finished {finished}, restart {restarted}"
    );
}
