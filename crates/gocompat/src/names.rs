//! The suffix of names Kubernetes' controllers generate from a hash (`reviews-v2-5779d75c67`):
//! `controller.ComputeHash`'s tail (FNV-1a 32 over the bytes, then the collision count) and
//! `rand.SafeEncodeString` (k8s.io/apimachinery/pkg/util/rand) over the decimal sum.

/// The alphabet: no vowels (no words) and no confusable characters (`0`, `1`, `3`).
const ALPHANUMS: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// Each byte of `s` mapped onto the alphabet, as `rand.SafeEncodeString` does.
pub fn safe_encode_string(s: &str) -> String {
    s.bytes().map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()])).collect()
}

/// FNV-1a 32 of `bytes`, then (when set) the collision count as Go writes it
/// (`make([]byte, 8)`, `PutUint32` into the first four, little endian), the decimal sum passed
/// through [`safe_encode_string`]. The caller chooses the bytes (the template's JSON form).
pub fn hash_name_suffix(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash = crate::fnv::fnv1a32(bytes);
    if let Some(count) = collision_count {
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&u32::from_ne_bytes(count.to_ne_bytes()).to_le_bytes());
        hash = crate::fnv::fnv1a32_update(hash, &extra);
    }
    safe_encode_string(&hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_kubernetes() {
        // rand.SafeEncodeString("1335831723") in Go.
        assert_eq!(safe_encode_string("1335831723"), "5779d75c67");
        assert_eq!(safe_encode_string("0123456789"), "456789bcdf");
        assert_eq!(safe_encode_string(""), "");
    }

    #[test]
    fn the_collision_count_changes_the_suffix() {
        // fnv32a("hello") = 1335831723, encoded as above.
        assert_eq!(hash_name_suffix(b"hello", None), "5779d75c67");
        assert_ne!(hash_name_suffix(b"hello", Some(1)), hash_name_suffix(b"hello", None));
        assert_ne!(hash_name_suffix(b"hello", Some(1)), hash_name_suffix(b"hello", Some(2)));
    }
}
