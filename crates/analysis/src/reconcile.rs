//! One reconcile of an AnalysisRun, as two pure halves around the measurements the
//! controller takes: [`plan`] (validate, resolve arguments, decide which metrics to measure)
//! and [`Step::finish`] (fold the measurements into the status, assess metrics and run,
//! apply retention, decide the requeue time and whether a finished run is due for deletion).
//!
//! ```text
//! let step = plan(&run, &secrets, now);
//! for task in step.tasks() { outcomes.push(provider.run/resume/terminate(task)) } // I/O
//! let reconciled = step.finish(&run, outcomes, now);   // write status, requeue, delete
//! ```
//!
//! Level-triggered and idempotent: a reconcile with no outcomes and nothing due changes
//! nothing; an outcome is applied to the result of its metric only.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use weir_model::rollouts::{
    AnalysisPhase, AnalysisRun, AnalysisRunStatus, Measurement, MeasurementRetention, Metric,
    MetricResult,
};

use crate::args::{
    Redactor, SecretSource, resolve_metric_args, resolve_metrics, resolve_secret_args,
    without_secrets,
};
use crate::assess::{assess_run_status, is_terminating, n};
use crate::phase::{completed, parse_phase};
use crate::rules::{dry_run_metrics, retention_metrics, validate_metrics};
use crate::schedule::{metric_tasks, next_reconcile_time, ttl_deadline, ttl_expired};

/// Argo's `DefaultMeasurementHistoryLimit`: measurements kept per metric without a rule.
pub const DEFAULT_MEASUREMENT_RETENTION: usize = 10;

/// The message a measurement stopped by termination gets.
pub const METRIC_TERMINATED: &str = "Metric Terminated";

/// What to do for one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAction {
    /// Take a new measurement (`provider.run`).
    Run,
    /// Check on this in-flight measurement (`provider.resume`).
    Resume(Measurement),
    /// Stop this in-flight measurement, the run is terminating (`provider.terminate`).
    Terminate(Measurement),
}

/// A measurement to take now.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The metric with all arguments, secrets included, substituted. Do not log it.
    pub metric: Metric,
    /// Run, resume or terminate.
    pub action: TaskAction,
}

/// What the controller got for a [`Task`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    /// The task's metric name.
    pub metric: String,
    /// The new (or resumed) measurement. Missing times are filled with `now`.
    pub measurement: Measurement,
    /// `provider.metadata(metric)`, stored when the metric's result is created.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug)]
enum Kind {
    Completed,
    Invalid(String),
    Active {
        metrics: Vec<Metric>,
        dry_run: BTreeSet<String>,
        retention: BTreeMap<String, MeasurementRetention>,
    },
}

/// The first half of a reconcile: the measurements to take. Hand the outcomes to
/// [`Step::finish`].
#[derive(Debug)]
pub struct Step {
    kind: Kind,
    tasks: Vec<Task>,
    redactor: Redactor,
}

/// An event worth recording on the run (`Metric<Phase>`, `AnalysisRun<Phase>`).
pub use weir_model::Event;

/// The result of a reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The new status (equal to the old one when nothing changed).
    pub status: AnalysisRunStatus,
    /// Whether `status` differs from the run's.
    pub changed: bool,
    /// The run is completed and its TTL has expired: delete it.
    pub delete: bool,
    /// When to reconcile again, if anything is due.
    pub requeue_at: Option<Timestamp>,
    /// Events to record.
    pub events: Vec<Event>,
    /// Measurements dropped by retention, per metric (for `provider.garbage_collect`).
    pub dropped: Vec<(String, Vec<Measurement>)>,
}

/// The first half of a reconcile: nothing for a completed run; an Error for arguments that
/// do not resolve ("Unable to resolve metric arguments: …") or an invalid spec ("Analysis
/// spec invalid: …"); else the metrics due at `now` ([`metric_tasks`]).
/// Annotation on a run that its creator could not build (a template that does not exist,
/// arguments that do not resolve): the run is an Error with this message. It is written with
/// the run, so whichever controller judges the run first writes the same message.
pub const BUILD_ERROR_ANNOTATION: &str = "analysis.weir.dev/build-error";

