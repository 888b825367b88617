//! The user operations of `kubectl argo rollouts` (promote, abort, retry, pause, restart,
//! undo), as pure functions from the Rollout (and, for undo, its ReplicaSets) to the merge
//! patches Argo's CLI sends (spec §3.9), plus [`apply`] which sends them the way Argo does:
//! the status patch to the status subresource (falling back to the main resource on
//! `NotFound`), then the spec patch.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use weir_cluster::{Cluster, Error, Object, Patch, Subresource};
use weir_model::rollouts::{AnalysisPhase, Rollout};
use weir_rollout::REVISION_ANNOTATION;
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;

use crate::execute::rt;

/// What one operation changes: a merge patch of the spec and one of the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutPatch {
    /// Merge patch of the main resource (`{"spec": …}`), if any.
    pub spec: Option<Value>,
    /// Merge patch of the status subresource (`{"status": …}`), if any.
    pub status: Option<Value>,
}

impl RolloutPatch {
    /// Whether the operation has nothing to change.
    pub fn is_empty(&self) -> bool {
        self.spec.is_none() && self.status.is_none()
    }
}

fn steps_len(ro: &Rollout) -> i32 {
    ro.spec.canary().map_or(0, |c| i32::try_from(c.steps().len()).unwrap_or(i32::MAX))
}

/// `GetCurrentCanaryStep`'s index: `None` without steps or past the last one.
fn current_step_index(ro: &Rollout) -> Option<i32> {
    let len = steps_len(ro);
    if len == 0 {
        return None;
    }
    let index = ro.status.as_ref().and_then(|s| s.current_step_index).unwrap_or(0);
    (index < len).then_some(index)
}

fn step_analysis_inconclusive(ro: &Rollout) -> bool {
    ro.spec.canary().is_some()
        && ro
            .status
            .as_ref()
            .and_then(|s| s.canary.as_ref())
            .and_then(|c| c.current_step_analysis_run_status.as_ref())
            .is_some_and(|r| r.status == AnalysisPhase::Inconclusive.as_str())
}

/// `promote [--full]` (Argo's `getPatches`): unpause the spec; then either clear the pause
/// conditions (with the step incremented after a paused inconclusive step analysis), or, on
/// a canary without pause conditions, go to the next step (Q10). `--full` sets
/// `status.promoteFull` unless the current pod hash is already stable.
pub fn promote(ro: &Rollout, full: bool) -> RolloutPatch {
    let spec = ro.spec.is_paused().then(|| json!({"spec": {"paused": false}}));
    let status = ro.status.clone().unwrap_or_default();
    if full {
        let status_patch = (status.current_pod_hash != status.stable_rs)
            .then(|| json!({"status": {"promoteFull": true}}));
        return RolloutPatch { spec, status: status_patch };
    }
    let paused_by = status.pause_conditions.as_ref().is_some_and(|p| !p.is_empty());
    let len = steps_len(ro);
    let next = |index: i32| if index < len { index + 1 } else { index };
    let status_patch = if step_analysis_inconclusive(ro)
        && paused_by
        && status.controller_pause.unwrap_or(false)
    {
        current_step_index(ro).map(|i| {
            json!({"status": {"pauseConditions": null, "controllerPause": false,
                              "currentStepIndex": next(i)}})
        })
    } else if paused_by {
        Some(json!({"status": {"pauseConditions": null}}))
    } else if ro.spec.canary().is_some() {
        current_step_index(ro)
            .map(|i| json!({"status": {"pauseConditions": null, "currentStepIndex": next(i)}}))
    } else {
        None
    };
    RolloutPatch { spec, status: status_patch }
}

/// `abort`: `status.abort = true`.
pub fn abort() -> RolloutPatch {
    RolloutPatch { spec: None, status: Some(json!({"status": {"abort": true}})) }
}

/// `retry rollout`: `status.abort = false` (Argo keeps `abortedAt`, which is how the engine
/// knows to start fresh AnalysisRuns).
pub fn retry() -> RolloutPatch {
    RolloutPatch { spec: None, status: Some(json!({"status": {"abort": false}})) }
}

/// `pause`: `spec.paused = true`.
pub fn pause() -> RolloutPatch {
    RolloutPatch { spec: Some(json!({"spec": {"paused": true}})), status: None }
}

/// `restart [--in d]`: `spec.restartAt = at` (now plus the delay).
pub fn restart(at: Timestamp) -> RolloutPatch {
    let at = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    RolloutPatch { spec: Some(json!({"spec": {"restartAt": at}})), status: None }
}

