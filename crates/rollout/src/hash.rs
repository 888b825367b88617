//! `rollouts-pod-template-hash` and `status.currentStepHash`, computed exactly as Argo does:
//! FNV-1a 32 over Go's `json.Marshal` bytes (see `JsonForm`), the collision count
//! appended as 8 bytes, the decimal sum passed through `SafeEncodeString`.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use weir_model::rollouts::Rollout;

use crate::gojson::{self, JsonForm};

/// The label (and selector key) carrying the pod-template hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";

const FNV_OFFSET: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;
const SAFE_ALPHANUMS: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a 32-bit over `bytes`, continuing from `state` (start with [`fnv1a32`]).
fn fnv1a32_update(mut state: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        state ^= u32::from(*b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// FNV-1a 32-bit of `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    fnv1a32_update(FNV_OFFSET, bytes)
}

/// Kubernetes' `rand.SafeEncodeString`: each byte mapped onto a vowel-free alphabet.
pub fn safe_encode_string(s: &str) -> String {
    s.bytes().map(|b| char::from(SAFE_ALPHANUMS[usize::from(b) % SAFE_ALPHANUMS.len()])).collect()
}

/// The hash of already-encoded bytes plus an optional collision count.
pub fn hash_bytes(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut h = fnv1a32(bytes);
    if let Some(count) = collision_count {
        // Go: make([]byte, 8) and PutUint32 fills the first four (little endian).
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&(count as u32).to_le_bytes());
        h = fnv1a32_update(h, &extra);
    }
    safe_encode_string(&h.to_string())
}

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
        assert_eq!(fnv1a32(b""), 2_166_136_261);
        assert_eq!(fnv1a32(b"foobar"), 3_214_735_720);
        assert_eq!(safe_encode_string("0123456789"), "456789bcdf");
        let empty = PodTemplateSpec::default();
        assert_eq!(pod_template_hash(&empty, None), "658c46c486");
        assert_eq!(pod_template_hash_in(JsonForm::Legacy, &empty, None), "76bbb58f74");
        assert_eq!(pod_template_hash(&empty, Some(1)), "6746d5bbc");
        assert_eq!(replica_set_name("ro", "abc"), "ro-abc");
    }
}