pub fn plan(run: &AnalysisRun, secrets: &dyn SecretSource, now: Timestamp) -> Step {
    let invalid = |m: String| Step {
        kind: Kind::Invalid(m),
        tasks: Vec::new(),
        redactor: Redactor::default(),
    };
    let status = run.status.clone().unwrap_or_default();
    if completed(&status.phase) {
        return Step { kind: Kind::Completed, tasks: Vec::new(), redactor: Redactor::default() };
    }
    let build_error = run.metadata.annotations.as_ref().and_then(|a| a.get(BUILD_ERROR_ANNOTATION));
    if let Some(problem) = build_error {
        return invalid(problem.clone());
    }
    let args = run.spec.args.as_deref().unwrap_or_default();
    let metrics = match resolve_metrics(&run.spec.metrics, &without_secrets(args)) {
        Ok(m) => m,
        Err(e) => return invalid(format!("Unable to resolve metric arguments: {e}")),
    };
    let rules = validate_metrics(&metrics)
        .and_then(|()| dry_run_metrics(run.spec.dry_run.as_deref().unwrap_or_default(), &metrics))
        .and_then(|d| {
            retention_metrics(
                run.spec.measurement_retention.as_deref().unwrap_or_default(),
                &metrics,
            )
            .map(|r| (d, r))
        });
    let (dry_run, retention) = match rules {
        Ok(r) => r,
        Err(e) => return invalid(format!("Analysis spec invalid: {e}")),
    };
    let terminating = is_terminating(run.spec.terminate.unwrap_or(false), Some(&status));
    let due = metric_tasks(&metrics, &status, terminating, now);
    let (args, redactor) = match resolve_secret_args(args, secrets) {
        Ok(r) => r,
        Err(e) => return invalid(format!("Unable to resolve metric arguments: {e}")),
    };
    let mut tasks = Vec::with_capacity(due.len());
    for t in due {
        let metric = match resolve_metric_args(&run.spec.metrics[t.index], &args) {
            Ok(m) => m,
            Err(e) => return invalid(format!("Unable to resolve metric arguments: {e}")),
        };
        let action = match t.incomplete {
            None => TaskAction::Run,
            Some(m) if terminating => TaskAction::Terminate(m),
            Some(m) => TaskAction::Resume(m),
        };
        tasks.push(Task { metric, action });
    }
    Step { kind: Kind::Active { metrics, dry_run, retention }, tasks, redactor }
}

