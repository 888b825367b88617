//! Passive outlier detection (Envoy's `outlier_detection`, Istio's
//! `DestinationRule.trafficPolicy.outlierDetection`): an endpoint that answers too many
//! consecutive 5xx (or gateway errors: 502, 503, 504) is ejected from its backend's rotation
//! for `base_ejection_time × number of ejections`.
//!
//! State lives in each endpoint's [`EndpointState`](crate::router::EndpointState), shared by every
//! backend and every table that holds the address, so it survives table swaps. It is a handful
//! of atomics: recording an outcome and checking ejection never lock or allocate. There is no
//! sweep timer: an ejection ends lazily when its deadline passes, and the multiplier decays by
//! one for every full `interval` the endpoint then stays in rotation (as Envoy's sweep does).
//!
//! Local-origin failures (connect failure, reset, per-try timeout) count as gateway errors and
//! 5xx, as Envoy does when `split_external_local_origin_errors` is false.
//!
//! Every decision takes the current time as an argument, so it is testable without sleeping.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::table::OutlierDetection;

/// Ejection times never exceed this (Envoy's `max_ejection_time` default), unless the base
/// ejection time itself is longer.
const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);

/// What one try on an endpoint produced, as outlier detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Response headers with this status.
    Status(u16),
    /// Connect failure, reset before headers or per-try timeout.
    LocalFailure,
}

/// Nanoseconds since a process-wide epoch, plus one, so that 0 can mean "never".
pub(crate) fn ticks(now: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| Instant::now() - Duration::from_secs(1));
    u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 4)
}

/// Per-endpoint outlier state.
#[derive(Debug, Default)]
pub(crate) struct OutlierState {
    consecutive_5xx: AtomicU32,
    consecutive_gateway: AtomicU32,
    /// Ticks until which the endpoint is ejected (0: never ejected). Kept after the ejection ends:
    /// the multiplier decays from that moment.
    ejected_until: AtomicU64,
    /// Ejection multiplier (Envoy's `num_ejections`).
    ejections: AtomicU32,
}

/// What [`OutlierState::observe`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing to do.
    Keep,
    /// A consecutive-error threshold was reached: eject if the backend allows it.
    Eject,
}

impl OutlierState {
    /// Whether the endpoint is out of rotation at `now` (in [`ticks`]).
    pub(crate) fn is_ejected(&self, now: u64) -> bool {
        now < self.ejected_until.load(Ordering::Relaxed)
    }

    /// Counts one outcome; [`Verdict::Eject`] when a consecutive threshold is reached exactly
    /// (so concurrent failures ask once). Successes reset the counters.
    pub(crate) fn observe(&self, config: &OutlierDetection, outcome: Observed) -> Verdict {
        let (five_xx, gateway) = match outcome {
            Observed::Status(s) => (s >= 500, matches!(s, 502..=504)),
            Observed::LocalFailure => (true, true),
        };
        let mut eject = false;
        if five_xx {
            let n = self.consecutive_5xx.fetch_add(1, Ordering::Relaxed) + 1;
            eject |= config.consecutive_5xx_errors > 0 && n == config.consecutive_5xx_errors;
        } else if self.consecutive_5xx.load(Ordering::Relaxed) != 0 {
            self.consecutive_5xx.store(0, Ordering::Relaxed);
        }
        if gateway {
            let n = self.consecutive_gateway.fetch_add(1, Ordering::Relaxed) + 1;
            eject |=
                config.consecutive_gateway_errors > 0 && n == config.consecutive_gateway_errors;
        } else if self.consecutive_gateway.load(Ordering::Relaxed) != 0 {
            self.consecutive_gateway.store(0, Ordering::Relaxed);
        }
        if eject { Verdict::Eject } else { Verdict::Keep }
    }

