//! Istio-compatible request metrics and per-destination sliding windows.
//!
//! Every backend's [`crate::table::DestinationLabels`] is interned once (control plane) into a
//! [`DestinationMetrics`]; the request path records into it with a handful of relaxed atomic
//! adds: no global lock, no allocation after a series' first request.
//!
//! - Prometheus series (`istio_requests_total`, `istio_request_duration_milliseconds` with
//!   Envoy's default buckets) are keyed by (listener source, response code, response flags,
//!   mirror) and live in a fixed array of lazily initialised slots, scanned linearly (a
//!   destination sees a handful of distinct codes). The proxy is the only hop, so each series is
//!   rendered twice, as `reporter="source"` and `reporter="destination"`, and Istio PromQL
//!   written for either reporter works unchanged. Mirrored requests are reported only by the
//!   destination, as in Istio (the source sidecar does not report shadow traffic).
//! - A ring of 64 ten-second slots (about ten minutes) of counts and a log-linear latency
//!   histogram answers [`crate::Proxy::stats`] directly, for the built-in analysis provider.
//!   A slot is reset by whoever first records into it in a new period; a few requests racing
//!   that reset may be lost, which an analysis over minutes does not notice.
//!
//! Durations are measured until the response headers are received from upstream (or the local
//! reply is produced); body streaming time is not included.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::table::DestinationLabels;

/// Envoy's (and so Istio's) default histogram bucket bounds, in milliseconds.
pub const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];
/// The same bounds in microseconds, for integer comparisons on the hot path.
const BUCKETS_US: [u64; 19] = [
    500,
    1_000,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    600_000_000,
    1_800_000_000,
    3_600_000_000,
];

/// Envoy response flags (the `response_flags` label), as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags(pub(crate) u16);

impl Flags {
    pub(crate) const NONE: Self = Self(0);
    pub(crate) const NO_HEALTHY_UPSTREAM: Self = Self(1);
    pub(crate) const CONNECT_FAILURE: Self = Self(1 << 1);
    pub(crate) const TIMEOUT: Self = Self(1 << 2);
    pub(crate) const NO_ROUTE: Self = Self(1 << 3);
    pub(crate) const RETRY_LIMIT: Self = Self(1 << 4);
    pub(crate) const CONNECTION_TERMINATION: Self = Self(1 << 5);
    pub(crate) const FAULT_ABORT: Self = Self(1 << 6);
    pub(crate) const DELAY_INJECTED: Self = Self(1 << 7);
    pub(crate) const DOWNSTREAM_TERMINATION: Self = Self(1 << 8);
    pub(crate) const UPSTREAM_OVERFLOW: Self = Self(1 << 9);

    const NAMES: [(Self, &'static str); 10] = [
        (Self::NO_HEALTHY_UPSTREAM, "UH"),
        (Self::CONNECT_FAILURE, "UF"),
        (Self::TIMEOUT, "UT"),
        (Self::NO_ROUTE, "NR"),
        (Self::RETRY_LIMIT, "URX"),
        (Self::CONNECTION_TERMINATION, "UC"),
        (Self::DOWNSTREAM_TERMINATION, "DC"),
        (Self::DELAY_INJECTED, "DI"),
        (Self::FAULT_ABORT, "FI"),
        (Self::UPSTREAM_OVERFLOW, "UO"),
    ];

    pub(crate) fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn render(self) -> String {
        if self.0 == 0 {
            return "-".to_owned();
        }
        let names: Vec<&str> =
            Self::NAMES.iter().filter(|(f, _)| self.0 & f.0 != 0).map(|(_, n)| *n).collect();
        names.join(",")
    }
}

/// The Istio `source_*` labels of requests arriving on one listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceLabels {
    /// `source_workload`.
    pub workload: String,
    /// `source_workload_namespace`.
    pub namespace: String,
    /// `source_app`.
    pub app: String,
    /// `source_version`.
    pub version: String,
}

#[derive(Debug)]
struct Series {
    key: u64,
    count: AtomicU64,
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [AtomicU64; 20],
    sum_us: AtomicU64,
}

