//! The acceptance scenarios of `shared/specs/argo-rollouts.md` §11 that concern rollouts (the
//! analysis-only ones, 14–25, are the analysis controller's), each named after its number, as
//! Given/When/Then against the embedded store with a manual clock and the controller's own
//! reconcile pass (see [`crate::harness`]).

use serde_json::{Value, json};
use weir_rollout_controller::ops;

use crate::harness::*;

fn condition(
    st: &weir_model::rollouts::RolloutStatus,
    t: &str,
) -> Option<(String, String, String)> {
    weir_rollout::conditions::get_condition(st, t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Updates the image to `<name>:<version>` and returns the new hash once observed.
async fn update(w: &World, name: &str, version: &str) -> String {
    w.set_image(name, &format!("{name}:{version}")).await;
    w.reconcile(name).await;
    w.status(name).await.current_pod_hash.expect("current hash")
}

both_backends!(scenario_01_initial_deploy_skips_steps);
async fn scenario_01_initial_deploy_skips_steps(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 5, steps)).await;
    let st = w.status("app").await;
    assert_eq!(st.current_pod_hash.as_deref(), Some(v1.as_str()));
    assert_eq!(st.current_step_index, Some(2));
    let rs = w.replica_set_of(&v1).await;
    assert_eq!(rs["metadata"]["name"], format!("app-{v1}"));
    assert_eq!(rs["metadata"]["annotations"]["rollout.argoproj.io/revision"], "1");
    assert_eq!(rs["spec"]["replicas"], 5);
    assert!(w.list("analysisruns").await.is_empty());
    assert!(w.event_reasons("app").await.contains(&"RolloutCompleted".to_owned()));
    for t in ["Completed", "Healthy", "Available"] {
        assert_eq!(condition(&st, t).map(|c| c.0).as_deref(), Some("True"), "{t}");
    }
    let progressing = condition(&st, "Progressing").expect("Progressing");
    assert_eq!(
        (progressing.0.as_str(), progressing.1.as_str()),
        ("True", "NewReplicaSetAvailable")
    );
}

