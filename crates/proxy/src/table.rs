//! The route table: plain data the control plane hands to the proxy, and its validation.
//!
//! These types mirror the parts of Istio's VirtualService / DestinationRule / Service model that
//! the data plane serves, flattened: a virtual host names the hosts it answers for and holds
//! ordered routes; a route points at named [`Backend`]s, each a list of endpoint addresses plus
//! the labels its metrics carry. The mesh controller translates Istio objects into this form;
//! the proxy never sees Istio's serde types.
//!
//! [`RouteTable::validate`] reports every problem at once (all weights 0, unknown backend, bad
//! regex, bad header name, ...). [`crate::Proxy::update`] refuses an invalid table and keeps
//! serving the last good one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the proxy serves, swapped as one unit by [`crate::Proxy::update`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    /// Virtual hosts served on gateway listeners (Gateway-bound VirtualServices), matched by the
    /// request's Host/authority against [`VirtualHost::hosts`] (`*.example.com` and `*` allowed).
    pub gateway: Vec<VirtualHost>,
    /// Virtual hosts served on the mesh listener (what pods reach through `HTTP_PROXY`): one per
    /// service (and port), hosts like `reviews`, `reviews.bookinfo`,
    /// `reviews.bookinfo.svc.cluster.local`.
    pub mesh: Vec<VirtualHost>,
    /// Named backends (Istio: a service subset) that routes and mirrors refer to.
    pub backends: BTreeMap<String, Backend>,
}

/// A set of host names and the ordered routes that serve them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VirtualHost {
    /// For messages and paths in validation problems, e.g. `bookinfo/reviews`.
    pub name: String,
    /// Host names, compared case-insensitively without the request's port. `*.example.com`
    /// matches any host ending in `.example.com`; `*` matches every host.
    pub hosts: Vec<String>,
    /// If set, only requests whose authority carries no port or this port match.
    pub port: Option<u16>,
    /// Ordered routes: the first one whose match succeeds is used; none matching gives 404.
    pub routes: Vec<Route>,
}

impl VirtualHost {
    /// A service without a VirtualService: every request goes to `backend`.
    pub fn service(name: &str, hosts: Vec<String>, backend: &str) -> Self {
        Self { name: name.to_owned(), hosts, port: None, routes: vec![Route::to(backend)] }
    }
}

/// One HTTP route (an Istio `HTTPRoute`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// Route name (optional, for diagnostics).
    pub name: String,
    /// Match blocks, OR'ed; conditions inside a block are AND'ed. Empty: matches everything.
    pub matches: Vec<RouteMatch>,
    /// Weighted destinations. Weights are relative; a lone destination gets all traffic.
    pub destinations: Vec<WeightedDestination>,
    /// Overall timeout until the response headers arrive (retries included). `None` or zero:
    /// no timeout (Istio's default).
    pub timeout: Option<Duration>,
    /// Retry policy; `None` means no retries besides the proxy's own single retry of
    /// connection failures and (for idempotent methods) resets on pooled connections.
    pub retries: Option<RetryPolicy>,
    /// Fire-and-forget copies of the request.
    pub mirrors: Vec<Mirror>,
    /// Fault injection.
    pub fault: Option<Fault>,
    /// Request/response header operations for the whole route.
    pub headers: HeaderOperations,
    /// URI prefix / authority rewrite.
    pub rewrite: Option<Rewrite>,
}

impl Route {
    /// A catch-all route to one backend.
    pub fn to(backend: &str) -> Self {
        Self { destinations: vec![WeightedDestination::new(backend, 100)], ..Self::default() }
    }

    /// A catch-all route splitting traffic over `(backend, weight)` pairs.
    pub fn weighted(split: &[(&str, u32)]) -> Self {
        Self {
            destinations: split.iter().map(|(b, w)| WeightedDestination::new(b, *w)).collect(),
            ..Self::default()
        }
    }
}

/// One match block (an Istio `HTTPMatchRequest`); all its conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteMatch {
    /// Matched against the path without the query string.
    pub uri: Option<StringMatch>,
    /// Matched against the method, e.g. `GET`.
    pub method: Option<StringMatch>,
    /// Matched against the request authority as received (with port if any).
    pub authority: Option<StringMatch>,
    /// Header name (lowercase) → condition.
    pub headers: Vec<(String, HeaderMatch)>,
    /// Query parameter name → condition (`?key` alone has value `""`).
    pub query_params: Vec<(String, StringMatch)>,
    /// If any of these header conditions holds, the block does not match.
    pub without_headers: Vec<(String, HeaderMatch)>,
    /// Exact/prefix URI matches ignore ASCII case.
    pub ignore_uri_case: bool,
}

/// Istio's `StringMatch`. Regexes are RE2-style and must match the whole string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatch {
    /// Equal to.
    Exact(String),
    /// Starts with.
    Prefix(String),
    /// Full match of this regular expression.
    Regex(String),
}

/// A header condition: present at all (Istio's `{}`), or its value matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatch {
    /// The header is present, whatever its value.
    Present,
    /// The (first) value of the header matches.
    Value(StringMatch),
}

