//! Issue 14: behaviours Argo Rollouts' own end-to-end scenarios expect (its `test/e2e/`
//! suites) that weir got wrong, each as a Given/When/Then case of our own over the scenario
//! [`World`]. The expected values come from Argo's controller code as
//! `shared/specs/argo-rollouts.md` describes it (section named in each test).

use serde_json::{Value, json};
use weir_cluster::Cluster;
use weir_rollout_controller::ops;

use crate::harness::*;

fn selector_hash(svc: &Value) -> String {
    svc["spec"]["selector"]["rollouts-pod-template-hash"].as_str().unwrap_or("").to_owned()
}

/// `(status, reason, message)` of the Progressing condition.
async fn progressing(w: &World, name: &str) -> (String, String, String) {
    let st = w.status(name).await;
    let c = weir_rollout::conditions::get_condition(&st, "Progressing").expect("Progressing");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// Creates `rollout` and runs one pass; returns the hash of the ReplicaSet it created.
async fn first_pass(w: &World, rollout: Value) -> String {
    let name = rollout["metadata"]["name"].as_str().expect("name").to_owned();
    w.create(rollout).await;
    w.reconcile(&name).await;
    w.status(&name).await.current_pod_hash.expect("current hash")
}

// ---- item 2: progressDeadlineSeconds on the first revision (spec §3.10) ----

both_backends!(a_first_revision_that_never_becomes_available_exceeds_its_deadline);
async fn a_first_revision_that_never_becomes_available_exceeds_its_deadline(backend: Backend) {
    let mut w = World::on(backend).await;
    let mut rollout = canary_rollout("app", 2, json!({"steps": [{"setWeight": 50}]}));
    rollout["spec"]["progressDeadlineSeconds"] = json!(30);
    let v1 = first_pass(&w, rollout).await;
    w.ready_limit.insert(v1.clone(), 0); // its pods crash-loop from the start
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Progressing");
    w.advance(31);
    w.settle("app").await;
    let message = format!("ReplicaSet \"app-{v1}\" has timed out progressing.");
    assert_eq!(
        progressing(&w, "app").await,
        ("False".into(), "ProgressDeadlineExceeded".into(), message.clone())
    );
    assert_eq!(
        w.phase("app").await,
        ("Degraded".into(), format!("ProgressDeadlineExceeded: {message}"))
    );
    // Not terminal (§3.10): the pods turn ready and the rollout recovers.
    w.ready_limit.clear();
    w.settle("app").await;
    assert_eq!(w.phase("app").await, ("Healthy".into(), String::new()));
}

both_backends!(a_first_revision_past_its_deadline_aborts_with_progress_deadline_abort);
async fn a_first_revision_past_its_deadline_aborts_with_progress_deadline_abort(backend: Backend) {
    let mut w = World::on(backend).await;
    let mut rollout = canary_rollout("app", 2, json!({}));
    rollout["spec"]["progressDeadlineSeconds"] = json!(20);
    rollout["spec"]["progressDeadlineAbort"] = json!(true);
    let v1 = first_pass(&w, rollout).await;
    w.ready_limit.insert(v1.clone(), 0);
    w.settle("app").await;
    w.advance(21);
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.abort, Some(true), "{st:#?}");
    let (phase, message) = w.phase("app").await;
    assert_eq!(phase, "Degraded");
    assert_eq!(
        message,
        format!(
            "RolloutAborted: Rollout aborted update to revision 1: \
             ReplicaSet \"app-{v1}\" has timed out progressing."
        )
    );
    assert!(w.event_reasons("app").await.contains(&"RolloutAborted".to_owned()));
}

both_backends!(a_blue_green_first_revision_exceeds_its_deadline_too);
async fn a_blue_green_first_revision_exceeds_its_deadline_too(backend: Backend) {
    let mut w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let mut rollout = blue_green_rollout("app", 2, json!({}));
    rollout["spec"]["progressDeadlineSeconds"] = json!(15);
    let v1 = first_pass(&w, rollout).await;
    w.ready_limit.insert(v1.clone(), 0);
    w.settle("app").await;
    w.advance(16);
    w.settle("app").await;
    let (status, reason, _) = progressing(&w, "app").await;
    assert_eq!((status.as_str(), reason.as_str()), ("False", "ProgressDeadlineExceeded"));
    assert_eq!(w.phase("app").await.0, "Degraded");
}

