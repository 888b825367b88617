//! `weir-analysis-controller`: the AnalysisRun controller and the metric providers.
//!
//! What it is: the I/O half of Argo Rollouts analysis. [`run_analysis_controller`] watches
//! AnalysisRuns through the [`weir_cluster::Cluster`] port and, for every run not completed,
//! does one reconcile of the pure engine ([`weir_analysis::plan`] → measure →
//! [`weir_analysis::Step::finish`]): it reads the Secrets the arguments name, runs the due
//! measurements concurrently through the [`Providers`], writes the status with a
//! resourceVersion precondition, requeues at the engine's `requeue_at` and deletes runs whose
//! TTL expired. The status is the only state, so a restart neither loses nor repeats
//! measurements.
//!
//! The providers, each a [`weir_analysis::MetricProvider`]:
//! - [`PrometheusProvider`] (`provider.prometheus`, instant and range queries);
//! - [`SkyWalkingProvider`] (`provider.skywalking`, GraphQL `/graphql`);
//! - [`WebProvider`] (`provider.web`, with a JSONPath subset);
//! - [`JobProvider`] (`provider.job`, embedded mode: a Pod built from the Job's template);
//! - [`BuiltinProvider`] (beyond Argo: `plugin: {"weir/builtin": {...}}`, request success
//!   rate, p99 latency and apdex read from the embedded proxy through [`ProxyStats`], or from
//!   a proxy's admin listener over HTTP for a controller in another process).
//!
//! What it is not: no decision logic (verdicts, schedule, messages are `weir-analysis`), no
//! TLS (reqwest is built without it: `https://` addresses fail with an Error measurement), no
//! OAuth2 or SigV4 authentication yet.
//!
//! Read [`run_analysis_controller`] and [`Providers`] first.

mod builtin;
mod controller;
mod http;
mod job;
mod jsonpath;
mod prometheus;
mod providers;
mod secrets;
mod skywalking;
mod tls;
mod web;

pub use builtin::{BUILTIN_PLUGIN, BuiltinProvider, ProxyStats};
pub use controller::{AnalysisReconciler, run_analysis_controller};
pub use job::JobProvider;
pub use prometheus::PrometheusProvider;
pub use providers::Providers;
pub use skywalking::SkyWalkingProvider;
pub use web::WebProvider;
