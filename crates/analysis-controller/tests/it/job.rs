//! The job provider with the node agent running the measurement pods as processes.

use std::collections::BTreeMap;

use weir_analysis_controller::Providers;
use weir_node::NodeConfig;

use crate::support::{World, last, phase};

fn job_run(image: &str) -> String {
    format!(
        "spec:\n  metrics:\n  - name: smoke\n    provider:\n      job:\n        spec:\n          backoffLimit: 0\n          template:\n            spec:\n              containers:\n              - name: check\n                image: {image}\n"
    )
}

#[tokio::test]
async fn job_pods_that_exit_zero_succeed_and_others_fail() {
    let world = World::start(Providers::new()).await;
    // The job provider needs the store; restart the controller with it.
    let mut world = world;
    world.stop_controller().await;
    world.start_controller(Providers::embedded(world.store.clone(), None));
    let mut config = NodeConfig::new(world.dir.path());
    config.image_map = BTreeMap::from([
        ("ok".to_owned(), vec!["sh".to_owned(), "-c".to_owned(), "exit 0".to_owned()]),
        ("bad".to_owned(), vec!["sh".to_owned(), "-c".to_owned(), "exit 1".to_owned()]),
    ]);
    let agent = tokio::spawn(weir_node::run_node_agent(
        world.store.clone(),
        config,
        world.shutdown.clone(),
    ));
    let ok = world.create_run(&job_run("ok")).await;
    let bad = world.create_run(&job_run("bad")).await;
    let unmapped = world.create_run(&job_run("unmapped")).await;
    let r = world.completed(&ok, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let m = last(&r, "smoke");
    let pod = m.metadata.as_ref().and_then(|m| m.get("job-name")).cloned().unwrap_or_default();
    let uid = r.metadata.uid.clone().unwrap_or_default();
    assert_eq!(pod, format!("{uid}.smoke.1"));
    let r = world.completed(&bad, 30).await;
    assert_eq!(phase(&r), "Failed", "{:?}", r.status);
    let r = world.completed(&unmapped, 30).await;
    assert_eq!(phase(&r), "Inconclusive", "{:?}", r.status);
    assert!(last(&r, "smoke").message.as_deref().unwrap_or("").ends_with(": ImageNotMapped"));
    world.stop_controller().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), agent).await;
}

/// Issue 14 item 7: a Job metric whose image reference does not parse never runs its command
/// (the node agent refuses the image as the kubelet does, `InvalidImageName`), so the
/// measurement is Inconclusive as in Argo — not Successful because `sh -c 'exit 0'` ran.
#[tokio::test]
async fn job_metrics_with_an_invalid_image_are_inconclusive_even_with_a_command() {
    let mut world = World::start(Providers::new()).await;
    world.stop_controller().await;
    world.start_controller(Providers::embedded(world.store.clone(), None));
    let ran = world.dir.path().join("ran");
    let agent = tokio::spawn(weir_node::run_node_agent(
        world.store.clone(),
        NodeConfig::new(world.dir.path()),
        world.shutdown.clone(),
    ));
    let run = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: smoke\n    provider:\n      job:\n        spec:\n          backoffLimit: 0\n          template:\n            spec:\n              containers:\n              - name: check\n                image: \"alpine:ops!\"\n                command: [sh, -c, \"touch {} && exit 0\"]\n",
            ran.display()
        ))
        .await;
    let r = world.completed(&run, 30).await;
    assert_eq!(phase(&r), "Inconclusive", "{:?}", r.status);
    let m = last(&r, "smoke");
    assert!(m.message.as_deref().unwrap_or("").ends_with(": InvalidImageName"), "{m:?}");
    assert!(!ran.exists(), "the command of a container with an invalid image never runs");
    world.stop_controller().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), agent).await;
}