// ---- item 3: blue-green Service selectors driven every pass (spec §2.5, §3.13) ----

both_backends!(blue_green_services_get_their_hash_selector_back_after_a_reapply);
async fn blue_green_services_get_their_hash_selector_back_after_a_reapply(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let v1 = healthy(&w, blue_green_rollout("app", 2, json!({}))).await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    // `weir apply` replaces the Services' spec with what git holds: `{app: app}` only.
    for s in ["app-active", "app-preview"] {
        let selector = json!({"spec": {"selector": {"rollouts-pod-template-hash": null}}});
        w.patch("services", s, selector).await;
        assert_eq!(w.get("services", s).await["spec"]["selector"], json!({"app": "app"}));
    }
    w.reconcile("app").await;
    for s in ["app-active", "app-preview"] {
        let svc = w.get("services", s).await;
        assert_eq!(
            svc["spec"]["selector"],
            json!({"app": "app", "rollouts-pod-template-hash": v1})
        );
    }
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(a_blue_green_update_keeps_active_on_stable_and_preview_on_new_every_pass);
async fn a_blue_green_update_keeps_active_on_stable_and_preview_on_new_every_pass(
    backend: Backend,
) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    let extra = json!({"autoPromotionEnabled": false});
    let v1 = healthy(&w, blue_green_rollout("app", 1, extra)).await;
    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    assert_eq!(w.phase("app").await.0, "Paused");
    for s in ["app-active", "app-preview"] {
        let selector = json!({"spec": {"selector": {"rollouts-pod-template-hash": null}}});
        w.patch("services", s, selector).await;
    }
    w.reconcile("app").await;
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    assert_eq!(selector_hash(&w.get("services", "app-preview").await), v2);
}

// ---- item 6: workloadObservedGeneration (Argo's `persistRolloutStatus`) ----

both_backends!(switching_from_workload_ref_to_a_template_clears_workload_observed_generation);
async fn switching_from_workload_ref_to_a_template_clears_workload_observed_generation(
    backend: Backend,
) {
    let w = World::on(backend).await;
    w.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "app"}},
                 "template": template("app", "app:v1")}}))
        .await;
    let mut rollout = canary_rollout("app", 2, json!({}));
    let spec = rollout["spec"].as_object_mut().expect("spec");
    spec.remove("template");
    spec.insert(
        "workloadRef".into(),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}),
    );
    healthy(&w, rollout).await;
    assert_eq!(w.status("app").await.workload_observed_generation.as_deref(), Some("1"));
    w.patch(
        "rollouts",
        "app",
        json!({"spec": {"workloadRef": null, "template": template("app", "app:v1")}}),
    )
    .await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.workload_observed_generation, None, "{st:#?}");
    assert_eq!(st.phase.as_deref(), Some("Healthy"));
}

// ---- item 5: removing trafficRouting releases the DestinationRule (Argo's Istio controller) ----

const MANAGED: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

