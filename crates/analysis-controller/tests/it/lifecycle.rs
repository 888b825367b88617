//! A run's life beyond single verdicts: metrics measured concurrently, measurement
//! retention, an in-flight job stopped when its run terminates (Argo's Q11), and a Rollout's
//! background run terminated on promotion.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use weir_analysis_controller::Providers;
use weir_cluster::{Cluster, ListParams};
use weir_node::NodeConfig;

use crate::script::{Reply, Scripted};
use crate::stack::{Stack, canary_rollout, template};
use crate::support::{NS, World, eventually, last, measurements, message, phase, result, rt};

#[tokio::test]
async fn the_metrics_of_a_run_are_measured_concurrently() {
    let server = Scripted::start().await;
    for name in ["a", "b", "c"] {
        server.script(name, &[Reply::Hold, Reply::Body("1")]);
    }
    let world = World::start(Providers::standard()).await;
    let metrics: Vec<serde_json::Value> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            json!({"name": n, "successCondition": "result == 1",
                        "provider": {"web": {"url": server.url(n), "timeoutSeconds": 120}}})
        })
        .collect();
    let name = world
        .create_run(&serde_json::to_string(&json!({"spec": {"metrics": metrics}})).expect("json"))
        .await;
    // Each answer waits for the gate: all three requests in flight at once means the
    // controller did not wait for one measurement before starting the next.
    let s = server.clone();
    eventually(30, "three requests in flight together", || {
        let s = s.clone();
        async move { ["a", "b", "c"].iter().all(|n| s.hits(n) == 1) }
    })
    .await;
    server.release();
    let r = world.completed(&name, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
}

