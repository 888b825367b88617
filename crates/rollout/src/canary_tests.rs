//! Given/When/Then scenarios of the canary engine, driven by a tiny simulated cluster that
//! executes the commands and makes pods available.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;
use weir_model::rollouts::{AnalysisPhase, Rollout};

use super::{AnalysisKind, AnalysisRunView, Command, Observed, Reconciled, reconcile};
use crate::replicas::ReplicaSetView;
use crate::{REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};

struct World {
    ro: Rollout,
    rss: Vec<ReplicaSetView>,
    runs: Vec<AnalysisRunView>,
    now: Timestamp,
    last: Option<Reconciled>,
}

impl World {
    fn new(ro: Rollout) -> Self {
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        World { ro, rss: Vec::new(), runs: Vec::new(), now, last: None }
    }

    fn pass(&mut self) -> Reconciled {
        let observed = Observed {
            replica_sets: &self.rss,
            analysis_runs: &self.runs,
            invalid_spec: None,
            now: self.now,
        };
        reconcile(&self.ro, &observed)
    }

    /// One reconcile whose commands are executed and whose status is persisted.
    fn step(&mut self) -> Reconciled {
        let out = self.pass();
        for command in &out.commands {
            self.apply(command);
        }
        self.ro.status = Some(out.status.clone());
        self.last = Some(out.clone());
        out
    }

    fn apply(&mut self, command: &Command) {
        match command {
            Command::CreateReplicaSet { name, hash, revision, replicas } => {
                self.rss.push(ReplicaSetView {
                    name: name.clone(),
                    hash: hash.clone(),
                    spec_replicas: Some(*replicas),
                    annotations: BTreeMap::from([(
                        REVISION_ANNOTATION.to_owned(),
                        revision.to_string(),
                    )]),
                    ..ReplicaSetView::default()
                });
            }
            Command::ScaleReplicaSet { name, replicas } => {
                self.rs_mut(name).spec_replicas = Some(*replicas);
            }
            Command::SetScaleDownDeadline { name, deadline } => {
                let rs = self.rs_mut(name);
                match deadline {
                    Some(d) => rs
                        .annotations
                        .insert(SCALE_DOWN_DEADLINE_ANNOTATION.to_owned(), d.to_string()),
                    None => rs.annotations.remove(SCALE_DOWN_DEADLINE_ANNOTATION),
                };
            }
            Command::DeleteReplicaSet { name } => self.rss.retain(|rs| &rs.name != name),
            Command::CreateAnalysisRun { name, kind, labels, .. } => {
                self.runs.push(AnalysisRunView {
                    name: name.clone(),
                    kind: *kind,
                    pod_hash: labels.get("rollouts-pod-template-hash").cloned().unwrap_or_default(),
                    phase: Some(AnalysisPhase::Running),
                    message: String::new(),
                    terminating: false,
                    created: Some(self.now),
                });
            }
            Command::CancelAnalysisRun { name } => {
                if let Some(run) = self.runs.iter_mut().find(|r| &r.name == name) {
                    run.terminating = true;
                }
            }
            Command::SetWeight { .. }
            | Command::SetHeaderRoute(_)
            | Command::SetMirrorRoute(_)
            | Command::RemoveManagedRoutes
            | Command::SetServiceSelector { .. }
            | Command::RequeueAfter(_) => {}
        }
    }

    fn rs_mut(&mut self, name: &str) -> &mut ReplicaSetView {
        self.rss.iter_mut().find(|rs| rs.name == name).expect("known ReplicaSet")
    }

    /// The kubelet: every pod of every ReplicaSet becomes ready and available.
    fn pods_ready(&mut self) {
        for rs in &mut self.rss {
            rs.status_replicas = rs.replicas();
            rs.ready_replicas = rs.replicas();
            rs.available_replicas = rs.replicas();
        }
    }

