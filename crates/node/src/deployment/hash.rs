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

/// `rand.SafeEncodeString`'s alphabet: no vowels, no confusable characters.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv32a(bytes: &[u8], mut hash: u32) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The hash of `template` with `collision_count`, as used in replica set names and the
/// `pod-template-hash` label.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(&json, 0x811c_9dc5);
    if let Some(count) = collision_count {
        // Go: make([]byte, 8), PutUint32 fills the first four (little endian).
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&u32::from_ne_bytes(count.to_ne_bytes()).to_le_bytes());
        hash = fnv32a(&extra, hash);
    }
    safe_encode(&hash.to_string())
}

fn safe_encode(text: &str) -> String {
    text.bytes().map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_encoding_match_go() {
        // Go: fnv.New32a().Write([]byte("hello")).Sum32() == 1335831723
        assert_eq!(fnv32a(b"hello", 0x811c_9dc5), 1_335_831_723);
        // rand.SafeEncodeString("1335831723")
        assert_eq!(safe_encode("1335831723"), "5779d75c67");
    }

    #[test]
    fn collision_count_changes_the_hash() {
        let t = PodTemplateSpec::default();
        assert_eq!(pod_template_hash(&t, None), pod_template_hash(&t, None));
        assert_ne!(pod_template_hash(&t, None), pod_template_hash(&t, Some(1)));
    }
}
