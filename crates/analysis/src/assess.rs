//! The verdict rules: a metric's phase from its counters (`assessMetricStatus`), the limit
//! that was exceeded (`assessMetricFailureInconclusiveOrError`), and the run's phase and
//! message from its metrics (`assessRunStatus`), with the run and dry-run summaries.

use std::collections::BTreeSet;

use weir_model::rollouts::{AnalysisPhase, AnalysisRunStatus, Metric, MetricResult, RunSummary};

use crate::phase::{is_worse, parse_phase};

/// The counters of a result, `0` when unset.
pub(crate) fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Argo's `EffectiveCount`: `count`, or 1 when neither `count` (≠ 0) nor `interval` is set,
/// or `None` (unbounded) with only an interval.
pub fn effective_count(metric: &Metric) -> Option<i32> {
    let count = metric.count();
    if count == 0 {
        if metric.interval.as_deref().unwrap_or("").is_empty() { Some(1) } else { None }
    } else {
        Some(count)
    }
}

/// Argo's `assessMetricFailureInconclusiveOrError`: the phase a limit forces and the reason,
/// checked in the order failed → inconclusive → consecutive errors, the last match winning.
pub fn limit_exceeded(metric: &Metric, result: &MetricResult) -> Option<(AnalysisPhase, String)> {
    let mut out = None;
    let failure_limit = metric.failure_limit();
    let failed = n(result.failed);
    if failure_limit >= 0 && failed > failure_limit {
        out = Some((
            AnalysisPhase::Failed,
            format!("failed ({failed}) > failureLimit ({failure_limit})"),
        ));
    }
    let inconclusive_limit = metric.inconclusive_limit();
    let inconclusive = n(result.inconclusive);
    if inconclusive > inconclusive_limit {
        out = Some((
            AnalysisPhase::Inconclusive,
            format!("inconclusive ({inconclusive}) > inconclusiveLimit ({inconclusive_limit})"),
        ));
    }
    let error_limit = metric.consecutive_error_limit();
    let errors = n(result.consecutive_error);
    if errors > error_limit {
        out = Some((
            AnalysisPhase::Error,
            format!("consecutiveErrors ({errors}) > consecutiveErrorLimit ({error_limit})"),
        ));
    }
    out
}

/// Argo's `assessMetricStatus`: the phase of one metric.
pub fn assess_metric_status(
    metric: &Metric,
    result: &MetricResult,
    terminating: bool,
) -> AnalysisPhase {
    if let Some(p) = parse_phase(&result.phase).filter(|p| p.completed()) {
        return p;
    }
    let measurements = result.measurements.as_deref().unwrap_or_default();
    let Some(last) = measurements.last() else {
        return if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Pending };
    };
    if !parse_phase(&last.phase).is_some_and(AnalysisPhase::completed) {
        return AnalysisPhase::Running;
    }
    if let Some((phase, _)) = limit_exceeded(metric, result) {
        return phase;
    }
    let success_limit = metric.consecutive_success_limit();
    if success_limit > 0 && n(result.consecutive_success) >= success_limit {
        return AnalysisPhase::Successful;
    }
    if let Some(count) = effective_count(metric)
        && n(result.count) >= count
    {
        let failure_applies = metric.failure_limit.is_none() || metric.failure_limit() >= 0;
        let success_applies = success_limit > 0;
        return match (failure_applies, success_applies) {
            (true, true) => AnalysisPhase::Inconclusive,
            (false, true) => AnalysisPhase::Failed,
            _ => AnalysisPhase::Successful,
        };
    }
    if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Running }
}

/// Argo's `IsTerminating`: `spec.terminate`, or a metric that is not dry-run is Failed,
/// Error or Inconclusive (the others then stop measuring).
pub fn is_terminating(terminate: bool, status: Option<&AnalysisRunStatus>) -> bool {
    terminate
        || status.and_then(|s| s.metric_results.as_deref()).unwrap_or_default().iter().any(|r| {
            !r.dry_run.unwrap_or(false)
                && matches!(
                    parse_phase(&r.phase),
                    Some(
                        AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
                    )
                )
        })
}

