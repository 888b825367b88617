//! The compiled route table: what the request path reads through one atomic pointer.
//!
//! [`Router::compile`] turns a [`RouteTable`] into indexes (host lookup, backend indexes,
//! compiled regexes, header names and values, weighted schedules) and collects every problem.
//! Endpoint states (in-flight counts for least-request) are shared between successive routers
//! through an [`EndpointCache`], so balancing stays accurate across table swaps and an endpoint
//! that left the table simply stops being picked while its in-flight requests finish. Outlier
//! ejections live there too, so an ejected endpoint stays ejected across table swaps.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, StatusCode};

use crate::balance::{self, WeightedPicker};
use crate::matching::{HostIndex, MatchBlock, RequestView, match_blocks};
use crate::metrics::{DestinationMetrics, Registry};
use crate::outlier::{self, Observed, OutlierState, Verdict};
use crate::pool::Pool;
use crate::table::{
    Backend, ConnectionPool, Fault, HeaderOps, InvalidTable, LoadBalancer, OutlierDetection,
    RetryPolicy, Route, RouteTable, TableProblem, VirtualHost,
};

/// One upstream address and its live load.
#[derive(Debug)]
pub(crate) struct EndpointState {
    pub(crate) authority: Authority,
    in_flight: AtomicUsize,
    outlier: OutlierState,
}

/// Counts a request in flight on an endpoint until dropped: from the pick until the response
/// headers arrive (or the try fails). Least-request balancing compares these counts.
#[derive(Debug)]
pub(crate) struct InFlight(pub(crate) Arc<EndpointState>);