fn series_key(source: u8, code: u16, flags: Flags, mirror: bool) -> u64 {
    u64::from(code) | u64::from(flags.0) << 16 | u64::from(source) << 32 | u64::from(mirror) << 40
}

const SERIES_SLOTS: usize = 48;
const WINDOW_SLOTS: usize = 64;
const WINDOW_SLOT_SECS: u64 = 10;
const LATENCY_BUCKETS: usize = 128;

/// Log-linear latency bucket of a duration in microseconds: exact below 8 µs, then four
/// sub-buckets per power of two (≤ 25 % wide).
fn latency_bucket(us: u64) -> usize {
    if us < 8 {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros() as usize;
    let mantissa = ((us >> (exp - 2)) & 3) as usize;
    (8 + (exp - 3) * 4 + mantissa).min(LATENCY_BUCKETS - 1)
}

/// Lower bound (µs) of a latency bucket.
fn latency_bucket_floor(idx: usize) -> u64 {
    if idx < 8 {
        return idx as u64;
    }
    let exp = (idx - 8) / 4 + 3;
    let m = ((idx - 8) % 4) as u64;
    (4 + m) << (exp - 2)
}

#[derive(Debug)]
struct WindowSlot {
    period: AtomicU64,
    requests: AtomicU64,
    successes: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
}

impl WindowSlot {
    fn new() -> Self {
        Self {
            period: AtomicU64::new(u64::MAX),
            requests: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Counters of one destination (one distinct label set).
#[derive(Debug)]
pub(crate) struct DestinationMetrics {
    pub(crate) labels: DestinationLabels,
    slots: [OnceLock<Series>; SERIES_SLOTS],
    grow: Mutex<()>,
    window: OnceLock<Box<[WindowSlot]>>,
    epoch: Instant,
}

impl DestinationMetrics {
    fn new(labels: DestinationLabels, epoch: Instant) -> Self {
        Self {
            labels,
            slots: std::array::from_fn(|_| OnceLock::new()),
            grow: Mutex::new(()),
            window: OnceLock::new(),
            epoch,
        }
    }

    fn series(&self, key: u64) -> Option<&Series> {
        for slot in &self.slots {
            match slot.get() {
                Some(s) if s.key == key => return Some(s),
                Some(_) => {}
                None => break,
            }
        }
        // First request with this key: serialise slot allocation (rare, never per request).
        let _guard = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        for slot in &self.slots {
            match slot.get() {
                Some(s) if s.key == key => return Some(s),
                Some(_) => {}
                None => {
                    return Some(slot.get_or_init(|| Series {
                        key,
                        count: AtomicU64::new(0),
                        buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                        sum_us: AtomicU64::new(0),
                    }));
                }
            }
        }
        None
    }

    /// Records one finished request. `now` is when the response headers were produced.
    pub(crate) fn record(
        &self,
        source: u8,
        code: u16,
        flags: Flags,
        mirror: bool,
        elapsed: Duration,
        now: Instant,
    ) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(s) = self.series(series_key(source, code, flags, mirror)) {
            s.count.fetch_add(1, Relaxed);
            let b = BUCKETS_US.iter().position(|&le| us <= le).unwrap_or(BUCKETS_US.len());
            s.buckets[b].fetch_add(1, Relaxed);
            s.sum_us.fetch_add(us, Relaxed);
        }
        let window =
            self.window.get_or_init(|| (0..WINDOW_SLOTS).map(|_| WindowSlot::new()).collect());
        let period = now.saturating_duration_since(self.epoch).as_secs() / WINDOW_SLOT_SECS;
        let slot = &window[(period % WINDOW_SLOTS as u64) as usize];
        let seen = slot.period.load(Relaxed);
        if seen != period && slot.period.compare_exchange(seen, period, Relaxed, Relaxed).is_ok() {
            slot.requests.store(0, Relaxed);
            slot.successes.store(0, Relaxed);
            slot.latency.iter().for_each(|b| b.store(0, Relaxed));
        }
        slot.requests.fetch_add(1, Relaxed);
        if code < 500 {
            slot.successes.fetch_add(1, Relaxed);
        }
        slot.latency[latency_bucket(us)].fetch_add(1, Relaxed);
    }

    fn window_into(&self, now: Instant, window: Duration, out: &mut WindowStats) {
        let Some(slots) = self.window.get() else { return };
        let current = now.saturating_duration_since(self.epoch).as_secs() / WINDOW_SLOT_SECS;
        let span = window.as_secs().div_ceil(WINDOW_SLOT_SECS).clamp(1, WINDOW_SLOTS as u64);
        let oldest = current.saturating_sub(span - 1);
        for slot in slots.iter() {
            let p = slot.period.load(Relaxed);
            if p == u64::MAX || p < oldest || p > current {
                continue;
            }
            out.requests += slot.requests.load(Relaxed);
            out.successes += slot.successes.load(Relaxed);
            for (acc, b) in out.latency.counts.iter_mut().zip(slot.latency.iter()) {
                *acc += b.load(Relaxed);
            }
        }
    }
}

/// Selects destinations by their labels; unset fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationSelector {
    /// `destination_service` (FQDN) or `destination_service_name`.
    pub service: Option<String>,
    /// `destination_service_namespace`.
    pub namespace: Option<String>,
    /// `destination_workload`.
    pub workload: Option<String>,
    /// `destination_version`.
    pub version: Option<String>,
    /// `destination_pod_template_hash`.
    pub pod_template_hash: Option<String>,
}

impl DestinationSelector {
    fn selects(&self, l: &DestinationLabels) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        self.service.as_deref().is_none_or(|s| s == l.service || s == l.service_name)
            && eq(&self.namespace, &l.service_namespace)
            && eq(&self.workload, &l.workload)
            && eq(&self.version, &l.version)
            && eq(&self.pod_template_hash, &l.pod_template_hash)
    }
}

/// Latency distribution over a window (log-linear buckets, ≤ 25 % wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self { counts: vec![0; LATENCY_BUCKETS] }
    }
}