#[tokio::test]
async fn measurement_retention_keeps_the_last_measurements() {
    let server = Scripted::start().await;
    server.script("n", &[Reply::Body("1"), Reply::Body("2"), Reply::Body("3"), Reply::Body("4")]);
    server.script("d", &[Reply::Body("1")]);
    let world = World::start(Providers::standard()).await;
    let run = json!({"spec": {
    "measurementRetention": [{"metricName": "^kept", "limit": 2}],
    "metrics": [
        {"name": "kept-two", "interval": "1s", "count": 4, "provider": {"web": {"url": server.url("n")}}},
        {"name": "default", "interval": "1s", "count": 12, "provider": {"web": {"url": server.url("d")}}},
    ]}});
    let name = world.create_run(&serde_json::to_string(&run).expect("json")).await;
    let r = world.completed(&name, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let kept: Vec<&str> =
        measurements(&r, "kept-two").iter().filter_map(|m| m.value.as_deref()).collect();
    assert_eq!(kept, ["3", "4"], "the last two of four");
    assert_eq!(result(&r, "kept-two").count, Some(4));
    assert_eq!(measurements(&r, "default").len(), 10, "Argo's default limit");
    assert_eq!(result(&r, "default").count, Some(12));
}

#[tokio::test]
async fn a_failing_metric_terminates_the_in_flight_job_of_its_run() {
    let server = Scripted::start().await;
    server.script("fail", &[Reply::Hold, Reply::Body("0")]);
    let mut world = World::start(Providers::new()).await;
    world.stop_controller().await;
    world.start_controller(Providers::embedded(world.store.clone(), None));
    let mut config = NodeConfig::new(world.dir.path());
    config.drain_delay = Duration::from_millis(100);
    config.image_map =
        BTreeMap::from([("long-check".to_owned(), vec!["sleep".to_owned(), "600".to_owned()])]);
    let node = weir_controller::Shutdown::new();
    let agent = tokio::spawn(weir_node::run_node_agent(world.store.clone(), config, node.clone()));
    let run = json!({"spec": {"metrics": [
        {"name": "smoke", "provider": {"job": {"spec": {"template": {"spec": {
            "containers": [{"name": "check", "image": "long-check"}]}}}}}},
        {"name": "web", "successCondition": "result == 1",
         "provider": {"web": {"url": server.url("fail"), "timeoutSeconds": 120}}},
    ]}});
    let name = world.create_run(&serde_json::to_string(&run).expect("json")).await;
    // The job's pod runs; only then does the web metric fail.
    let store = world.store.clone();
    eventually(60, "the job pod running", || {
        let store = store.clone();
        async move {
            let pods = store.list(&rt("pods"), Some(NS), &ListParams::default()).await;
            pods.expect("pods")
                .items
                .iter()
                .any(|p| p.field("status").and_then(|s| s.get("phase")) == Some(&"Running".into()))
        }
    })
    .await;
    server.release();

    let r = world.completed(&name, 60).await;
    assert_eq!(phase(&r), "Failed", "{:?}", r.status);
    assert!(message(&r).starts_with("Metric \"web\" assessed Failed"), "{}", message(&r));
    let job = last(&r, "smoke");
    assert_eq!(
        (job.phase.as_str(), job.message.as_deref()),
        ("Inconclusive", Some("Metric Terminated"))
    );
    assert!(job.finished_at.is_some());
    assert_eq!(result(&r, "smoke").phase, "Inconclusive");
    let store = world.store.clone();
    eventually(60, "the job pod deleted", || {
        let store = store.clone();
        async move {
            let pods = store.list(&rt("pods"), Some(NS), &ListParams::default()).await;
            pods.expect("pods").items.is_empty()
        }
    })
    .await;
    node.trigger();
    world.stop_controller().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_run_is_terminated_when_the_rollout_is_promoted() {
    let server = Scripted::start().await;
    server.script("bg", &[Reply::Body("1")]);
    let stack = Stack::start(Providers::standard()).await;
    let spec = json!({"metrics": [{"name": "m", "interval": "1s", "successCondition": "result == 1",
                                   "provider": {"web": {"url": server.url("bg")}}}]});
    stack.create(template("endless", spec)).await;
    let canary = json!({
        "analysis": {"templates": [{"templateName": "endless"}]},
        "steps": [{"setWeight": 50}, {"pause": {}}],
    });
    let v1 = stack.healthy_rollout(canary_rollout("robg", canary)).await;
    stack.set_image("robg", "app:v2").await;
    stack
        .until("robg", 60, "paused with the background run measuring", async |s| {
            let ro = s.rollout("robg").await;
            let runs = s.runs_of("robg").await;
            ro["status"]["phase"] == "Paused"
                && runs.len() == 1
                && runs[0]["status"]["metricResults"][0]["count"].as_i64() >= Some(2)
        })
        .await;
    stack.promote("robg").await;
    stack.until_promoted("robg", &v1, 60).await;
    let runs = stack.runs_of("robg").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["spec"]["terminate"], true);
    let name = runs[0]["metadata"]["name"].as_str().expect("name").to_owned();
    stack
        .until("robg", 30, "the run terminated", async |s| {
            s.run(&name).await.status.is_some_and(|st| st.phase == "Successful")
        })
        .await;
    let run = stack.run(&name).await;
    assert_eq!(run.status.and_then(|s| s.message).as_deref(), Some("Run Terminated"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_run_flattens_cluster_and_nested_templates() {
    let server = Scripted::start().await;
    server.script("inner", &[Reply::Body("1")]);
    server.script("cluster", &[Reply::Body("2")]);
    let stack = Stack::start(Providers::standard()).await;
    let web = |name: &str, condition: &str| {
        json!({"name": name, "successCondition": condition,
               "provider": {"web": {"url": server.url(name)}}})
    };
    stack.create(template("inner", json!({"metrics": [web("inner", "result == 1")]}))).await;
    let outer = json!({"templates": [{"templateName": "inner"}],
                       "args": [{"name": "unused", "value": "x"}]});
    stack.create(template("outer", outer)).await;
    stack
        .create(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate",
            "metadata": {"name": "shared"},
            "spec": {"metrics": [web("cluster", "result == 2")]}}))
        .await;
    let canary = json!({"steps": [{"setWeight": 50}, {"analysis": {"templates": [
        {"templateName": "outer"}, {"templateName": "shared", "clusterScope": true},
    ]}}]});
    let v1 = stack.healthy_rollout(canary_rollout("ronest", canary)).await;
    stack.set_image("ronest", "app:v2").await;
    stack.until_promoted("ronest", &v1, 60).await;
    let runs = stack.runs_of("ronest").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let names: Vec<&str> = runs[0]["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["inner", "cluster"]);
    assert_eq!(runs[0]["status"]["phase"], "Successful", "{:#}", runs[0]["status"]);
    assert_eq!((server.hits("inner"), server.hits("cluster")), (1, 1));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_runs_all_complete_with_one_measurement_each() {
    const RUNS: usize = 200;
    let server = Scripted::start().await;
    server.script("many", &[Reply::Body("1")]);
    let world = World::start(Providers::standard()).await;
    let yaml = format!(
        "spec:\n  metrics:\n  - name: m\n    successCondition: result == 1\n    provider:\n      web:\n        url: {}\n",
        server.url("many")
    );
    let started = std::time::Instant::now();
    let mut names = Vec::new();
    for _ in 0..RUNS {
        names.push(world.create_run(&yaml).await);
    }
    for name in &names {
        let r = world.completed(name, 120).await;
        assert_eq!(phase(&r), "Successful", "{name}: {:?}", r.status);
        assert_eq!(measurements(&r, "m").len(), 1);
    }
    eprintln!(
        "figure: {RUNS} runs created and completed in {:.2?} ({} requests)",
        started.elapsed(),
        server.hits("many")
    );
    assert_eq!(server.hits("many"), RUNS, "one request per run, none repeated");
}

#[tokio::test]
async fn initial_delay_and_ttl_after_success_or_failure() {
    let server = Scripted::start().await;
    server.script("ok", &[Reply::Body("1")]);
    server.script("bad", &[Reply::Body("0")]);
    let world = World::start(Providers::standard()).await;
    let run = |url: String, ttl: serde_json::Value, metric: serde_json::Value| {
        let mut m = json!({"name": "m", "successCondition": "result == 1",
                           "provider": {"web": {"url": url}}});
        if let (Some(m), serde_json::Value::Object(extra)) = (m.as_object_mut(), metric) {
            m.extend(extra);
        }
        serde_json::to_string(&json!({"spec": {"ttlStrategy": ttl, "metrics": [m]}})).expect("json")
    };
    // initialDelay: the first measurement waits 2 s after the run's recorded start (times are
    // recorded to the second, as Kubernetes' are, so it is 1–2 s of wall time).
    let delayed =
        world.create_run(&run(server.url("ok"), json!({}), json!({"initialDelay": "2s"}))).await;
    // TTL: a successful run goes after secondsAfterSuccess, a failed one stays (its
    // secondsAfterFailure is an hour); a failed run with secondsAfterFailure 1 goes.
    let kept_ttl = json!({"secondsAfterSuccess": 1, "secondsAfterFailure": 3600});
    let success = world.create_run(&run(server.url("ok"), kept_ttl.clone(), json!({}))).await;
    let kept = world.create_run(&run(server.url("bad"), kept_ttl, json!({}))).await;
    let gone_ttl = json!({"secondsAfterSuccess": 3600, "secondsAfterFailure": 1});
    let failure = world.create_run(&run(server.url("bad"), gone_ttl, json!({}))).await;

    let r = world.completed(&delayed, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let started = r.status.as_ref().and_then(|s| s.started_at.clone()).expect("startedAt").0;
    let measured = last(&r, "m").started_at.clone().expect("measurement startedAt").0;
    let delay = measured.duration_since(started);
    assert!(delay >= k8s_openapi::jiff::SignedDuration::from_secs(2), "measured after {delay:?}");

    for name in [&success, &failure] {
        let store = world.store.clone();
        let name = name.clone();
        eventually(30, "the TTL deletion", || {
            let store = store.clone();
            let name = name.clone();
            async move { store.get(&rt("analysisruns"), Some(NS), &name).await.is_err() }
        })
        .await;
    }
    let r = world.completed(&kept, 30).await;
    assert_eq!(phase(&r), "Failed", "a failed run outlives secondsAfterSuccess");
}

/// A measurement holds one of the controller's 30 workers until it ends; fewer slow runs
/// than that leave the others unaffected.
#[tokio::test]
async fn slow_measurements_of_some_runs_do_not_hold_up_the_others() {
    const SLOW: usize = 12;
    let server = Scripted::start().await;
    let slow_paths: Vec<String> = (0..SLOW).map(|i| format!("slow{i}")).collect();
    for path in &slow_paths {
        server.script(path, &[Reply::Hold, Reply::Body("1")]);
    }
    server.script("fast", &[Reply::Body("1")]);
    let world = World::start(Providers::standard()).await;
    let run = |name: &str| {
        format!(
            "spec:\n  metrics:\n  - name: m\n    successCondition: result == 1\n    provider:\n      web:\n        url: {}\n        timeoutSeconds: 120\n",
            server.url(name)
        )
    };
    let mut slow = Vec::new();
    for path in &slow_paths {
        slow.push(world.create_run(&run(path)).await);
    }
    let s = server.clone();
    let paths = slow_paths.clone();
    eventually(30, "every slow run measuring", || {
        let (s, paths) = (s.clone(), paths.clone());
        async move { paths.iter().all(|p| s.hits(p) == 1) }
    })
    .await;
    // Every slow run is stuck on an unanswered request; a new run still completes.
    let fast = world.create_run(&run("fast")).await;
    let r = world.completed(&fast, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    server.release();
    for name in &slow {
        let r = world.completed(name, 60).await;
        assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    }
}
