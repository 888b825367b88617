//! Dry runs: writes that run every rule (validation, defaulting, admission, preconditions,
//! garbage collection) and answer what they would have stored, without storing anything.
//!
//! A backend offers them as a second [`Cluster`] view of itself, [`DryRun::dry_run`], whose
//! reads are the backend's and whose writes are dry: the HTTP API serves `?dryRun=All` by
//! running the very same request handling against that view. The embedded store performs the
//! write inside its SQLite transaction and rolls it back (no watch event, no resourceVersion
//! consumed); a Kubernetes backend passes `dryRun: ["All"]` to the API server
//! (`kube::api::PostParams::dry_run`, `PatchParams::dry_run`, `DeleteParams::dry_run`).
//!
//! What a dry write answers, as the API server does: a create returns the object with its
//! uid, creationTimestamp and defaults but no resourceVersion; an update or patch returns the
//! result with the stored resourceVersion; a delete returns the object (as it would be marked
//! or removed) while it stays stored.

use crate::Cluster;

/// A backend whose writes can be run dry.
pub trait DryRun {
    /// The dry view: reads as the backend, writes validated and answered, never stored.
    type Dry: Cluster + Clone;

    /// This backend's dry view.
    fn dry_run(&self) -> Self::Dry;
}