/// Where `undo` writes the template: the Rollout, or the object its `workloadRef` names.
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    /// `(apiVersion, kind, name)` of the target; the Rollout itself without `workloadRef`.
    pub target: (String, String, String),
    /// JSON patch (RFC 6902) replacing `/spec/template` (`/template` for a PodTemplate).
    pub json_patch: Value,
    /// The revision rolled back to.
    pub revision: i64,
}

/// `undo [--to-revision N]`: the template of the ReplicaSet at revision `to` (default, `0` or
/// `None`: the newest revision before the current one) without its pod-template hash label.
/// As in Argo, ephemeral metadata on that template is kept (it may equal the base labels).
pub fn undo(ro: &Rollout, replica_sets: &[Object], to: Option<i64>) -> Result<Undo, String> {
    let mut by_revision: Vec<(i64, &Object)> = replica_sets
        .iter()
        .filter_map(|rs| Some((rs.annotation(REVISION_ANNOTATION)?.parse().ok()?, rs)))
        .collect();
    by_revision.sort_by_key(|(r, _)| *r);
    let wanted = match to.filter(|r| *r > 0) {
        Some(r) => r,
        None => {
            let current = by_revision.last().map_or(0, |(r, _)| *r);
            by_revision
                .iter()
                .rev()
                .map(|(r, _)| *r)
                .find(|r| *r < current)
                .ok_or("no rollout history found")?
        }
    };
    let (_, rs) = by_revision
        .iter()
        .find(|(r, _)| *r == wanted)
        .ok_or_else(|| format!("unable to find specified revision {wanted} in history"))?;
    let mut template = rs
        .field("spec")
        .and_then(|s| s.get("template"))
        .cloned()
        .ok_or("the ReplicaSet has no template")?;
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let collision = ro.status.as_ref().and_then(|s| s.collision_count);
    if let Some(hash) = rs.label(POD_TEMPLATE_HASH_LABEL) {
        template = without_ephemeral(template, rs, hash, collision);
    }
    if let Some(meta) = template.get_mut("metadata") {
        for field in ["labels", "annotations"] {
            if meta.get(field).and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
                meta.as_object_mut().map(|m| m.remove(field));
            }
        }
    }
    let name = ro.metadata.name.clone().unwrap_or_default();
    let (target, path) = match ro.spec.workload_ref.as_ref() {
        Some(w) => {
            let kind = w.kind.clone().unwrap_or_default();
            let path = if kind == "PodTemplate" { "/template" } else { "/spec/template" };
            let api = w.api_version.clone().unwrap_or_default();
            ((api, kind, w.name.clone().unwrap_or_default()), path)
        }
        None => (("argoproj.io/v1alpha1".into(), "Rollout".into(), name), "/spec/template"),
    };
    Ok(Undo {
        target,
        json_patch: json!([{"op": "replace", "path": path, "value": template}]),
        revision: wanted,
    })
}

/// The ReplicaSet's template without the ephemeral metadata the controller added: of the
/// recorded ephemeral keys, the subset whose removal gives back the ReplicaSet's own hash (an
/// ephemeral key may also be a label of the base template, with the same value). Unchanged
/// when no subset matches.
fn without_ephemeral(template: Value, rs: &Object, hash: &str, collision: Option<i32>) -> Value {
    let Some(recorded) = crate::replicaset::recorded_ephemeral(rs) else {
        return template;
    };
    let keys: Vec<(&str, &String)> =
        [("labels", &recorded.labels), ("annotations", &recorded.annotations)]
            .into_iter()
            .flat_map(|(field, map)| map.iter().flatten().map(move |(k, _)| (field, k)))
            .collect();
    if keys.len() > 12 {
        return template;
    }
    for mask in 0u32..(1 << keys.len()) {
        let mut candidate = template.clone();
        for (i, (field, key)) in keys.iter().enumerate() {
            if mask & (1 << i) != 0
                && let Some(map) = candidate
                    .pointer_mut(&format!("/metadata/{field}"))
                    .and_then(Value::as_object_mut)
            {
                map.remove(*key);
            }
        }
        if let Some(meta) = candidate.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|_, v| v.as_object().is_none_or(|m| !m.is_empty()));
        }
        let Ok(typed) = serde_json::from_value::<k8s_openapi::api::core::v1::PodTemplateSpec>(
            candidate.clone(),
        ) else {
            return template;
        };
        if weir_rollout::hash::pod_template_hash(&typed, collision) == hash {
            return candidate;
        }
    }
    template
}

