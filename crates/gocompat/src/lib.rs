//! weir-gocompat: the few pieces of Go's standard library (and of Kubernetes' Go utilities)
//! whose exact output users see or store, written once for every crate of weir.
//!
//! Argo and Kubernetes put Go-formatted text into messages (`%q` → [`quote()`]), durations
//! into status (`time.Duration.String()` → [`duration::format`]), and hashes into object names
//! (FNV-1a → [`fnv`], `rand.SafeEncodeString` → [`hash_name_suffix`]). weir must produce the
//! same bytes so that messages, names and labels match what an Argo user already knows.
//!
//! What it is not: a general Go runtime, or a home for helpers that well-kept crates provide
//! (`base64`, `subtle`, `ring`): use those.

pub mod duration;
pub mod fnv;
mod names;
mod quote;

pub use names::{hash_name_suffix, safe_encode_string};
pub use quote::{escape, quote};
