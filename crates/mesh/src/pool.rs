//! A DestinationRule's `trafficPolicy.connectionPool` as the proxy's [`ConnectionPool`], with
//! Istio's semantics: a field left out (or 0, which Istio treats as unset) keeps the inherited
//! value; a negative count or a bad duration is a problem and keeps the inherited value.
//!
//! Mapping (Istio → Envoy cluster): `tcp.maxConnections` → `max_connections`,
//! `http.http1MaxPendingRequests` → `max_pending_requests`, `http.http2MaxRequests` →
//! `max_requests`, `http.maxRequestsPerConnection` → `max_requests_per_connection`,
//! `http.idleTimeout` → the HTTP idle timeout. The unset defaults are weir's bounded ones
//! (Envoy's 1,024), not Istio's 2^32-1: see [`ConnectionPool`].

use std::time::Duration;

use weir_model::istio::ConnectionPoolSettings;
use weir_proxy::ConnectionPool;

use crate::routes::RouteReport;

/// The pool limits `settings` (at `path`) sets over `inherited`.
pub(crate) fn connection_pool(
    path: &str,
    settings: &ConnectionPoolSettings,
    inherited: ConnectionPool,
    report: &mut RouteReport,
) -> ConnectionPool {
    let mut out = inherited;
    let mut count = |field: &str, value: Option<i32>, into: &mut u32| match value {
        None | Some(0) => {}
        Some(n) if n < 0 => report.problems.push(format!("{path}.{field}: must not be negative")),
        Some(n) => *into = n.unsigned_abs(),
    };
    if let Some(tcp) = &settings.tcp {
        count("tcp.maxConnections", tcp.max_connections, &mut out.max_connections);
    }
    if let Some(http) = &settings.http {
        count(
            "http.http1MaxPendingRequests",
            http.http1_max_pending_requests,
            &mut out.max_pending_requests,
        );
        count("http.http2MaxRequests", http.http2_max_requests, &mut out.max_requests);
        count(
            "http.maxRequestsPerConnection",
            http.max_requests_per_connection,
            &mut out.max_requests_per_connection,
        );
        if let Some(text) = http.idle_timeout.as_deref() {
            match weir_model::duration::parse(text) {
                Ok(d) if d >= Duration::from_millis(1) => out.idle_timeout = d,
                Ok(_) => {
                    report.problems.push(format!("{path}.http.idleTimeout: must be at least 1ms"))
                }
                Err(e) => report
                    .problems
                    .push(format!("{path}.http.idleTimeout: invalid duration {text:?}: {e}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use weir_model::istio::{HttpSettings, TcpSettings};

    use super::*;

    fn settings(
        max_connections: Option<i32>,
        pending: Option<i32>,
        per_connection: Option<i32>,
        idle: Option<&str>,
    ) -> ConnectionPoolSettings {
        ConnectionPoolSettings {
            tcp: Some(TcpSettings { max_connections, ..TcpSettings::default() }),
            http: Some(HttpSettings {
                http1_max_pending_requests: pending,
                max_requests_per_connection: per_connection,
                idle_timeout: idle.map(str::to_owned),
                ..HttpSettings::default()
            }),
        }
    }

    #[test]
    fn istio_fields_override_the_inherited_limits() {
        let default = ConnectionPool::default();
        // (settings, expected pool, expected problem count). Expected values: Istio's
        // DestinationRule reference (0 = unset for the counts; maxRequestsPerConnection 1
        // disables keep-alive) over weir's defaults (Envoy's 1,024 circuit breakers).
        let cases = [
            (settings(None, None, None, None), default, 0),
            (
                settings(Some(10), Some(5), Some(1), Some("90s")),
                ConnectionPool {
                    max_connections: 10,
                    max_pending_requests: 5,
                    max_requests_per_connection: 1,
                    idle_timeout: Duration::from_secs(90),
                    ..default
                },
                0,
            ),
            (settings(Some(0), Some(0), Some(0), None), default, 0),
            (settings(Some(-1), Some(-2), None, Some("soon")), default, 3),
            (settings(None, None, None, Some("0s")), default, 1),
        ];
        for (i, (s, want, problems)) in cases.into_iter().enumerate() {
            let mut report = RouteReport::default();
            let got =
                connection_pool("spec.trafficPolicy.connectionPool", &s, default, &mut report);
            assert_eq!(got, want, "case {i}");
            assert_eq!(report.problems.len(), problems, "case {i}: {:?}", report.problems);
        }
    }

    #[test]
    fn a_subset_inherits_what_it_does_not_set() {
        let rule_level = ConnectionPool { max_connections: 3, ..ConnectionPool::default() };
        let mut report = RouteReport::default();
        let got =
            connection_pool("p", &settings(None, Some(7), None, None), rule_level, &mut report);
        assert_eq!((got.max_connections, got.max_pending_requests), (3, 7));
        assert!(report.problems.is_empty());
    }
}
