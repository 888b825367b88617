//! Fault injection decisions (Istio `HTTPFaultInjection`): pure, given random numbers.
//!
//! Delay and abort are decided independently, as in Envoy's fault filter; the caller sleeps
//! for the delay and then, if aborting, answers with the status and body `fault filter abort`
//! without contacting any upstream.

use std::time::Duration;

use crate::balance::percent_hit;
use crate::table::Fault;

/// What to do to one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultDecision {
    pub(crate) delay: Option<Duration>,
    pub(crate) abort: Option<u16>,
}

/// Body of an injected abort, as Envoy writes it.
pub(crate) const ABORT_BODY: &str = "fault filter abort";

/// Decides the faults of one request from two uniform random numbers.
pub(crate) fn decide(fault: &Fault, r_delay: u64, r_abort: u64) -> FaultDecision {
    FaultDecision {
        delay: fault
            .delay
            .as_ref()
            .filter(|d| percent_hit(d.percentage, r_delay))
            .map(|d| d.fixed_delay),
        abort: fault
            .abort
            .as_ref()
            .filter(|a| percent_hit(a.percentage, r_abort))
            .map(|a| a.http_status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{FaultAbort, FaultDelay};

    #[test]
    fn delay_and_abort_are_independent() {
        let f = Fault {
            delay: Some(FaultDelay { fixed_delay: Duration::from_millis(5), percentage: 100.0 }),
            abort: Some(FaultAbort { http_status: 503, percentage: 0.0 }),
        };
        let d = decide(&f, 1, 1);
        assert_eq!(d, FaultDecision { delay: Some(Duration::from_millis(5)), abort: None });
        let f =
            Fault { delay: None, abort: Some(FaultAbort { http_status: 418, percentage: 100.0 }) };
        assert_eq!(decide(&f, 0, 0).abort, Some(418));
        assert_eq!(decide(&Fault::default(), 0, 0), FaultDecision::default());
    }
}
