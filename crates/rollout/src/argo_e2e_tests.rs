//! Engine-level cases of the Argo e2e behaviours weir got wrong (issue 14): the progress
//! deadline of a first revision, `pingPong`'s stable side flipping at each promotion, and the
//! fast-tracked blue-green rollback. Expected values follow Argo's controller code as
//! `shared/specs/argo-rollouts.md` describes it (§3.10, §2.2 `pingPong`, §3.13 fast-track).

use weir_model::rollouts::{AnalysisPhase, Rollout};

use crate::canary::{AnalysisKind, Command};
use crate::conditions::{PROGRESSING, get_condition};
use crate::test_world::{World, basic_rollout, hash_of, json, template};

/// Marks every pod of every ReplicaSet created but never ready (a crash loop).
fn pods_crash_looping(w: &mut World) {
    for rs in &mut w.rss {
        rs.status_replicas = rs.replicas();
        rs.ready_replicas = 0;
        rs.available_replicas = 0;
    }
}

#[test]
fn a_first_revision_times_out_and_recovers() {
    let mut ro = basic_rollout(json!([{"setWeight": 20}]));
    ro.spec.progress_deadline_seconds = Some(10);
    let mut w = World::new(ro);
    for _ in 0..3 {
        w.step();
        pods_crash_looping(&mut w);
    }
    assert_eq!(w.phase().0, "Progressing");
    let v1 = hash_of("reviews:v1");
    assert_eq!(w.status().stable_rs.as_deref(), Some(v1.as_str()), "Initial deploy: stable");
    w.advance(11);
    w.step();
    let c = get_condition(&w.status(), PROGRESSING).cloned().expect("Progressing");
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "ProgressDeadlineExceeded"));
    assert_eq!(c.message, format!("ReplicaSet \"basic-{v1}\" has timed out progressing."));
    assert_eq!(w.phase().0, "Degraded");
    assert_eq!(w.status().abort, None, "no abort without progressDeadlineAbort");
    w.pods_ready();
    w.settle();
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    w.assert_fixed_point();
}

#[test]
fn a_first_revision_past_its_deadline_aborts_and_stays_aborted() {
    let mut ro = basic_rollout(json!([]));
    ro.spec.progress_deadline_seconds = Some(10);
    ro.spec.progress_deadline_abort = Some(true);
    let mut w = World::new(ro);
    for _ in 0..3 {
        w.step();
        pods_crash_looping(&mut w);
    }
    w.advance(11);
    for _ in 0..3 {
        w.step();
        pods_crash_looping(&mut w);
    }
    assert_eq!(w.status().abort, Some(true));
    let (phase, message) = w.phase();
    assert_eq!(phase, "Degraded");
    assert!(message.starts_with("RolloutAborted: Rollout aborted update to revision 1: "));
}

#[test]
fn a_finished_rollout_whose_pods_fail_later_never_times_out() {
    let mut ro = basic_rollout(json!([]));
    ro.spec.progress_deadline_seconds = Some(10);
    ro.spec.progress_deadline_abort = Some(true);
    let mut w = World::new(ro);
    w.settle();
    pods_crash_looping(&mut w);
    w.advance(60);
    w.step();
    w.advance(60);
    w.step();
    let c = get_condition(&w.status(), PROGRESSING).cloned().expect("Progressing");
    assert_eq!(c.reason, "NewReplicaSetAvailable");
    assert_eq!(w.status().abort, None);
}

fn ping_pong_rollout() -> Rollout {
    let mut ro: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "reviews"}},
                 "strategy": {"canary": {
                     "pingPong": {"pingService": "ping", "pongService": "pong"},
                     "trafficRouting": {"istio": {"virtualService": {"name": "vs"}}},
                     "steps": [{"setWeight": 25}, {"pause": {}}]}}}
    }))
    .expect("rollout");
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

fn stable_side(w: &World) -> (String, Option<String>, Option<String>) {
    let canary = w.status().canary.unwrap_or_default();
    let weights = canary.weights.clone();
    (
        canary.stable_ping_pong.unwrap_or_default(),
        weights.as_ref().and_then(|w| w.stable.service_name.clone()),
        weights.as_ref().and_then(|w| w.canary.service_name.clone()),
    )
}

#[test]
fn ping_pong_flips_its_stable_side_at_each_promotion() {
    let mut w = World::new(ping_pong_rollout());
    w.settle();
    assert_eq!(stable_side(&w), ("pong".into(), Some("pong".into()), Some("ping".into())));
    assert_eq!(w.weights(), Some((0, 100)));
    w.set_image("reviews:v2");
    w.settle();
    assert_eq!(w.phase().0, "Paused");
    assert_eq!(stable_side(&w), ("pong".into(), Some("pong".into()), Some("ping".into())));
    assert_eq!(w.weights(), Some((25, 75)));
    w.ro.status.as_mut().expect("status").pause_conditions = None;
    w.settle();
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    assert_eq!(stable_side(&w), ("ping".into(), Some("ping".into()), Some("pong".into())));
    assert_eq!(w.weights(), Some((0, 100)));
    w.assert_fixed_point();
}

#[test]
fn a_blue_green_rollback_within_the_scale_down_delay_is_fast_tracked() {
    let mut ro: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "bg", "generation": 1},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "reviews"}},
                 "strategy": {"blueGreen": {"activeService": "active",
                     "prePromotionAnalysis": {"templates": [{"templateName": "t"}]},
                     "postPromotionAnalysis": {"templates": [{"templateName": "t"}]}}}}
    }))
    .expect("rollout");
    ro.spec.template = Some(template("reviews:v1"));
    let mut w = World::new(ro);
    w.settle();
    let (v1, v2) = (hash_of("reviews:v1"), hash_of("reviews:v2"));
    w.set_image("reviews:v2");
    for kind in [AnalysisKind::PrePromotion, AnalysisKind::PostPromotion] {
        w.settle();
        let run = w.runs.iter_mut().find(|r| r.kind == kind).expect("run");
        run.phase = Some(AnalysisPhase::Successful);
    }
    w.settle();
    assert_eq!(w.status().stable_rs.as_deref(), Some(v2.as_str()));
    assert_eq!(w.replicas_of(&v1), 2, "v1 is within its scaleDownDelaySeconds");

    w.set_image("reviews:v1");
    let out = w.step();
    assert_eq!(w.status().stable_rs.as_deref(), Some(v1.as_str()), "promoted in one pass");
    assert!(
        out.commands
            .contains(&Command::SetServiceSelector { service: "active".into(), hash: v1.clone() })
    );
    assert!(
        out.events
            .iter()
            .any(|e| e.message.ends_with(&format!("Rollback to 'bg-{v1}' within scaleDownDelay")))
    );
    w.settle();
    assert_eq!(w.runs.len(), 2, "no new analysis");
    assert_eq!(w.phase(), ("Healthy".to_owned(), String::new()));
    let rs = w.rss.iter().find(|rs| rs.hash == v1).expect("v1");
    assert!(!rs.annotations.contains_key(crate::SCALE_DOWN_DEADLINE_ANNOTATION));
}
