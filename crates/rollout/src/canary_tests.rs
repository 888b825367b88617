//! Given/When/Then scenarios of the canary engine against the simulated cluster of
//! [`crate::test_world`].

use weir_model::rollouts::{AnalysisPhase, Rollout};

use crate::SCALE_DOWN_DEADLINE_ANNOTATION;
use crate::canary::{AnalysisKind, Command};
use crate::test_world::{World, basic_rollout, hash_of, json, seed_rollout};

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
        message.starts_with(
            "InvalidSpec: The Rollout \"basic\" is invalid: spec.strategy.canary.steps[0].experiment"
        ),
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

fn istio_rollout(replicas: i32, steps: serde_json::Value) -> Rollout {
    let mut ro = seed_rollout();
    ro.spec.replicas = Some(replicas);
    let canary = ro.spec.strategy.as_mut().and_then(|s| s.canary.as_mut()).expect("canary");
    canary.analysis = None;
    canary.steps = Some(serde_json::from_value(steps).expect("steps"));
    ro
}

#[test]
fn weight_lags_pods_and_stable_stays_full() {
    let steps = json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]);
    let mut w = World::new(istio_rollout(4, steps));
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(w.weights(), Some((25, 75)));
    w.ro.status.as_mut().expect("status").pause_conditions = None;
    w.step(); // completes the pause: index 2
    w.step(); // scales the canary to 3
    assert_eq!(w.replicas_of(&v2), 3);
    let canary = w.rss.iter_mut().find(|rs| rs.hash == v2).expect("canary");
    (canary.status_replicas, canary.available_replicas) = (3, 1);
    w.step();
    assert_eq!(w.weights(), Some((25, 75)), "1 of 3 canary pods available: weight stays");
    w.pods_ready();
    w.step();
    assert_eq!(w.weights(), Some((75, 25)));
    assert_eq!(w.replicas_of(&v1), 4, "no dynamicStableScale: stable stays at 100 %");
}

#[test]
fn reapplying_the_stable_template_after_abort_skips_steps() {
    let mut w = World::new(basic_rollout(json!([{"setWeight": 20}, {"pause": {}}])));
    w.settle();
    let v1 = hash_of("reviews:v1");
    w.set_image("reviews:v2");
    w.settle();
    w.ro.status.as_mut().expect("status").abort = Some(true);
    w.settle();
    w.set_image("reviews:v1");
    let out = w.step();
    assert!(out.events.iter().any(|e| e.reason == "SkipSteps"), "{:?}", out.events);
    assert!(!out.commands.iter().any(|c| matches!(c, Command::CreateReplicaSet { .. })));
    w.settle();
    let st = w.status();
    assert_eq!(st.current_step_index, Some(2));
    assert_eq!(st.stable_rs.as_deref(), Some(v1.as_str()));
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
}

#[test]
fn progress_deadline_degrades_then_recovers() {
    let mut ro = basic_rollout(json!([{"setWeight": 20}, {"pause": {}}]));
    ro.spec.progress_deadline_seconds = Some(5);
    let mut w = World::new(ro);
    w.settle();
    w.set_image("reviews:v2");
    w.step();
    w.step();
    w.step(); // the canary pod never turns ready
    w.advance(10);
    w.step();
    let (phase, message) = w.phase();
    assert_eq!(phase, "Degraded");
    assert!(message.starts_with("ProgressDeadlineExceeded: ReplicaSet \"basic-"), "{message}");
    w.settle();
    assert_eq!(w.phase(), ("Paused".to_owned(), "CanaryPauseStep".to_owned()));
}

#[test]
fn a_template_that_comes_back_is_a_new_revision_with_its_own_analysis() {
    let mut w = World::new(seed_rollout());
    w.settle();
    let v2 = hash_of("reviews:v2");
    w.set_image("reviews:v2");
    w.settle();
    w.advance(600);
    w.settle();
    assert!(w.runs.iter().any(|r| r.name == format!("reviews-rollout-{v2}-2")));
    // v3, then back to v2 (a revert in git) before v3 finishes: v2's ReplicaSet is reused.
    w.set_image("reviews:v3");
    w.settle();
    w.set_image("reviews:v2");
    w.settle();
    let revision = |hash: &str| {
        let rs = w.rss.iter().find(|rs| rs.hash == hash).unwrap();
        rs.annotations.get(crate::REVISION_ANNOTATION).cloned()
    };
    assert_eq!(revision(&v2).as_deref(), Some("4"), "v1 = 1, v2 = 2, v3 = 3, v2 again = 4");
    w.assert_fixed_point();
}
