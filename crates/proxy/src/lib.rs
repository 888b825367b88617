//! weir's embedded data plane: an HTTP/1.1 proxy programmed by a [`RouteTable`].
//!
//! **Read [`Proxy`] first**: [`Proxy::start`] binds gateway and mesh listeners (and optionally an
//! admin listener serving `/metrics`), [`Proxy::update`] swaps the route table atomically,
//! [`Proxy::render_metrics`] and [`Proxy::stats`] expose what it measured.
//!
//! What it is: the part of Istio's sidecars and ingress gateway that embedded mode needs, with
//! Istio's routing semantics (ordered routes, first match wins; OR'ed match blocks of AND'ed
//! conditions; relative weights; retries, timeouts, faults, mirrors, header operations,
//! rewrites) and Istio's metric names and labels, so PromQL written for Istio works unchanged.
//!
//! What it is not: it does not know Istio objects, Services or Pods. The mesh controller
//! translates VirtualService / DestinationRule / Service / Endpoints into a [`RouteTable`]
//! (plain Rust types in [`table`]) and calls [`Proxy::update`]. No TLS, no HTTP/2, no
//! WebSocket upgrades; outlier detection covers consecutive 5xx / gateway errors only.
//!
//! Invariant: the request path never waits on the control plane. It loads the compiled table
//! with one lock-free pointer load, and records metrics with relaxed atomics.
//!
//! Code map, in request order: `listener` accepts, `matching` finds the virtual
//! host and route, `balance` picks the destination and endpoint (skipping those `outlier`
//! ejected), `fault` injects faults, `forward` sends upstream with retries and timeouts through
//! the backend's bounded `pool` and reports outcomes to `outlier`, `metrics` records. `router` compiles a
//! table into what those modules read.

mod balance;
mod cap;
mod fault;
mod forward;
mod listener;
mod matching;
mod metrics;
mod outlier;
mod pool;
mod proxy;
mod router;
pub mod table;

pub use cap::ConnectionCap;
pub use metrics::{
    DURATION_BUCKETS_MS, DestinationSelector, LatencyHistogram, SourceLabels, WindowStats,
};
pub use pool::UpstreamBody;
pub use proxy::{
    BoundListener, CONNECT_FAILURE, CONNECTION_TERMINATION, ListenerConfig, NO_HEALTHY_UPSTREAM,
    OVERFLOW, OVERLOADED_HEADER, Proxy, ProxyBody, ProxyConfig, Role, StartError, UPSTREAM_TIMEOUT,
};
pub use table::{
    Backend, ConnectionPool, DestinationLabels, Fault, FaultAbort, FaultDelay, HeaderMatch,
    HeaderOperations, HeaderOps, InvalidTable, LoadBalancer, Mirror, OutlierDetection, RetryOn,
    RetryPolicy, Rewrite, Route, RouteMatch, RouteTable, StringMatch, TableProblem, VirtualHost,
    WeightedDestination,
};