impl Step {
    /// The measurements to take now (each metric at most once).
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Masks the run's secret values; use it on everything logged about the tasks.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The second half of a reconcile: folds `outcomes` (one per task; others are ignored)
    /// into the status and assesses it.
    pub fn finish(
        self,
        run: &AnalysisRun,
        outcomes: Vec<TaskOutcome>,
        now: Timestamp,
    ) -> Reconciled {
        let old = run.status.clone().unwrap_or_default();
        let mut status = old.clone();
        let mut events = Vec::new();
        let mut dropped = Vec::new();
        let mut requeue_at = None;
        let mut delete = false;
        match self.kind {
            Kind::Completed => {
                delete = ttl_expired(run, now);
                if !delete && run.metadata.deletion_timestamp.is_none() {
                    requeue_at = ttl_deadline(run)
                        .and_then(|t| t.checked_add(SignedDuration::from_secs(1)).ok());
                }
            }
            Kind::Invalid(message) => {
                status.phase = AnalysisPhase::Error.as_str().to_owned();
                status.message = Some(message);
                status.completed_at.get_or_insert(Time(now));
                events.push(run_event(AnalysisPhase::Error));
            }
            Kind::Active { metrics, dry_run, retention } => {
                if status.started_at.is_none() {
                    status.started_at = Some(Time(now));
                }
                for outcome in outcomes {
                    let Some(task) = self.tasks.iter().find(|t| t.metric.name == outcome.metric)
                    else {
                        continue;
                    };
                    let results = status.metric_results.get_or_insert_with(Vec::new);
                    let result = match results.iter().position(|r| r.name == outcome.metric) {
                        Some(i) => &mut results[i],
                        None => {
                            results.push(MetricResult {
                                name: outcome.metric.clone(),
                                phase: AnalysisPhase::Running.as_str().to_owned(),
                                dry_run: dry_run.contains(&outcome.metric).then_some(true),
                                metadata: (!outcome.metadata.is_empty())
                                    .then(|| outcome.metadata.clone()),
                                ..MetricResult::default()
                            });
                            results.last_mut().expect("just pushed")
                        }
                    };
                    apply_measurement(
                        result,
                        &task.action,
                        outcome.measurement,
                        &self.redactor,
                        now,
                    );
                }
                let terminate = run.spec.terminate.unwrap_or(false);
                let assessment = assess_run_status(terminate, &metrics, &dry_run, &mut status);
                for (name, phase) in &assessment.transitions {
                    if phase.completed() {
                        events.push(Event {
                            reason: format!("Metric{}", phase.as_str()),
                            message: format!(
                                "Metric '{name}' Completed. Result: {}",
                                phase.as_str()
                            ),
                            warning: matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error),
                        });
                    }
                }
                if parse_phase(&status.phase) != Some(assessment.phase) {
                    status.phase = assessment.phase.as_str().to_owned();
                    status.message = (!assessment.message.is_empty()).then_some(assessment.message);
                    if assessment.phase.completed() {
                        events.push(run_event(assessment.phase));
                        status.completed_at.get_or_insert(Time(now));
                    }
                }
                dropped = trim_measurements(&mut status, &retention, DEFAULT_MEASUREMENT_RETENTION);
                requeue_at = if assessment.phase.completed() {
                    None
                } else {
                    next_reconcile_time(&metrics, &status, now)
                };
            }
        }
        Reconciled { changed: status != old, status, delete, requeue_at, events, dropped }
    }
}

fn run_event(phase: AnalysisPhase) -> Event {
    Event {
        reason: format!("AnalysisRun{}", phase.as_str()),
        message: format!("Analysis Completed. Result: {}", phase.as_str()),
        warning: matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error),
    }
}

/// Folds one measurement into its metric's result (Argo's `runMeasurements` bookkeeping):
/// a terminated measurement is "Metric Terminated" (Inconclusive unless completed); a
/// completed one gets `finishedAt = now` if unset and moves the counters (Successful,
/// Failed, Inconclusive count toward `count`; an Error only increments `error` and
/// `consecutiveError`); its message is redacted; a new measurement is appended, a resumed
/// one replaces the last.
pub fn apply_measurement(
    result: &mut MetricResult,
    action: &TaskAction,
    mut m: Measurement,
    redactor: &Redactor,
    now: Timestamp,
) {
    if matches!(action, TaskAction::Terminate(_)) {
        if !completed(&m.phase) {
            m.phase = AnalysisPhase::Inconclusive.as_str().to_owned();
        }
        m.message = Some(METRIC_TERMINATED.to_owned());
    }
    if m.started_at.is_none() {
        m.started_at = Some(Time(now));
    }
    if let Some(phase) = parse_phase(&m.phase).filter(|p| p.completed()) {
        m.finished_at.get_or_insert(Time(now));
        let inc = |v: &mut Option<i32>| *v = Some(n(*v) + 1);
        match phase {
            AnalysisPhase::Successful => {
                inc(&mut result.successful);
                inc(&mut result.count);
                result.consecutive_error = Some(0);
                inc(&mut result.consecutive_success);
            }
            AnalysisPhase::Failed | AnalysisPhase::Inconclusive => {
                if phase == AnalysisPhase::Failed {
                    inc(&mut result.failed);
                } else {
                    inc(&mut result.inconclusive);
                }
                inc(&mut result.count);
                result.consecutive_error = Some(0);
                result.consecutive_success = Some(0);
            }
            AnalysisPhase::Error => {
                inc(&mut result.error);
                inc(&mut result.consecutive_error);
                result.consecutive_success = Some(0);
            }
            AnalysisPhase::Pending | AnalysisPhase::Running => {}
        }
    }
    if let Some(msg) = m.message.as_mut().filter(|s| !s.is_empty()) {
        *msg = redactor.redact(msg);
    }
    let list = result.measurements.get_or_insert_with(Vec::new);
    match action {
        TaskAction::Run => list.push(m),
        TaskAction::Resume(_) | TaskAction::Terminate(_) => match list.last_mut() {
            Some(last) => *last = m,
            None => list.push(m),
        },
    }
}

