//! weir-app-controller: the Argo CD Application controller of weir, over the
//! [`weir_cluster::Cluster`] port.
//!
//! What it is: git repositories read through the system `git` binary with a shared cache of
//! clones ([`git::Repos`], credentials from Argo CD-style repository Secrets in [`creds`]),
//! directory sources rendered with Argo CD's path rules ([`render`]), the comparison of
//! targets with live objects ([`compare`]), and the controller that refreshes, auto-syncs,
//! self-heals, prunes and runs requested sync operations ([`run_app_controller`]). Push
//! webhooks from GitHub/GitLab/Gitea refresh the apps of a repository ([`webhook`]).
//!
//! What it is not: the decision logic of Argo CD itself (health, diff, sync plan and its
//! state machine live in the pure `weir-gitops`), Helm or Kustomize themselves (they run as
//! config management plugins, [`plugin`]), or an HTTP server (the API server calls
//! [`webhook::handle`]).
//!
//! Read [`run_app_controller`] and [`AppControllerConfig`] first, then [`targets::load_targets`]
//! and [`compare::compare`].

pub mod argocd_cm;
mod autosync;
pub mod compare;
mod controller;
pub mod creds;
mod deletion;
pub mod git;
mod operation;
pub mod ops;
pub mod plugin;
pub mod refresh;
pub mod render;
mod replace;
mod status;
mod summary;
mod sync;
pub mod targets;
pub mod webhook;

pub use controller::{
    AppControllerConfig, REFRESH_ANNOTATION, RESOURCES_FINALIZER, SKIP_RECONCILE_ANNOTATION,
    run_app_controller,
};
pub use deletion::DELETION_ERROR;
pub use refresh::RefreshHandle;
pub use status::{COMPARISON_ERROR, INVALID_SPEC_ERROR};
pub use summary::{OBJECT_BUDGET, RESOURCES_TRUNCATED};