/// A destination of a route with its relative weight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightedDestination {
    /// Name of a key of [`RouteTable::backends`].
    pub backend: String,
    /// Relative weight; 0 receives nothing unless it is the only destination.
    pub weight: u32,
    /// Header operations applied only when this destination is chosen.
    pub headers: HeaderOperations,
}

impl WeightedDestination {
    /// A destination without header operations.
    pub fn new(backend: &str, weight: u32) -> Self {
        Self { backend: backend.to_owned(), weight, headers: HeaderOperations::default() }
    }
}

/// Istio's `HTTPRetry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first try (0 disables).
    pub attempts: u32,
    /// Timeout of each try; `None`: only the route timeout applies.
    pub per_try_timeout: Option<Duration>,
    /// Which outcomes are retried.
    pub retry_on: RetryOn,
}

/// The retry conditions the proxy understands (Envoy `x-envoy-retry-on` names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// `connect-failure`: the upstream connection could not be established.
    pub connect_failure: bool,
    /// `reset` (also `refused-stream`): the connection broke before response headers.
    pub reset: bool,
    /// `5xx`: any 5xx response, a connect failure, reset or per-try timeout.
    pub five_xx: bool,
    /// `gateway-error`: 502, 503, 504 responses, connect failure, per-try timeout.
    pub gateway_error: bool,
    /// `retriable-status-codes` and bare status codes like `503`.
    pub retriable_status_codes: Vec<u16>,
}

impl RetryOn {
    /// Parses Istio's `retryOn` string (`"5xx,connect-failure,503"`). Returns the policy and the
    /// tokens this proxy does not serve (gRPC conditions such as `cancelled`), for a warning.
    pub fn parse(s: &str) -> (Self, Vec<String>) {
        let mut on = Self::default();
        let mut ignored = Vec::new();
        for token in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match token {
                "connect-failure" => on.connect_failure = true,
                "reset" | "refused-stream" => on.reset = true,
                "5xx" => on.five_xx = true,
                "gateway-error" => on.gateway_error = true,
                "retriable-status-codes" => {}
                other => match other.parse::<u16>() {
                    Ok(code) if (100..600).contains(&code) => on.retriable_status_codes.push(code),
                    _ => ignored.push(other.to_owned()),
                },
            }
        }
        (on, ignored)
    }

    /// Istio's default `retryOn` when a route sets none.
    pub fn istio_default() -> Self {
        Self { connect_failure: true, reset: true, ..Self::default() }
    }
}

/// A mirror target.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    /// Name of a key of [`RouteTable::backends`].
    pub backend: String,
    /// Share of requests mirrored, 0..=100 (Istio's default when absent: 100).
    pub percentage: f64,
}

/// Istio's `HTTPFaultInjection`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fault {
    /// Delay a share of requests.
    pub delay: Option<FaultDelay>,
    /// Answer a share of requests with a status without forwarding them.
    pub abort: Option<FaultAbort>,
}

/// Fixed delay injection.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDelay {
    /// How long.
    pub fixed_delay: Duration,
    /// Share of requests, 0..=100.
    pub percentage: f64,
}

/// Abort injection.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultAbort {
    /// HTTP status returned.
    pub http_status: u16,
    /// Share of requests, 0..=100.
    pub percentage: f64,
}

/// Request and response header operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOperations {
    /// Applied to the request sent upstream.
    pub request: HeaderOps,
    /// Applied to the response sent downstream.
    pub response: HeaderOps,
}

/// Istio's `HeaderOperations`: `set` overwrites, `add` appends, `remove` deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// Overwrite (name, value).
    pub set: Vec<(String, String)>,
    /// Append (name, value).
    pub add: Vec<(String, String)>,
    /// Remove by name.
    pub remove: Vec<String>,
}

/// Istio's `HTTPRewrite`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// Replaces the matched URI prefix (when the matching block had a prefix URI match),
    /// otherwise the whole path.
    pub uri: Option<String>,
    /// Replaces the Host/authority sent upstream.
    pub authority: Option<String>,
}

/// A named group of endpoints (a service, or one subset of it) and the labels of its metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backend {
    /// Ready endpoints. Empty: requests get 503 `no healthy upstream`.
    pub endpoints: Vec<SocketAddr>,
    /// How an endpoint is picked.
    pub load_balancer: LoadBalancer,
    /// Labels of `istio_*` metrics and the key of [`crate::Proxy::stats`].
    pub labels: DestinationLabels,
    /// Passive outlier detection; `None`: every endpoint stays in rotation.
    pub outlier: Option<OutlierDetection>,
    /// Limits of the backend's upstream connection pool.
    pub connection_pool: ConnectionPool,
}