impl LatencyHistogram {
    /// Number of recorded requests.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (0..=1) in milliseconds, interpolated inside its bucket like
    /// Prometheus' `histogram_quantile`; `None` without data.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if (seen + c) as f64 >= rank {
                let lo = latency_bucket_floor(i) as f64;
                let hi = latency_bucket_floor(i + 1) as f64;
                let frac = ((rank - seen as f64) / c as f64).clamp(0.0, 1.0);
                return Some((lo + (hi - lo) * frac) / 1000.0);
            }
            seen += c;
        }
        None
    }

    /// A histogram from the per-bucket counts [`LatencyHistogram::counts`] gave (e.g. read
    /// back from the admin listener's `/stats/window`); `None` unless there is one count per
    /// bucket.
    pub fn from_counts(counts: Vec<u64>) -> Option<Self> {
        (counts.len() == LATENCY_BUCKETS).then_some(Self { counts })
    }

    /// The count of each bucket, lowest latencies first.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Requests that took at most `ms` milliseconds (bucket resolution), e.g. for apdex.
    pub fn count_at_most_ms(&self, ms: f64) -> u64 {
        let limit = (ms * 1000.0) as u64;
        self.counts
            .iter()
            .enumerate()
            .take_while(|(i, _)| latency_bucket_floor(i + 1) <= limit.saturating_add(1))
            .map(|(_, c)| c)
            .sum()
    }
}

/// What [`crate::Proxy::stats`] returns for the selected destinations over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    /// Requests answered (upstream or locally, mirrors included).
    pub requests: u64,
    /// Requests answered with a status below 500.
    pub successes: u64,
    /// Latency distribution.
    pub latency: LatencyHistogram,
}

impl WindowStats {
    /// `successes / requests`, `None` without requests.
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.successes as f64 / self.requests as f64)
    }

    /// Latency quantile in milliseconds, e.g. `p(0.99)`.
    pub fn p(&self, q: f64) -> Option<f64> {
        self.latency.quantile_ms(q)
    }
}

