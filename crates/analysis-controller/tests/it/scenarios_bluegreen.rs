//! Acceptance scenarios 41 and 42 of the Argo Rollouts spec (§11): blue-green pre- and
//! post-promotion analysis, with the real Rollout and AnalysisRun controllers.

use serde_json::{Value, json};
use weir_analysis_controller::Providers;
use weir_cluster::Cluster;
use weir_rollout_controller::ops;

use crate::script::{Reply, Scripted};
use crate::stack::{Stack, template};
use crate::support::{NS, rt};

/// A blue-green Rollout of one `app:v1` pod with services `<name>-active`/`<name>-preview`.
async fn blue_green(stack: &Stack, name: &str, strategy: Value) -> String {
    for service in ["active", "preview"] {
        stack
            .create(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("{name}-{service}")},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}))
            .await;
    }
    let mut bg = json!({"activeService": format!("{name}-active"),
                        "previewService": format!("{name}-preview")});
    if let (Some(bg), Value::Object(extra)) = (bg.as_object_mut(), strategy) {
        bg.extend(extra);
    }
    stack
        .healthy_rollout(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "app", "image": "app:v1"}]}},
                "strategy": {"blueGreen": bg},
            }
        }))
        .await
}

async fn selector(stack: &Stack, service: &str) -> String {
    let svc = stack.store.get(&rt("services"), Some(NS), service).await.expect("service");
    let hash = &svc.to_value()["spec"]["selector"]["rollouts-pod-template-hash"];
    hash.as_str().unwrap_or("").to_owned()
}

async fn replicas(stack: &Stack, rollout: &str, hash: &str) -> i64 {
    let name = format!("{rollout}-{hash}");
    let rs = stack.store.get(&rt("replicasets"), Some(NS), &name).await.expect("replicaset");
    rs.to_value()["spec"]["replicas"].as_i64().unwrap_or(-1)
}

fn check_template(url: &str) -> Value {
    template(
        "check",
        json!({"metrics": [{"name": "m", "successCondition": "result == 1",
                            "provider": {"web": {"url": url, "timeoutSeconds": 120}}}]}),
    )
}

/// Scenario 41's Given and first Then: returns the stack, the check's server, rev1 and rev2.
async fn pre_promotion_failure() -> (Stack, Scripted, String, String) {
    let server = Scripted::start().await;
    server.script("pre", &[Reply::Body("0")]);
    let stack = Stack::start(Providers::standard()).await;
    stack.create(check_template(&server.url("pre"))).await;
    // Given: a failing prePromotionAnalysis, abortScaleDownDelaySeconds 0, previewReplicaCount 1.
    let strategy = json!({"prePromotionAnalysis": {"templates": [{"templateName": "check"}]},
                          "abortScaleDownDelaySeconds": 0, "previewReplicaCount": 1});
    let rev1 = blue_green(&stack, "bg41", strategy).await;
    stack.set_image("bg41", "app:v2").await;

    // Then: a `-pre` run fails; the rollout is Degraded with active = stable = rev1 and the
    // preview on rev2, whose pod is kept.
    let ro = stack.until_phase("bg41", "Degraded", 60).await;
    let rev2 = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();
    let runs = stack.runs_of("bg41").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["metadata"]["name"], format!("bg41-{rev2}-2-pre"));
    assert_eq!(runs[0]["status"]["phase"], "Failed");
    assert_eq!(ro["status"]["stableRS"], rev1.as_str());
    assert_eq!(selector(&stack, "bg41-active").await, rev1);
    assert_eq!(selector(&stack, "bg41-preview").await, rev2);
    assert_eq!(replicas(&stack, "bg41", &rev2).await, 1, "rev2 is not scaled down");
    let message = ro["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("PrePromotion analysis phase error/failed: Metric \"m\""),
        "{message}"
    );
    (stack, server, rev1, rev2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_41_blue_green_pre_promotion_analysis_failure() {
    let (stack, _server, _, _) = pre_promotion_failure().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_41_retry_after_fixing_the_check_promotes() {
    let (stack, server, rev1, rev2) = pre_promotion_failure().await;
    // When: the check is fixed and the rollout retried. Then: a second run, and Healthy with
    // everything on rev2.
    server.script("pre", &[Reply::Body("1")]);
    ops::apply(stack.store.as_ref(), NS, "bg41", &ops::retry()).await.expect("retry");
    let ro = stack.until_promoted("bg41", &rev1, 60).await;
    assert_eq!(ro["status"]["stableRS"], rev2.as_str());
    let runs = stack.runs_of("bg41").await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[1]["status"]["phase"], "Successful");
    for service in ["bg41-active", "bg41-preview"] {
        assert_eq!(selector(&stack, service).await, rev2, "{service}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_42_blue_green_post_promotion_analysis_failure_rolls_back() {
    let server = Scripted::start().await;
    server.script("post", &[Reply::Hold, Reply::Body("0")]);
    let stack = Stack::start(Providers::standard()).await;
    stack.create(check_template(&server.url("post"))).await;
    let strategy = json!({"postPromotionAnalysis": {"templates": [{"templateName": "check"}]},
                          "autoPromotionEnabled": false});
    let rev1 = blue_green(&stack, "bg42", strategy).await;
    stack.set_image("bg42", "app:v2").await;
    let ro = stack.until_phase("bg42", "Paused", 60).await;
    let rev2 = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();

    // When: promote. Then: active is rev2 while the post run measures, stable still rev1.
    stack.promote("bg42").await;
    stack
        .until("bg42", 60, "the post-promotion run measuring", async |s| {
            let ro = s.rollout("bg42").await;
            ro["status"]["phase"] == "Progressing" && s.runs_of("bg42").await.len() == 1
        })
        .await;
    let ro = stack.rollout("bg42").await;
    assert_eq!(ro["status"]["message"], "waiting for analysis to complete");
    assert_eq!(ro["status"]["stableRS"], rev1.as_str());
    assert_eq!(selector(&stack, "bg42-active").await, rev2);
    let runs = stack.runs_of("bg42").await;
    assert_eq!(runs[0]["metadata"]["name"], format!("bg42-{rev2}-2-post"));

    // When: the run fails. Then: abort, active back on rev1, Degraded.
    server.release();
    let ro = stack.until_phase("bg42", "Degraded", 60).await;
    assert_eq!(ro["status"]["abort"], true);
    assert_eq!(ro["status"]["stableRS"], rev1.as_str());
    let message = ro["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("PostPromotion analysis phase error/failed: Metric \"m\""),
        "{message}"
    );
    stack
        .until("bg42", 30, "active back on rev1", async |s| {
            selector(s, "bg42-active").await == rev1
        })
        .await;
    stack.stop().await;
}
