//! weir-rollout-controller: the Rollout controller over the cluster API, plus the pure user
//! operations (`promote`, `abort`, …) and views (`get rollout` tree, `list rollouts` table)
//! that `weir rollouts` is built from.
//!
//! What it is: the I/O shell around the pure engines. One reconcile of a Rollout reads it,
//! resolves `workloadRef` into a spec copy (never written back), validates it, observes the
//! ReplicaSets and AnalysisRuns it owns, asks [`weir_rollout::reconcile`] what to do, carries
//! out the commands idempotently (ReplicaSets, AnalysisRuns from templates, Istio objects
//! through [`weir_traffic::IstioRouter`], Service selectors) and writes the engine's status
//! with a resourceVersion precondition. The status is the only state: a controller killed
//! anywhere and started again converges from it.
//!
//! What it is not: a decision engine (`weir-rollout` decides), an AnalysisRun controller
//! (measuring is another controller's job; this one only creates and terminates runs), or a
//! client (it talks only through [`weir_cluster::Cluster`]).
//!
//! Read [`run_rollout_controller`] first; then [`ops`] (the patches behind the CLI's user
//! operations) and [`view`] (what `weir rollouts get/list/status` print).

mod analysis;
mod controller;
mod execute;
mod observe;
pub mod ops;
mod overlap;
mod references;
mod refused;
mod release;
mod replicaset;
mod restart;
mod traffic;
pub mod view;
mod workload;

pub use controller::{RolloutReconciler, now, reconcile_rollout, run_rollout_controller};
