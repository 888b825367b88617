//! FNV-1a, 32 and 64 bits, as Go's `hash/fnv` computes it: the hash behind Kubernetes'
//! pod-template-hash and Argo Rollouts' `rollouts-pod-template-hash`, and weir's stable content
//! hashes (ETags, cache keys, continue tokens).
//!
//! Each width has a one-shot function and an `_update` that continues from a state, for data
//! written in several parts (Go's `h.Write(a); h.Write(b)`).

/// The 32-bit offset basis (Go's `offset32`).
pub const OFFSET32: u32 = 0x811c_9dc5;
/// The 64-bit offset basis (Go's `offset64`).
pub const OFFSET64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME32: u32 = 0x0100_0193;
const PRIME64: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 32 of `bytes`, continuing from `state` (start from [`OFFSET32`]).
pub fn fnv1a32_update(state: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(state, |h, b| (h ^ u32::from(*b)).wrapping_mul(PRIME32))
}

/// FNV-1a 32 of `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    fnv1a32_update(OFFSET32, bytes)
}

/// FNV-1a 64 of `bytes`, continuing from `state` (start from [`OFFSET64`]).
pub fn fnv1a64_update(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME64))
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_update(OFFSET64, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values: Go's `fnv.New32a()`/`fnv.New64a()` sums, and the algorithm's published
    /// test vectors for "" and "a".
    #[test]
    fn sums_match_go() {
        assert_eq!(fnv1a32(b"hello"), 1_335_831_723);
        assert_eq!(fnv1a32(b""), OFFSET32);
        assert_eq!(fnv1a32(b"foobar"), 3_214_735_720);
        assert_eq!(fnv1a64(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xAF63_DC4C_8601_EC8C);
    }

    #[test]
    fn updates_continue_a_sum() {
        assert_eq!(fnv1a32_update(fnv1a32(b"hel"), b"lo"), fnv1a32(b"hello"));
        assert_eq!(fnv1a64_update(fnv1a64(b"hel"), b"lo"), fnv1a64(b"hello"));
    }
}
