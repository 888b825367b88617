//! Analysis validation: Argo's `ValidateMetrics` / `ValidateMetric`
//! (`utils/analysis/factory.go`).
//!
//! Argo stops at the first problem and returns one Go error such as
//! `metrics[0]: interval must be specified when count > 1`. weir reports every problem it
//! finds, in Argo's order, so the first [`Diagnostic`] is Argo's error: its `field` is the
//! part before the colon (`metrics[0]`, or `""` for "no metrics specified") and its `detail`
//! the text after it. [`argo_error_text`] rebuilds Argo's exact string.

use std::collections::BTreeSet;

use super::index;
use crate::Diagnostic;
use crate::rollouts::{AnalysisTemplateSpec, Metric};

fn problem(field: String, detail: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: crate::ErrorType::Invalid,
        field,
        bad_value: None,
        detail: detail.into(),
    }
}

/// Argo's error text for a diagnostic from this module: `<field>: <detail>`, or the detail
/// alone when the field is empty.
pub fn argo_error_text(d: &Diagnostic) -> String {
    if d.field.is_empty() { d.detail.clone() } else { format!("{}: {}", d.field, d.detail) }
}

/// `ValidateMetrics`: at least one metric, unique names, each metric valid.
pub fn validate_metrics(metrics: &[Metric]) -> Vec<Diagnostic> {
    if metrics.is_empty() {
        return vec![problem(String::new(), "no metrics specified")];
    }
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, metric) in metrics.iter().enumerate() {
        let path = index("metrics", i);
        if !names.insert(metric.name.as_str()) {
            errs.push(problem(path.clone(), format!("duplicate name '{}'", metric.name)));
        }
        errs.extend(validate_metric(metric).into_iter().map(|m| problem(path.clone(), m)));
    }
    errs
}

/// An AnalysisTemplate/ClusterAnalysisTemplate spec: its metrics, unless it only composes
/// other templates (`templates`), whose metrics are checked once flattened.
pub fn validate_analysis_template_spec(spec: &AnalysisTemplateSpec) -> Vec<Diagnostic> {
    if spec.metrics().is_empty() && spec.templates.as_ref().is_some_and(|t| !t.is_empty()) {
        return Vec::new();
    }
    validate_metrics(spec.metrics())
}

/// `ValidateMetric`: every problem with one metric, as Argo's messages, in Argo's order.
pub fn validate_metric(metric: &Metric) -> Vec<String> {
    let mut errs = Vec::new();
    let count = metric.count();
    let failure_limit = metric.failure_limit();
    let inconclusive_limit = metric.inconclusive_limit();
    let consecutive_success_limit = metric.consecutive_success_limit();
    if count > 0 {
        if failure_limit >= 0
            && consecutive_success_limit >= 0
            && count < failure_limit + consecutive_success_limit
        {
            errs.push(if consecutive_success_limit > 0 {
                "count must be >= failureLimit + consecutiveSuccessLimit".to_owned()
            } else {
                "count must be >= failureLimit".to_owned()
            });
        }
        if count < inconclusive_limit {
            errs.push("count must be >= inconclusiveLimit".to_owned());
        }
    }
    let interval = metric.interval.as_deref().unwrap_or("");
    if count > 1 && interval.is_empty() {
        errs.push("interval must be specified when count > 1".to_owned());
    }
    if !interval.is_empty()
        && let Err(e) = crate::duration::parse_nanos(interval)
    {
        errs.push(format!("invalid interval string: {e}"));
    }
    let initial_delay = metric.initial_delay.as_deref().unwrap_or("");
    if !initial_delay.is_empty()
        && let Err(e) = crate::duration::parse_nanos(initial_delay)
    {
        errs.push(format!("invalid startDelay string: {e}"));
    }
    if failure_limit < -1 {
        errs.push("failureLimit must be >= -1".to_owned());
    }
    if inconclusive_limit < 0 {
        errs.push("inconclusiveLimit must be >= 0".to_owned());
    }
    if metric.consecutive_error_limit.is_some() && metric.consecutive_error_limit() < 0 {
        errs.push("consecutiveErrorLimit must be >= 0".to_owned());
    }
    if metric.consecutive_success_limit.is_some() && consecutive_success_limit < 0 {
        errs.push("consecutiveSuccessLimit must be >= 0".to_owned());
    }
    if failure_limit == -1 && consecutive_success_limit == 0 {
        errs.push(
            "at least one of failureLimit or consecutiveSuccessLimit must be applicable (failureLimit -1 disables it, consecutiveSuccessLimit 0 disables it)"
                .to_owned(),
        );
    }
    let providers = metric.provider.count();
    if providers == 0 {
        errs.push("no provider specified".to_owned());
    } else if providers > 1 {
        errs.push("multiple providers specified".to_owned());
    }
    errs
}