/// All destinations ever seen, the listener sources, and rendering.
#[derive(Debug)]
pub(crate) struct Registry {
    epoch: Instant,
    sources: Vec<SourceLabels>,
    destinations: Mutex<HashMap<DestinationLabels, Arc<DestinationMetrics>>>,
    unknown: Arc<DestinationMetrics>,
}

impl Registry {
    pub(crate) fn new(sources: Vec<SourceLabels>) -> Self {
        let epoch = Instant::now();
        Self {
            epoch,
            sources,
            destinations: Mutex::new(HashMap::new()),
            unknown: Arc::new(DestinationMetrics::new(DestinationLabels::default(), epoch)),
        }
    }

    /// The metrics of a label set, created on first use (control plane only).
    pub(crate) fn destination(&self, labels: &DestinationLabels) -> Arc<DestinationMetrics> {
        let mut map = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(labels.clone())
            .or_insert_with(|| Arc::new(DestinationMetrics::new(labels.clone(), self.epoch)))
            .clone()
    }

    /// Requests that matched no destination (no virtual host or no route).
    pub(crate) fn unknown(&self) -> &Arc<DestinationMetrics> {
        &self.unknown
    }

    pub(crate) fn stats(&self, sel: &DestinationSelector, window: Duration) -> WindowStats {
        let now = Instant::now();
        let mut out = WindowStats::default();
        let map = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        for d in map.values().filter(|d| sel.selects(&d.labels)) {
            d.window_into(now, window, &mut out);
        }
        out
    }