/// The bounds of a backend's upstream connection pool: Envoy's cluster circuit breakers and
/// HTTP protocol options, which Istio's DestinationRule `trafficPolicy.connectionPool` sets.
///
/// The defaults are Envoy's circuit-breaker defaults (1,024), not Istio's (2^32-1, i.e.
/// unbounded): an unbounded pool let 10,000 concurrent requests open 10,000 upstream
/// connections (issue 16 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPool {
    /// Upstream connections open at once across the backend's endpoints (Istio
    /// `tcp.maxConnections`, Envoy `max_connections`). Default 1,024.
    pub max_connections: u32,
    /// Requests that may wait for a connection; one more gets 503 `UO` (Istio
    /// `http.http1MaxPendingRequests`, Envoy `max_pending_requests`). Default 1,024.
    pub max_pending_requests: u32,
    /// Requests in flight at once (Istio `http.http2MaxRequests`, Envoy `max_requests`).
    /// Default 1,024. Over HTTP/1.1 at most `max_connections` can be in flight anyway.
    pub max_requests: u32,
    /// Requests one connection serves before it is closed; 0: no limit, 1: no keep-alive
    /// (Istio `http.maxRequestsPerConnection`). Default 0.
    pub max_requests_per_connection: u32,
    /// An upstream connection idle this long is closed (Istio `http.idleTimeout`, Envoy's
    /// `common_http_protocol_options.idle_timeout`). Default [`Self::DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
}

impl ConnectionPool {
    /// Envoy's default for each circuit breaker.
    pub const ENVOY_DEFAULT_LIMIT: u32 = 1024;
    /// weir's default idle timeout: 60 s, not Istio's 1 h. Upstreams are local processes, so a
    /// new connection costs well under a millisecond, while an idle one holds a file
    /// descriptor and buffers; a minute keeps connections warm under steady traffic and gives
    /// them back soon after a burst.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
}

impl Default for ConnectionPool {
    fn default() -> Self {
        Self {
            max_connections: Self::ENVOY_DEFAULT_LIMIT,
            max_pending_requests: Self::ENVOY_DEFAULT_LIMIT,
            max_requests: Self::ENVOY_DEFAULT_LIMIT,
            max_requests_per_connection: 0,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Istio's `OutlierDetection` (Envoy's cluster `outlier_detection`), the basics: endpoints that
/// fail consecutively are ejected from the backend's rotation for a while.
///
/// The ejection state belongs to the endpoint address, so it survives table updates; a backend
/// without outlier detection ignores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlierDetection {
    /// Consecutive 5xx responses (or local failures: connect failure, reset, per-try timeout)
    /// that eject an endpoint; 0 disables. Istio's default: 5.
    pub consecutive_5xx_errors: u32,
    /// Consecutive 502/503/504 responses (or local failures) that eject an endpoint; 0 (the
    /// default) disables.
    pub consecutive_gateway_errors: u32,
    /// How often ejection multipliers decay: each full interval an endpoint spends back in
    /// rotation lowers its multiplier by one. Istio's default: 10 s.
    pub interval: Duration,
    /// An ejection lasts this × the endpoint's number of (recent) ejections, at most 300 s or
    /// this, whichever is longer. Istio's default: 30 s.
    pub base_ejection_time: Duration,
    /// Share of the backend's endpoints that may be ejected at once (at least one is always
    /// allowed, but never the last one unless this is 100). Istio's default: 10.
    pub max_ejection_percent: u32,
}

impl Default for OutlierDetection {
    /// Istio's defaults when `outlierDetection` is present.
    fn default() -> Self {
        Self {
            consecutive_5xx_errors: 5,
            consecutive_gateway_errors: 0,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_percent: 10,
        }
    }
}

/// Endpoint selection inside a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadBalancer {
    /// Power of two choices on in-flight requests (Envoy's LEAST_REQUEST, Istio's default).
    #[default]
    LeastRequest,
    /// Strict rotation.
    RoundRobin,
}

/// The Istio standard destination labels this backend's requests are reported with.
/// Empty strings are rendered as `unknown`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestinationLabels {
    /// `destination_service`: the FQDN, e.g. `reviews.bookinfo.svc.cluster.local`.
    pub service: String,
    /// `destination_service_name`, e.g. `reviews`.
    pub service_name: String,
    /// `destination_service_namespace`, e.g. `bookinfo`.
    pub service_namespace: String,
    /// `destination_workload`, e.g. `reviews-v2`.
    pub workload: String,
    /// `destination_workload_namespace`.
    pub workload_namespace: String,
    /// `destination_app`.
    pub app: String,
    /// `destination_version` (the subset's `version` label).
    pub version: String,
    /// `destination_pod_template_hash` (weir's extension; `rollouts-pod-template-hash`).
    pub pod_template_hash: String,
}

/// One problem found by [`RouteTable::validate`], with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    /// Where, e.g. `mesh[reviews].routes[0].destinations[1].backend`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A rejected table: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid route table: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidTable(pub Vec<TableProblem>);

impl RouteTable {
    /// Checks the table and returns every problem: no destinations, all weights 0, unknown
    /// backends, invalid regexes / header names / values / status codes, percentages outside
    /// 0..=100, hosts that are empty. The same checks guard [`crate::Proxy::update`].
    pub fn validate(&self) -> Result<(), InvalidTable> {
        let registry = crate::metrics::Registry::new(Vec::new());
        crate::router::Router::compile(self, &registry, &mut crate::router::EndpointCache::new())
            .map(drop)
    }
}
