//! Acceptance scenarios 14, 15, 16, 21 and 25 of the Argo Rollouts spec (§11), the ones
//! that involve a Rollout: the real Rollout controller creates the AnalysisRuns, the real
//! AnalysisRun controller measures them through the web provider against a local server, and
//! the Rollout reacts to their verdicts. Pods are real (`sleep`) processes.

use serde_json::{Value, json};
use weir_analysis_controller::Providers;
use weir_cluster::{Cluster, Object};

use crate::script::{Reply, Scripted};
use crate::stack::{Stack, canary_rollout, template};
use crate::support::{NS, closed_port, rt};

/// A template with one web metric `m` reading `url`, with these extra metric fields.
fn web_template(name: &str, url: &str, metric: Value) -> Value {
    let mut m = json!({"name": "m", "provider": {"web": {"url": url}}});
    if let (Some(m), Value::Object(extra)) = (m.as_object_mut(), metric) {
        m.extend(extra);
    }
    template(name, json!({"metrics": [m]}))
}

fn run_status(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_14_background_analysis_failure_aborts_the_rollout() {
    // Given: a background analysis whose metric (failureLimit 0) fails its first measurement.
    let server = Scripted::start().await;
    server.script("s14", &[Reply::Body("0")]);
    let stack = Stack::start(Providers::standard()).await;
    let url = server.url("s14");
    stack.create(web_template("t14", &url, json!({"successCondition": "result == 1"}))).await;
    let canary = json!({
        "analysis": {"templates": [{"templateName": "t14"}]},
        "steps": [{"setWeight": 50}, {"pause": {}}],
    });
    stack.healthy_rollout(canary_rollout("ro14", canary)).await;
    assert!(stack.runs_of("ro14").await.is_empty(), "no analysis on the initial deploy");

    // When: a new revision starts.
    stack.set_image("ro14", "app:v2").await;

    // Then: the background run fails and the rollout is aborted with its message.
    let ro = stack.until_phase("ro14", "Degraded", 60).await;
    let hash = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();
    let runs = stack.runs_of("ro14").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run["metadata"]["name"], format!("ro14-{hash}-2"));
    assert_eq!(run["metadata"]["labels"]["rollout-type"], "Background");
    assert_eq!(run_status(run), "Failed");
    let run_message = "Metric \"m\" assessed Failed due to failed (1) > failureLimit (0)";
    assert_eq!(run["status"]["message"], run_message);
    assert_eq!(ro["status"]["abort"], true);
    assert_eq!(
        ro["status"]["message"],
        format!(
            "RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: {run_message}"
        )
    );
    assert_eq!(server.hits("s14"), 1, "a failed run takes no further measurement");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_15_inline_step_analysis_success_moves_to_the_next_step() {
    // Given: steps [setWeight 20, analysis{t15}, setWeight 100]; the metric's second
    // measurement is held until the test has seen the run Running on the rollout.
    let server = Scripted::start().await;
    server.script("s15", &[Reply::Body("1"), Reply::Hold, Reply::Body("1")]);
    let stack = Stack::start(Providers::standard()).await;
    let url = server.url("s15");
    let metric = json!({"successCondition": "result == 1", "interval": "1s", "count": 2,
                        "provider": {"web": {"url": url, "timeoutSeconds": 120}}});
    stack.create(web_template("t15", &url, metric)).await;
    let canary = json!({"steps": [
        {"setWeight": 20}, {"analysis": {"templates": [{"templateName": "t15"}]}}, {"setWeight": 100},
    ]});
    let v1 = stack.healthy_rollout(canary_rollout("ro15", canary)).await;

    // When: a new revision reaches the analysis step.
    stack.set_image("ro15", "app:v2").await;
    stack
        .until("ro15", 60, "the step run Running on the rollout", async |s| {
            let ro = s.rollout("ro15").await;
            ro["status"]["canary"]["currentStepAnalysisRunStatus"]["status"] == "Running"
        })
        .await;

    // Then: the run is named and labelled as a step run and shown on the rollout.
    let ro = stack.rollout("ro15").await;
    let hash = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();
    let name = format!("ro15-{hash}-2-1");
    assert_eq!(ro["status"]["currentStepIndex"], 1);
    assert_eq!(ro["status"]["canary"]["currentStepAnalysisRunStatus"]["name"], name);
    let runs = stack.runs_of("ro15").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["metadata"]["name"], name);
    assert_eq!(runs[0]["metadata"]["labels"]["rollout-type"], "Step");
    assert_eq!(runs[0]["metadata"]["labels"]["step-index"], "1");
    assert_eq!(runs[0]["metadata"]["labels"]["rollouts-pod-template-hash"], hash);
    assert_eq!(runs[0]["metadata"]["labels"]["app"], "ro15", "the selector's labels");

    // When the run succeeds, the steps go on to the end and the step status is cleared.
    server.release();
    let ro = stack.until_promoted("ro15", &v1, 60).await;
    assert_eq!(ro["status"]["stableRS"], hash.as_str());
    assert_eq!(ro["status"]["currentStepIndex"], 3);
    assert!(ro["status"]["canary"]["currentStepAnalysisRunStatus"].is_null(), "{ro:#}");
    assert_eq!(stack.run(&name).await.status.map(|s| s.phase).as_deref(), Some("Successful"));
    assert_eq!(server.hits("s15"), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_16_inconclusive_step_analysis_pauses_until_promoted() {
    // Given: success `result == 1`, failure `result == 0`, and the metric returns 2.
    let server = Scripted::start().await;
    server.script("s16", &[Reply::Body("2")]);
    let stack = Stack::start(Providers::standard()).await;
    let metric = json!({"successCondition": "result == 1", "failureCondition": "result == 0"});
    stack.create(web_template("t16", &server.url("s16"), metric)).await;
    let canary = json!({"steps": [
        {"setWeight": 20}, {"analysis": {"templates": [{"templateName": "t16"}]}}, {"setWeight": 100},
    ]});
    let v1 = stack.healthy_rollout(canary_rollout("ro16", canary)).await;

    // When: the new revision's step run measures.
    stack.set_image("ro16", "app:v2").await;

    // Then: Inconclusive measurement, metric and run; the rollout pauses on it.
    let ro = stack.until_phase("ro16", "Paused", 60).await;
    let runs = stack.runs_of("ro16").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run_status(run), "Inconclusive");
    assert_eq!(run["status"]["metricResults"][0]["measurements"][0]["phase"], "Inconclusive");
    assert_eq!(run["status"]["metricResults"][0]["inconclusive"], 1);
    assert_eq!(
        run["status"]["message"],
        "Metric \"m\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)"
    );
    assert_eq!(ro["status"]["pauseConditions"][0]["reason"], "InconclusiveAnalysisRun");
    assert_eq!(ro["status"]["message"], "InconclusiveAnalysisRun");
    assert_eq!(ro["status"]["controllerPause"], true);
    assert_eq!(ro["status"]["currentStepIndex"], 1);

    // When: promote. Then: the step is passed and the rollout finishes.
    stack.promote("ro16").await;
    let ro = stack.until_promoted("ro16", &v1, 60).await;
    assert_eq!(ro["status"]["currentStepIndex"], 3);
    assert_ne!(ro["status"]["controllerPause"], true);
    assert!(ro["status"]["pauseConditions"].as_array().is_none_or(Vec::is_empty), "{ro:#}");
    assert_eq!(stack.runs_of("ro16").await.len(), 1, "promotion starts no new run");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_21_dry_run_metrics_never_fail_the_run_and_unmatched_rules_are_errors() {
    let server = Scripted::start().await;
    server.script("s21", &[Reply::Body("0")]);
    let stack = Stack::start(Providers::standard()).await;
    let url = server.url("s21");
    // Given: `dryRun: [{metricName: ".*"}]` and a failing metric.
    let mut dry = web_template("t21", &url, json!({"successCondition": "result == 1"}));
    dry["spec"]["dryRun"] = json!([{"metricName": ".*"}]);
    stack.create(dry).await;
    // Given instead: a dryRun rule matching no metric.
    let mut unmatched = web_template("t21-unmatched", &url, json!({}));
    unmatched["spec"]["dryRun"] = json!([{"metricName": "nothing-like-this"}]);
    stack.create(unmatched).await;
    let mut v1 = Vec::new();
    for (name, template) in [("ro21", "t21"), ("ro21-unmatched", "t21-unmatched")] {
        let canary = json!({"steps": [
            {"setWeight": 50}, {"analysis": {"templates": [{"templateName": template}]}},
        ]});
        v1.push(stack.healthy_rollout(canary_rollout(name, canary)).await);
        stack.set_image(name, "app:v2").await;
    }

    // Then: the dry-run run is Successful with the failure only in its dry-run summary and
    // the metric's message, and the rollout is not aborted: it finishes.
    let ro = stack.until_promoted("ro21", &v1[0], 60).await;
    assert_ne!(ro["status"]["abort"], true);
    let runs = stack.runs_of("ro21").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let status = &runs[0]["status"];
    assert_eq!(status["phase"], "Successful", "{status:#}");
    assert_eq!(status["dryRunSummary"], json!({"count": 1, "failed": 1}));
    assert_eq!(status["metricResults"][0]["dryRun"], true);
    assert_eq!(status["metricResults"][0]["phase"], "Failed");
    assert_eq!(
        status["metricResults"][0]["message"],
        "Metric assessed Failed due to failed (1) > failureLimit (0)"
    );

    // Then: the unmatched rule makes the run an Error, which aborts its rollout.
    let ro = stack.until_phase("ro21-unmatched", "Degraded", 60).await;
    let runs = stack.runs_of("ro21-unmatched").await;
    let status = &runs[0]["status"];
    let message = "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)";
    assert_eq!((&status["phase"], &status["message"]), (&json!("Error"), &json!(message)));
    let ro_message = ro["status"]["message"].as_str().unwrap_or("");
    assert!(
        ro_message.ends_with(&format!("Step-based analysis phase error/failed: {message}")),
        "{ro_message}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_25_secret_and_pod_template_hash_arguments() {
    const TOKEN: &str = "s3cr3t-t0ken-25";
    let server = Scripted::start().await;
    server.script("s25", &[Reply::Body("{\"ok\": true}")]);
    let stack = Stack::start(Providers::standard()).await;
    let mut secret = Object::new("v1", "Secret", Some(NS), "s");
    secret.data.insert("stringData".into(), json!({"k": TOKEN}));
    stack.store.create(&rt("secrets"), secret).await.expect("secret");

    // Given: a template arg from `secretKeyRef{name: s, key: k}` used in a web header, and a
    // Rollout arg `podTemplateHashValue: Latest` used in the URL.
    let spec = json!({
        "args": [{"name": "api-token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                 {"name": "hash"}],
        "metrics": [{"name": "m", "successCondition": "result.ok",
            "provider": {"web": {"url": format!("{}?hash={{{{args.hash}}}}", server.url("s25")),
                "jsonPath": "{$}",
                "headers": [{"key": "Authorization", "value": "Bearer {{args.api-token}}"}]}}}],
    });
    stack.create(template("t25", spec)).await;
    let canary = json!({"steps": [{"setWeight": 50}, {"analysis": {
        "templates": [{"templateName": "t25"}],
        "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }}]});
    let v1 = stack.healthy_rollout(canary_rollout("ro25", canary)).await;
    stack.set_image("ro25", "app:v2").await;

    // Then: the secret reaches the header, the new ReplicaSet's hash the URL.
    let ro = stack.until_promoted("ro25", &v1, 60).await;
    let hash = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();
    let seen = server.seen("s25");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].query, format!("hash={hash}"));
    let auth = seen[0].headers.get("authorization").and_then(|v| v.to_str().ok());
    assert_eq!(auth, Some(format!("Bearer {TOKEN}").as_str()));
    let runs = stack.runs_of("ro25").await;
    assert_eq!(run_status(&runs[0]), "Successful");
    let stored = runs[0].to_string();
    assert!(!stored.contains(TOKEN), "the secret is never written to the run: {stored}");

    // Then: the secret text in an error message is replaced with `*****`.
    let leak = stack.store.get(&rt("analysistemplates"), Some(NS), "t25").await.expect("t25");
    let mut leak = leak.to_value();
    leak["metadata"] = json!({"name": "t25-leak"});
    leak["spec"]["metrics"][0]["provider"]["web"]["url"] =
        format!("http://127.0.0.1:{}/{{{{args.api-token}}}}", closed_port().await).into();
    leak["spec"]["metrics"][0]["consecutiveErrorLimit"] = 0.into();
    leak["spec"]["args"] = json!([leak["spec"]["args"][0]]);
    let run = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "leak25"}, "spec": leak["spec"]});
    stack.create(run).await;
    // Given: a key that is not in the Secret.
    let mut missing = leak["spec"].clone();
    missing["args"][0]["valueFrom"]["secretKeyRef"]["key"] = "nope".into();
    let missing = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "missing25"}, "spec": missing});
    stack.create(missing).await;
    stack
        .until("ro25", 30, "the two standalone runs completed", async |s| {
            let done = |r: &weir_model::rollouts::AnalysisRun| {
                r.status.as_ref().is_some_and(|s| s.phase == "Error")
            };
            done(&s.run("leak25").await) && done(&s.run("missing25").await)
        })
        .await;
    let leak = stack.store.get(&rt("analysisruns"), Some(NS), "leak25").await.expect("run");
    let leak = leak.to_value();
    let text = leak["status"].to_string();
    assert!(!text.contains(TOKEN), "{text}");
    let msg = leak["status"]["metricResults"][0]["measurements"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(msg.contains("/*****\""), "the URL's secret is masked: {msg}");
    let missing = stack.run("missing25").await;
    assert_eq!(
        missing.status.and_then(|s| s.message).as_deref(),
        Some("Unable to resolve metric arguments: key 'nope' does not exist in secret 's'")
    );
    stack.stop().await;
}

/// Scenario 10 with step analysis: a failed step run aborts the rollout; after the check is
/// fixed, `retry` starts one new run `<base>.1` and the rollout finishes. With
/// `retry_in_a_later_second`, the retry waits until the wall clock has left the second of
/// `status.abortedAt` (see the ignored test).
async fn retry_after_a_failed_step_analysis(name: &str, retry_in_a_later_second: bool) {
    let server = Scripted::start().await;
    server.script(name, &[Reply::Body("0")]);
    let stack = Stack::start(Providers::standard()).await;
    let check = json!({"successCondition": "result == 1"});
    stack.create(web_template(name, &server.url(name), check)).await;
    let canary = json!({"steps": [
        {"setWeight": 20}, {"analysis": {"templates": [{"templateName": name}]}}, {"setWeight": 100},
    ]});
    let v1 = stack.healthy_rollout(canary_rollout(name, canary)).await;
    stack.set_image(name, "app:v2").await;
    let ro = stack.until_phase(name, "Degraded", 60).await;
    let hash = ro["status"]["currentPodHash"].as_str().expect("hash").to_owned();
    let message = ro["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.ends_with(
            "Step-based analysis phase error/failed: Metric \"m\" assessed Failed due to failed (1) > failureLimit (0)"
        ),
        "{message}"
    );
    if retry_in_a_later_second {
        let aborted_at = ro["status"]["abortedAt"].as_str().expect("abortedAt").to_owned();
        let aborted_at: k8s_openapi::jiff::Timestamp = aborted_at.parse().expect("time");
        while weir_rollout_controller::now().as_second() <= aborted_at.as_second() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    // When: the check is fixed and the rollout retried.
    server.script(name, &[Reply::Body("1")]);
    let retry = weir_rollout_controller::ops::retry();
    weir_rollout_controller::ops::apply(stack.store.as_ref(), NS, name, &retry)
        .await
        .expect("retry");

    // Then: one new run `<base>.1`, and the rollout finishes.
    stack.until_promoted(name, &v1, 60).await;
    let runs = stack.runs_of(name).await;
    let names: Vec<&str> = runs.iter().filter_map(|r| r["metadata"]["name"].as_str()).collect();
    assert_eq!(names, [format!("{name}-{hash}-2-1"), format!("{name}-{hash}-2-1.1")]);
    assert_eq!(run_status(&runs[0]), "Failed");
    assert_eq!(run_status(&runs[1]), "Successful");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_10_retry_after_a_failed_step_analysis_starts_one_new_run() {
    retry_after_a_failed_step_analysis("ro10", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_10_retry_in_the_second_of_the_abort_starts_one_new_run() {
    retry_after_a_failed_step_analysis("ro10-quick", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_analysis_naming_a_missing_template_is_an_invalid_spec_until_it_exists() {
    // Given a Rollout whose analysis step names a template that does not exist: Degraded with
    // Argo's InvalidSpec message naming it, and no run is created.
    let server = Scripted::start().await;
    server.script("late", &[Reply::Body("1")]);
    let stack = Stack::start(Providers::standard()).await;
    let canary = json!({"steps": [
        {"setWeight": 20}, {"analysis": {"templates": [{"templateName": "late-check"}]}},
    ]});
    stack.create(canary_rollout("romiss", canary)).await;
    let ro = stack.until_phase("romiss", "Degraded", 60).await;
    let message = ro["status"]["message"].as_str().unwrap_or("");
    assert!(message.contains("AnalysisTemplate 'late-check' not found"), "{message}");
    assert!(stack.runs_of("romiss").await.is_empty());
    // When the template appears, the Rollout is valid again and deploys.
    let check = json!({"successCondition": "result == 1"});
    stack.create(web_template("late-check", &server.url("late"), check)).await;
    stack.until_phase("romiss", "Healthy", 60).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconclusive_background_run_pauses_the_rollout_until_promoted() {
    let server = Scripted::start().await;
    server.script("bgi", &[Reply::Body("2")]);
    let stack = Stack::start(Providers::standard()).await;
    let metric = json!({"successCondition": "result == 1", "failureCondition": "result == 0"});
    stack.create(web_template("tbgi", &server.url("bgi"), metric)).await;
    let canary = json!({
        "analysis": {"templates": [{"templateName": "tbgi"}]},
        "steps": [{"setWeight": 50}, {"pause": {"duration": "1h"}}, {"setWeight": 100}],
    });
    let v1 = stack.healthy_rollout(canary_rollout("robgi", canary)).await;
    stack.set_image("robgi", "app:v2").await;
    stack
        .until("robgi", 60, "paused on the inconclusive background run", async |s| {
            let ro = s.rollout("robgi").await;
            ro["status"]["pauseConditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["reason"] == "InconclusiveAnalysisRun"))
        })
        .await;
    let ro = stack.rollout("robgi").await;
    assert_eq!(ro["status"]["phase"], "Paused");
    assert_ne!(ro["status"]["abort"], true);
    let runs = stack.runs_of("robgi").await;
    assert_eq!(runs.len(), 1, "no new run while the condition exists: {runs:#?}");
    assert_eq!(runs[0]["status"]["phase"], "Inconclusive");
    assert_eq!(
        ro["status"]["canary"]["currentBackgroundAnalysisRunStatus"]["status"],
        "Inconclusive"
    );
    // `promote --full` ends the update.
    let object = stack.store.get(&rt("rollouts"), Some(NS), "robgi").await.expect("rollout");
    let typed: weir_model::rollouts::Rollout = object.to_typed().expect("typed");
    let full = weir_rollout_controller::ops::promote(&typed, true);
    weir_rollout_controller::ops::apply(stack.store.as_ref(), NS, "robgi", &full)
        .await
        .expect("promote --full");
    stack.until_promoted("robgi", &v1, 60).await;
    stack.stop().await;
}