both_backends!(removing_traffic_routing_releases_the_destination_rule);
async fn removing_traffic_routing_releases_the_destination_rule(backend: Backend) {
    let w = World::on(backend).await;
    for o in subset_level_objects("app") {
        w.create(o).await;
    }
    let canary = with(subset_level_routing("app"), json!({"steps": [{"setWeight": 50}]}));
    let v1 = healthy(&w, canary_rollout("app", 2, canary)).await;
    let dr = w.get("destinationrules", "app").await;
    assert_eq!(dr["metadata"]["annotations"][MANAGED], "app", "{dr:#}");
    assert_eq!(dr["spec"]["subsets"][0]["labels"]["rollouts-pod-template-hash"], v1.as_str());

    w.patch("rollouts", "app", json!({"spec": {"strategy": {"canary": {"trafficRouting": null}}}}))
        .await;
    w.settle("app").await;
    let dr = w.get("destinationrules", "app").await;
    assert!(dr["metadata"]["annotations"].get(MANAGED).is_none(), "{dr:#}");
    for subset in dr["spec"]["subsets"].as_array().expect("subsets") {
        assert_eq!(subset["labels"], json!({"app": "app"}), "{dr:#}");
    }
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(deleting_the_rollout_releases_the_destination_rule);
async fn deleting_the_rollout_releases_the_destination_rule(backend: Backend) {
    let w = World::on(backend).await;
    for o in subset_level_objects("app") {
        w.create(o).await;
    }
    let canary = with(subset_level_routing("app"), json!({"steps": [{"setWeight": 50}]}));
    healthy(&w, canary_rollout("app", 1, canary)).await;
    let params = weir_cluster::DeleteParams::default();
    w.store.delete(&rt("rollouts"), Some(NS), "app", &params).await.expect("delete");
    w.reconcile("app").await;
    let dr = w.get("destinationrules", "app").await;
    assert!(dr["metadata"]["annotations"].get(MANAGED).is_none(), "{dr:#}");
    assert!(dr["spec"]["subsets"][0]["labels"].get("rollouts-pod-template-hash").is_none());
}

both_backends!(a_destination_rule_of_another_rollout_is_left_alone);
async fn a_destination_rule_of_another_rollout_is_left_alone(backend: Backend) {
    let w = World::on(backend).await;
    for o in subset_level_objects("app") {
        w.create(o).await;
    }
    let canary = with(subset_level_routing("app"), json!({"steps": [{"setWeight": 50}]}));
    healthy(&w, canary_rollout("app", 2, canary)).await;
    let before = w.get("destinationrules", "app").await;
    healthy(&w, canary_rollout("other", 1, json!({}))).await;
    assert_eq!(w.get("destinationrules", "app").await["spec"], before["spec"]);
    assert_eq!(
        w.get("destinationrules", "app").await["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
}

// ---- item 4: fast-tracked blue-green rollback (spec §3.13 "Fast-track") ----

fn analysis_template(name: &str) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
           "metadata": {"name": name},
           "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}})
}

/// Marks the AnalysisRun `name` Successful (the analysis controller's job, done by hand).
async fn succeed(w: &World, name: &str) {
    assert!(
        w.list("analysisruns").await.iter().any(|r| r["metadata"]["name"] == name),
        "{name} exists"
    );
    w.patch_status("analysisruns", name, json!({"status": {"phase": "Successful"}})).await;
}

both_backends!(rolling_back_within_the_scale_down_delay_is_promoted_at_once);
async fn rolling_back_within_the_scale_down_delay_is_promoted_at_once(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    w.create(analysis_template("check")).await;
    let extra = json!({
        "prePromotionAnalysis": {"templates": [{"templateName": "check"}]},
        "postPromotionAnalysis": {"templates": [{"templateName": "check"}]},
        "scaleDownDelaySeconds": 600});
    let v1 = healthy(&w, blue_green_rollout("app", 2, extra)).await;
    assert!(w.list("analysisruns").await.is_empty(), "the first deploy runs no analysis");

    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    succeed(&w, &format!("app-{v2}-2-pre")).await;
    w.settle("app").await;
    succeed(&w, &format!("app-{v2}-2-post")).await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    let old = w.replica_set_of(&v1).await;
    assert!(old["metadata"]["annotations"]["scale-down-deadline"].is_string(), "{old:#}");
    assert_eq!(old["spec"]["replicas"], 2, "v1 keeps its pods for scaleDownDelaySeconds");

    // Back to v1 while it still runs: no analysis, no pause, promoted at once.
    w.set_image("app", "app:v1").await;
    w.settle("app").await;
    let st = w.status("app").await;
    assert_eq!(st.phase.as_deref(), Some("Healthy"), "{st:#?}");
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    assert_eq!(w.list("analysisruns").await.len(), 2, "still the two runs of v2");
    let back = w.replica_set_of(&v1).await;
    assert!(back["metadata"]["annotations"].get("scale-down-deadline").is_none(), "{back:#}");
    assert_eq!(back["metadata"]["annotations"]["rollout.argoproj.io/revision"], "3");
    // v2 is now the old one and waits out its own delay.
    assert_eq!(w.replicas_of(&v2).await, 2);
    w.advance(601);
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v2).await, 0);
}