    /// Reconciles (with pods turning ready) until nothing changes any more.
    fn settle(&mut self) {
        for _ in 0..60 {
            let before = self.ro.status.clone();
            let before_rss = self.rss.clone();
            let out = self.step();
            self.pods_ready();
            let busy = out.commands.iter().any(|c| !matches!(c, Command::RequeueAfter(_)));
            if !busy && Some(&out.status) == before.as_ref() && before_rss == self.rss {
                return;
            }
        }
        panic!("did not settle: {:#?}", self.ro.status);
    }

    fn advance(&mut self, secs: i64) {
        self.now += SignedDuration::from_secs(secs);
    }

    fn status(&self) -> weir_model::rollouts::RolloutStatus {
        self.ro.status.clone().unwrap_or_default()
    }

    fn phase(&self) -> (String, String) {
        let st = self.status();
        (st.phase.unwrap_or_default(), st.message.unwrap_or_default())
    }

    fn replicas_of(&self, hash: &str) -> i32 {
        self.rss.iter().find(|rs| rs.hash == hash).map_or(0, ReplicaSetView::replicas)
    }

    fn weights(&self) -> Option<(i32, i32)> {
        let w = self.status().canary?.weights?;
        Some((w.canary.weight, w.stable.weight))
    }

    fn set_image(&mut self, image: &str) {
        self.ro.spec.template = Some(template(image));
    }

    /// Nothing new: a second pass changes neither the status nor asks for anything.
    fn assert_fixed_point(&mut self) {
        let out = self.pass();
        assert_eq!(Some(&out.status), self.ro.status.as_ref(), "status changed on a second pass");
        let actions: Vec<_> =
            out.commands.iter().filter(|c| !matches!(c, Command::RequeueAfter(_))).collect();
        assert!(actions.is_empty(), "second pass asked for {actions:?}");
    }
}

fn template(image: &str) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    serde_json::from_value(json!({
        "metadata": {"labels": {"app": "reviews"}},
        "spec": {"containers": [{"name": "reviews", "image": image}]}
    }))
    .expect("template")
}

/// The seed demo's `reviews-rollout` (workloadRef resolved into `spec.template`).
fn seed_rollout() -> Rollout {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/seed-demo/argo/rollout/rollout.yaml"
    ))
    .expect("seed rollout");
    let mut ro: Rollout = serde_yaml_ng::from_str(&text).expect("seed rollout yaml");
    ro.metadata.generation = Some(1);
    ro.spec.workload_ref = None;
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

fn basic_rollout(steps: serde_json::Value) -> Rollout {
    let mut ro: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "basic", "generation": 1},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "reviews"}},
                 "strategy": {"canary": {"steps": steps}}}
    }))
    .expect("rollout");
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

fn hash_of(image: &str) -> String {
    crate::hash::pod_template_hash(&template(image), None)
}

#[test]
fn initial_deploy_skips_steps_and_is_healthy() {
    let mut w = World::new(seed_rollout());
    w.settle();
    let st = w.status();
    let v1 = hash_of("reviews:v1");
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(st.current_pod_hash.as_deref(), Some(v1.as_str()));
    assert_eq!(st.current_step_index, Some(10));
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    assert_eq!(w.replicas_of(&v1), 5);
    assert!(w.runs.is_empty(), "no analysis on the initial deploy");
    let cond = |t: &str| {
        crate::conditions::get_condition(&st, t).map(|c| (c.status.clone(), c.reason.clone()))
    };
    assert_eq!(cond("Completed").map(|c| c.0), Some("True".to_owned()));
    assert_eq!(cond("Healthy").map(|c| c.0), Some("True".to_owned()));
    assert_eq!(cond("Available").map(|c| c.0), Some("True".to_owned()));
    assert_eq!(cond("Progressing"), Some(("True".to_owned(), "NewReplicaSetAvailable".to_owned())));
    w.assert_fixed_point();
}

