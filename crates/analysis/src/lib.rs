//! `weir-analysis`: the pure engine of Argo Rollouts analysis.
//!
//! What it is: everything an AnalysisRun controller decides, as functions of the run, the
//! measurements just taken and `now`:
//! - arguments: [`merge_args`], secrets through a [`SecretSource`] with a [`Redactor`],
//!   `{{args.x}}` substitution ([`resolve_args`], [`resolve_metric_args`]), a Rollout's
//!   arguments ([`build_rollout_args`]);
//! - templates: nested references ([`resolve_template_refs`]), [`flatten_templates`],
//!   [`new_analysis_run`], run [`labels`] and [`run_name`];
//! - the rules: [`validate_metrics`], [`dry_run_metrics`], [`retention_metrics`];
//! - the verdicts: [`assess_metric_status`], [`limit_exceeded`], [`assess_run_status`],
//!   [`is_terminating`], phase order ([`is_worse`]);
//! - the schedule: [`metric_tasks`], [`next_reconcile_time`], [`ttl_deadline`];
//! - one reconcile: [`plan`] → the controller measures → [`Step::finish`];
//! - the provider port: [`MetricProvider`] (async via boxed futures, no runtime), with
//!   [`Conditions`] (compiled once) and [`Observation`] for building measurements.
//!
//! What it is not: no I/O, no clock, no async runtime, no providers (they live in the
//! providers crate) and no cluster access (the controller reads Secrets and templates and
//! passes them in). Messages are Argo's, byte for byte, as Argo's test vectors assert.
//!
//! Read [`plan`] and [`Step`] first.

mod args;
mod assess;
mod error;
mod phase;
mod provider;
mod reconcile;
mod restart;
mod rollout_args;
mod rules;
mod run_builder;
mod schedule;
mod template;

pub use args::{
    NoSecrets, Redactor, SecretSource, merge_args, resolve_metric_args, resolve_metrics,
    resolve_secret_args, secret_names,
};
pub use assess::{
    RunAssessment, assess_metric_status, assess_run_status, effective_count, is_terminating,
    limit_exceeded,
};
pub use error::{ArgError, TemplateError};
pub use phase::{is_worse, parse_phase, worst};
pub use provider::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, analysis_phase,
    error_measurement,
};
pub use reconcile::{
    BUILD_ERROR_ANNOTATION, DEFAULT_MEASUREMENT_RETENTION, Event, METRIC_TERMINATED, Reconciled,
    Step, Task, TaskAction, TaskOutcome, apply_measurement, plan, reconcile, trim_measurements,
};
pub use restart::{lookback, retake_after_restart};
pub use rollout_args::{PodHashes, build_rollout_args, extract_value};
pub use rules::{dry_run_metrics, retention_metrics, validate_metric, validate_metrics};
pub use run_builder::{
    NamedTemplate, ResolvedTemplates, RunMeta, TemplateSource, TemplatesByName,
    filter_unique_templates, flatten_templates, labels, new_analysis_run, resolve_template_refs,
    run_name,
};
pub use schedule::{
    ERROR_RETRY_INTERVAL, MetricTask, last_measurement, metric_completed, metric_result,
    metric_tasks, next_reconcile_time, ttl_deadline, ttl_expired,
};
pub use template::{
    ExperimentTemplateRs, resolve_args, resolve_experiment_args, resolve_quoted_args,
};
