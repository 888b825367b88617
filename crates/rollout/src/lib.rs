//! weir-rollout: the pure decision engine of Argo Rollouts-compatible progressive delivery.
//!
//! Given a Rollout (spec and status), the ReplicaSets and AnalysisRuns observed for it and
//! `now`, the engine computes the status Argo would write and the commands a controller must
//! execute (scale or create a ReplicaSet, set traffic weights, create or cancel an
//! AnalysisRun, requeue). It reproduces Argo's pod-template hash, replica math, step state
//! machine, phase, message and conditions, checked against Argo's own unit-test vectors.
//!
//! What it is not: it does no I/O, reads no clock and runs no async code; it does not talk to
//! the cluster API (the controller does), does not patch Istio objects (`weir-traffic` does,
//! from the weights here), does not evaluate metrics (the analysis engine does) and does not
//! validate specs (`weir_model::validate` does; its diagnostics come in as input).
//!
//! Read [`reconcile`] first: one reconcile pass (canary, or blue-green via [`bluegreen`]),
//! its [`Observed`] input and its [`Reconciled`] output ([`Command`]s and [`Event`]s). The
//! helpers it is built from are public for the controller and the CLI: [`hash`],
//! [`replicas`], [`steps`], [`phase`] and [`conditions`].
//!
//! Deliberate choices (also in ARCHITECTURE.md): experiment and plugin steps are reported
//! as an `InvalidSpec` condition ("not supported by weir yet") instead of being skipped; the
//! pod-template hash follows the Kubernetes ≥ 1.34 JSON form ([`JsonForm::Current`]), with
//! [`JsonForm::Legacy`] available to recognise ReplicaSets of older controllers.

#[cfg(test)]
mod argo_e2e_tests;
pub mod bluegreen;
pub mod canary;
mod canary_analysis;
mod canary_scale;
mod canary_status;
mod canary_steps;
pub mod conditions;
mod gojson;
pub mod hash;
pub mod phase;
#[cfg(test)]
mod properties_tests;
pub mod replicas;
pub mod steps;
#[cfg(test)]
mod test_world;

pub use canary::{AnalysisKind, AnalysisRunView, Command, Event, Observed, Reconciled, reconcile};
pub use gojson::JsonForm;
pub use replicas::ReplicaSetView;

/// Annotation carrying a ReplicaSet's (and the Rollout's) revision.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// Annotation recording the `spec.replicas` a ReplicaSet was scaled for.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "rollout.argoproj.io/desired-replicas";
/// Annotation holding the RFC 3339 time after which an old ReplicaSet is scaled to 0.
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";