both_backends!(scenario_02_basic_canary_20_percent);
async fn scenario_02_basic_canary_20_percent(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 5, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (1, 4));
    assert_eq!(
        w.replica_set_of(&v2).await["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    assert_eq!(st.current_step_index, Some(1));
    let pause = st.pause_conditions.clone().unwrap_or_default();
    assert_eq!(pause.iter().map(|p| p.reason.as_str()).collect::<Vec<_>>(), ["CanaryPauseStep"]);
    assert_eq!(st.controller_pause, Some(true));
    assert_eq!(w.phase("app").await, ("Paused".into(), "CanaryPauseStep".into()));
    assert!(
        st.canary.as_ref().and_then(|c| c.weights.as_ref()).is_none(),
        "no weights without routing"
    );
}

both_backends!(scenario_03_rounding);
async fn scenario_03_rounding(backend: Backend) {
    for (replicas, weight, surge, unavailable, want) in [
        (10, 41, json!("25%"), json!("25%"), (4, 6)),
        (1, 20, json!(1), json!(0), (1, 1)),
        (1, 49, json!(0), json!(1), (0, 1)),
    ] {
        let w = World::on(backend).await;
        let canary = json!({"maxSurge": surge, "maxUnavailable": unavailable,
                            "steps": [{"setWeight": weight}, {"pause": {}}]});
        let v1 = healthy(&w, canary_rollout("app", replicas, canary)).await;
        let v2 = update(&w, "app", "v2").await;
        w.settle("app").await;
        let got = (w.replicas_of(&v2).await, w.replicas_of(&v1).await);
        assert_eq!(got, want, "R={replicas} setWeight {weight}");
    }
}

both_backends!(scenario_04_surge_and_unavailable_limits);
async fn scenario_04_surge_and_unavailable_limits(backend: Backend) {
    let w = World::on(backend).await;
    let canary =
        json!({"maxSurge": 2, "maxUnavailable": 0, "steps": [{"setWeight": 30}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 10, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.reconcile("app").await;
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (2, 10), "≤ 12 pods");

    let w = World::on(backend).await;
    let canary =
        json!({"maxSurge": 0, "maxUnavailable": 2, "steps": [{"setWeight": 30}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 10, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.reconcile("app").await;
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (0, 8), "first pass");
}

both_backends!(scenario_05_indefinite_pause_then_promote);
async fn scenario_05_indefinite_pause_then_promote(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 5, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.reconcile("app").await;
    let st = w.status("app").await;
    assert_eq!(st.current_step_index, Some(2));
    assert!(st.pause_conditions.is_none());
    assert!(w.event_reasons("app").await.contains(&"RolloutResumed".to_owned()));
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (5, 0));
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(scenario_06_timed_pause);
async fn scenario_06_timed_pause(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 50}, {"pause": {"duration": "3s"}}]});
    healthy(&w, canary_rollout("app", 1, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    let t0 = w.now();
    let st = w.status("app").await;
    let pause = &st.pause_conditions.clone().unwrap_or_default()[0];
    assert_eq!((pause.reason.as_str(), pause.start_time.0), ("CanaryPauseStep", t0));
    assert_eq!(w.phase("app").await.0, "Paused");
    let action = w.reconcile("app").await;
    assert_eq!(
        action.requeue_after(),
        Some(std::time::Duration::from_secs(3)),
        "requeued at expiry"
    );
    w.advance(1);
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused", "not yet");
    w.advance(3);
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(scenario_07_duration_formats);
async fn scenario_07_duration_formats(backend: Backend) {
    for (duration, seconds) in
        [(json!(10), 10), (json!("10"), 10), (json!("10m"), 600), (json!("1h"), 3600)]
    {
        let w = World::on(backend).await;
        let steps = json!({"steps": [{"setWeight": 50}, {"pause": {"duration": duration}}]});
        healthy(&w, canary_rollout("app", 1, steps)).await;
        update(&w, "app", "v2").await;
        w.settle("app").await;
        w.advance(seconds - 1);
        w.settle("app").await;
        assert_eq!(
            w.phase("app").await.0,
            "Paused",
            "{duration}: still paused at {}s",
            seconds - 1
        );
        w.advance(1);
        w.settle("app").await;
        assert_eq!(w.phase("app").await.0, "Healthy", "{duration}: done after {seconds}s");
    }
    for (duration, detail) in [
        (json!("abc"), "Duration needs to be greater than 0"),
        (json!(-1), "Duration needs to be greater than 0"),
    ] {
        let w = World::on(backend).await;
        w.create(canary_rollout("app", 1, json!({"steps": [{"pause": {"duration": duration}}]})))
            .await;
        w.reconcile("app").await;
        let (phase, message) = w.phase("app").await;
        assert_eq!(phase, "Degraded", "{duration}");
        assert!(message.starts_with("InvalidSpec: The Rollout \"app\" is invalid: "), "{message}");
        assert!(message.ends_with(detail), "{duration}: {message}");
    }
}

both_backends!(scenario_08_spec_paused);
async fn scenario_08_spec_paused(backend: Backend) {
    let w = World::on(backend).await;
    let canary =
        json!({"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]});
    let v1 = healthy(&w, with(canary_rollout("app", 5, canary), json!({}))).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::pause()).await;
    w.op("app", ops::promote(&w.rollout("app").await, false)).await; // clears the pause condition only
    w.patch("rollouts", "app", json!({"spec": {"paused": true}})).await;
    w.settle("app").await;
    let counts = (w.replicas_of(&v2).await, w.replicas_of(&v1).await);
    assert_eq!(counts, (1, 4), "no scaling while paused");
    assert_eq!(w.phase("app").await, ("Paused".into(), "manually paused".into()));
    let st = w.status("app").await;
    assert_eq!(condition(&st, "Paused").map(|c| c.0).as_deref(), Some("True"));
    let p = condition(&st, "Progressing").expect("Progressing");
    assert_eq!((p.0.as_str(), p.1.as_str()), ("Unknown", "RolloutPaused"));
    w.advance(3600); // far beyond progressDeadlineSeconds
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused", "a manual pause never times out");
    w.patch("rollouts", "app", json!({"spec": {"paused": false}})).await;
    w.reconcile("app").await;
    let p = condition(&w.status("app").await, "Progressing").expect("Progressing");
    assert_eq!((p.0.as_str(), p.1.as_str()), ("Unknown", "RolloutResumed"));
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 3, "progress resumes to 60 %");
}

/// Scenario 2's state, then `abort`.
async fn aborted_basic(w: &World) -> (String, String) {
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(w, canary_rollout("app", 5, steps)).await;
    let v2 = update(w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::abort()).await;
    w.settle("app").await;
    (v1, v2)
}

both_backends!(scenario_09_manual_abort_basic);
async fn scenario_09_manual_abort_basic(backend: Backend) {
    let w = World::on(backend).await;
    let (v1, v2) = aborted_basic(&w).await;
    let st = w.status("app").await;
    assert_eq!(st.abort, Some(true));
    assert!(st.aborted_at.is_some());
    assert_eq!(st.current_step_index, Some(0));
    assert!(st.pause_conditions.is_none());
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (0, 5));
    let p = condition(&st, "Progressing").expect("Progressing");
    assert_eq!(
        (p.0.as_str(), p.1.as_str(), p.2.as_str()),
        ("False", "RolloutAborted", "Rollout aborted update to revision 2")
    );
    assert_eq!(
        w.phase("app").await,
        ("Degraded".into(), "RolloutAborted: Rollout aborted update to revision 2".into())
    );
    assert!(w.event_reasons("app").await.contains(&"RolloutAborted".to_owned()));
}

both_backends!(scenario_10_retry);
async fn scenario_10_retry(backend: Backend) {
    let w = World::on(backend).await;
    let (v1, v2) = aborted_basic(&w).await;
    w.op("app", ops::retry()).await;
    w.reconcile("app").await;
    let p = condition(&w.status("app").await, "Progressing").expect("Progressing");
    assert_eq!((p.0.as_str(), p.1.as_str()), ("Unknown", "RolloutRetry"));
    w.settle("app").await;
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (1, 4));
    assert_eq!(w.status("app").await.current_step_index, Some(1));
    assert_eq!(w.phase("app").await.0, "Paused");
}

both_backends!(scenario_11_reapplying_the_stable_spec_after_abort);
async fn scenario_11_reapplying_the_stable_spec_after_abort(backend: Backend) {
    let w = World::on(backend).await;
    let (v1, _) = aborted_basic(&w).await;
    let before = w.list("replicasets").await.len();
    w.set_image("app", "app:v1").await;
    w.settle("app").await;
    assert_eq!(w.list("replicasets").await.len(), before, "no new ReplicaSet");
    assert!(w.event_reasons("app").await.contains(&"SkipSteps".to_owned()));
    let st = w.status("app").await;
    assert_eq!(st.current_step_index, Some(2));
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(w.phase("app").await.0, "Healthy");
}

fn template_for(name: &str) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
           "metadata": {"name": name},
           "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}})
}

both_backends!(scenario_13_background_analysis_with_starting_step);
async fn scenario_13_background_analysis_with_starting_step(backend: Backend) {
    let w = World::on(backend).await;
    w.create(template_for("bg")).await;
    let canary = json!({"analysis": {"templates": [{"templateName": "bg"}], "startingStep": 2},
        "steps": [{"setWeight": 20}, {"pause": {"duration": "10m"}}, {"setWeight": 40}, {"pause": {"duration": "10m"}}]});
    healthy(&w, canary_rollout("app", 5, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.current_step_index, Some(1));
    assert!(w.list("analysisruns").await.is_empty(), "no run before startingStep");
    w.advance(600);
    w.settle("app").await;
    let runs = w.list("analysisruns").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["name"], format!("app-{v2}-2"));
    assert_eq!(runs[0]["metadata"]["labels"]["rollout-type"], "Background");
    w.patch_status("analysisruns", &format!("app-{v2}-2"), json!({"status": {"phase": "Running"}}))
        .await;
    w.advance(600);
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    let run = w.get("analysisruns", &format!("app-{v2}-2")).await;
    assert_eq!(run["spec"]["terminate"], true, "terminated on promotion");
}

async fn istio_world(backend: Backend, app: &str, subset: bool) -> World {
    let w = World::on(backend).await;
    let objects = if subset { subset_level_objects(app) } else { host_level_objects(app) };
    for o in objects {
        w.create(o).await;
    }
    w
}

fn selector_hash(svc: &Value) -> String {
    svc["spec"]["selector"]["rollouts-pod-template-hash"].as_str().unwrap_or("").to_owned()
}

both_backends!(scenario_26_istio_host_level_full_flow);
async fn scenario_26_istio_host_level_full_flow(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let canary =
        with(host_level_routing("app"), json!({"steps": [{"setWeight": 10}, {"pause": {}}]}));
    let v1 = healthy(&w, canary_rollout("app", 1, canary)).await;
    assert_eq!(selector_hash(&w.get("services", "app-stable").await), v1);
    assert_eq!(selector_hash(&w.get("services", "app-canary").await), v1);
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (0, 100));

    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused");
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (10, 90));
    assert_eq!(selector_hash(&w.get("services", "app-canary").await), v2);
    assert_eq!(selector_hash(&w.get("services", "app-stable").await), v1);
    let weights = w.status("app").await.canary.and_then(|c| c.weights).expect("weights");
    assert_eq!(weights.canary.weight, 10);
    assert_eq!(weights.canary.pod_template_hash.as_deref(), Some(v2.as_str()));
    assert_eq!(weights.canary.service_name.as_deref(), Some("app-canary"));
    assert_eq!(
        (weights.stable.weight, weights.stable.pod_template_hash.as_deref()),
        (90, Some(v1.as_str()))
    );

    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Healthy");
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (0, 100));
    assert_eq!(selector_hash(&w.get("services", "app-stable").await), v2);
    assert_eq!(selector_hash(&w.get("services", "app-canary").await), v2);
    let rs1 = w.replica_set_of(&v1).await;
    assert_eq!(rs1["spec"]["replicas"], 1, "kept for scaleDownDelaySeconds");
    assert!(rs1["metadata"]["annotations"]["scale-down-deadline"].is_string());
    w.advance(30);
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v1).await, 0);
}