#[test]
fn seed_demo_walks_every_step_then_promotes() {
    let mut w = World::new(seed_rollout());
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    // Paused at the first pause with 10 % on one canary pod; stable stays at 5.
    assert_eq!(w.status().current_step_index, Some(1));
    assert_eq!(w.phase(), ("Paused".to_owned(), "CanaryPauseStep".to_owned()));
    assert_eq!(w.weights(), Some((10, 90)));
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (1, 5));
    assert!(w.runs.is_empty(), "background analysis waits for startingStep 2");
    w.assert_fixed_point();

    let expected = [(3, 20, 1), (5, 40, 2), (7, 60, 3), (9, 80, 4)];
    w.advance(600);
    w.settle();
    for (index, weight, pods) in expected {
        assert_eq!(w.status().current_step_index, Some(index), "at {weight} %");
        assert_eq!(w.weights(), Some((weight, 100 - weight)));
        assert_eq!(w.replicas_of(&v2), pods);
        assert_eq!(w.phase().0, "Paused");
        w.assert_fixed_point();
        let bg: Vec<_> = w.runs.iter().filter(|r| r.kind == AnalysisKind::Background).collect();
        assert_eq!(bg.len(), 1, "one background run from step 2 on");
        assert_eq!(bg[0].name, format!("reviews-rollout-{v2}-2"));
        w.advance(300);
        w.settle();
    }
    // Past the last pause: 100 %, promoted, background analysis cancelled.
    let st = w.status();
    assert_eq!(st.stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!(st.current_step_index, Some(10));
    assert_eq!(w.weights(), Some((0, 100)));
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    assert!(w.runs.iter().all(|r| r.terminating), "analysis cancelled at promotion");
    // The old stable keeps its pods for scaleDownDelaySeconds, then goes to 0.
    assert_eq!(w.replicas_of(&v1), 5);
    assert!(
        w.rss
            .iter()
            .any(|rs| rs.hash == v1 && rs.annotations.contains_key(SCALE_DOWN_DEADLINE_ANNOTATION))
    );
    w.advance(30);
    w.settle();
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (5, 0));
    w.assert_fixed_point();
}

#[test]
fn failed_background_analysis_aborts_back_to_stable() {
    let mut w = World::new(seed_rollout());
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    w.advance(600);
    w.settle();
    w.advance(300);
    w.settle();
    assert_eq!(w.weights(), Some((40, 60)));
    let message = "Metric \"apdex\" assessed Failed due to failed (1) > failureLimit (0)";
    for run in &mut w.runs {
        run.phase = Some(AnalysisPhase::Failed);
        run.message = message.to_owned();
    }
    let out = w.step();
    // All traffic back on stable at once, the canary subset pointed at stable.
    assert!(out.commands.contains(&Command::SetWeight {
        canary: 0,
        stable: 100,
        canary_hash: v1.clone(),
        stable_hash: v1.clone()
    }));
    w.settle();
    let st = w.status();
    assert_eq!(st.abort, Some(true));
    assert_eq!(st.current_step_index, Some(0));
    assert!(st.pause_conditions.is_none());
    assert_eq!(w.weights(), Some((0, 100)));
    assert_eq!(
        w.phase(),
        (
            "Degraded".to_owned(),
            format!(
                "RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: {message}"
            )
        )
    );
    assert_eq!(w.replicas_of(&v1), 5);
    // The canary keeps its pods for abortScaleDownDelaySeconds, then goes to 0.
    assert_eq!(w.replicas_of(&v2), 2);
    w.advance(30);
    w.settle();
    assert_eq!(w.replicas_of(&v2), 0);
    assert_eq!(w.status().stable_rs.as_deref(), Some(v1.as_str()), "never promoted");
    w.assert_fixed_point();
}

