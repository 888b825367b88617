//! weir-gitops: the pure decision logic of weir's GitOps engine, compatible with Argo CD.
//!
//! What it is: Argo CD's resource health assessments ([`health`]), the normalized
//! desired-vs-live comparison and its readable diff ([`diff`]), the sync plan and its
//! step-by-step state machine ([`sync`]), and the rules an app's source directory must obey
//! ([`source`]: path checks, symlinks, include/exclude globs, size limit).
//!
//! What it is not: no git, no cluster access, no clock, no async. Only [`source`] touches the
//! file system, and only to read the directory it is given. Controllers call these functions
//! with objects they fetched and `now` they read.
//!
//! Read [`health::assess`] first, then [`diff::diff`], [`sync::plan`] with [`sync::machine::next`] and
//! [`source::check_app_path`].

pub mod diff;
pub mod health;
mod json;
mod key;
pub mod project;
pub mod source;
pub mod sync;

pub use key::ResourceKey;