both_backends!(scenario_27_istio_subset_level);
async fn scenario_27_istio_subset_level(backend: Backend) {
    let w = istio_world(backend, "app", true).await;
    let canary =
        with(subset_level_routing("app"), json!({"steps": [{"setWeight": 10}, {"pause": {}}]}));
    healthy(&w, canary_rollout("app", 2, canary)).await;
    let v1 = w.status("app").await.stable_rs.expect("stable");
    let service_before = w.get("services", "app").await["spec"].clone();
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    let subsets = |dr: &Value, name: &str| {
        dr["spec"]["subsets"]
            .as_array()
            .expect("subsets")
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["labels"]["rollouts-pod-template-hash"].clone())
            .unwrap_or(Value::Null)
    };
    let dr = w.get("destinationrules", "app").await;
    assert_eq!((subsets(&dr, "stable"), subsets(&dr, "canary")), (json!(v1), json!(v2)));
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (10, 90));
    assert_eq!(
        dr["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"],
        "app"
    );
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    let dr = w.get("destinationrules", "app").await;
    assert_eq!((subsets(&dr, "stable"), subsets(&dr, "canary")), (json!(v2), json!(v2)));
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (0, 100));
    assert_eq!(
        w.get("services", "app").await["spec"],
        service_before,
        "the Service is not touched"
    );
}

both_backends!(scenario_28_weight_lags_replicas);
async fn scenario_28_weight_lags_replicas(backend: Backend) {
    let w = istio_world(backend, "app", true).await;
    let steps =
        json!({"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 4, with(subset_level_routing("app"), steps))).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (25, 75));
    let mut w = w;
    w.ready_limit.insert(v2.clone(), 1);
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 3);
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (25, 75), "1 of 3 available");
    assert_eq!(w.replicas_of(&v1).await, 4, "stable stays at 4");
    w.ready_limit.clear();
    w.settle("app").await;
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (75, 25));
}

both_backends!(scenario_29_stable_availability_gate);
async fn scenario_29_stable_availability_gate(backend: Backend) {
    let mut w = istio_world(backend, "app", false).await;
    let steps = json!({"steps": [{"setWeight": 25}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 4, with(host_level_routing("app"), steps))).await;
    w.ready_limit.insert(v1.clone(), 2); // fewer than (100−25)·4/100 = 3
    w.kubelet().await;
    let vs_before = w.get("virtualservices", "app").await["spec"].clone();
    update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.get("virtualservices", "app").await["spec"], vs_before, "VS untouched");
    w.reconcile("app").await; // no error
    assert_ne!(w.phase("app").await.0, "Degraded");
    w.ready_limit.clear();
    w.settle("app").await;
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (25, 75));
}

