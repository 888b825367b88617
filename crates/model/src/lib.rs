//! weir's resource model: the manifests users write, typed.
//!
//! - [`rollouts`]: Argo Rollouts' `argoproj.io/v1alpha1` kinds (Rollout, AnalysisTemplate,
//!   ClusterAnalysisTemplate, AnalysisRun, Experiment).
//! - [`argocd`]: Argo CD's Application and AppProject.
//! - [`istio`]: Istio's VirtualService, DestinationRule and Gateway (v1alpha3, v1beta1, v1).
//! - [`parse`]: multi-document YAML/JSON and `kind: List` into objects, with file, document,
//!   field path, line and column on every error.
//! - [`typed`]: which kinds are typed, and the conversion of a dynamic object into its type.
//! - [`validate`]: Argo's validation rules, returning every [`Diagnostic`], not the first.
//! - [`Event`]: an event an engine asks its controller to record.
//!
//! Field names and defaults follow the CRDs' OpenAPI schemas exactly; absent fields stay
//! absent when an object is written back (defaults are applied by accessor methods, never
//! by serialization), so a manifest round-trips unchanged.
//!
//! This crate does no I/O. Read [`typed::TypedObject`] first.

pub mod argocd;
mod diagnostic;
pub mod duration;
mod event;
pub mod istio;
pub mod parse;
pub mod rollouts;
pub mod typed;
pub mod validate;

pub use diagnostic::{Diagnostic, ErrorType};
pub use event::Event;