    /// Ejects the endpoint at `now` (in [`ticks`]): the multiplier first decays by the full
    /// intervals spent in rotation since the last ejection ended, then grows by one; the
    /// ejection lasts `base_ejection_time × multiplier` (at most 300 s or the base time).
    /// Resets the consecutive counters. Returns the previous deadline (for [`Self::revert`]),
    /// or `None` if the endpoint was already ejected.
    pub(crate) fn eject(&self, config: &OutlierDetection, now: u64) -> Option<(u64, u32)> {
        let until = self.ejected_until.load(Ordering::Relaxed);
        if now < until {
            return None;
        }
        let previous = self.ejections.load(Ordering::Relaxed);
        let multiplier = decayed(previous, until, now, config.interval).saturating_add(1);
        let base = nanos(config.base_ejection_time);
        let length =
            base.saturating_mul(u64::from(multiplier)).min(base.max(nanos(MAX_EJECTION_TIME)));
        self.ejected_until
            .compare_exchange(
                until,
                now.saturating_add(length),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .ok()?;
        self.ejections.store(multiplier, Ordering::Relaxed);
        self.consecutive_5xx.store(0, Ordering::Relaxed);
        self.consecutive_gateway.store(0, Ordering::Relaxed);
        Some((until, previous))
    }

    /// Undoes an [`Self::eject`] that turned out to exceed the backend's ejection limit.
    pub(crate) fn revert(&self, previous: (u64, u32)) {
        self.ejected_until.store(previous.0, Ordering::Relaxed);
        self.ejections.store(previous.1, Ordering::Relaxed);
    }
}

/// The multiplier left after the endpoint spent the full intervals since `ended` in rotation.
fn decayed(multiplier: u32, ended: u64, now: u64, interval: Duration) -> u32 {
    if ended == 0 || multiplier == 0 {
        return 0;
    }
    let interval = nanos(interval).max(1);
    let healthy = now.saturating_sub(ended) / interval;
    multiplier.saturating_sub(u32::try_from(healthy).unwrap_or(u32::MAX))
}

/// How many of `total` endpoints may be ejected at once: `max_ejection_percent` of them, at
/// least one (as Envoy), but never all of them unless the limit is 100 %.
pub(crate) fn max_ejected(total: usize, max_percent: u32) -> usize {
    if max_percent >= 100 {
        return total;
    }
    let by_percent = total.saturating_mul(max_percent as usize) / 100;
    by_percent.max(1).min(total.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OutlierDetection {
        OutlierDetection {
            consecutive_5xx_errors: 3,
            consecutive_gateway_errors: 0,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_percent: 10,
        }
    }

    #[test]
    fn istio_defaults() {
        let d = OutlierDetection::default();
        assert_eq!(d.consecutive_5xx_errors, 5);
        assert_eq!(d.consecutive_gateway_errors, 0);
        assert_eq!(d.interval, Duration::from_secs(10));
        assert_eq!(d.base_ejection_time, Duration::from_secs(30));
        assert_eq!(d.max_ejection_percent, 10);
    }

    #[test]
    fn consecutive_5xx_counts_and_success_resets() {
        let c = config();
        let s = OutlierState::default();
        assert_eq!(s.observe(&c, Observed::Status(500)), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::Status(503)), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::Status(200)), Verdict::Keep, "a success resets");
        assert_eq!(s.observe(&c, Observed::Status(500)), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::LocalFailure), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::Status(501)), Verdict::Eject);
        // 4xx is not an error
        let s = OutlierState::default();
        for _ in 0..10 {
            assert_eq!(s.observe(&c, Observed::Status(404)), Verdict::Keep);
        }
    }

    #[test]
    fn gateway_errors_only_count_502_to_504_and_zero_disables() {
        let c = OutlierDetection {
            consecutive_5xx_errors: 0,
            consecutive_gateway_errors: 2,
            ..config()
        };
        let s = OutlierState::default();
        for _ in 0..10 {
            assert_eq!(s.observe(&c, Observed::Status(500)), Verdict::Keep);
        }
        assert_eq!(s.observe(&c, Observed::Status(502)), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::Status(500)), Verdict::Keep, "500 resets gateway count");
        assert_eq!(s.observe(&c, Observed::Status(504)), Verdict::Keep);
        assert_eq!(s.observe(&c, Observed::LocalFailure), Verdict::Eject);
    }

    #[test]
    fn ejection_time_grows_with_ejections_and_decays_per_healthy_interval() {
        let c = config();
        let s = OutlierState::default();
        let t0 = Instant::now();
        let at = |secs: u64| ticks(t0 + Duration::from_secs(secs));
        assert!(!s.is_ejected(at(0)));
        assert!(s.eject(&c, at(0)).is_some());
        assert!(s.is_ejected(at(29)) && !s.is_ejected(at(30)), "base time × 1");
        assert!(s.eject(&c, at(10)).is_none(), "already ejected");
        // ejected again right after coming back: × 2
        assert!(s.eject(&c, at(31)).is_some());
        assert!(s.is_ejected(at(31 + 59)) && !s.is_ejected(at(31 + 60)));
        // and × 3
        assert!(s.eject(&c, at(91)).is_some());
        assert!(s.is_ejected(at(91 + 89)) && !s.is_ejected(at(91 + 90)));
        // two full healthy intervals (10 s each) bring the multiplier from 3 to 1: next is × 2
        assert!(s.eject(&c, at(181 + 25)).is_some());
        assert!(s.is_ejected(at(206 + 59)) && !s.is_ejected(at(206 + 60)));
        // a long healthy time resets it entirely: × 1
        assert!(s.eject(&c, at(1000)).is_some());
        assert!(s.is_ejected(at(1029)) && !s.is_ejected(at(1030)));
    }

    #[test]
    fn ejection_time_is_capped() {
        let c = OutlierDetection { base_ejection_time: Duration::from_secs(200), ..config() };
        let s = OutlierState::default();
        let t0 = Instant::now();
        let at = |secs: u64| ticks(t0 + Duration::from_secs(secs));
        s.eject(&c, at(0)).expect("ejected");
        s.eject(&c, at(200)).expect("ejected");
        assert!(s.is_ejected(at(499)) && !s.is_ejected(at(500)), "300 s cap, not 400 s");
    }

    #[test]
    fn revert_restores_the_previous_state() {
        let c = config();
        let s = OutlierState::default();
        let now = ticks(Instant::now());
        let previous = s.eject(&c, now).expect("ejected");
        s.revert(previous);
        assert!(!s.is_ejected(now));
        s.eject(&c, now).expect("ejected");
        assert!(!s.is_ejected(now + nanos(Duration::from_secs(30))), "still × 1");
    }

    #[test]
    fn max_ejection_percent() {
        assert_eq!(max_ejected(2, 10), 1, "at least one");
        assert_eq!(max_ejected(1, 10), 0, "never the last one");
        assert_eq!(max_ejected(1, 100), 1, "unless 100 %");
        assert_eq!(max_ejected(3, 100), 3);
        assert_eq!(max_ejected(20, 10), 2);
        assert_eq!(max_ejected(10, 50), 5);
        assert_eq!(max_ejected(4, 99), 3);
        assert_eq!(max_ejected(0, 10), 0);
    }
}