impl InFlight {
    fn new(ep: &Arc<EndpointState>) -> Self {
        ep.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(ep.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Endpoint states by address and connection pools by backend name, kept by the control plane
/// across tables (a pool is replaced only when its backend's limits change).
#[derive(Debug, Default)]
pub(crate) struct EndpointCache {
    endpoints: HashMap<SocketAddr, Arc<EndpointState>>,
    pools: HashMap<Arc<str>, Arc<Pool>>,
}

impl EndpointCache {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The pool of backend `name` with `limits`: the current one, or a new one if the limits
    /// changed (the old one closes its connections once its last request finished).
    fn pool(&mut self, name: &Arc<str>, limits: ConnectionPool) -> Arc<Pool> {
        match self.pools.get(name) {
            Some(p) if *p.limits() == limits => p.clone(),
            _ => {
                let p = Pool::new(limits);
                self.pools.insert(name.clone(), p.clone());
                p
            }
        }
    }

    /// Every pool in use, for the idle reaper.
    pub(crate) fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.values().cloned().collect()
    }

    fn get(&mut self, addr: SocketAddr) -> Arc<EndpointState> {
        self.endpoints
            .entry(addr)
            .or_insert_with(|| {
                let authority = Authority::try_from(addr.to_string().as_str())
                    .expect("a socket address is a valid authority");
                Arc::new(EndpointState {
                    authority,
                    in_flight: AtomicUsize::new(0),
                    outlier: OutlierState::default(),
                })
            })
            .clone()
    }

    /// Forgets endpoints no router references any more.
    pub(crate) fn prune(&mut self) {
        self.endpoints.retain(|_, e| Arc::strong_count(e) > 1);
        self.pools.retain(|_, p| Arc::strong_count(p) > 1);
    }
}

#[derive(Debug)]
pub(crate) struct CompiledBackend {
    pub(crate) name: Arc<str>,
    endpoints: Vec<Arc<EndpointState>>,
    lb: LoadBalancer,
    rr: AtomicUsize,
    outlier: Option<OutlierDetection>,
    pub(crate) metrics: Arc<DestinationMetrics>,
    /// The bounded upstream connection pool.
    pub(crate) pool: Arc<Pool>,
}

impl CompiledBackend {
    /// The backend has no endpoint at all (a subset that selects no ready pod).
    pub(crate) fn has_no_endpoints(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Picks an endpoint and counts the request in flight; `None`: no healthy upstream (no
    /// endpoint, or all of them ejected by outlier detection).
    pub(crate) fn pick(&self) -> Option<InFlight> {
        let now = self.outlier.as_ref().map(|_| outlier::ticks(Instant::now()));
        self.pick_at(now)
    }

    /// [`Self::pick`] at `now` (in [`outlier::ticks`]; `None`: ignore ejections).
    fn pick_at(&self, now: Option<u64>) -> Option<InFlight> {
        let n = self.endpoints.len();
        let in_rotation = |i: usize| now.is_none_or(|t| !self.endpoints[i].outlier.is_ejected(t));
        let k = match now {
            None => n,
            Some(_) => (0..n).filter(|&i| in_rotation(i)).count(),
        };
        if k == 0 {
            return None;
        }
        // The endpoint of rank `r` among those in rotation (no allocation; a scan only while
        // some endpoint is ejected).
        let nth = |r: usize| {
            if k == n { r } else { (0..n).filter(|&i| in_rotation(i)).nth(r).unwrap_or(0) }
        };
        let i = match self.lb {
            LoadBalancer::RoundRobin => nth(balance::round_robin(&self.rr, k)),
            LoadBalancer::LeastRequest => nth(balance::least_request(k, balance::random(), |r| {
                self.endpoints[nth(r)].in_flight.load(Ordering::Relaxed)
            })),
        };
        Some(InFlight::new(&self.endpoints[i]))
    }

    /// Reports the outcome of one try on `endpoint` to outlier detection (if configured).
    pub(crate) fn observe(&self, endpoint: &EndpointState, outcome: Observed) {
        let Some(config) = &self.outlier else { return };
        if endpoint.outlier.observe(config, outcome) == Verdict::Eject {
            self.eject(config, endpoint, outlier::ticks(Instant::now()));
        }
    }

    /// Ejects `endpoint` at `now` unless that exceeds `max_ejection_percent` of this backend.
    fn eject(&self, config: &OutlierDetection, endpoint: &EndpointState, now: u64) {
        let allowed = outlier::max_ejected(self.endpoints.len(), config.max_ejection_percent);
        let ejected = || self.endpoints.iter().filter(|e| e.outlier.is_ejected(now)).count();
        if ejected() >= allowed {
            return;
        }
        if let Some(previous) = endpoint.outlier.eject(config, now) {
            // Concurrent ejections of other endpoints may have raced with this one.
            if ejected() > allowed {
                endpoint.outlier.revert(previous);
            } else {
                tracing::info!(endpoint = %endpoint.authority, backend = %self.name, "outlier detection: endpoint ejected");
            }
        }
    }
}

/// Compiled header operations.
#[derive(Debug, Default)]
pub(crate) struct HeaderOpsC {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl HeaderOpsC {
    fn compile(ops: &HeaderOps, path: &str, problems: &mut Vec<TableProblem>) -> Self {
        let pair = |kind: &str, list: &[(String, String)], problems: &mut Vec<_>| {
            let mut out = Vec::with_capacity(list.len());
            for (n, v) in list {
                let p = format!("{path}.{kind}[{n}]");
                match (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_str(v)) {
                    (Ok(n), Ok(v)) => out.push((n, v)),
                    (Err(_), _) => problems.push(problem(&p, "invalid header name")),
                    (_, Err(_)) => problems.push(problem(&p, "invalid header value")),
                }
            }
            out
        };
        let set = pair("set", &ops.set, problems);
        let add = pair("add", &ops.add, problems);
        let mut remove = Vec::new();
        for n in &ops.remove {
            match HeaderName::from_bytes(n.as_bytes()) {
                Ok(n) => remove.push(n),
                Err(_) => {
                    problems.push(problem(&format!("{path}.remove[{n}]"), "invalid header name"))
                }
            }
        }
        Self { set, add, remove }
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for n in &self.remove {
            headers.remove(n);
        }
        for (n, v) in &self.set {
            headers.insert(n.clone(), v.clone());
        }
        for (n, v) in &self.add {
            headers.append(n.clone(), v.clone());
        }
    }
}

#[derive(Debug)]
pub(crate) struct CompiledDestination {
    pub(crate) backend: usize,
    pub(crate) request_headers: HeaderOpsC,
    pub(crate) response_headers: HeaderOpsC,
}

#[derive(Debug)]
pub(crate) struct CompiledRewrite {
    pub(crate) uri: Option<Box<str>>,
    pub(crate) authority: Option<HeaderValue>,
}

#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub(crate) blocks: Vec<MatchBlock>,
    pub(crate) destinations: Vec<CompiledDestination>,
    picker: WeightedPicker,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<RetryPolicy>,
    pub(crate) mirrors: Vec<(usize, f64)>,
    pub(crate) fault: Option<Fault>,
    pub(crate) request_headers: HeaderOpsC,
    pub(crate) response_headers: HeaderOpsC,
    pub(crate) rewrite: Option<CompiledRewrite>,
}

impl CompiledRoute {
    pub(crate) fn pick_destination(&self) -> Option<&CompiledDestination> {
        self.picker.pick().and_then(|i| self.destinations.get(i))
    }
}

#[derive(Debug)]
pub(crate) struct CompiledVhost {
    pub(crate) routes: Vec<CompiledRoute>,
}

#[derive(Debug, Default)]
pub(crate) struct Listener {
    index: HostIndex,
    vhosts: Vec<CompiledVhost>,
}

impl Listener {
    /// The route (and index of the matching block) for a request.
    pub(crate) fn route(&self, r: &RequestView<'_>) -> Option<(&CompiledRoute, Option<usize>)> {
        let vh = self.vhosts.get(self.index.lookup(r.authority)?)?;
        vh.routes.iter().find_map(|route| match_blocks(&route.blocks, r).map(|m| (route, m)))
    }
}

/// The compiled table.
#[derive(Debug, Default)]
pub(crate) struct Router {
    pub(crate) gateway: Listener,
    pub(crate) mesh: Listener,
    pub(crate) backends: Vec<CompiledBackend>,
    by_name: HashMap<Arc<str>, usize>,
}

fn problem(path: &str, message: &str) -> TableProblem {
    TableProblem { path: path.to_owned(), message: message.to_owned() }
}

/// A pool that could never send a request is a problem.
fn check_pool(pool: &ConnectionPool, path: &str, problems: &mut Vec<TableProblem>) {
    if pool.max_connections == 0 {
        problems.push(problem(&format!("{path}.maxConnections"), "must be at least 1"));
    }
    if pool.max_requests == 0 {
        problems.push(problem(&format!("{path}.maxRequests"), "must be at least 1"));
    }
    if pool.idle_timeout.is_zero() {
        problems.push(problem(&format!("{path}.idleTimeout"), "must be at least 1ms"));
    }
}

fn check_percent(v: f64, path: &str, problems: &mut Vec<TableProblem>) {
    if !(0.0..=100.0).contains(&v) {
        problems.push(problem(path, &format!("percentage {v} is outside 0..=100")));
    }
}

impl Router {
    /// A backend's index by name, for retries that re-resolve endpoints in the newest table.
    pub(crate) fn backend_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Compiles `table`, or returns every problem found.
    pub(crate) fn compile(
        table: &RouteTable,
        registry: &Registry,
        endpoints: &mut EndpointCache,
    ) -> Result<Self, InvalidTable> {
        let mut problems = Vec::new();
        let mut router = Self::default();
        for (name, b) in &table.backends {
            check_pool(
                &b.connection_pool,
                &format!("backends[{name}].connectionPool"),
                &mut problems,
            );
            router.add_backend(name, b, registry, endpoints);
        }
        for (i, vh) in table.gateway.iter().enumerate() {
            let path = format!(
                "gateway[{}]",
                if vh.name.is_empty() { i.to_string() } else { vh.name.clone() }
            );
            let compiled = router.compile_vhost(vh, &path, &mut problems);
            insert_vhost(&mut router.gateway, vh, compiled, &path, &mut problems);
        }
        for (i, vh) in table.mesh.iter().enumerate() {
            let path = format!(
                "mesh[{}]",
                if vh.name.is_empty() { i.to_string() } else { vh.name.clone() }
            );
            let compiled = router.compile_vhost(vh, &path, &mut problems);
            insert_vhost(&mut router.mesh, vh, compiled, &path, &mut problems);
        }
        if problems.is_empty() { Ok(router) } else { Err(InvalidTable(problems)) }
    }

    fn add_backend(
        &mut self,
        name: &str,
        b: &Backend,
        registry: &Registry,
        endpoints: &mut EndpointCache,
    ) {
        let name: Arc<str> = name.into();
        self.by_name.insert(name.clone(), self.backends.len());
        let pool = endpoints.pool(&name, b.connection_pool);
        self.backends.push(CompiledBackend {
            pool,
            name,
            endpoints: b.endpoints.iter().map(|a| endpoints.get(*a)).collect(),
            lb: b.load_balancer,
            rr: AtomicUsize::new(0),
            outlier: b.outlier.clone(),
            metrics: registry.destination(&b.labels),
        });
    }

    fn resolve_backend(&self, name: &str, path: &str, problems: &mut Vec<TableProblem>) -> usize {
        match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                problems.push(problem(path, &format!("unknown backend {name:?}")));
                usize::MAX
            }
        }
    }

    fn compile_vhost(
        &self,
        vh: &VirtualHost,
        path: &str,
        problems: &mut Vec<TableProblem>,
    ) -> CompiledVhost {
        let routes = vh
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| self.compile_route(r, &format!("{path}.routes[{i}]"), problems))
            .collect();
        CompiledVhost { routes }
    }

    fn compile_route(
        &self,
        r: &Route,
        path: &str,
        problems: &mut Vec<TableProblem>,
    ) -> CompiledRoute {
        let blocks = r
            .matches
            .iter()
            .enumerate()
            .map(|(i, m)| MatchBlock::compile(m, &format!("{path}.match[{i}]"), problems))
            .collect();
        if r.destinations.is_empty() {
            problems.push(problem(&format!("{path}.destinations"), "a route needs a destination"));
        } else if r.destinations.len() > 1000 {
            problems.push(problem(&format!("{path}.destinations"), "more than 1000 destinations"));
        } else if r.destinations.len() > 1 && r.destinations.iter().all(|d| d.weight == 0) {
            problems.push(problem(
                &format!("{path}.destinations"),
                "sum of weights must be greater than 0",
            ));
        }
        let destinations = r
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = format!("{path}.destinations[{i}]");
                CompiledDestination {
                    backend: self.resolve_backend(&d.backend, &format!("{p}.backend"), problems),
                    request_headers: HeaderOpsC::compile(
                        &d.headers.request,
                        &format!("{p}.headers.request"),
                        problems,
                    ),
                    response_headers: HeaderOpsC::compile(
                        &d.headers.response,
                        &format!("{p}.headers.response"),
                        problems,
                    ),
                }
            })
            .collect();
        let weights: Vec<u32> = r.destinations.iter().map(|d| d.weight).collect();
        let mirrors = r
            .mirrors
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let p = format!("{path}.mirrors[{i}]");
                check_percent(m.percentage, &format!("{p}.percentage"), problems);
                (self.resolve_backend(&m.backend, &format!("{p}.backend"), problems), m.percentage)
            })
            .collect();
        if let Some(f) = &r.fault {
            if let Some(d) = &f.delay {
                check_percent(d.percentage, &format!("{path}.fault.delay.percentage"), problems);
            }
            if let Some(a) = &f.abort {
                check_percent(a.percentage, &format!("{path}.fault.abort.percentage"), problems);
                if !(200..=599).contains(&a.http_status) {
                    problems.push(problem(
                        &format!("{path}.fault.abort.httpStatus"),
                        &format!("invalid HTTP status {}", a.http_status),
                    ));
                }
            }
        }
        if let Some(rt) = &r.retries {
            if rt.per_try_timeout.is_some_and(|t| t < Duration::from_millis(1)) {
                problems.push(problem(&format!("{path}.retries.perTryTimeout"), "must be ≥ 1ms"));
            }
            for c in &rt.retry_on.retriable_status_codes {
                if StatusCode::from_u16(*c).is_err() {
                    problems.push(problem(
                        &format!("{path}.retries.retryOn"),
                        &format!("invalid status code {c}"),
                    ));
                }
            }
        }
        let rewrite = r.rewrite.as_ref().map(|rw| {
            if let Some(u) = &rw.uri
                && !u.is_empty()
                && http::uri::PathAndQuery::try_from(u.as_str()).is_err()
            {
                problems.push(problem(&format!("{path}.rewrite.uri"), "invalid URI"));
            }
            let authority = rw.authority.as_ref().and_then(|a| {
                match (Authority::try_from(a.as_str()), HeaderValue::from_str(a)) {
                    (Ok(_), Ok(v)) => Some(v),
                    _ => {
                        problems.push(problem(
                            &format!("{path}.rewrite.authority"),
                            "invalid authority",
                        ));
                        None
                    }
                }
            });
            CompiledRewrite { uri: rw.uri.as_deref().map(Into::into), authority }
        });
        CompiledRoute {
            blocks,
            destinations,
            picker: WeightedPicker::new(&weights),
            timeout: r.timeout.filter(|t| !t.is_zero()),
            retries: r.retries.clone().filter(|rt| rt.attempts > 0),
            mirrors,
            fault: r.fault.clone(),
            request_headers: HeaderOpsC::compile(
                &r.headers.request,
                &format!("{path}.headers.request"),
                problems,
            ),
            response_headers: HeaderOpsC::compile(
                &r.headers.response,
                &format!("{path}.headers.response"),
                problems,
            ),
            rewrite,
        }
    }
}

