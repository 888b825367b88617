//! Which failed requests are retried, and after how long: a pure policy.
//!
//! The rule is the one that keeps a retry from doing harm. A request the server refused before
//! acting on it (429 Too Many Requests from API priority and fairness, or a connection that was
//! never made) is retried whatever it was. A failure after which the request may or may not
//! have taken effect (5xx, a connection broken mid-request, a timeout) is retried only when
//! doing it twice equals doing it once: reads, writes guarded by a resourceVersion (a replay of
//! a write that landed answers 409 Conflict), merge patches, deletes. A create or a JSON patch
//! is then not retried: the caller sees the error and re-reads the world before deciding again.

use std::time::Duration;

use crate::errors::Failure;

/// How repeating a call would affect the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// get, list, watch: no effect.
    Read,
    /// A write that is harmless to repeat (update, status update, merge patch, delete).
    Idempotent,
    /// A write that may do something twice (create, JSON patch).
    Unsafe,
}

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 5;
const BASE_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured (the server's hint, capped).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Whether to retry `call` after `failure` on retry number `retry` (0 for the first retry), and
/// after how long. `None`: give up and report the failure.
pub(crate) fn retry_after(call: Idempotency, failure: &Failure, retry: u32) -> Option<Duration> {
    if retry >= MAX_RETRIES {
        return None;
    }
    let refused_before_acting = match failure {
        Failure::Connect(_) => true,
        Failure::Status(status) => status.code == 429,
        Failure::Ambiguous(_) | Failure::Permanent(_) => false,
    };
    let maybe_acted = match failure {
        Failure::Ambiguous(_) => true,
        Failure::Status(status) => matches!(status.code, 500 | 502 | 503 | 504),
        Failure::Connect(_) | Failure::Permanent(_) => false,
    };
    let retry_it = refused_before_acting || (maybe_acted && call != Idempotency::Unsafe);
    if !retry_it {
        return None;
    }
    let backoff = BASE_DELAY.saturating_mul(1 << retry.min(16)).min(MAX_DELAY);
    let hinted = match failure {
        Failure::Status(status) => status
            .details
            .as_ref()
            .map(|d| Duration::from_secs(u64::from(d.retry_after_seconds)))
            .filter(|d| !d.is_zero()),
        _ => None,
    };
    Some(hinted.map_or(backoff, |hint| hint.min(MAX_RETRY_AFTER)))
}

#[cfg(test)]
mod tests {
    use kube::core::Status;
    use kube::core::response::StatusDetails;

    use super::*;

    fn code(code: u16) -> Failure {
        Failure::Status(Box::new(Status { code, ..Status::default() }))
    }

    /// The table is the module's rule written out: refused-before-acting failures retry every
    /// call; may-have-acted failures retry reads and idempotent writes only; answers that say
    /// the request is wrong (4xx but 429) never retry.
    #[test]
    fn retry_table() {
        use Idempotency::{Idempotent, Read, Unsafe};
        let connect = Failure::Connect("connection refused".into());
        let broken = Failure::Ambiguous("connection reset".into());
        let permanent = Failure::Permanent("bad body".into());
        let cases: Vec<(Idempotency, Failure, bool)> = vec![
            (Read, connect.clone(), true),
            (Idempotent, connect.clone(), true),
            (Unsafe, connect, true),
            (Read, code(429), true),
            (Unsafe, code(429), true),
            (Read, code(503), true),
            (Idempotent, code(500), true),
            (Unsafe, code(503), false),
            (Unsafe, code(504), false),
            (Read, broken.clone(), true),
            (Idempotent, broken.clone(), true),
            (Unsafe, broken, false),
            (Read, code(404), false),
            (Idempotent, code(409), false),
            (Read, code(403), false),
            (Read, code(410), false),
            (Read, permanent, false),
        ];
        for (call, failure, expected) in cases {
            assert_eq!(retry_after(call, &failure, 0).is_some(), expected, "{call:?} {failure:?}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_gives_up_after_max_retries() {
        let delays: Vec<Option<Duration>> =
            (0..7).map(|n| retry_after(Idempotency::Read, &code(503), n)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(delays, [ms(200), ms(400), ms(800), ms(1600), ms(3200), None, None]);
        assert_eq!(retry_after(Idempotency::Read, &code(503), 4), ms(3200));
    }

    #[test]
    fn retry_after_from_the_server_is_honoured_up_to_a_cap() {
        let with_hint = |seconds| {
            Failure::Status(Box::new(Status {
                code: 429,
                details: Some(StatusDetails {
                    name: String::new(),
                    group: String::new(),
                    kind: String::new(),
                    uid: String::new(),
                    causes: Vec::new(),
                    retry_after_seconds: seconds,
                }),
                ..Status::default()
            }))
        };
        assert_eq!(
            retry_after(Idempotency::Unsafe, &with_hint(2), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(Idempotency::Read, &with_hint(600), 0),
            Some(Duration::from_secs(10))
        );
    }
}