both_backends!(scenario_30_istio_abort);
async fn scenario_30_istio_abort(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let canary =
        with(host_level_routing("app"), json!({"steps": [{"setWeight": 10}, {"pause": {}}]}));
    let v1 = healthy(&w, canary_rollout("app", 2, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::abort()).await;
    w.reconcile("app").await;
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (0, 100), "at once");
    assert_eq!(selector_hash(&w.get("services", "app-canary").await), v1);
    w.settle("app").await;
    let rs2 = w.replica_set_of(&v2).await;
    assert_eq!(rs2["spec"]["replicas"], 1, "the canary keeps its pods");
    let deadline: k8s_openapi::jiff::Timestamp =
        rs2["metadata"]["annotations"]["scale-down-deadline"]
            .as_str()
            .expect("deadline")
            .parse()
            .expect("time");
    assert_eq!(deadline.as_second(), w.now().as_second() + 30);
    assert_eq!(w.phase("app").await.0, "Degraded");
    w.advance(31);
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 0);
    assert_eq!(w.replicas_of(&v1).await, 2);
}

both_backends!(scenario_31_abort_scale_down_delay_zero);
async fn scenario_31_abort_scale_down_delay_zero(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let canary = with(
        host_level_routing("app"),
        json!({"abortScaleDownDelaySeconds": 0,
        "steps": [{"setCanaryScale": {"replicas": 1}}, {"pause": {}}]}),
    );
    healthy(&w, canary_rollout("app", 3, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::abort()).await;
    w.settle("app").await;
    w.advance(3600);
    w.settle("app").await;
    let rs2 = w.replica_set_of(&v2).await;
    assert_eq!(rs2["spec"]["replicas"], 1, "kept indefinitely");
    assert!(rs2["metadata"]["annotations"].get("scale-down-deadline").is_none());

    // Without setCanaryScale the canary goes to 0 (Q6).
    let w = istio_world(backend, "app", false).await;
    let canary = with(
        host_level_routing("app"),
        json!({"abortScaleDownDelaySeconds": 0,
        "steps": [{"setWeight": 50}, {"pause": {}}]}),
    );
    healthy(&w, canary_rollout("app", 2, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 1);
    w.op("app", ops::abort()).await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 0);
}

both_backends!(scenario_35_unknown_destination_cleanup);
async fn scenario_35_unknown_destination_cleanup(backend: Backend) {
    let w = World::on(backend).await;
    let mut objects = host_level_objects("app");
    objects[2]["spec"]["http"][0]["route"]
        .as_array_mut()
        .expect("route")
        .push(json!({"destination": {"host": "other-svc"}, "weight": 5}));
    objects[2]["spec"]["http"][0]["route"][0]["weight"] = json!(95);
    for o in objects {
        w.create(o).await;
    }
    let canary =
        with(host_level_routing("app"), json!({"steps": [{"setWeight": 10}, {"pause": {}}]}));
    healthy(&w, canary_rollout("app", 1, canary)).await;
    update(&w, "app", "v2").await;
    w.settle("app").await;
    let vs = w.get("virtualservices", "app").await;
    let hosts: Vec<&str> = vs["spec"]["http"][0]["route"]
        .as_array()
        .expect("route")
        .iter()
        .filter_map(|d| d["destination"]["host"].as_str())
        .collect();
    assert_eq!(hosts, ["app-stable", "app-canary"]);
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (10, 90));
}

both_backends!(scenario_36_dynamic_stable_scale);
async fn scenario_36_dynamic_stable_scale(backend: Backend) {
    let w = istio_world(backend, "app", true).await;
    let canary = with(
        subset_level_routing("app"),
        json!({"dynamicStableScale": true,
        "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]}),
    );
    let v1 = healthy(&w, canary_rollout("app", 4, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!((w.replicas_of(&v1).await, w.replicas_of(&v2).await), (3, 1), "at 25 %");
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    assert_eq!((w.replicas_of(&v1).await, w.replicas_of(&v2).await), (1, 3), "at 75 %");
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (75, 25));
    w.op("app", ops::abort()).await;
    let mut seen = Vec::new();
    for _ in 0..30 {
        w.reconcile("app").await;
        w.kubelet().await;
        let weights = w.vs_weights("app", "canary", "stable").await;
        if seen.last() != Some(&weights.0) {
            seen.push(weights.0);
        }
    }
    assert_eq!(seen.first(), Some(&75));
    assert_eq!(seen.last(), Some(&0));
    assert!(seen.windows(2).all(|p| p[0] > p[1]), "weights only go down: {seen:?}");
    w.advance(31);
    w.settle("app").await;
    assert_eq!((w.replicas_of(&v1).await, w.replicas_of(&v2).await), (4, 0));
}

both_backends!(scenario_37_scale_down_delay_revision_limit);
async fn scenario_37_scale_down_delay_revision_limit(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let canary =
        with(host_level_routing("app"), json!({"scaleDownDelayRevisionLimit": 1, "steps": []}));
    let v1 = healthy(&w, canary_rollout("app", 1, canary)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    let rs1 = w.replica_set_of(&v1).await;
    assert_eq!(rs1["spec"]["replicas"], 1);
    assert!(rs1["metadata"]["annotations"]["scale-down-deadline"].is_string());
    let v3 = update(&w, "app", "v3").await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v3.as_str()));
    let rs1 = w.replica_set_of(&v1).await;
    assert_eq!(rs1["spec"]["replicas"], 0, "beyond the revision limit");
    let rs2 = w.replica_set_of(&v2).await;
    assert_eq!(rs2["spec"]["replicas"], 1);
    assert!(rs2["metadata"]["annotations"]["scale-down-deadline"].is_string());
}

both_backends!(scenario_38_blue_green_auto_promotion);
async fn scenario_38_blue_green_auto_promotion(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let v1 = healthy(&w, blue_green_rollout("app", 3, json!({}))).await;
    let v2 = update(&w, "app", "v2").await;
    assert_eq!(selector_hash(&w.get("services", "app-preview").await), v2, "preview at once");
    w.settle("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2);
    let st = w.status("app").await;
    assert_eq!(st.stable_rs.as_deref(), Some(v2.as_str()));
    assert!(st.pause_conditions.is_none());
    let rs1 = w.replica_set_of(&v1).await;
    assert_eq!(rs1["spec"]["replicas"], 3);
    assert!(rs1["metadata"]["annotations"]["scale-down-deadline"].is_string());
    w.advance(31);
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v1).await, 0);
    assert!(!w.event_reasons("app").await.iter().any(|r| r == "RolloutPaused"), "never paused");
}

both_backends!(scenario_39_blue_green_manual_promotion);
async fn scenario_39_blue_green_manual_promotion(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let v1 =
        healthy(&w, blue_green_rollout("app", 2, json!({"autoPromotionEnabled": false}))).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await, ("Paused".into(), "BlueGreenPause".into()));
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2);

    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    healthy(&w, blue_green_rollout("app", 2, json!({"autoPromotionSeconds": 30}))).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused");
    w.advance(31);
    w.settle("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2, "auto-promoted");
}

