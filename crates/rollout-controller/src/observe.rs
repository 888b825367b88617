//! What the engine observes: the ReplicaSets and AnalysisRuns a Rollout controls (by the
//! controller owner reference carrying its uid), turned into the engine's views.

use serde_json::Value;
use weir_cluster::Object;
use weir_model::rollouts::AnalysisPhase;
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;
use weir_rollout::{AnalysisKind, AnalysisRunView, ReplicaSetView};
use weir_traffic::ReplicaSetAvailability;

/// Whether `object`'s controller owner is the object with `uid`.
pub(crate) fn controlled_by(object: &Object, uid: &str) -> bool {
    !uid.is_empty()
        && object
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true) && r.uid == uid)
}

fn int(value: Option<&Value>) -> i32 {
    value.and_then(Value::as_i64).and_then(|v| i32::try_from(v).ok()).unwrap_or(0)
}

/// A ReplicaSet as the engine sees it.
pub(crate) fn replica_set_view(rs: &Object) -> ReplicaSetView {
    let spec = rs.field("spec");
    let status = rs.field("status");
    let status_int = |k: &str| int(status.and_then(|s| s.get(k)));
    ReplicaSetView {
        name: rs.name().to_owned(),
        hash: rs.label(POD_TEMPLATE_HASH_LABEL).unwrap_or("").to_owned(),
        spec_replicas: spec
            .and_then(|s| s.get("replicas"))
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok()),
        status_replicas: status_int("replicas"),
        ready_replicas: status_int("readyReplicas"),
        available_replicas: status_int("availableReplicas"),
        annotations: rs.metadata.annotations.clone().unwrap_or_default(),
    }
}

/// A ReplicaSet as traffic routers see it.
pub(crate) fn availability(rs: &ReplicaSetView) -> ReplicaSetAvailability {
    ReplicaSetAvailability {
        name: rs.name.clone(),
        pod_template_hash: rs.hash.clone(),
        replicas: rs.replicas(),
        available_replicas: rs.available_replicas,
    }
}

/// An AnalysisRun as the engine sees it; `None` for a run without a known `rollout-type`.
pub(crate) fn analysis_run_view(run: &Object) -> Option<AnalysisRunView> {
    let kind = match run.label("rollout-type")? {
        "Background" => AnalysisKind::Background,
        "Step" => AnalysisKind::Step(run.label("step-index")?.parse().ok()?),
        "PrePromotion" => AnalysisKind::PrePromotion,
        "PostPromotion" => AnalysisKind::PostPromotion,
        _ => return None,
    };
    let status = run.field("status");
    let text = |k: &str| status.and_then(|s| s.get(k)).and_then(Value::as_str);
    Some(AnalysisRunView {
        name: run.name().to_owned(),
        kind,
        pod_hash: run.label(POD_TEMPLATE_HASH_LABEL).unwrap_or("").to_owned(),
        phase: text("phase").filter(|p| !p.is_empty()).and_then(parse_phase),
        message: text("message").unwrap_or("").to_owned(),
        terminating: run
            .field("spec")
            .and_then(|s| s.get("terminate"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        created: run.metadata.creation_timestamp.as_ref().map(|t| t.0),
    })
}

fn parse_phase(phase: &str) -> Option<AnalysisPhase> {
    serde_json::from_value(Value::String(phase.to_owned())).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn views_read_labels_spec_and_status() {
        let rs = Object::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "ro-abc", "labels": {"rollouts-pod-template-hash": "abc"},
                         "annotations": {"rollout.argoproj.io/revision": "2"},
                         "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                             "kind": "Rollout", "name": "ro", "uid": "u1", "controller": true}]},
            "spec": {"replicas": 3},
            "status": {"replicas": 3, "readyReplicas": 2, "availableReplicas": 1}
        }))
        .expect("rs");
        assert!(controlled_by(&rs, "u1") && !controlled_by(&rs, "u2"));
        let view = replica_set_view(&rs);
        assert_eq!((view.hash.as_str(), view.replicas(), view.revision()), ("abc", 3, Some(2)));
        assert_eq!((view.ready_replicas, view.available_replicas), (2, 1));

        let run = Object::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "ro-abc-2-1", "labels": {"rollout-type": "Step",
                "step-index": "1", "rollouts-pod-template-hash": "abc"}},
            "spec": {"metrics": [], "terminate": true},
            "status": {"phase": "Failed", "message": "boom"}
        }))
        .expect("run");
        let view = analysis_run_view(&run).expect("view");
        assert_eq!(view.kind, AnalysisKind::Step(1));
        assert_eq!(view.phase, Some(AnalysisPhase::Failed));
        assert!(view.terminating);
    }
}
