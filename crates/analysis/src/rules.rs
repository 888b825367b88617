//! Spec rules checked on every reconcile: `ValidateMetrics` (Argo's first error, with the
//! messages of the Argo version the test vectors come from), and which metrics the
//! `dryRun` / `measurementRetention` rules select (an unanchored regular expression each,
//! so `success` also selects `success-rate` and `.*` everything; every rule must select a
//! metric).

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use weir_model::duration::parse_nanos;
use weir_model::rollouts::{DryRun, MeasurementRetention, Metric};

/// Argo's `ValidateMetrics`: `Err` with Argo's text of the first problem
/// (`metrics[0]: interval must be specified when count > 1`).
pub fn validate_metrics(metrics: &[Metric]) -> Result<(), String> {
    if metrics.is_empty() {
        return Err("no metrics specified".to_owned());
    }
    let mut names = BTreeSet::new();
    for (i, metric) in metrics.iter().enumerate() {
        if !names.insert(metric.name.as_str()) {
            return Err(format!("metrics[{i}]: duplicate name '{}'", metric.name));
        }
        validate_metric(metric).map_err(|e| format!("metrics[{i}]: {e}"))?;
    }
    Ok(())
}

/// Argo's `ValidateMetric`: the first problem of one metric.
pub fn validate_metric(metric: &Metric) -> Result<(), String> {
    let count = metric.count();
    let failure_limit = metric.failure_limit();
    let inconclusive_limit = metric.inconclusive_limit();
    let success_limit = metric.consecutive_success_limit();
    if count > 0 {
        if failure_limit >= 0 && success_limit >= 0 && count < failure_limit + success_limit {
            return Err(format!(
                "count ({count}) must be >= failureLimit + consecutiveSuccessLimit ({failure_limit} + {success_limit}) if both >= 0"
            ));
        }
        if count < inconclusive_limit {
            return Err("count must be >= inconclusiveLimit".to_owned());
        }
    }
    let interval = metric.interval.as_deref().unwrap_or("");
    if count > 1 && interval.is_empty() {
        return Err("interval must be specified when count > 1".to_owned());
    }
    if !interval.is_empty() {
        parse_nanos(interval).map_err(|e| format!("invalid interval string: {e}"))?;
    }
    let delay = metric.initial_delay.as_deref().unwrap_or("");
    if !delay.is_empty() {
        parse_nanos(delay).map_err(|e| format!("invalid startDelay string: {e}"))?;
    }
    if failure_limit < -1 {
        return Err("failureLimit must be >= 0, or -1 to be disabled".to_owned());
    }
    if inconclusive_limit < 0 {
        return Err("inconclusiveLimit must be >= 0".to_owned());
    }
    if metric.consecutive_error_limit() < 0 {
        return Err("consecutiveErrorLimit must be >= 0".to_owned());
    }
    if success_limit < 0 {
        return Err("consecutiveSuccessLimit must be >= 0".to_owned());
    }
    if failure_limit == -1 && success_limit == 0 {
        return Err("failureLimit and consecutiveSuccessLimit cannot both be disabled".to_owned());
    }
    match metric.provider.count() {
        0 => Err("no provider specified".to_owned()),
        1 => Ok(()),
        _ => Err("multiple providers specified".to_owned()),
    }
}

/// Go's `regexp.MatchString(pattern, name)`: unanchored; an invalid pattern matches nothing.
fn matches(pattern: &str, name: &str) -> bool {
    Regex::new(pattern).is_ok_and(|re| re.is_match(name))
}

/// Argo's `GetDryRunMetrics`: the names of the metrics run in dry-run mode.
pub fn dry_run_metrics(rules: &[DryRun], metrics: &[Metric]) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut matched = false;
        for m in metrics.iter().filter(|m| matches(&rule.metric_name, &m.name)) {
            out.insert(m.name.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("dryRun[{i}]: Rule didn't match any metric name(s)"));
        }
    }
    Ok(out)
}

/// Argo's `GetMeasurementRetentionMetrics`: the retention rule of each selected metric (a
/// later rule overrides an earlier one for the same metric).
pub fn retention_metrics(
    rules: &[MeasurementRetention],
    metrics: &[Metric],
) -> Result<BTreeMap<String, MeasurementRetention>, String> {
    let mut out = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut matched = false;
        for m in metrics.iter().filter(|m| matches(&rule.metric_name, &m.name)) {
            out.insert(m.name.clone(), rule.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("measurementRetention[{i}]: Rule didn't match any metric name(s)"));
        }
    }
    Ok(out)
}