fn insert_vhost(
    listener: &mut Listener,
    vh: &VirtualHost,
    compiled: CompiledVhost,
    path: &str,
    problems: &mut Vec<TableProblem>,
) {
    let idx = listener.vhosts.len();
    if vh.hosts.is_empty() {
        problems.push(problem(&format!("{path}.hosts"), "no hosts"));
    }
    for h in &vh.hosts {
        let bad = h.is_empty()
            || h.chars().skip(1).any(|c| c == '*')
            || (h.starts_with('*') && h != "*" && !h.starts_with("*."));
        if bad {
            problems.push(problem(&format!("{path}.hosts"), &format!("invalid host {h:?}")));
        } else {
            listener.index.insert(h, vh.port, idx);
        }
    }
    listener.vhosts.push(compiled);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{
        Fault, FaultAbort, HeaderMatch, Mirror, RouteMatch, StringMatch, WeightedDestination,
    };

    fn table() -> RouteTable {
        let mut t = RouteTable::default();
        t.backends.insert("v1".into(), Backend::default());
        t.backends.insert("v2".into(), Backend::default());
        t.mesh.push(VirtualHost::service("reviews", vec!["reviews".into()], "v1"));
        t
    }

    #[test]
    fn valid_table_compiles() {
        let t = table();
        assert_eq!(t.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut t = table();
        t.gateway.push(VirtualHost {
            name: "gw".into(),
            hosts: vec!["bookinfo.example.com".into(), "a*b".into()],
            port: None,
            routes: vec![
                Route::weighted(&[("v1", 0), ("v2", 0)]),
                Route {
                    matches: vec![RouteMatch {
                        uri: Some(StringMatch::Regex("(".into())),
                        headers: vec![("bad header".into(), HeaderMatch::Present)],
                        ..RouteMatch::default()
                    }],
                    destinations: vec![WeightedDestination::new("nope", 1)],
                    mirrors: vec![Mirror { backend: "v2".into(), percentage: 150.0 }],
                    fault: Some(Fault {
                        delay: None,
                        abort: Some(FaultAbort { http_status: 42, percentage: 1.0 }),
                    }),
                    ..Route::default()
                },
                Route::default(),
            ],
        });
        let err = t.validate().expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "gateway[gw].hosts: invalid host \"a*b\"",
            "gateway[gw].routes[0].destinations: sum of weights must be greater than 0",
            "gateway[gw].routes[1].match[0].uri: invalid regex",
            "gateway[gw].routes[1].match[0].headers[bad header]: invalid header name",
            "gateway[gw].routes[1].destinations[0].backend: unknown backend \"nope\"",
            "gateway[gw].routes[1].mirrors[0].percentage: percentage 150 is outside 0..=100",
            "gateway[gw].routes[1].fault.abort.httpStatus: invalid HTTP status 42",
            "gateway[gw].routes[2].destinations: a route needs a destination",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
        assert_eq!(err.0.len(), 8, "{text}");
    }

    #[test]
    fn least_request_avoids_the_busiest_endpoint_and_state_survives_updates() {
        let a: SocketAddr = "127.0.0.1:1001".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:1002".parse().expect("addr");
        let mut t = table();
        t.backends.get_mut("v1").expect("v1").endpoints = vec![a, b];
        let reg = Registry::new(Vec::new());
        let mut cache = EndpointCache::new();
        let r1 = Router::compile(&t, &reg, &mut cache).expect("valid");
        let busy: Vec<InFlight> = (0..5).map(|_| InFlight::new(&cache.get(a))).collect();
        // a new table shares the endpoint states, so the in-flight requests still count
        let r2 = Router::compile(&t, &reg, &mut cache).expect("valid");
        drop(r1);
        let backend = &r2.backends[r2.backend_index("v1").expect("v1")];
        for _ in 0..50 {
            let picked = backend.pick().expect("endpoint");
            assert_eq!(picked.0.authority.as_str(), "127.0.0.1:1002");
        }
        drop(busy);
        cache.prune();
        assert_eq!(cache.endpoints.len(), 2, "still referenced by r2");
        drop(r2);
        cache.prune();
        assert!(cache.endpoints.is_empty() && cache.pools.is_empty());
    }

    #[test]
    fn ejected_endpoints_are_skipped_within_the_ejection_limit() {
        let addrs: Vec<SocketAddr> =
            (1..=3).map(|p| SocketAddr::from(([127, 0, 0, 1], 2000 + p))).collect();
        let config = OutlierDetection {
            consecutive_5xx_errors: 2,
            max_ejection_percent: 50,
            ..OutlierDetection::default()
        };
        let mut t = table();
        let v1 = t.backends.get_mut("v1").expect("v1");
        v1.endpoints = addrs.clone();
        v1.load_balancer = LoadBalancer::RoundRobin;
        v1.outlier = Some(config);
        let reg = Registry::new(Vec::new());
        let mut cache = EndpointCache::new();
        let r = Router::compile(&t, &reg, &mut cache).expect("valid");
        let b = &r.backends[r.backend_index("v1").expect("v1")];
        let t0 = Instant::now();
        let now = outlier::ticks(t0);
        let config = b.outlier.clone().expect("outlier");
        let fail = |i: usize| {
            let ep = &b.endpoints[i];
            if ep.outlier.observe(&config, Observed::Status(503)) == Verdict::Eject {
                b.eject(&config, ep, now);
            }
        };
        let picks = |at: u64| -> Vec<String> {
            (0..4).map(|_| b.pick_at(Some(at)).expect("pick").0.authority.to_string()).collect()
        };
        fail(0);
        fail(0);
        assert!(picks(now).iter().all(|a| a != "127.0.0.1:2001"), "{:?}", picks(now));
        // 50 % of 3 is 1: the second failing endpoint stays in rotation
        fail(1);
        fail(1);
        assert!(picks(now).iter().any(|a| a == "127.0.0.1:2002"));
        // the ejection ends after the base ejection time (30 s)
        let later = outlier::ticks(t0 + Duration::from_secs(30));
        assert!(picks(later).iter().any(|a| a == "127.0.0.1:2001"));
        // a backend without outlier detection ignores ejections of shared addresses
        assert!(b.pick_at(None).is_some());
    }

    #[test]
    fn single_zero_weight_destination_gets_everything() {
        let mut t = table();
        t.mesh[0].routes = vec![Route::weighted(&[("v2", 0)])];
        let reg = Registry::new(Vec::new());
        let r = Router::compile(&t, &reg, &mut EndpointCache::new()).expect("valid");
        let route = &r.mesh.vhosts[0].routes[0];
        let d = route.pick_destination().expect("destination");
        assert_eq!(&*r.backends[d.backend].name, "v2");
    }
}