/// Sends a [`RolloutPatch`] to the Rollout `name` as Argo's CLI does; returns the Rollout as
/// patched.
pub async fn apply<C: Cluster>(
    cluster: &C,
    namespace: &str,
    name: &str,
    patch: &RolloutPatch,
) -> Result<Option<Object>, Error> {
    let rollouts = rt("rollouts");
    let ns = Some(namespace);
    let mut last = None;
    let mut spec = patch.spec.clone();
    if let Some(status) = &patch.status {
        let sent = Patch::Merge(status.clone());
        match cluster.patch(&rollouts, ns, name, &sent, Subresource::Status).await {
            Ok(o) => last = Some(o),
            Err(Error::NotFound { .. }) => {
                // No status subresource: one patch of the main resource with both parts.
                let mut unified = status.clone();
                if let (Some(u), Some(Value::Object(s))) = (unified.as_object_mut(), spec.take()) {
                    u.extend(s);
                }
                spec = Some(unified);
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(spec) = spec {
        let sent = Patch::Merge(spec);
        last = Some(cluster.patch(&rollouts, ns, name, &sent, Subresource::Main).await?);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(status: Value, paused: bool) -> Rollout {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro", "namespace": "ns"},
            "spec": {"paused": paused, "strategy": {"canary": {"steps": [
                {"setWeight": 10}, {"pause": {}}, {"analysis": {"templates": []}},
                {"setWeight": 50}]}}},
            "status": status
        }))
        .expect("rollout")
    }

    #[test]
    fn promote_clears_pause_conditions_or_moves_to_the_next_step() {
        let paused = rollout(
            json!({"currentStepIndex": 1, "pauseConditions": [
                {"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
                "controllerPause": true}),
            true,
        );
        assert_eq!(
            promote(&paused, false),
            RolloutPatch {
                spec: Some(json!({"spec": {"paused": false}})),
                status: Some(json!({"status": {"pauseConditions": null}})),
            }
        );
        let running = rollout(json!({"currentStepIndex": 2}), false);
        assert_eq!(
            promote(&running, false).status,
            Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 3}}))
        );
        let done = rollout(json!({"currentStepIndex": 4}), false);
        assert!(promote(&done, false).is_empty());
    }

    #[test]
    fn promote_after_inconclusive_step_analysis_unpauses_and_skips_the_step() {
        let ro = rollout(
            json!({"currentStepIndex": 2, "controllerPause": true,
                   "pauseConditions": [{"reason": "InconclusiveAnalysisRun",
                                        "startTime": "2026-01-01T00:00:00Z"}],
                   "canary": {"currentStepAnalysisRunStatus": {"name": "r", "status": "Inconclusive"}}}),
            false,
        );
        let want = json!({"status": {"pauseConditions": null, "controllerPause": false,
                                     "currentStepIndex": 3}});
        assert_eq!(promote(&ro, false).status, Some(want));
    }

    #[test]
    fn promote_full_only_when_not_already_stable() {
        let updating = rollout(json!({"currentPodHash": "b", "stableRS": "a"}), false);
        assert_eq!(promote(&updating, true).status, Some(json!({"status": {"promoteFull": true}})));
        let stable = rollout(json!({"currentPodHash": "a", "stableRS": "a"}), false);
        assert!(promote(&stable, true).is_empty());
    }

    #[test]
    fn simple_operations() {
        assert_eq!(abort().status, Some(json!({"status": {"abort": true}})));
        assert_eq!(retry().status, Some(json!({"status": {"abort": false}})));
        assert_eq!(pause().spec, Some(json!({"spec": {"paused": true}})));
        let at: Timestamp = "2026-01-02T03:04:05.6Z".parse().expect("time");
        assert_eq!(restart(at).spec, Some(json!({"spec": {"restartAt": "2026-01-02T03:04:05Z"}})));
    }

    fn rs(revision: i64, image: &str) -> Object {
        Object::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("ro-{revision}"), "annotations": {
                "rollout.argoproj.io/revision": revision.to_string(),
                "rollout.argoproj.io/ephemeral-metadata": "{\"labels\":{\"version\":\"canary\"}}"}},
            "spec": {"template": {
                "metadata": {"labels": {"app": "ro", "version": "canary",
                                        "rollouts-pod-template-hash": "h"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}}
        }))
        .expect("rs")
    }

    #[test]
    fn undo_takes_the_previous_or_named_revision_template() {
        let ro = rollout(json!({}), false);
        let rss = [rs(1, "i:1"), rs(2, "i:2"), rs(3, "i:3")];
        let undo_prev = undo(&ro, &rss, None).expect("undo");
        assert_eq!(undo_prev.revision, 2);
        let value = &undo_prev.json_patch[0]["value"];
        assert_eq!(value["spec"]["containers"][0]["image"], "i:2");
        assert_eq!(value["metadata"]["labels"], json!({"app": "ro", "version": "canary"}));
        assert_eq!(undo_prev.target.1, "Rollout");
        assert_eq!(undo(&ro, &rss, Some(1)).expect("undo").revision, 1);
        assert!(undo(&ro, &rss, Some(7)).expect_err("missing").contains("revision 7"));
    }
}