both_backends!(scenario_40_blue_green_preview_replica_count);
async fn scenario_40_blue_green_preview_replica_count(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let v1 = healthy(
        &w,
        blue_green_rollout(
            "app",
            3,
            json!({"previewReplicaCount": 1, "autoPromotionEnabled": false}),
        ),
    )
    .await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 1);
    assert_eq!(w.phase("app").await.0, "Paused");
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.blue_green.and_then(|b| b.scale_up_preview_check_point), Some(true));
    assert_eq!(w.replicas_of(&v2).await, 3);
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2);
    assert_eq!(w.replicas_of(&v1).await, 3, "old active kept for its scale-down delay");
}

both_backends!(scenario_44_progress_deadline_without_abort);
async fn scenario_44_progress_deadline_without_abort(backend: Backend) {
    let mut w = World::on(backend).await;
    let canary = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, with(canary_rollout("app", 5, canary), json!({}))).await;
    w.patch("rollouts", "app", json!({"spec": {"progressDeadlineSeconds": 5}})).await;
    w.settle("app").await;
    w.set_image("app", "app:v2").await;
    w.reconcile("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    w.ready_limit.insert(v2.clone(), 0);
    w.settle("app").await;
    w.advance(6);
    w.settle("app").await;
    let rs = format!("app-{v2}");
    assert_eq!(
        w.phase("app").await,
        (
            "Degraded".into(),
            format!("ProgressDeadlineExceeded: ReplicaSet \"{rs}\" has timed out progressing.")
        )
    );
    w.ready_limit.clear();
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused", "not terminal");
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v1.as_str()));
}

both_backends!(scenario_45_progress_deadline_abort);
async fn scenario_45_progress_deadline_abort(backend: Backend) {
    let mut w = World::on(backend).await;
    let canary = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 5, canary)).await;
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"progressDeadlineSeconds": 60, "progressDeadlineAbort": true}}),
    )
    .await;
    w.settle("app").await;
    w.set_image("app", "app:bad").await;
    w.reconcile("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    w.ready_limit.insert(v2.clone(), 0);
    w.settle("app").await;
    w.advance(61);
    w.settle("app").await;
    let (phase, message) = w.phase("app").await;
    assert_eq!(phase, "Degraded");
    assert!(
        message.ends_with(&format!("ReplicaSet \"app-{v2}\" has timed out progressing.")),
        "{message}"
    );
    assert!(message.starts_with("RolloutAborted: "), "{message}");
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (0, 5));

    // A Healthy, fully promoted rollout whose pods later go unavailable is never aborted.
    let mut w = World::on(backend).await;
    let v1 = healthy(&w, canary_rollout("app", 2, json!({"steps": [{"setWeight": 50}]}))).await;
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"progressDeadlineSeconds": 10, "progressDeadlineAbort": true}}),
    )
    .await;
    w.settle("app").await;
    w.ready_limit.insert(v1.clone(), 0);
    w.settle("app").await;
    w.advance(60);
    w.settle("app").await;
    assert_ne!(w.status("app").await.abort, Some(true));
}

both_backends!(scenario_46_pause_longer_than_the_deadline);
async fn scenario_46_pause_longer_than_the_deadline(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 50}, {"pause": {"duration": "2m"}}]});
    healthy(&w, canary_rollout("app", 2, steps)).await;
    w.patch("rollouts", "app", json!({"spec": {"progressDeadlineSeconds": 30}})).await;
    w.settle("app").await;
    update(&w, "app", "v2").await;
    w.settle("app").await;
    for _ in 0..4 {
        w.advance(29);
        w.settle("app").await;
        assert_ne!(w.phase("app").await.0, "Degraded");
    }
    w.advance(10);
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(scenario_47_step_change_mid_update);
async fn scenario_47_step_change_mid_update(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    healthy(&w, canary_rollout("app", 5, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    let before = w.status("app").await;
    assert_eq!(before.current_step_index, Some(1));
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"strategy": {"canary": {"steps": [{"setWeight": 40}, {"pause": {}}]}}}}),
    )
    .await;
    w.reconcile("app").await;
    let st = w.status("app").await;
    assert_ne!(st.current_step_hash, before.current_step_hash);
    assert_eq!(st.current_step_index, Some(0));
    assert!(st.pause_conditions.is_none());
    w.settle("app").await;
    assert_eq!(w.status("app").await.current_pod_hash.as_deref(), Some(v2.as_str()), "same canary");
    assert_eq!(w.replicas_of(&v2).await, 2);
    assert_eq!(w.status("app").await.current_step_index, Some(1));
}

both_backends!(scenario_48_v3_while_v2_is_in_progress);
async fn scenario_48_v3_while_v2_is_in_progress(backend: Backend) {
    let w = istio_world(backend, "app", true).await;
    let steps = json!({"steps": [{"setWeight": 50}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 2, with(subset_level_routing("app"), steps))).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (50, 50));
    let v3 = update(&w, "app", "v3").await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 0, "intermediate ReplicaSet scaled down at once");
    assert!(
        w.replica_set_of(&v2).await["metadata"]["annotations"].get("scale-down-deadline").is_none()
    );
    assert_eq!(w.replicas_of(&v1).await, 2, "stable untouched");
    assert_eq!(w.replicas_of(&v3).await, 1);
    assert_eq!(w.vs_weights("app", "canary", "stable").await, (50, 50));
    let weights = w.status("app").await.canary.and_then(|c| c.weights).expect("weights");
    assert_eq!(weights.canary.pod_template_hash.as_deref(), Some(v3.as_str()));
}

