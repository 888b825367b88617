//! Measurements across a restart of weir (issue 16 item 2): a measurement whose window spans
//! weir's own downtime measures weir, not the canary, so a bad verdict from it is not held
//! against the canary.
//!
//! The rule: the controller records when it started. A measurement of a run that already
//! existed then (created before the start: the run spans the restart; a run created later
//! never does) that came back **Failed, Error or Inconclusive** while its look-back window
//! still reaches back before that start (`finishedAt − lookback < started`) is **taken again** at the metric's next interval
//! instead of being recorded; a Successful one is recorded as usual. Once the window lies
//! wholly after the start, every verdict counts, so a canary that is really bad still fails,
//! at most one look-back later.
//!
//! Why re-measure rather than record Inconclusive or shift the run's clock: Inconclusive
//! pauses a Rollout for a human (a restart of weir is not a reason to wake one), and shifting
//! the clock still scores a window that holds the downtime. Re-measuring is what Argo Rollouts
//! does for a measurement its restarted controller never recorded.
//!
//! The look-back ([`lookback`]) is the `window` of weir's built-in provider (default 1 m, the
//! statistics it reads), otherwise the metric's `interval` (each measurement speaks for the
//! time since the previous one). A metric without either (measured once) has none: its
//! verdict always counts.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use weir_model::duration::parse_nanos;
use weir_model::rollouts::{AnalysisPhase, Measurement, Metric};

use crate::phase::parse_phase;

/// The plugin key of weir's built-in provider (as `weir_analysis_controller::BUILTIN_PLUGIN`).
const BUILTIN_PLUGIN: &str = "weir/builtin";
/// The built-in provider's default window.
const BUILTIN_DEFAULT_WINDOW: &str = "1m";

/// How far back in time one measurement of `metric` looks (see the module documentation).
pub fn lookback(metric: &Metric) -> Duration {
    let builtin = metric.provider.plugin.as_ref().and_then(|p| p.get(BUILTIN_PLUGIN));
    let text = match builtin {
        Some(config) => {
            Some(config.get("window").and_then(|w| w.as_str()).unwrap_or(BUILTIN_DEFAULT_WINDOW))
        }
        None => metric.interval.as_deref(),
    };
    text.and_then(|t| parse_nanos(t).ok())
        .map_or(Duration::ZERO, |nanos| Duration::from_nanos(nanos.unsigned_abs()))
}

/// Whether `measurement` of a run created at `run_created` is to be taken again rather than
/// recorded: the run existed before `started` (when this controller, and in `weir up` its
/// proxy, started) and the measurement is a bad verdict whose look-back window reaches back
/// before `started`. `now` stands for a measurement without `finishedAt`.
pub fn retake_after_restart(
    measurement: &Measurement,
    lookback: Duration,
    run_created: Option<Timestamp>,
    started: Timestamp,
    now: Timestamp,
) -> bool {
    // creationTimestamp has whole seconds: a run created in the second weir started, after it,
    // reads as created before it unless compared with the start's whole second.
    let started_second = Timestamp::from_second(started.as_second()).unwrap_or(started);
    if run_created.is_none_or(|created| created >= started_second) {
        return false;
    }
    let bad = matches!(
        parse_phase(&measurement.phase),
        Some(AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive)
    );
    if !bad || lookback.is_zero() {
        return false;
    }
    let finished = measurement.finished_at.as_ref().map_or(now, |t| t.0);
    let Ok(lookback) = SignedDuration::try_from(lookback) else {
        return true;
    };
    finished.checked_sub(lookback).is_ok_and(|from| from < started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("timestamp")
    }

    fn measured(phase: &str, finished: Option<i64>) -> Measurement {
        Measurement {
            phase: phase.into(),
            finished_at: finished.map(|s| Time(at(s))),
            ..Measurement::default()
        }
    }

    fn metric(yaml: &str) -> Metric {
        serde_yaml_ng::from_str(yaml).expect("metric")
    }

    /// weir started at t = 100 s; the look-back is 10 s, so windows ending before 110 s
    /// reach into the downtime (the module's rule, row by row).
    #[test]
    fn only_bad_verdicts_whose_window_reaches_before_the_start_are_taken_again() {
        let started = at(100);
        let lookback = Duration::from_secs(10);
        let cases = [
            ("Failed", Some(105), true),
            ("Error", Some(105), true),
            ("Inconclusive", Some(109), true),
            ("Successful", Some(105), false),
            ("Failed", Some(110), false),
            ("Failed", Some(150), false),
            ("Running", Some(105), false),
            // No finishedAt: judged at `now` (105 s).
            ("Failed", None, true),
        ];
        for (phase, finished, want) in cases {
            let m = measured(phase, finished);
            assert_eq!(
                retake_after_restart(&m, lookback, Some(at(50)), started, at(105)),
                want,
                "{m:?}"
            );
            // A run created after the start (or with no creation time) never spans it.
            assert!(!retake_after_restart(&m, lookback, Some(at(100)), started, at(105)));
            assert!(!retake_after_restart(&m, lookback, None, started, at(105)));
        }
        // Created 0.4 s after a start at 100.6 s, stored as 100 s: not before the start.
        let started_mid_second = at(100).checked_add(SignedDuration::from_millis(600)).expect("t");
        let m = measured("Failed", Some(105));
        assert!(!retake_after_restart(&m, lookback, Some(at(100)), started_mid_second, at(105)));
        assert!(retake_after_restart(&m, lookback, Some(at(99)), started_mid_second, at(105)));
        // A metric without a look-back: every verdict counts.
        assert!(!retake_after_restart(
            &measured("Failed", Some(101)),
            Duration::ZERO,
            Some(at(50)),
            started,
            at(101)
        ));
    }

    /// Look-backs from the metric: the built-in provider's `window` (default 1m as the
    /// provider documents), else the metric's `interval`, else none.
    #[test]
    fn lookback_is_the_builtin_window_else_the_interval() {
        let builtin = "name: m\ninterval: 5s\nprovider: {plugin: {weir/builtin: {metric: apdex, window: 30s}}}";
        assert_eq!(lookback(&metric(builtin)), Duration::from_secs(30));
        let default_window =
            "name: m\ninterval: 5s\nprovider: {plugin: {weir/builtin: {metric: apdex}}}";
        assert_eq!(lookback(&metric(default_window)), Duration::from_secs(60));
        let web = "name: m\ninterval: 20s\nprovider: {web: {url: 'http://x'}}";
        assert_eq!(lookback(&metric(web)), Duration::from_secs(20));
        let once = "name: m\nprovider: {web: {url: 'http://x'}}";
        assert_eq!(lookback(&metric(once)), Duration::ZERO);
    }
}
