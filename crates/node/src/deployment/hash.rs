//! The pod-template hash that names a Deployment's replica sets (`<deploy>-<hash>`).
//!
//! Kubernetes' `ComputeHash` is FNV-32a over a Go-specific (spew) dump of the template followed
//! by the collision count (8 bytes, the first four little endian), printed in decimal and
//! passed through `rand.SafeEncodeString`. The dump cannot be reproduced outside Go, so weir
//! hashes the template's JSON (k8s-openapi field order) instead: same algorithm, alphabet and
//! shape of names, stable across weir versions, but not byte-identical to a real cluster's.
//! (Argo Rollouts' `rollouts-pod-template-hash` is JSON-based and reproduced exactly by
//! `weir-rollout`; pods keep whatever labels their template carries.)

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The hash of `template` with `collision_count`, as used in replica set names and the
/// `pod-template-hash` label.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    weir_gocompat::hash_name_suffix(&json, collision_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collision_count_changes_the_hash() {
        let t = PodTemplateSpec::default();
        assert_eq!(pod_template_hash(&t, None), pod_template_hash(&t, None));
        assert_ne!(pod_template_hash(&t, None), pod_template_hash(&t, Some(1)));
    }
}
