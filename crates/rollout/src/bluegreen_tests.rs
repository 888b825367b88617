//! Given/When/Then scenarios of the blue-green engine against the simulated cluster of
//! [`crate::test_world`].

use weir_model::rollouts::{AnalysisPhase, Rollout};

use crate::canary::AnalysisKind;
use crate::test_world::{World, hash_of, json, template};

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
