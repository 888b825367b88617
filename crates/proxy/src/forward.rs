//! Sending a request upstream: bounded pool per backend, endpoint choice per try, retries,
//! per-try timeouts.
//!
//! The request body is buffered once ([`RequestTemplate`]) so that retries and mirrors can
//! replay it. Besides the route's [`RetryPolicy`], one free retry covers the races of pooled
//! keep-alive connections and of endpoints that just left the table: a connection failure (the
//! request never left) is retried for any method, a reset before response headers only for
//! idempotent methods. Each retry re-resolves the backend in the newest table, so it never goes
//! back to an endpoint that was removed meanwhile. Every try's outcome feeds the backend's
//! outlier detection, and a retry picks again, so it skips an endpoint just ejected. Each try
//! first takes a request slot of the backend's [`crate::pool::Pool`]; a pending overflow
//! answers at once (no endpoint was tried, so neither retries nor outlier detection see it).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::Full;

use crate::balance;
use crate::outlier::Observed;
use crate::pool::{PoolError, UpstreamBody};
use crate::router::Router;
use crate::table::RetryPolicy;

/// A request ready to be (re)sent to any endpoint.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    pub(crate) method: Method,
    pub(crate) path: PathAndQuery,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl RequestTemplate {
    /// The request in origin form (`/path?query`, as HTTP/1.1 sends it to an origin server);
    /// the `Host` header comes from the template.
    fn build(&self) -> Option<Request<Full<Bytes>>> {
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = Some(self.path.clone());
        let uri = Uri::from_parts(parts).ok()?;
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = self.headers.clone();
        Some(req)
    }
}

/// Why no upstream response could be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The backend has no endpoint.
    NoHealthyUpstream,
    /// Connection could not be established.
    Connect,
    /// Connection broke before response headers.
    Reset,
    /// A per-try timeout expired on the last try.
    PerTryTimeout,
    /// The upstream URI could not be built (never for a valid table).
    Internal,
    /// The backend's pool had `max_pending_requests` requests waiting already (Envoy `UO`).
    Overflow,
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Overflow => Self::Overflow,
            PoolError::Connect => Self::Connect,
            PoolError::Reset => Self::Reset,
        }
    }
}

/// The result of [`send`].
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) result: Result<Response<UpstreamBody>, Failure>,
    /// A policy retry happened and the final outcome was still a failure or retriable status.
    pub(crate) retries_exhausted: bool,
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

fn status_retriable(p: &RetryPolicy, status: u16) -> bool {
    let on = &p.retry_on;
    (on.five_xx && status >= 500)
        || (on.gateway_error && matches!(status, 502..=504))
        || on.retriable_status_codes.contains(&status)
}

fn failure_retriable(p: &RetryPolicy, f: Failure) -> bool {
    let on = &p.retry_on;
    match f {
        Failure::Connect => on.connect_failure || on.five_xx || on.gateway_error,
        Failure::Reset => on.reset || on.five_xx,
        Failure::PerTryTimeout => on.five_xx || on.gateway_error || on.reset,
        Failure::NoHealthyUpstream | Failure::Internal | Failure::Overflow => false,
    }
}

/// Envoy-style backoff before retry `n` (1-based): full jitter over 25 ms × 2^(n-1), ≤ 250 ms.
fn backoff(n: u32) -> Duration {
    let cap = (25u64 << (n.saturating_sub(1)).min(4)).min(250);
    Duration::from_millis(1 + balance::random() % cap)
}

/// Sends `template` to an endpoint of backend `backend` of `router`, retrying as configured.
pub(crate) async fn send(
    connect_timeout: Duration,
    routers: &ArcSwap<Router>,
    mut router: Arc<Router>,
    mut backend: usize,
    template: &RequestTemplate,
    policy: Option<&RetryPolicy>,
) -> Outcome {
    let max_tries = 1 + policy.map_or(0, |p| p.attempts);
    let mut tries = 0u32;
    let mut free_retry = true;
    let mut policy_retried = false;
    loop {
        tries += 1;
        let Some(b) = router.backends.get(backend) else {
            return Outcome { result: Err(Failure::Internal), retries_exhausted: false };
        };
        if b.has_no_endpoints() {
            return Outcome {
                result: Err(Failure::NoHealthyUpstream),
                retries_exhausted: policy_retried,
            };
        }
        let per_try_timeout = policy.and_then(|p| p.per_try_timeout);
        let admitted = match per_try_timeout {
            Some(t) => tokio::time::timeout(t, b.pool.admit()).await.ok(),
            None => Some(b.pool.admit().await),
        };
        let slot = match admitted {
            Some(Ok(slot)) => slot,
            Some(Err(e)) => {
                return Outcome { result: Err(e.into()), retries_exhausted: policy_retried };
            }
            None => {
                return Outcome { result: Err(Failure::PerTryTimeout), retries_exhausted: false };
            }
        };
        let Some(endpoint) = b.pick() else {
            return Outcome {
                result: Err(Failure::NoHealthyUpstream),
                retries_exhausted: policy_retried,
            };
        };
        let Some(req) = template.build() else {
            return Outcome { result: Err(Failure::Internal), retries_exhausted: false };
        };
        let fut = slot.send(&endpoint.0.authority, req, connect_timeout);
        let result = match per_try_timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r.map_err(Failure::from),
                Err(_) => Err(Failure::PerTryTimeout),
            },
            None => fut.await.map_err(Failure::from),
        };
        b.observe(
            &endpoint.0,
            match &result {
                Ok(resp) => Observed::Status(resp.status().as_u16()),
                Err(_) => Observed::LocalFailure,
            },
        );
        drop(endpoint);
        let retry_by_policy = policy.is_some_and(|p| {
            tries < max_tries
                && match &result {
                    Ok(resp) => status_retriable(p, resp.status().as_u16()),
                    Err(f) => failure_retriable(p, *f),
                }
        });
        if retry_by_policy {
            policy_retried = true;
            tokio::time::sleep(backoff(tries)).await;
        } else {
            let free = match &result {
                Err(Failure::Connect) => true,
                Err(Failure::Reset) => idempotent(&template.method),
                _ => false,
            };
            if !(free && free_retry) {
                let exhausted = policy_retried
                    && policy.is_some_and(|p| match &result {
                        Ok(resp) => status_retriable(p, resp.status().as_u16()),
                        Err(f) => failure_retriable(p, *f),
                    });
                return Outcome { result, retries_exhausted: exhausted };
            }
            free_retry = false;
        }
        // Re-resolve the backend in the newest table: endpoints may have changed.
        let name: Arc<str> = b.name.clone();
        let newest = routers.load_full();
        if !Arc::ptr_eq(&newest, &router)
            && let Some(i) = newest.backend_index(&name)
        {
            router = newest;
            backend = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::RetryOn;

    #[test]
    fn retry_conditions() {
        let p = RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: RetryOn::parse("gateway-error,429").0,
        };
        assert!(status_retriable(&p, 503) && status_retriable(&p, 429));
        assert!(!status_retriable(&p, 500));
        assert!(failure_retriable(&p, Failure::Connect));
        assert!(!failure_retriable(&p, Failure::Reset));
        let (on, ignored) = RetryOn::parse("5xx, reset,cancelled,unavailable");
        assert!(on.five_xx && on.reset);
        assert_eq!(ignored, vec!["cancelled", "unavailable"]);
        assert!(
            backoff(1) <= Duration::from_millis(26) && backoff(9) <= Duration::from_millis(251)
        );
    }
}
