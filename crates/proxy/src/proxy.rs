//! [`Proxy`]: construction, table updates, metrics queries, and the per-request flow.
//!
//! The per-request flow (`Shared::serve`) is: load the current router (one atomic pointer
//! load), find the virtual host and the first matching route, pick the weighted destination,
//! inject faults, buffer the body, rewrite and apply header operations, fire mirrors, forward
//! with retries under the route timeout, record metrics, apply response header operations.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::balance::{percent_hit, random};
use crate::fault::{self, ABORT_BODY};
use crate::forward::{self, Failure, RequestTemplate};
use crate::listener;
use crate::matching::RequestView;
use crate::metrics::{
    DestinationMetrics, DestinationSelector, Flags, Registry, SourceLabels, WindowStats,
};
use crate::pool::UpstreamBody;
use crate::router::{EndpointCache, Router};
use crate::table::{InvalidTable, RouteTable};

/// Body of responses produced by the proxy: streamed from upstream, or a local reply.
pub type ProxyBody = Either<UpstreamBody, Full<Bytes>>;

/// Envoy's body when a backend has no endpoint.
pub const NO_HEALTHY_UPSTREAM: &str = "no healthy upstream";

/// How long a request routed to a subset without endpoints waits for a newer route table.
const TRANSITION_GRACE: Duration = Duration::from_secs(1);
/// How often a waiting request looks for a newer table.
const TRANSITION_POLL: Duration = Duration::from_millis(5);
/// Envoy's body when the route timeout (or the last per-try timeout) expires.
pub const UPSTREAM_TIMEOUT: &str = "upstream request timeout";
/// Envoy's body when no connection could be made to the upstream.
pub const CONNECT_FAILURE: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
/// Envoy's body when the backend's pool has `max_pending_requests` requests waiting already
/// (with the `UO` response flag and the `x-envoy-overloaded: true` header).
pub const OVERFLOW: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow";
/// The header Envoy adds to a reply it produced because a circuit breaker overflowed.
pub const OVERLOADED_HEADER: &str = "x-envoy-overloaded";
/// How often idle upstream connections are checked at most (a shorter idle timeout checks
/// at half its length).
const REAP_EVERY: Duration = Duration::from_secs(1);
/// Envoy's body when the upstream connection broke before response headers.
pub const CONNECTION_TERMINATION: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// Which virtual hosts a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// [`RouteTable::gateway`]: outside traffic by Host.
    Gateway,
    /// [`RouteTable::mesh`]: service traffic from pods (`HTTP_PROXY`), absolute-form or Host.
    Mesh,
}

/// One listener to bind.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Which virtual hosts it serves.
    pub role: Role,
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// The `source_*` metric labels of its requests.
    pub source: SourceLabels,
}

impl ListenerConfig {
    /// A gateway listener reported as Istio's ingress gateway (`istio-ingressgateway`).
    pub fn gateway(bind: SocketAddr) -> Self {
        Self {
            role: Role::Gateway,
            bind,
            source: SourceLabels {
                workload: "istio-ingressgateway".into(),
                namespace: "istio-system".into(),
                app: "istio-ingressgateway".into(),
                version: String::new(),
            },
        }
    }

    /// A mesh listener; the calling pod is not known, so sources are `unknown`.
    pub fn mesh(bind: SocketAddr) -> Self {
        Self { role: Role::Mesh, bind, source: SourceLabels::default() }
    }
}

/// How to start a [`Proxy`].
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Listeners to bind.
    pub listeners: Vec<ListenerConfig>,
    /// Optional admin listener serving `GET /metrics`.
    pub admin: Option<SocketAddr>,
    /// Upstream connect timeout (Istio's default: 10 s).
    pub connect_timeout: Duration,
    /// Largest request body accepted (bodies are buffered for retries and mirrors).
    pub max_request_body: usize,
    /// Most mirrored requests in flight; more are dropped (mirrors never slow real traffic).
    pub max_mirrors_in_flight: usize,
    /// Time a client has to send a request's head, and the longest a kept-alive connection may
    /// stay idle between requests (Go's `ReadHeaderTimeout`; 10 s).
    pub header_read_timeout: Duration,
    /// Connections each listener holds open at once; more wait to be accepted, so a flood on
    /// one listener (or on the API) leaves the others serving.
    pub max_connections_per_listener: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listeners: Vec::new(),
            admin: None,
            connect_timeout: Duration::from_secs(10),
            max_request_body: 16 << 20,
            max_mirrors_in_flight: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_listener: 2048,
        }
    }
}