both_backends!(rolling_back_to_a_scaled_down_revision_runs_the_analysis_again);
async fn rolling_back_to_a_scaled_down_revision_runs_the_analysis_again(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    w.create(analysis_template("check")).await;
    let extra = json!({"prePromotionAnalysis": {"templates": [{"templateName": "check"}]},
                       "scaleDownDelaySeconds": 0});
    let v1 = healthy(&w, blue_green_rollout("app", 1, extra)).await;
    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    succeed(&w, &format!("app-{v2}-2-pre")).await;
    w.settle("app").await;
    assert_eq!(w.replicas_of(&v1).await, 0, "no delay: v1 is scaled down at once");
    w.set_image("app", "app:v1").await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()), "not fast-tracked");
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v2);
    assert_eq!(w.list("analysisruns").await.len(), 2, "a new pre-promotion run");
}

both_backends!(rolling_back_within_the_rollback_window_skips_blue_green_analysis);
async fn rolling_back_within_the_rollback_window_skips_blue_green_analysis(backend: Backend) {
    let w = World::on(backend).await;
    for s in ["app-active", "app-preview"] {
        w.create(service(s, "app")).await;
    }
    w.create(analysis_template("check")).await;
    // `rollbackWindow` fast-tracks a ReplicaSet that still runs its pods, whether or not it
    // carries a scale-down deadline (the deadline is removed by hand below).
    let extra = json!({"prePromotionAnalysis": {"templates": [{"templateName": "check"}]}});
    let mut rollout = blue_green_rollout("app", 1, extra);
    rollout["spec"]["rollbackWindow"] = json!({"revisions": 2});
    let v1 = healthy(&w, rollout).await;
    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    let v2 = w.status("app").await.current_pod_hash.expect("hash");
    succeed(&w, &format!("app-{v2}-2-pre")).await;
    w.settle("app").await;
    assert_eq!(w.status("app").await.stable_rs.as_deref(), Some(v2.as_str()));
    // v1 still runs, without a deadline.
    w.patch(
        "replicasets",
        &format!("app-{v1}"),
        json!({"metadata": {"annotations": {"scale-down-deadline": null}}, "spec": {"replicas": 1}}),
    )
    .await;
    w.kubelet().await;
    w.set_image("app", "app:v1").await;
    w.reconcile("app").await;
    let st = w.status("app").await;
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()), "{st:#?}");
    assert_eq!(selector_hash(&w.get("services", "app-active").await), v1);
    assert_eq!(w.list("analysisruns").await.len(), 1);
}

// ---- item 1: pingPong with Istio (spec §2.2 `pingPong`, Argo's `promoteStable`) ----

fn ping_pong_objects() -> Vec<Value> {
    vec![
        service("web-ping", "web"),
        service("web-pong", "web"),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": "web"},
               "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": [
                   {"destination": {"host": "web-ping"}, "weight": 100},
                   {"destination": {"host": "web-pong"}, "weight": 0}]}]}}),
    ]
}

