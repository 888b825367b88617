//! `rollouts-pod-template-hash` and `status.currentStepHash`, computed exactly as Argo does:
//! FNV-1a 32 over Go's `json.Marshal` bytes (see `JsonForm`), the collision count
//! appended as 8 bytes, the decimal sum passed through `SafeEncodeString`.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use weir_model::rollouts::Rollout;

use crate::gojson::{self, JsonForm};

/// The label (and selector key) carrying the pod-template hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";

/// The hash of already-encoded bytes plus an optional collision count (Kubernetes'
/// `ComputeHash` tail, shared with the Deployment controller through `weir-gocompat`).
pub use weir_gocompat::hash_name_suffix as hash_bytes;

/// `ComputePodTemplateHash(template, collisionCount)` for the current Kubernetes JSON form
/// (k8s.io/api ≥ 0.34, no `creationTimestamp: null`).
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    pod_template_hash_in(JsonForm::Current, template, collision_count)
}

/// [`pod_template_hash`] for a chosen JSON form; [`JsonForm::Legacy`] reproduces the hashes of
/// controllers built against k8s.io/api ≤ 0.33, so their ReplicaSets can be recognised.
pub fn pod_template_hash_in(
    form: JsonForm,
    template: &PodTemplateSpec,
    collision_count: Option<i32>,
) -> String {
    hash_bytes(gojson::pod_template_json(template, form).as_bytes(), collision_count)
}

/// `ComputeStepHash`: "" for blue-green (or no canary), else the hash of the steps' JSON.
pub fn step_hash(rollout: &Rollout) -> String {
    let Some(canary) = rollout.spec.canary() else {
        return String::new();
    };
    if rollout.spec.blue_green().is_some() {
        return String::new();
    }
    hash_bytes(gojson::steps_json(canary.steps.as_deref()).as_bytes(), None)
}

/// The ReplicaSet name Argo gives a template: `<rollout>-<hash>`.
pub fn replica_set_name(rollout_name: &str, hash: &str) -> String {
    format!("{rollout_name}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let empty = PodTemplateSpec::default();
        assert_eq!(pod_template_hash(&empty, None), "658c46c486");
        assert_eq!(pod_template_hash_in(JsonForm::Legacy, &empty, None), "76bbb58f74");
        assert_eq!(pod_template_hash(&empty, Some(1)), "6746d5bbc");
        assert_eq!(replica_set_name("ro", "abc"), "ro-abc");
    }
}