/// A bound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundListener {
    /// Its role.
    pub role: Role,
    /// The address actually bound.
    pub addr: SocketAddr,
}

/// Starting the proxy failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The initial table is invalid.
    #[error(transparent)]
    InvalidTable(#[from] InvalidTable),
}

/// State shared by listeners and the control API.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The current table. `ArcSwap`: the request path does one lock-free load and never waits
    /// for an update; an update never waits for requests (a `RwLock` would make them contend,
    /// a `watch` channel takes a read lock per borrow).
    router: ArcSwap<Router>,
    connect_timeout: Duration,
    registry: Registry,
    endpoints: Mutex<EndpointCache>,
    mirrors_in_flight: AtomicUsize,
    max_mirrors: usize,
    max_body: usize,
    rejected: AtomicU64,
}

/// The embedded data plane. Start it with [`Proxy::start`], reprogram it with
/// [`Proxy::update`]; dropping it (or [`Proxy::shutdown`]) stops its listeners.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    listeners: Vec<BoundListener>,
    admin: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Validates `table`, binds every listener and starts serving. Must run inside a tokio
    /// runtime.
    pub async fn start(config: ProxyConfig, table: &RouteTable) -> Result<Self, StartError> {
        let registry = Registry::new(config.listeners.iter().map(|l| l.source.clone()).collect());
        let mut endpoints = EndpointCache::new();
        let router = Router::compile(table, &registry, &mut endpoints)?;
        let shared = Arc::new(Shared {
            router: ArcSwap::from_pointee(router),
            connect_timeout: config.connect_timeout,
            registry,
            endpoints: Mutex::new(endpoints),
            mirrors_in_flight: AtomicUsize::new(0),
            max_mirrors: config.max_mirrors_in_flight,
            max_body: config.max_request_body,
            rejected: AtomicU64::new(0),
        });
        let (shutdown, rx) = watch::channel(false);
        let mut listeners = Vec::new();
        let mut tasks = Vec::new();
        let limits = listener::Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections_per_listener,
        };
        for (i, l) in config.listeners.iter().enumerate() {
            let tcp = listener::bind(l.bind)
                .await
                .map_err(|source| StartError::Bind { addr: l.bind, source })?;
            let addr =
                tcp.local_addr().map_err(|source| StartError::Bind { addr: l.bind, source })?;
            let source = u8::try_from(i).unwrap_or(u8::MAX);
            let kind = listener::Kind::Proxy { role: l.role, source };
            tasks.push(tokio::spawn(listener::run(tcp, shared.clone(), kind, rx.clone(), limits)));
            listeners.push(BoundListener { role: l.role, addr });
        }
        tasks.push(tokio::spawn(reap_idle(Arc::downgrade(&shared), rx.clone())));
        let mut admin = None;
        if let Some(bind) = config.admin {
            let tcp = listener::bind(bind)
                .await
                .map_err(|source| StartError::Bind { addr: bind, source })?;
            admin =
                Some(tcp.local_addr().map_err(|source| StartError::Bind { addr: bind, source })?);
            let admin_kind = listener::Kind::Admin;
            tasks.push(tokio::spawn(listener::run(tcp, shared.clone(), admin_kind, rx, limits)));
        }
        Ok(Self { shared, listeners, admin, shutdown, tasks })
    }

    /// Installs a new table atomically. An invalid table is rejected with every problem and the
    /// previous table keeps serving. In-flight requests finish on the table they started with;
    /// endpoints missing from the new table get no new requests.
    pub fn update(&self, table: &RouteTable) -> Result<(), InvalidTable> {
        let mut endpoints = self.shared.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        match Router::compile(table, &self.shared.registry, &mut endpoints) {
            Ok(router) => {
                self.shared.router.store(Arc::new(router));
                endpoints.prune();
                Ok(())
            }
            Err(e) => {
                self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// How many tables [`Proxy::update`] rejected.
    pub fn rejected_updates(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Every bound listener, in configuration order.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.listeners
    }

    /// The address of the first listener with `role`.
    pub fn addr(&self, role: Role) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.role == role).map(|l| l.addr)
    }

    /// The admin listener's address, if configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// `/metrics` in Prometheus text format 0.0.4.
    pub fn render_metrics(&self) -> String {
        self.shared.registry.render()
    }

    /// Requests, successes (status < 500) and latency of the destinations `selector` selects,
    /// over the last `window` (10-second resolution, at most about ten minutes).
    pub fn stats(&self, selector: &DestinationSelector, window: Duration) -> WindowStats {
        self.shared.registry.stats(selector, window)
    }

    /// Stops accepting; open connections finish their current request and close.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Closes idle upstream connections past their pool's idle timeout until shutdown (or until
/// the proxy is gone).
async fn reap_idle(shared: std::sync::Weak<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let pools = match shared.upgrade() {
            Some(s) => s.endpoints.lock().unwrap_or_else(|e| e.into_inner()).pools(),
            None => return,
        };
        let now = Instant::now();
        let mut every = REAP_EVERY;
        for pool in &pools {
            pool.reap(now);
            every = every.min(pool.limits().idle_timeout / 2);
        }
        drop(pools);
        let every = every.max(Duration::from_millis(10));
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Content type of `/metrics`.
pub(crate) const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn local_reply(status: u16, body: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(Either::Right(Full::new(Bytes::from_static(body.as_bytes()))));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !body.is_empty() {
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    resp
}

static HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers: the fixed list and every header named by a `Connection` value.
/// Runs twice per request (request and response; nginx answers `Connection: keep-alive`), so it
/// allocates nothing: a cloned `HeaderValue` shares its bytes, and removing by `&str` parses the
/// name on the stack.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut i = 0;
    while let Some(conn) = headers.get_all(header::CONNECTION).iter().nth(i).cloned() {
        i += 1;
        let Ok(list) = conn.to_str() else { continue };
        for name in list.split(',').map(str::trim) {
            if !name.eq_ignore_ascii_case(header::CONNECTION.as_str()) {
                headers.remove(name);
            }
        }
    }
    for n in &HOP_BY_HOP {
        headers.remove(n);
    }
}

/// `new` replaces `prefix` of `path` (or the whole path without a prefix match).
fn rewrite_path(
    path: &str,
    query: Option<&str>,
    prefix: Option<&str>,
    new: &str,
) -> Option<PathAndQuery> {
    let rest = prefix.and_then(|p| path.get(p.len()..)).unwrap_or("");
    let mut s = String::with_capacity(new.len() + rest.len() + query.map_or(0, |q| q.len() + 2));
    let starts_with_slash = new.starts_with('/') || (new.is_empty() && rest.starts_with('/'));
    if !starts_with_slash {
        s.push('/');
    }
    s.push_str(new);
    s.push_str(rest);
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    PathAndQuery::try_from(s).ok()
}

/// `reviews:9080` → `reviews-shadow:9080`, as Envoy names mirrored requests.
fn shadow_host(host: &HeaderValue) -> Option<HeaderValue> {
    let h = host.to_str().ok()?;
    let (name, port) = crate::matching::split_host_port(h);
    let v = match port {
        Some(p) if !name.contains(':') => format!("{name}-shadow:{p}"),
        _ => format!("{h}-shadow"),
    };
    HeaderValue::from_str(&v).ok()
}

/// Decrements the mirror in-flight count when dropped.
struct MirrorSlot(Arc<Shared>);

impl Drop for MirrorSlot {
    fn drop(&mut self) {
        self.0.mirrors_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    fn finish(
        &self,
        metrics: &DestinationMetrics,
        source: u8,
        start: Instant,
        status: u16,
        flags: Flags,
    ) {
        let now = Instant::now();
        metrics.record(source, status, flags, false, now.saturating_duration_since(start), now);
    }

    fn local(
        &self,
        metrics: &DestinationMetrics,
        source: u8,
        start: Instant,
        status: u16,
        body: &'static str,
        flags: Flags,
    ) -> Response<ProxyBody> {
        self.finish(metrics, source, start, status, flags);
        local_reply(status, body)
    }

    /// Serves one request on a listener of `role` whose metrics source index is `source`.
    pub(crate) async fn serve(
        self: &Arc<Self>,
        role: Role,
        source: u8,
        req: Request<Incoming>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let start = Instant::now();
        let router = self.router.load_full();
        let (parts, body) = req.into_parts();
        self.route(role, source, start, router, parts, body).await
    }

    /// Routes one request with `router`. A destination whose subset has no endpoint at all is
    /// usually a transition in flight (pods relabelled a moment before the VirtualService
    /// moves, as when a canary becomes stable): the request waits up to
    /// [`TRANSITION_GRACE`] for a newer table and is routed again, instead of failing.
    async fn route(
        self: &Arc<Self>,
        role: Role,
        source: u8,
        start: Instant,
        router: Arc<Router>,
        parts: http::request::Parts,
        body: Incoming,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let listener = match role {
            Role::Gateway => &router.gateway,
            Role::Mesh => &router.mesh,
        };
        let authority = match parts.uri.authority() {
            Some(a) => a.as_str(),
            None => parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        };
        let view = RequestView {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            authority,
            headers: &parts.headers,
        };
        let unknown = self.registry.unknown();
        let Some((route, block)) = listener.route(&view) else {
            return Ok(self.local(unknown, source, start, 404, "", Flags::NO_ROUTE));
        };
        let Some(dest) = route.pick_destination() else {
            return Ok(self.local(unknown, source, start, 500, "", Flags::NONE));
        };
        let Some(backend) = router.backends.get(dest.backend) else {
            return Ok(self.local(unknown, source, start, 500, "", Flags::NONE));
        };
        if backend.has_no_endpoints()
            && let Some(newer) = self.newer_table(&router, start + TRANSITION_GRACE).await
        {
            return Box::pin(self.route(role, source, start, newer, parts, body)).await;
        }
        let metrics = &*backend.metrics;

        let mut flags = Flags::NONE;
        if let Some(f) = &route.fault {
            let decision = fault::decide(f, random(), random());
            if let Some(delay) = decision.delay {
                tokio::time::sleep(delay).await;
                flags = flags.with(Flags::DELAY_INJECTED);
            }
            if let Some(status) = decision.abort {
                let flags = flags.with(Flags::FAULT_ABORT);
                return Ok(self.local(metrics, source, start, status, ABORT_BODY, flags));
            }
        }

        let path = match route.rewrite.as_ref().and_then(|rw| rw.uri.as_deref()) {
            Some(new) => {
                let prefix = block.and_then(|i| route.blocks.get(i)).and_then(|b| b.uri_prefix());
                rewrite_path(parts.uri.path(), parts.uri.query(), prefix, new)
            }
            None => None,
        };
        let path = path
            .or_else(|| parts.uri.path_and_query().cloned())
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let absolute_authority = parts.uri.authority().cloned();

        let body = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Ok(self.local(metrics, source, start, 413, "payload too large", flags));
            }
            Err(_) => {
                let flags = flags.with(Flags::DOWNSTREAM_TERMINATION);
                return Ok(self.local(metrics, source, start, 400, "", flags));
            }
        };

        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        if let Some(a) = absolute_authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            headers.insert(header::HOST, a);
        }
        if let Some(a) = route.rewrite.as_ref().and_then(|rw| rw.authority.as_ref()) {
            headers.insert(header::HOST, a.clone());
        }
        route.request_headers.apply(&mut headers);
        dest.request_headers.apply(&mut headers);
        let template = RequestTemplate { method: parts.method, path, headers, body };

        for &(mirror_backend, percent) in &route.mirrors {
            if percent_hit(percent, random()) {
                self.mirror(&router, mirror_backend, &template, source, route.timeout);
            }
        }

        let send = forward::send(
            self.connect_timeout,
            &self.router,
            router.clone(),
            dest.backend,
            &template,
            route.retries.as_ref(),
        );
        let outcome = match route.timeout {
            Some(t) => match tokio::time::timeout(t, send).await {
                Ok(o) => o,
                Err(_) => {
                    let flags = flags.with(Flags::TIMEOUT);
                    return Ok(self.local(metrics, source, start, 504, UPSTREAM_TIMEOUT, flags));
                }
            },
            None => send.await,
        };
        if outcome.retries_exhausted {
            flags = flags.with(Flags::RETRY_LIMIT);
        }
        let resp = match outcome.result {
            Ok(resp) => resp,
            Err(failure) => {
                let (status, body, f) = match failure {
                    Failure::NoHealthyUpstream => {
                        (503, NO_HEALTHY_UPSTREAM, Flags::NO_HEALTHY_UPSTREAM)
                    }
                    Failure::Connect => (503, CONNECT_FAILURE, Flags::CONNECT_FAILURE),
                    Failure::Reset => (503, CONNECTION_TERMINATION, Flags::CONNECTION_TERMINATION),
                    Failure::PerTryTimeout => (504, UPSTREAM_TIMEOUT, Flags::TIMEOUT),
                    Failure::Internal => (500, "", Flags::NONE),
                    Failure::Overflow => (503, OVERFLOW, Flags::UPSTREAM_OVERFLOW),
                };
                let mut resp = self.local(metrics, source, start, status, body, flags.with(f));
                if failure == Failure::Overflow {
                    resp.headers_mut().insert(OVERLOADED_HEADER, HeaderValue::from_static("true"));
                }
                return Ok(resp);
            }
        };
        let (mut resp_parts, resp_body) = resp.into_parts();
        strip_hop_by_hop(&mut resp_parts.headers);
        route.response_headers.apply(&mut resp_parts.headers);
        dest.response_headers.apply(&mut resp_parts.headers);
        self.finish(metrics, source, start, resp_parts.status.as_u16(), flags);
        Ok(Response::from_parts(resp_parts, Either::Left(resp_body)))
    }

    /// Waits until the installed table is not `current` (polling, as tables change rarely),
    /// or `deadline`.
    async fn newer_table(&self, current: &Arc<Router>, deadline: Instant) -> Option<Arc<Router>> {
        loop {
            let installed = self.router.load_full();
            if !Arc::ptr_eq(&installed, current) {
                return Some(installed);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(TRANSITION_POLL).await;
        }
    }

    /// Sends a fire-and-forget copy of `template` to `backend`; never delays the caller.
    fn mirror(
        self: &Arc<Self>,
        router: &Arc<Router>,
        backend: usize,
        template: &RequestTemplate,
        source: u8,
        timeout: Option<Duration>,
    ) {
        if self.mirrors_in_flight.fetch_add(1, Ordering::Relaxed) >= self.max_mirrors {
            self.mirrors_in_flight.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let slot = MirrorSlot(self.clone());
        let router = router.clone();
        let mut template = template.clone();
        if let Some(h) = template.headers.get(header::HOST).and_then(shadow_host) {
            template.headers.insert(header::HOST, h);
        }
        tokio::spawn(async move {
            let shared = &slot.0;
            let Some(metrics) = router.backends.get(backend).map(|b| b.metrics.clone()) else {
                return;
            };
            let start = Instant::now();
            let send = forward::send(
                shared.connect_timeout,
                &shared.router,
                router,
                backend,
                &template,
                None,
            );
            let limit = timeout.unwrap_or(Duration::from_secs(30));
            let (status, flags) = match tokio::time::timeout(limit, send).await {
                Ok(outcome) => match outcome.result {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let now = Instant::now();
                        metrics.record(source, status, Flags::NONE, true, now - start, now);
                        // Drain the body so the connection can be reused.
                        let _ = tokio::time::timeout(limit, resp.into_body().collect()).await;
                        return;
                    }
                    Err(Failure::NoHealthyUpstream) => (503, Flags::NO_HEALTHY_UPSTREAM),
                    Err(Failure::Connect) => (503, Flags::CONNECT_FAILURE),
                    Err(Failure::Reset) => (503, Flags::CONNECTION_TERMINATION),
                    Err(Failure::PerTryTimeout) => (504, Flags::TIMEOUT),
                    Err(Failure::Internal) => (500, Flags::NONE),
                    Err(Failure::Overflow) => (503, Flags::UPSTREAM_OVERFLOW),
                },
                Err(_) => (504, Flags::TIMEOUT),
            };
            let now = Instant::now();
            metrics.record(source, status, flags, true, now - start, now);
        });
    }

    pub(crate) fn metrics_text(&self) -> String {
        self.registry.render()
    }

    pub(crate) fn window_stats(
        &self,
        selector: &crate::metrics::DestinationSelector,
        window: Duration,
    ) -> crate::metrics::WindowStats {
        self.registry.stats(selector, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        let p = |path, q, pre, new| rewrite_path(path, q, pre, new).map(|p| p.to_string());
        assert_eq!(
            p("/reviews/1", Some("a=b"), Some("/reviews"), "/v2/reviews"),
            Some("/v2/reviews/1?a=b".into())
        );
        assert_eq!(p("/reviews/1", None, None, "/x"), Some("/x".into()));
        assert_eq!(p("/api/x", None, Some("/api"), ""), Some("/x".into()));
        assert_eq!(p("/api", None, Some("/api"), ""), Some("/".into()));
        assert_eq!(
            shadow_host(&HeaderValue::from_static("reviews:9080")),
            Some(HeaderValue::from_static("reviews-shadow:9080"))
        );
        assert_eq!(
            shadow_host(&HeaderValue::from_static("reviews")),
            Some(HeaderValue::from_static("reviews-shadow"))
        );
    }

    #[test]
    fn hop_by_hop_headers_are_stripped() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));

        // Every Connection value counts; odd tokens are ignored.
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, HeaderValue::from_static("X-A , ,bad name"));
        h.append(header::CONNECTION, HeaderValue::from_static("x-b, connection"));
        h.insert("x-a", HeaderValue::from_static("1"));
        h.insert("x-b", HeaderValue::from_static("1"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-keep"]);
    }
}