#[test]
fn basic_canary_pauses_at_one_of_five_then_promote_finishes() {
    let mut w = World::new(basic_rollout(json!([{"setWeight": 20}, {"pause": {}}])));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    let st = w.status();
    assert_eq!(st.current_step_index, Some(1));
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (1, 4));
    assert_eq!(st.controller_pause, Some(true));
    assert_eq!(w.phase(), ("Paused".to_owned(), "CanaryPauseStep".to_owned()));
    assert!(st.canary.and_then(|c| c.weights).is_none(), "no weights without traffic routing");
    w.assert_fixed_point();
    // `promote`: the user clears the pause conditions.
    w.ro.status.as_mut().expect("status").pause_conditions = None;
    w.settle();
    let st = w.status();
    assert_eq!(st.stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (5, 0));
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
}

#[test]
fn manual_abort_then_retry_restarts_the_steps() {
    let mut w = World::new(basic_rollout(json!([{"setWeight": 20}, {"pause": {}}])));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    w.ro.status.as_mut().expect("status").abort = Some(true);
    w.settle();
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (0, 5));
    assert_eq!(
        w.phase(),
        ("Degraded".to_owned(), "RolloutAborted: Rollout aborted update to revision 2".to_owned())
    );
    assert!(w.status().aborted_at.is_some());
    w.assert_fixed_point();
    w.ro.status.as_mut().expect("status").abort = Some(false);
    w.step();
    let progressing =
        crate::conditions::get_condition(&w.status(), "Progressing").map(|c| c.reason.clone());
    assert_eq!(progressing.as_deref(), Some("RolloutRetry"));
    w.settle();
    assert_eq!(w.status().current_step_index, Some(1));
    assert_eq!((w.replicas_of(&v2), w.replicas_of(&v1)), (1, 4));
    assert_eq!(w.phase().0, "Paused");
}

#[test]
fn timed_pause_requeues_at_expiry() {
    let mut w =
        World::new(basic_rollout(json!([{"setWeight": 50}, {"pause": {"duration": "3s"}}])));
    w.settle();
    w.set_image("reviews:v2");
    w.settle();
    let out = w.pass();
    assert!(out.commands.contains(&Command::RequeueAfter(std::time::Duration::from_secs(3))));
    w.advance(3);
    w.settle();
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
}

#[test]
fn step_analysis_inconclusive_pauses_failed_aborts() {
    let mut w = World::new(basic_rollout(
        json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "t"}]}}, {"setWeight": 100}]),
    ));
    w.settle();
    w.set_image("reviews:v2");
    w.settle();
    let v2 = hash_of("reviews:v2");
    let run = w.runs.iter().find(|r| r.kind == AnalysisKind::Step(1)).expect("step run").clone();
    assert_eq!(run.name, format!("basic-{v2}-2-1"));
    let st = w.status();
    assert_eq!(
        st.canary.and_then(|c| c.current_step_analysis_run_status).map(|s| s.status),
        Some("Running".to_owned())
    );
    w.runs[0].phase = Some(AnalysisPhase::Inconclusive);
    w.settle();
    assert_eq!(w.phase(), ("Paused".to_owned(), "InconclusiveAnalysisRun".to_owned()));
    w.runs[0].phase = Some(AnalysisPhase::Failed);
    w.runs[0].message = "boom".to_owned();
    w.ro.status.as_mut().expect("status").pause_conditions = None;
    w.settle();
    assert_eq!(w.phase().0, "Degraded");
    assert!(
        w.phase().1.ends_with("Step-based analysis phase error/failed: boom"),
        "{:?}",
        w.phase()
    );
}

#[test]
fn experiment_steps_are_reported_not_ignored() {
    let mut w = World::new(basic_rollout(json!([{"experiment": {"templates": []}}])));
    w.settle();
    let (phase, message) = w.phase();
    assert_eq!(phase, "Degraded");
    assert!(
        message.starts_with("InvalidSpec: spec.strategy.canary.steps[0].experiment"),
        "{message}"
    );
    assert!(w.rss.is_empty());
}

