//! When to measure: which metrics need a measurement now (`generateMetricTasks`), when the
//! run must be looked at again (`calculateNextReconcileTime`), and when a completed run is
//! due for deletion (`ttlStrategy`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use weir_model::duration::parse_nanos;
use weir_model::rollouts::{
    AnalysisPhase, AnalysisRun, AnalysisRunStatus, Measurement, Metric, MetricResult,
};

use crate::assess::{effective_count, n};
use crate::phase::{completed, parse_phase};

/// Argo's `DefaultErrorRetryInterval`: an errored measurement is retried after 10 s,
/// whatever the metric's interval.
pub const ERROR_RETRY_INTERVAL: SignedDuration = SignedDuration::from_secs(10);

pub(crate) fn ts(t: Option<&Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

fn add(t: Timestamp, go_duration: &str) -> Option<Timestamp> {
    let nanos = parse_nanos(go_duration).ok()?;
    t.checked_add(SignedDuration::from_nanos(nanos)).ok()
}

/// Argo's `GetResult`: the result of the metric `name`.
pub fn metric_result<'a>(status: &'a AnalysisRunStatus, name: &str) -> Option<&'a MetricResult> {
    status.metric_results.as_deref()?.iter().find(|r| r.name == name)
}

/// Argo's `LastMeasurement`: the newest measurement of the metric `name`.
pub fn last_measurement<'a>(status: &'a AnalysisRunStatus, name: &str) -> Option<&'a Measurement> {
    metric_result(status, name)?.measurements.as_deref()?.last()
}

/// Argo's `MetricCompleted`: the metric `name` has a result in a completed phase.
pub fn metric_completed(status: &AnalysisRunStatus, name: &str) -> bool {
    metric_result(status, name).is_some_and(|r| completed(&r.phase))
}

fn count_reached(status: &AnalysisRunStatus, metric: &Metric) -> bool {
    let count = status
        .metric_results
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.name == metric.name)
        .map_or(0, |r| n(r.count));
    effective_count(metric).is_some_and(|c| count >= c)
}

/// A metric to measure now.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTask {
    /// Index into the metrics.
    pub index: usize,
    /// The in-flight measurement to resume (or terminate), if any.
    pub incomplete: Option<Measurement>,
}

/// Argo's `generateMetricTasks`: the metrics to measure at `now`. An in-flight measurement
/// is resumed once its `resumeAt` has come (also while terminating, to terminate it); a
/// terminating run takes no new measurements; the first measurement waits for
/// `initialDelay` after `status.startedAt`; no more once the effective count is reached;
/// then one when `now > lastFinishedAt + interval` (10 s after an Error). Unparsable
/// durations skip the metric (validation reports them).
pub fn metric_tasks(
    metrics: &[Metric],
    status: &AnalysisRunStatus,
    terminating: bool,
    now: Timestamp,
) -> Vec<MetricTask> {
    let mut tasks = Vec::new();
    for (index, metric) in metrics.iter().enumerate() {
        if metric_completed(status, &metric.name) {
            continue;
        }
        let last = last_measurement(status, &metric.name);
        if let Some(m) = last.filter(|m| m.finished_at.is_none()) {
            if ts(m.resume_at.as_ref()).is_some_and(|r| r > now) {
                continue;
            }
            tasks.push(MetricTask { index, incomplete: Some(m.clone()) });
            continue;
        }
        if terminating {
            continue;
        }
        let Some(last) = last else {
            let delay = metric.initial_delay.as_deref().unwrap_or("");
            if !delay.is_empty() {
                let Some(started) = ts(status.started_at.as_ref()) else { continue };
                match add(started, delay) {
                    Some(due) if due <= now => {}
                    _ => continue,
                }
            }
            tasks.push(MetricTask { index, incomplete: None });
            continue;
        };
        if count_reached(status, metric) {
            continue;
        }
        let Some(finished) = ts(last.finished_at.as_ref()) else { continue };
        let interval = metric.interval.as_deref().unwrap_or("");
        let due = if parse_phase(&last.phase) == Some(AnalysisPhase::Error) || interval.is_empty() {
            finished.checked_add(ERROR_RETRY_INTERVAL).ok()
        } else {
            add(finished, interval)
        };
        if due.is_some_and(|due| now > due) {
            tasks.push(MetricTask { index, incomplete: None });
        }
    }
    tasks
}

/// Argo's `calculateNextReconcileTime`: the earliest time a metric needs a look (the end of
/// an `initialDelay`, a `resumeAt`, the next interval or error retry), `None` if none does.
/// A run that has not started counts its delays from `now`.
pub fn next_reconcile_time(
    metrics: &[Metric],
    status: &AnalysisRunStatus,
    now: Timestamp,
) -> Option<Timestamp> {
    let mut next: Option<Timestamp> = None;
    let mut consider = |t: Timestamp| {
        if next.is_none_or(|n| n > t) {
            next = Some(t);
        }
    };
    for metric in metrics {
        if metric_completed(status, &metric.name) {
            continue;
        }
        let Some(last) = last_measurement(status, &metric.name) else {
            let delay = metric.initial_delay.as_deref().unwrap_or("");
            if !delay.is_empty() {
                let start = ts(status.started_at.as_ref()).unwrap_or(now);
                if let Some(t) = add(start, delay) {
                    consider(t);
                }
            }
            continue;
        };
        let Some(finished) = ts(last.finished_at.as_ref()) else {
            if let Some(r) = ts(last.resume_at.as_ref()) {
                consider(r);
            }
            continue;
        };
        if count_reached(status, metric) {
            continue;
        }
        let interval = metric.interval.as_deref().unwrap_or("");
        let due = if parse_phase(&last.phase) == Some(AnalysisPhase::Error) {
            finished.checked_add(ERROR_RETRY_INTERVAL).ok()
        } else if !interval.is_empty() {
            add(finished, interval)
        } else {
            None
        };
        if let Some(t) = due {
            consider(t);
        }
    }
    next
}

/// When a completed run is due for deletion under `spec.ttlStrategy`
/// (`secondsAfterSuccess` / `secondsAfterFailure` override `secondsAfterCompletion` for
/// their phase); `None` for a run that is not completed, has no `completedAt` or no TTL.
/// The run is deleted once `now` is past this instant by a whole second or more
/// ([`ttl_expired`]).
pub fn ttl_deadline(run: &AnalysisRun) -> Option<Timestamp> {
    let status = run.status.as_ref()?;
    let phase = parse_phase(&status.phase).filter(|p| p.completed())?;
    let ttl = run.spec.ttl_strategy.as_ref()?;
    let completed_at = ts(status.completed_at.as_ref())?;
    let seconds = match phase {
        AnalysisPhase::Successful if ttl.seconds_after_success.is_some() => {
            ttl.seconds_after_success
        }
        AnalysisPhase::Failed if ttl.seconds_after_failure.is_some() => ttl.seconds_after_failure,
        _ => ttl.seconds_after_completion,
    }?;
    completed_at.checked_add(SignedDuration::from_secs(i64::from(seconds))).ok()
}

/// Argo's `isAnalysisRunTtlExceeded` (whole seconds since completion > TTL), and not
/// already being deleted.
pub fn ttl_expired(run: &AnalysisRun, now: Timestamp) -> bool {
    if run.metadata.deletion_timestamp.is_some() {
        return false;
    }
    ttl_deadline(run).is_some_and(|deadline| now.duration_since(deadline).as_secs() >= 1)
}