both_backends!(scenario_49_rollback_window);
async fn scenario_49_rollback_window(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let canary =
        with(host_level_routing("app"), json!({"steps": [{"setWeight": 50}, {"pause": {}}]}));
    let mut rollout = canary_rollout("app", 2, canary);
    rollout["spec"]["rollbackWindow"] = json!({"revisions": 3});
    healthy(&w, rollout).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::promote(&w.rollout("app").await, true)).await;
    w.settle("app").await;
    let v3 = update(&w, "app", "v3").await;
    w.settle("app").await;
    w.op("app", ops::promote(&w.rollout("app").await, true)).await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v3.as_str()));
    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.stable_rs.as_deref(), Some(v2.as_str()), "promoted at once");
    assert_eq!(st.current_step_index, Some(2));
    assert!(w.list("analysisruns").await.is_empty());
}

both_backends!(scenario_50_restart);
async fn scenario_50_restart(backend: Backend) {
    let w = World::on(backend).await;
    let canary = json!({"maxUnavailable": "75%", "steps": []});
    healthy(&w, canary_rollout("app", 4, canary)).await;
    let pods_before: Vec<String> = w
        .list("pods")
        .await
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(pods_before.len(), 4);
    w.advance(60);
    w.op("app", ops::restart(w.now())).await;
    w.reconcile("app").await;
    let left = w
        .list("pods")
        .await
        .iter()
        .filter(|p| pods_before.contains(&p["metadata"]["name"].as_str().unwrap_or("").to_owned()))
        .count();
    assert!(left >= 1, "at most 3 pods evicted per pass, {left} left");
    assert_eq!(w.phase("app").await, ("Progressing".into(), "rollout is restarting".into()));
    for _ in 0..6 {
        w.kubelet().await;
        w.advance(31);
        w.reconcile("app").await;
    }
    w.settle("app").await;
    let ro = w.rollout("app").await;
    assert!(ro.status.as_ref().and_then(|s| s.restarted_at.clone()).is_some());
    assert_eq!(ro.status.as_ref().and_then(|s| s.restarted_at.clone()), ro.spec.restart_at);
    let pods_after: Vec<String> = w
        .list("pods")
        .await
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(pods_after.iter().all(|p| !pods_before.contains(p)), "every pod is newer");

    // `--in 1h`: nothing happens until then.
    let w = World::on(backend).await;
    healthy(&w, canary_rollout("app", 2, json!({"steps": []}))).await;
    let pods_before = w.list("pods").await.len();
    w.op("app", ops::restart(w.now() + k8s_openapi::jiff::SignedDuration::from_secs(3600))).await;
    w.settle("app").await;
    assert_eq!(w.list("pods").await.len(), pods_before);
    assert!(w.status("app").await.restarted_at.is_none());
}

both_backends!(scenario_51_hash_collision);
async fn scenario_51_hash_collision(backend: Backend) {
    let w = World::on(backend).await;
    let ro = canary_rollout("app", 1, json!({"steps": []}));
    let pod_template: k8s_openapi::api::core::v1::PodTemplateSpec =
        serde_json::from_value(ro["spec"]["template"].clone()).expect("template");
    let hash = weir_rollout::hash::pod_template_hash(&pod_template, None);
    // Someone else's ReplicaSet already has the name `<ro>-<hash>`, with another template.
    w.create(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("app-{hash}")},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "other"}},
                 "template": template("other", "other:v1")}}))
        .await;
    w.create(ro).await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.collision_count, Some(1));
    let new_hash = st.current_pod_hash.expect("hash");
    assert_ne!(new_hash, hash);
    assert_eq!(w.replica_set_of(&new_hash).await["metadata"]["name"], format!("app-{new_hash}"));
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(scenario_52_scaling_while_paused);
async fn scenario_52_scaling_while_paused(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}]});
    let v1 = healthy(&w, canary_rollout("app", 5, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.patch("rollouts", "app", json!({"spec": {"replicas": 10}})).await;
    w.settle("app").await;
    assert_eq!((w.replicas_of(&v2).await, w.replicas_of(&v1).await), (2, 8));
    let rs = w.replica_set_of(&v2).await;
    assert_eq!(rs["metadata"]["annotations"]["rollout.argoproj.io/desired-replicas"], "10");
    assert_eq!(w.phase("app").await.0, "Paused", "the pause condition stays");
}

both_backends!(scenario_53_invalid_spec);
async fn scenario_53_invalid_spec(backend: Backend) {
    let w = World::on(backend).await;
    w.create(canary_rollout("app", 2, json!({"steps": [{"setCanaryScale": {"replicas": 2}}]})))
        .await;
    let action = w.reconcile("app").await;
    assert_eq!(action.requeue_after(), Some(std::time::Duration::from_secs(20)));
    let st = w.status("app").await;
    let c = condition(&st, "InvalidSpec").expect("InvalidSpec");
    assert!(c.2.ends_with("SetCanaryScale requires TrafficRouting to be set"), "{}", c.2);
    assert_eq!(w.phase("app").await, ("Degraded".into(), format!("InvalidSpec: {}", c.2)));
    assert!(w.list("replicasets").await.is_empty(), "nothing is done");
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"strategy": {"canary": {"steps": [{"setWeight": 50}]}}}}),
    )
    .await;
    w.settle("app").await;
    assert!(condition(&w.status("app").await, "InvalidSpec").is_none(), "fixing removes it");
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(scenario_54_cli_promote_patches);
async fn scenario_54_cli_promote_patches(backend: Backend) {
    let w = World::on(backend).await;
    let steps = json!({"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}]});
    healthy(&w, canary_rollout("app", 5, steps)).await;
    update(&w, "app", "v2").await;
    w.settle("app").await;
    let ro = w.rollout("app").await;
    assert_eq!(ops::promote(&ro, false).status, Some(json!({"status": {"pauseConditions": null}})));
    let mut paused = ro.clone();
    paused.spec.paused = Some(true);
    assert_eq!(ops::promote(&paused, false).spec, Some(json!({"spec": {"paused": false}})));
    let mut running = ro.clone();
    let st = running.status.as_mut().expect("status");
    st.pause_conditions = None;
    st.current_step_index = Some(1);
    assert_eq!(
        ops::promote(&running, false).status,
        Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 2}}))
    );
    assert_eq!(ops::promote(&ro, true).status, Some(json!({"status": {"promoteFull": true}})));
}