#[test]
fn manual_pause_halts_scaling() {
    let mut w = World::new(basic_rollout(json!([{"setWeight": 20}, {"pause": {}}])));
    w.settle();
    w.ro.spec.paused = Some(true);
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(w.replicas_of(&hash_of("reviews:v2")), 0);
    assert_eq!(w.phase(), ("Paused".to_owned(), "manually paused".to_owned()));
    let progressing =
        crate::conditions::get_condition(&w.status(), "Progressing").map(|c| c.reason.clone());
    assert_eq!(progressing.as_deref(), Some("RolloutPaused"));
}

fn blue_green_rollout(strategy: serde_json::Value) -> Rollout {
    let mut ro: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "bg", "generation": 1},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "reviews"}},
                 "strategy": {"blueGreen": strategy}}
    }))
    .expect("rollout");
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

fn selectors(w: &World) -> (String, String) {
    let bg = w.status().blue_green.unwrap_or_default();
    (bg.active_selector.unwrap_or_default(), bg.preview_selector.unwrap_or_default())
}

#[test]
fn blue_green_auto_promotion() {
    let mut w = World::new(blue_green_rollout(
        json!({"activeService": "active", "previewService": "preview"}),
    ));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    assert_eq!(selectors(&w), (v1.clone(), v1.clone()));
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(selectors(&w), (v2.clone(), v2.clone()));
    assert_eq!(w.status().stable_rs.as_deref(), Some(v2.as_str()));
    assert!(w.status().pause_conditions.is_none());
    assert_eq!(w.replicas_of(&v1), 3, "old active keeps its pods for scaleDownDelaySeconds");
    w.advance(30);
    w.settle();
    assert_eq!(w.replicas_of(&v1), 0);
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    w.assert_fixed_point();
}

#[test]
fn blue_green_manual_promotion_with_preview_replicas() {
    let mut w = World::new(blue_green_rollout(json!({
        "activeService": "active", "previewService": "preview",
        "autoPromotionEnabled": false, "previewReplicaCount": 1
    })));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(w.phase(), ("Paused".to_owned(), "BlueGreenPause".to_owned()));
    assert_eq!(selectors(&w), (v1.clone(), v2.clone()));
    assert_eq!(w.replicas_of(&v2), 1);
    w.assert_fixed_point();
    w.ro.status.as_mut().expect("status").pause_conditions = None;
    w.settle();
    assert_eq!(w.status().blue_green.and_then(|b| b.scale_up_preview_check_point), Some(true));
    assert_eq!(w.replicas_of(&v2), 3);
    assert_eq!(selectors(&w).0, v2);
    assert_eq!(w.status().stable_rs.as_deref(), Some(v2.as_str()));
}

#[test]
fn blue_green_post_promotion_failure_switches_back() {
    let mut w = World::new(blue_green_rollout(json!({
        "activeService": "active",
        "postPromotionAnalysis": {"templates": [{"templateName": "t"}]}
    })));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(selectors(&w).0, v2);
    assert_eq!(w.status().stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(
        w.phase(),
        ("Progressing".to_owned(), "waiting for analysis to complete".to_owned())
    );
    let run = w.runs.iter_mut().find(|r| r.kind == AnalysisKind::PostPromotion).expect("post run");
    assert_eq!(run.name, format!("bg-{v2}-2-post"));
    run.phase = Some(AnalysisPhase::Failed);
    run.message = "boom".to_owned();
    w.settle();
    assert_eq!(selectors(&w).0, v1, "active goes back to stable");
    assert_eq!(w.phase().0, "Degraded");
    assert!(
        w.phase().1.ends_with("PostPromotion analysis phase error/failed: boom"),
        "{:?}",
        w.phase()
    );
    w.advance(30);
    w.settle();
    assert_eq!((w.replicas_of(&v1), w.replicas_of(&v2)), (3, 0));
}