fn ping_pong_canary() -> Value {
    json!({"pingPong": {"pingService": "web-ping", "pongService": "web-pong"},
           "trafficRouting": {"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}},
           "steps": [{"setWeight": 25}, {"pause": {}}]})
}

both_backends!(ping_and_pong_swap_roles_each_release);
async fn ping_and_pong_swap_roles_each_release(backend: Backend) {
    let w = World::on(backend).await;
    for o in ping_pong_objects() {
        w.create(o).await;
    }
    let v1 = healthy(&w, canary_rollout("web", 4, ping_pong_canary())).await;
    let stable_side = |st: &weir_model::rollouts::RolloutStatus| {
        st.canary.as_ref().and_then(|c| c.stable_ping_pong.clone()).unwrap_or_default()
    };
    // The initial deploy puts v1 behind pong (the canary side while nothing was stable) and
    // promotes it: pong is stable and takes all traffic.
    assert_eq!(stable_side(&w.status("web").await), "pong");
    assert_eq!(selector_hash(&w.get("services", "web-pong").await), v1);
    assert_eq!(w.vs_weights("web", "web-ping", "web-pong").await, (0, 100));

    // Release 2 goes behind ping, which gets the canary weight.
    w.set_image("web", "web:v2").await;
    w.settle("web").await;
    let v2 = w.status("web").await.current_pod_hash.expect("hash");
    assert_eq!(w.phase("web").await.0, "Paused");
    assert_eq!(selector_hash(&w.get("services", "web-ping").await), v2);
    assert_eq!(selector_hash(&w.get("services", "web-pong").await), v1);
    assert_eq!(w.vs_weights("web", "web-ping", "web-pong").await, (25, 75));

    // Promoted: ping is stable with all traffic; pong keeps v1 until the next release.
    w.op("web", ops::promote(&w.rollout("web").await, false)).await;
    w.settle("web").await;
    let st = w.status("web").await;
    assert_eq!(st.phase.as_deref(), Some("Healthy"), "{st:#?}");
    assert_eq!(stable_side(&st), "ping");
    assert_eq!(w.vs_weights("web", "web-ping", "web-pong").await, (100, 0));
    assert_eq!(selector_hash(&w.get("services", "web-ping").await), v2);

    // Release 3 goes behind pong again.
    w.set_image("web", "web:v3").await;
    w.settle("web").await;
    let v3 = w.status("web").await.current_pod_hash.expect("hash");
    assert_eq!(selector_hash(&w.get("services", "web-pong").await), v3);
    assert_eq!(w.vs_weights("web", "web-pong", "web-ping").await, (25, 75));
}

both_backends!(ping_pong_without_both_services_is_invalid);
async fn ping_pong_without_both_services_is_invalid(backend: Backend) {
    let w = World::on(backend).await;
    for o in ping_pong_objects() {
        w.create(o).await;
    }
    let mut canary = ping_pong_canary();
    canary["pingPong"] = json!({"pingService": "web-ping"});
    w.create(canary_rollout("web", 1, canary)).await;
    w.reconcile("web").await;
    let (phase, message) = w.phase("web").await;
    assert_eq!(phase, "Degraded");
    assert!(message.starts_with("InvalidSpec: "), "{message}");
    // The field path as Argo's validation writes it (`spec.strategy.pingPong…`).
    assert!(message.contains("pingPong.pongService: Invalid value: \"\""), "{message}");
    assert!(w.list("replicasets").await.is_empty(), "nothing runs");
}

both_backends!(ping_pong_naming_a_missing_service_is_invalid);
async fn ping_pong_naming_a_missing_service_is_invalid(backend: Backend) {
    let w = World::on(backend).await;
    for o in ping_pong_objects().into_iter().filter(|o| o["metadata"]["name"] != "web-pong") {
        w.create(o).await;
    }
    w.create(canary_rollout("web", 1, ping_pong_canary())).await;
    w.reconcile("web").await;
    let (phase, message) = w.phase("web").await;
    assert_eq!(phase, "Degraded");
    assert!(
        message.contains(
            r#"spec.strategy.canary.pingPong.pongService: Invalid value: "web-pong": services "web-pong" not found"#
        ),
        "{message}"
    );
}

// ---- item 9 (rollout parts): the progress message names the Rollout without a ReplicaSet ----

both_backends!(an_invalid_rollout_never_reports_an_unnamed_replica_set);
async fn an_invalid_rollout_never_reports_an_unnamed_replica_set(backend: Backend) {
    let w = World::on(backend).await;
    // The active Service is missing: InvalidSpec, no ReplicaSet.
    w.create(blue_green_rollout("app", 1, json!({"previewService": ""}))).await;
    w.reconcile("app").await;
    w.reconcile("app").await;
    let st = w.status("app").await;
    for c in st.conditions.as_deref().unwrap_or(&[]) {
        assert!(!c.message.contains("ReplicaSet \"\""), "{c:?}");
    }
    assert_eq!(w.phase("app").await.0, "Degraded");
}