/// The run's phase and message as [`assess_run_status`] decides them, and which metrics
/// changed phase (for events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAssessment {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// The run's message (`""` for none).
    pub message: String,
    /// Metrics whose phase changed, with the new phase.
    pub transitions: Vec<(String, AnalysisPhase)>,
}

fn summary(s: &mut RunSummary, phase: AnalysisPhase) {
    let slot = match phase {
        AnalysisPhase::Successful => &mut s.successful,
        AnalysisPhase::Failed => &mut s.failed,
        AnalysisPhase::Inconclusive => &mut s.inconclusive,
        AnalysisPhase::Error => &mut s.error,
        AnalysisPhase::Pending | AnalysisPhase::Running => return,
    };
    *slot = Some(n(*slot) + 1);
}

const DRY_RUN_PREFIX: &str = "Metric assessed ";

/// Argo's `assessRunStatus`: updates each metric result's phase (and message, from its last
/// measurement, when the phase changes), the run and dry-run summaries, and returns the run's
/// phase and message.
///
/// The run is Running while a metric is not completed (a metric that has not started does
/// not hold a terminating run back); then the worst phase of the metrics that are not
/// dry-run, Successful if none. The message names the first metric that set the worst phase
/// and the limit it exceeded (`Metric "m" assessed Failed due to failed (3) > failureLimit
/// (2)`, plus `: "Error Message: …"` with the result's message), or "Run Terminated" on
/// `spec.terminate`. A dry-run metric's own reason goes to its result's message instead
/// (once: a message that already carries it is left alone, so reconciles are idempotent).
pub fn assess_run_status(
    terminate: bool,
    metrics: &[Metric],
    dry_run: &BTreeSet<String>,
    status: &mut AnalysisRunStatus,
) -> RunAssessment {
    let terminating = is_terminating(terminate, Some(status));
    let mut worst: Option<AnalysisPhase> = None;
    let mut message = if terminate { "Run Terminated".to_owned() } else { String::new() };
    let mut everything_completed = true;
    let mut run_summary = RunSummary::default();
    let mut dry_summary = RunSummary::default();
    let mut transitions = Vec::new();
    let results = status.metric_results.get_or_insert_with(Vec::new);
    for metric in metrics {
        let is_dry = dry_run.contains(&metric.name);
        let counts = if is_dry { &mut dry_summary } else { &mut run_summary };
        counts.count = Some(n(counts.count) + 1);
        let Some(result) = results.iter_mut().find(|r| r.name == metric.name) else {
            if !terminating {
                everything_completed = false;
            }
            continue;
        };
        let phase = assess_metric_status(metric, result, terminating);
        if parse_phase(&result.phase) != Some(phase) {
            if let Some(last) = result.measurements.as_deref().and_then(<[_]>::last) {
                result.message.clone_from(&last.message);
            }
            result.phase = phase.as_str().to_owned();
            transitions.push((metric.name.clone(), phase));
        }
        if !phase.completed() {
            everything_completed = false;
            continue;
        }
        summary(counts, phase);
        let reason = limit_exceeded(metric, result).map(|(_, m)| m);
        if is_dry {
            let already = result.message.as_deref().is_some_and(|m| m.starts_with(DRY_RUN_PREFIX));
            if let Some(reason) = reason.filter(|_| !already) {
                let text = format!("{DRY_RUN_PREFIX}{} due to {reason}", phase.as_str());
                result.message = Some(match result.message.as_deref().filter(|m| !m.is_empty()) {
                    Some(m) => format!("{text}: \"Error Message: {m}\""),
                    None => text,
                });
            }
        } else if worst.is_none_or(|w| is_worse(w, phase)) {
            worst = Some(phase);
            if let Some(reason) = reason {
                message = format!(
                    "Metric \"{}\" assessed {} due to {reason}",
                    metric.name,
                    phase.as_str()
                );
                if let Some(m) = result.message.as_deref().filter(|m| !m.is_empty()) {
                    message.push_str(&format!(": \"Error Message: {m}\""));
                }
            }
        }
    }
    status.run_summary = Some(run_summary);
    status.dry_run_summary = Some(dry_summary);
    if !everything_completed {
        return RunAssessment {
            phase: AnalysisPhase::Running,
            message: String::new(),
            transitions,
        };
    }
    RunAssessment { phase: worst.unwrap_or(AnalysisPhase::Successful), message, transitions }
}