both_backends!(scenario_12_promote_full_during_a_step_analysis);
async fn scenario_12_promote_full_during_a_step_analysis(backend: Backend) {
    let w = World::on(backend).await;
    w.create(template_for("sleep-job")).await;
    let analysis = json!({"analysis": {"templates": [{"templateName": "sleep-job"}]}});
    let steps = json!({"steps": [{"pause": {"duration": "24h"}}, analysis.clone(), {"pause": {}}, analysis]});
    healthy(&w, canary_rollout("app", 2, steps)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    w.op("app", ops::promote(&w.rollout("app").await, false)).await; // clears the 24 h pause
    w.settle("app").await;
    assert_eq!(w.status("app").await.current_step_index, Some(1));
    assert_eq!(w.list("analysisruns").await.len(), 1, "the step analysis runs");
    w.op("app", ops::promote(&w.rollout("app").await, false)).await; // skips the analysis (Q10)
    w.settle("app").await;
    assert_eq!(w.status("app").await.current_step_index, Some(2));
    assert_eq!(w.phase("app").await.0, "Paused");
    w.op("app", ops::abort()).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Degraded");
    w.op("app", ops::promote(&w.rollout("app").await, true)).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Healthy");
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!(w.list("analysisruns").await.len(), 1, "only one AnalysisRun ever created");
}

fn http_routes(vs: &Value) -> Vec<Value> {
    vs["spec"]["http"].as_array().cloned().unwrap_or_default()
}

fn route_weights(route: &Value) -> Vec<(String, i64)> {
    route["route"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let host = d["destination"]["host"].as_str().unwrap_or("").to_owned();
            (host, d["weight"].as_i64().unwrap_or(0))
        })
        .collect()
}

both_backends!(scenario_32_set_header_route);
async fn scenario_32_set_header_route(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let header = |regex: &str| {
        json!({"setHeaderRoute": {"name": "set-header-1",
        "match": [{"headerName": "agent", "headerValue": {"regex": regex}}]}})
    };
    let mut canary = host_level_routing("app");
    canary["trafficRouting"]["managedRoutes"] = json!([{"name": "set-header-1"}]);
    canary["steps"] = json!([{"setWeight": 20}, header("firefox(.*)"), {"pause": {}},
        header("chrome(.*)"), {"pause": {}}, {"setWeight": 40},
        {"setHeaderRoute": {"name": "set-header-1"}}, {"pause": {}}]);
    healthy(&w, canary_rollout("app", 5, canary)).await;
    update(&w, "app", "v2").await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    assert_eq!(routes.len(), 2, "{routes:?}");
    assert_eq!(routes[0]["name"], "set-header-1");
    assert_eq!(routes[0]["match"], json!([{"headers": {"agent": {"regex": "firefox(.*)"}}}]));
    assert_eq!(route_weights(&routes[0]), [("app-canary".to_owned(), 100)]);
    assert_eq!(routes[1]["name"], "primary");
    assert_eq!(
        route_weights(&routes[1]),
        [("app-stable".to_owned(), 80), ("app-canary".to_owned(), 20)]
    );

    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    assert_eq!(routes[0]["match"], json!([{"headers": {"agent": {"regex": "chrome(.*)"}}}]));

    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    assert_eq!(routes.len(), 1, "the header route is removed: {routes:?}");
    assert_eq!(
        route_weights(&routes[0]),
        [("app-stable".to_owned(), 60), ("app-canary".to_owned(), 40)]
    );

    w.op("app", ops::promote(&w.rollout("app").await, true)).await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    assert_eq!(routes.len(), 1);
    assert_eq!(
        route_weights(&routes[0]),
        [("app-stable".to_owned(), 100), ("app-canary".to_owned(), 0)]
    );
}

both_backends!(scenario_33_set_mirror_route);
async fn scenario_33_set_mirror_route(backend: Backend) {
    let w = istio_world(backend, "app", false).await;
    let mut canary = host_level_routing("app");
    canary["trafficRouting"]["managedRoutes"] =
        json!([{"name": "mirror-route-1"}, {"name": "mirror-route-2"}]);
    canary["steps"] = json!([{"setWeight": 20},
        {"setMirrorRoute": {"name": "mirror-route-1", "match": [{"path": {"prefix": "/"}}]}},
        {"setMirrorRoute": {"name": "mirror-route-2", "percentage": 80, "match": [{"method": {"exact": "GET"}}]}},
        {"pause": {}},
        {"setMirrorRoute": {"name": "mirror-route-1"}}, {"setWeight": 40}, {"pause": {}}]);
    healthy(&w, canary_rollout("app", 5, canary)).await;
    update(&w, "app", "v2").await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    let names: Vec<&str> = routes.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["mirror-route-1", "mirror-route-2", "primary"]);
    assert_eq!(routes[0]["mirrorPercentage"]["value"], 100.0);
    assert_eq!(routes[1]["mirrorPercentage"]["value"], 80.0);
    assert_eq!(routes[1]["match"][0]["method"], json!({"exact": "GET"}));
    for r in &routes {
        assert_eq!(
            route_weights(r),
            [("app-stable".to_owned(), 80), ("app-canary".to_owned(), 20)],
            "{r}"
        );
    }
    w.op("app", ops::promote(&w.rollout("app").await, false)).await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    let names: Vec<&str> = routes.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["mirror-route-2", "primary"]);
    for r in &routes {
        assert_eq!(
            route_weights(r),
            [("app-stable".to_owned(), 60), ("app-canary".to_owned(), 40)],
            "{r}"
        );
    }
    w.op("app", ops::promote(&w.rollout("app").await, true)).await;
    w.settle("app").await;
    let routes = http_routes(&w.get("virtualservices", "app").await);
    assert_eq!(routes.len(), 1);
    assert_eq!(
        route_weights(&routes[0]),
        [("app-stable".to_owned(), 100), ("app-canary".to_owned(), 0)]
    );
}