    /// Prometheus text exposition format 0.0.4.
    pub(crate) fn render(&self) -> String {
        let mut dests: Vec<Arc<DestinationMetrics>> = {
            let map = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        dests.sort_by(|a, b| a.labels.cmp(&b.labels));
        dests.push(self.unknown.clone());
        let mut rows: Vec<(String, &Series)> = Vec::new();
        for d in &dests {
            for s in d.slots.iter().filter_map(OnceLock::get) {
                let mirror = s.key >> 40 & 1 == 1;
                for reporter in ["source", "destination"] {
                    if mirror && reporter == "source" {
                        continue;
                    }
                    rows.push((self.labels(reporter, &d.labels, s.key), s));
                }
            }
        }
        let mut out = String::with_capacity(256 + rows.len() * 2048);
        out.push_str("# HELP istio_requests_total Requests handled by the weir proxy.\n");
        out.push_str("# TYPE istio_requests_total counter\n");
        for (labels, s) in &rows {
            let _ = writeln!(out, "istio_requests_total{{{labels}}} {}", s.count.load(Relaxed));
        }
        out.push_str(
            "# HELP istio_request_duration_milliseconds Request duration until response headers.\n",
        );
        out.push_str("# TYPE istio_request_duration_milliseconds histogram\n");
        for (labels, s) in &rows {
            let mut cumulative = 0;
            for (i, b) in s.buckets.iter().enumerate() {
                cumulative += b.load(Relaxed);
                let le =
                    DURATION_BUCKETS_MS.get(i).map_or_else(|| "+Inf".to_owned(), |v| v.to_string());
                let _ = writeln!(
                    out,
                    "istio_request_duration_milliseconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let sum_ms = s.sum_us.load(Relaxed) as f64 / 1000.0;
            let _ = writeln!(out, "istio_request_duration_milliseconds_sum{{{labels}}} {sum_ms}");
            let _ =
                writeln!(out, "istio_request_duration_milliseconds_count{{{labels}}} {cumulative}");
        }
        out
    }

    fn labels(&self, reporter: &str, d: &DestinationLabels, key: u64) -> String {
        let code = (key & 0xffff) as u16;
        let flags = Flags((key >> 16 & 0xffff) as u16);
        let default_source = SourceLabels::default();
        let src = self.sources.get((key >> 32 & 0xff) as usize).unwrap_or(&default_source);
        let pairs: [(&str, &str); 22] = [
            ("reporter", reporter),
            ("source_workload", &src.workload),
            ("source_workload_namespace", &src.namespace),
            ("source_principal", "unknown"),
            ("source_app", &src.app),
            ("source_version", &src.version),
            ("source_cluster", "Kubernetes"),
            ("destination_workload", &d.workload),
            ("destination_workload_namespace", &d.workload_namespace),
            ("destination_principal", "unknown"),
            ("destination_app", &d.app),
            ("destination_version", &d.version),
            ("destination_service", &d.service),
            ("destination_service_name", &d.service_name),
            ("destination_service_namespace", &d.service_namespace),
            ("destination_cluster", "Kubernetes"),
            ("destination_pod_template_hash", &d.pod_template_hash),
            ("request_protocol", "http"),
            ("response_code", ""),
            ("grpc_response_status", ""),
            ("response_flags", ""),
            ("connection_security_policy", "none"),
        ];
        let mut out = String::with_capacity(700);
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push_str("=\"");
            match *name {
                "response_code" => {
                    let _ = write!(out, "{code}");
                }
                "response_flags" => out.push_str(&flags.render()),
                "grpc_response_status" => {}
                _ if value.is_empty() => out.push_str("unknown"),
                _ => escape_into(&mut out, value),
            }
            out.push('"');
        }
        out
    }
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_monotonic_and_tight() {
        let mut prev = 0;
        for us in [0u64, 1, 7, 8, 9, 15, 16, 100, 1_000, 12_345, 1_000_000, 3_600_000_000] {
            let b = latency_bucket(us);
            assert!(b >= prev);
            prev = b;
            assert!(latency_bucket_floor(b) <= us, "{us}");
            assert!(us < 8 || latency_bucket_floor(b + 1) > us, "{us}");
        }
    }

    #[test]
    fn records_and_renders_istio_series() {
        let reg = Registry::new(vec![SourceLabels {
            workload: "istio-ingressgateway".into(),
            namespace: "istio-system".into(),
            ..SourceLabels::default()
        }]);
        let labels = DestinationLabels {
            service: "reviews.bookinfo.svc.cluster.local".into(),
            service_name: "reviews".into(),
            service_namespace: "bookinfo".into(),
            workload: "reviews-v2".into(),
            version: "v2".into(),
            pod_template_hash: "abc".into(),
            ..DestinationLabels::default()
        };
        let d = reg.destination(&labels);
        let now = Instant::now();
        for ms in [0, 3, 7, 120] {
            d.record(0, 200, Flags::NONE, false, Duration::from_millis(ms), now);
        }
        d.record(0, 503, Flags::NO_HEALTHY_UPSTREAM, false, Duration::from_micros(10), now);
        d.record(0, 200, Flags::NONE, true, Duration::from_millis(1), now);
        let text = reg.render();
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("istio_requests_total{reporter=\"destination\"")
                    && l.contains("response_code=\"200\"")
                    && l.contains("destination_version=\"v2\"")
                    && !l.ends_with(" 1")
            })
            .expect("200 series");
        assert!(line.ends_with(" 4"), "{line}");
        assert!(line.contains("destination_pod_template_hash=\"abc\""));
        assert!(line.contains("source_workload=\"istio-ingressgateway\""));
        assert!(line.contains("response_flags=\"-\""));
        assert!(text.contains("response_flags=\"UH\""));
        // mirror series only with reporter=destination
        assert_eq!(text.lines().filter(|l| l.starts_with("istio_requests_total{")).count(), 5);
        assert!(text.contains("le=\"5\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 4\n"));
        let stats = reg.stats(
            &DestinationSelector { version: Some("v2".into()), ..DestinationSelector::default() },
            Duration::from_secs(60),
        );
        assert_eq!((stats.requests, stats.successes), (6, 5));
        let p99 = stats.p(0.99).expect("data");
        assert!((96.0..=150.0).contains(&p99), "{p99}");
        let none = reg.stats(
            &DestinationSelector { version: Some("v9".into()), ..DestinationSelector::default() },
            Duration::from_secs(60),
        );
        assert_eq!(none.requests, 0);
        assert_eq!(none.success_rate(), None);
    }
}