/// Argo's `garbageCollectMeasurements`: keeps the newest measurements of each metric (the
/// rule's limit when > 0, else `default_limit`) and returns the dropped ones.
pub fn trim_measurements(
    status: &mut AnalysisRunStatus,
    retention: &BTreeMap<String, MeasurementRetention>,
    default_limit: usize,
) -> Vec<(String, Vec<Measurement>)> {
    let mut dropped = Vec::new();
    for result in status.metric_results.iter_mut().flatten() {
        let limit = retention
            .get(&result.name)
            .and_then(|r| usize::try_from(r.limit).ok())
            .filter(|l| *l > 0)
            .unwrap_or(default_limit);
        if let Some(list) = result.measurements.as_mut()
            && list.len() > limit
        {
            let old: Vec<Measurement> = list.drain(..list.len() - limit).collect();
            dropped.push((result.name.clone(), old));
        }
    }
    dropped
}

/// A whole reconcile with a synchronous `measure` (tests, tools): [`plan`], `measure` per
/// task, [`Step::finish`].
pub fn reconcile(
    run: &AnalysisRun,
    secrets: &dyn SecretSource,
    now: Timestamp,
    mut measure: impl FnMut(&Task) -> TaskOutcome,
) -> Reconciled {
    let step = plan(run, secrets, now);
    let outcomes = step.tasks().iter().map(&mut measure).collect();
    step.finish(run, outcomes, now)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::args::NoSecrets;

    fn t(offset: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + offset).expect("valid")
    }

    fn run(spec: serde_json::Value) -> AnalysisRun {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "r", "namespace": "default"}, "spec": spec
        }))
        .expect("run")
    }

    fn outcome(task: &Task, phase: AnalysisPhase, message: &str) -> TaskOutcome {
        let mut m = crate::provider::error_measurement(message, t(0), t(0));
        m.started_at = None;
        m.finished_at = None;
        m.phase = phase.as_str().to_owned();
        TaskOutcome { metric: task.metric.name.clone(), measurement: m, metadata: BTreeMap::new() }
    }

    #[test]
    fn measures_on_interval_until_failure_limit_then_fails() {
        let mut r = run(json!({"metrics": [{"name": "m", "interval": "60s", "failureLimit": 1,
            "successCondition": "result > 0", "provider": {"web": {"url": "http://x"}}}]}));
        let out = reconcile(&r, &NoSecrets, t(0), |task| outcome(task, AnalysisPhase::Failed, ""));
        assert_eq!(out.status.phase, "Running");
        assert_eq!(out.requeue_at, Some(t(60)));
        r.status = Some(out.status);
        // Not due yet: nothing changes.
        let idle = reconcile(&r, &NoSecrets, t(60), |_| unreachable!("not due"));
        assert!(!idle.changed);
        let out =
            reconcile(&r, &NoSecrets, t(61), |task| outcome(task, AnalysisPhase::Failed, "bad"));
        assert_eq!(out.status.phase, "Failed");
        assert_eq!(
            out.status.message.as_deref(),
            Some(
                "Metric \"m\" assessed Failed due to failed (2) > failureLimit (1): \"Error Message: bad\""
            )
        );
        assert_eq!(out.status.completed_at, Some(Time(t(61))));
        assert_eq!(out.requeue_at, None);
        let reasons: Vec<&str> = out.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["MetricFailed", "AnalysisRunFailed"]);
    }

    #[test]
    fn errors_retry_after_ten_seconds_and_do_not_count() {
        let r = run(json!({"metrics": [{"name": "m", "interval": "5m", "provider": {"job": {}}}]}));
        let out = reconcile(&r, &NoSecrets, t(0), |task| outcome(task, AnalysisPhase::Error, "x"));
        let res = &out.status.metric_results.as_ref().expect("results")[0];
        assert_eq!((res.count, res.error, res.consecutive_error), (None, Some(1), Some(1)));
        assert_eq!(out.requeue_at, Some(t(10)));
    }

    #[test]
    fn invalid_runs_error_once_and_completed_runs_wait_for_ttl() {
        let r = run(json!({"metrics": [{"name": "m", "count": 2}]}));
        let out = reconcile(&r, &NoSecrets, t(0), |_| unreachable!("invalid"));
        assert_eq!(out.status.phase, "Error");
        assert_eq!(
            out.status.message.as_deref(),
            Some("Analysis spec invalid: metrics[0]: interval must be specified when count > 1")
        );
        let mut done = r.clone();
        done.status = Some(out.status);
        done.spec.ttl_strategy = Some(
            serde_json::from_value(json!({"secondsAfterFailure": 5, "secondsAfterCompletion": 30}))
                .expect("ttl"),
        );
        let out = reconcile(&done, &NoSecrets, t(10), |_| unreachable!("completed"));
        assert!(!out.changed && !out.delete);
        assert_eq!(out.requeue_at, Some(t(31)));
        assert!(reconcile(&done, &NoSecrets, t(31), |_| unreachable!("completed")).delete);
    }

    #[test]
    fn in_flight_measurements_are_resumed_in_place_and_secrets_redacted() {
        let secrets = BTreeMap::from([(
            "s".to_owned(),
            BTreeMap::from([("token".to_owned(), "sekrit".to_owned())]),
        )]);
        let mut r = run(json!({
            "args": [{"name": "tok", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}],
            "metrics": [{"name": "m", "provider": {"web": {"url": "http://x/{{args.tok}}"}}}]}));
        let out = reconcile(&r, &secrets, t(0), |task| {
            assert_eq!(
                task.metric.provider.web.as_ref().map(|w| w.url.as_str()),
                Some("http://x/sekrit")
            );
            let mut m = crate::provider::error_measurement("", t(0), t(0));
            m.phase = "Running".into();
            m.finished_at = None;
            m.message = None;
            m.resume_at = Some(Time(t(5)));
            TaskOutcome { metric: "m".into(), measurement: m, metadata: BTreeMap::new() }
        });
        assert_eq!(out.requeue_at, Some(t(5)));
        r.status = Some(out.status);
        assert!(plan(&r, &secrets, t(4)).tasks().is_empty());
        let out = reconcile(&r, &secrets, t(5), |task| {
            assert!(matches!(task.action, TaskAction::Resume(_)));
            outcome(task, AnalysisPhase::Error, "GET http://x/sekrit: 500")
        });
        let ms = out.status.metric_results.as_ref().expect("results")[0].measurements.clone();
        let ms = ms.expect("measurements");
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].message.as_deref(), Some("GET http://x/*****: 500"));
        let missing = plan(&r, &NoSecrets, t(5));
        let out = missing.finish(&r, Vec::new(), t(5));
        assert_eq!(
            out.status.message.as_deref(),
            Some("Unable to resolve metric arguments: secrets \"s\" not found")
        );
    }

    #[test]
    fn retention_keeps_the_newest_and_reports_the_dropped() {
        let mut status: AnalysisRunStatus = serde_json::from_value(json!({"phase": "Running",
            "metricResults": [{"name": "a", "phase": "Running", "measurements":
                [{"phase": "Successful", "value": "1"}, {"phase": "Successful", "value": "2"},
                 {"phase": "Successful", "value": "3"}]}]}))
        .expect("status");
        let rules = BTreeMap::from([(
            "a".to_owned(),
            MeasurementRetention { metric_name: "a".into(), limit: 2 },
        )]);
        let dropped = trim_measurements(&mut status, &rules, 10);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].1[0].value.as_deref(), Some("1"));
        let kept = status.metric_results.expect("results")[0].measurements.clone().expect("kept");
        assert_eq!(kept.len(), 2);
    }
}