both_backends!(scenario_34_route_validation);
async fn scenario_34_route_validation(backend: Backend) {
    let prefix = "spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: \"app\": Istio VirtualService has invalid HTTP routes. Error: ";
    let cases = [
        (
            json!(["missing"]),
            None,
            "HTTP Route 'missing' is not found in the defined Virtual Service.",
        ),
        (
            Value::Null,
            Some(json!([{"route": [{"destination": {"host": "app-stable"}, "weight": 100},
                                          {"destination": {"host": "app-canary"}, "weight": 0}]},
                                {"route": [{"destination": {"host": "app-stable"}, "weight": 100}]}])),
            "spec.http[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.routes",
        ),
        (
            json!(["primary"]),
            Some(
                json!([{"name": "primary", "route": [{"destination": {"host": "app-stable"}, "weight": 100}]}]),
            ),
            "Canary Service 'app-canary' not found in route",
        ),
    ];
    for (routes, http, error) in cases {
        let w = istio_world(backend, "app", false).await;
        if let Some(http) = http {
            w.patch("virtualservices", "app", json!({"spec": {"http": http}})).await;
        }
        let mut canary = with(host_level_routing("app"), json!({"steps": [{"setWeight": 10}]}));
        canary["trafficRouting"]["istio"]["virtualService"]["routes"] = routes;
        w.create(canary_rollout("app", 1, canary)).await;
        w.reconcile("app").await;
        let (phase, message) = w.phase("app").await;
        assert_eq!(phase, "Degraded", "{error}");
        assert_eq!(
            message,
            format!("InvalidSpec: The Rollout \"app\" is invalid: {prefix}{error}")
        );
    }
}

async fn blue_green_world(backend: Backend) -> World {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    w.create(template_for("check")).await;
    w
}

both_backends!(scenario_41_blue_green_pre_promotion_analysis_failure);
async fn scenario_41_blue_green_pre_promotion_analysis_failure(backend: Backend) {
    let w = blue_green_world(backend).await;
    let extra = json!({"prePromotionAnalysis": {"templates": [{"templateName": "check"}]},
        "abortScaleDownDelaySeconds": 0, "previewReplicaCount": 1, "autoPromotionEnabled": false});
    let v1 = healthy(&w, blue_green_rollout("app", 2, extra)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    let run = format!("app-{v2}-2-pre");
    assert!(
        w.list("analysisruns").await.iter().any(|r| r["metadata"]["name"] == run.as_str()),
        "{run}"
    );
    w.patch_status("analysisruns", &run, json!({"status": {"phase": "Failed", "message": "boom"}}))
        .await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Degraded");
    let st = w.status("app").await;
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    assert_eq!(selector_hash(&w.get("services", "app-preview").await), v2);
    w.advance(3600);
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 1, "not scaled down (abortScaleDownDelaySeconds 0)");
}

both_backends!(scenario_42_blue_green_post_promotion_analysis_failure);
async fn scenario_42_blue_green_post_promotion_analysis_failure(backend: Backend) {
    let w = blue_green_world(backend).await;
    let extra = json!({"postPromotionAnalysis": {"templates": [{"templateName": "check"}]}});
    let v1 = healthy(&w, blue_green_rollout("app", 2, extra)).await;
    let v2 = update(&w, "app", "v2").await;
    w.settle("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2, "active switched");
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(
        w.phase("app").await,
        ("Progressing".into(), "waiting for analysis to complete".into())
    );
    let run = format!("app-{v2}-2-post");
    w.patch_status("analysisruns", &run, json!({"status": {"phase": "Failed", "message": "boom"}}))
        .await;
    w.settle("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1, "active back on stable");
    assert_eq!(w.phase("app").await.0, "Degraded");
}

both_backends!(scenario_43_blue_green_scale_down_delay_and_revision_limit);
async fn scenario_43_blue_green_scale_down_delay_and_revision_limit(backend: Backend) {
    let w = blue_green_world(backend).await;
    let extra = json!({"scaleDownDelaySeconds": 86400, "scaleDownDelayRevisionLimit": 2});
    let v1 = healthy(&w, blue_green_rollout("app", 1, extra)).await;
    let mut hashes = vec![v1];
    for version in ["v2", "v3", "v4"] {
        hashes.push(update(&w, "app", version).await);
        w.settle("app").await;
    }
    let counts = [
        w.replicas_of(&hashes[0]).await,
        w.replicas_of(&hashes[1]).await,
        w.replicas_of(&hashes[2]).await,
        w.replicas_of(&hashes[3]).await,
    ];
    assert_eq!(counts, [0, 1, 1, 1], "revisions 4, 3 and 2 keep a pod");
    assert_eq!(w.status("app").await.replicas, Some(3));
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"strategy": {"blueGreen": {"scaleDownDelayRevisionLimit": 1}}}}),
    )
    .await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&hashes[1]).await, 0, "revision 2 goes to 0 at once");
    assert_eq!(w.replicas_of(&hashes[2]).await, 1);
}
