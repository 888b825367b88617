//! weir's built-in provider (beyond Argo, after Flagger's built-in checks): request success
//! rate, p99 latency and apdex of one destination over a window, read from the embedded
//! proxy's in-memory statistics, so canary analysis works without a Prometheus.
//!
//! The Argo CRD has no such provider, so a metric names it through the plugin map with the
//! key [`BUILTIN_PLUGIN`]:
//!
//! ```yaml
//! provider:
//!   plugin:
//!     weir/builtin:
//!       metric: request-success-rate   # or request-duration, apdex
//!       service: reviews               # destination_service(_name)
//!       namespace: bookinfo
//!       subset: canary                 # destination_version (alias: version)
//!       podTemplateHash: 7d9f8c        # optional
//!       workload: reviews-v2           # optional
//!       window: 1m                     # Go duration, default 1m
//!       threshold: 500                 # apdex T in ms, default 500
//! successCondition: result >= 99
//! ```
//!
//! `result` is a float64: the success rate in percent (Flagger's scale), the p99 latency in
//! milliseconds, or apdex on SkyWalking's integer scale (10000 = 1.0; successes faster than T
//! are satisfied, faster than 4T tolerating, failures frustrated). Without traffic it is
//! `NaN` (as Prometheus' `0/0`): guard with `isNaN(result) ||` or let the condition fail.
//!
//! The statistics come from the proxy in the same process ([`BuiltinProvider::new`], `weir up`)
//! or, for a controller in another process (`weir controller --proxy-stats-url`), from the
//! proxy's admin listener `GET /stats/window` ([`BuiltinProvider::remote`]): the same sliding
//! windows and latency buckets, so a metric gives the same result either way.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use weir_analysis::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, error_measurement,
};
use weir_expr::Value;
use weir_model::rollouts::{Measurement, Metric};
use weir_proxy::{DestinationSelector, LatencyHistogram, Proxy, WindowStats};

use crate::http::{go_float, wall_clock};

/// The plugin key naming the built-in provider.
pub const BUILTIN_PLUGIN: &str = "weir/builtin";

/// Where the built-in provider reads traffic statistics (the embedded proxy).
pub trait ProxyStats: Send + Sync {
    /// Requests, successes and latency of the selected destinations over the last `window`.
    fn stats(&self, selector: &DestinationSelector, window: Duration) -> WindowStats;
}

impl ProxyStats for Proxy {
    fn stats(&self, selector: &DestinationSelector, window: Duration) -> WindowStats {
        Proxy::stats(self, selector, window)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    metric: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default, alias = "version")]
    subset: Option<String>,
    #[serde(default)]
    pod_template_hash: Option<String>,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    threshold: Option<f64>,
}

/// Where a [`BuiltinProvider`] reads its statistics.
enum Source {
    /// The proxy in this process.
    InProcess(Arc<dyn ProxyStats>),
    /// A proxy's admin listener: the URL of its `/stats/window`.
    Admin { client: reqwest::Client, url: String },
}

/// The built-in provider (type name [`BUILTIN_PLUGIN`]).
pub struct BuiltinProvider {
    source: Source,
}

/// How long a read of a remote proxy's statistics may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a metric asks the built-in provider for.
struct Query {
    metric: String,
    selector: DestinationSelector,
    window: Duration,
    threshold_ms: f64,
}

/// The JSON `/stats/window` answers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteStats {
    requests: u64,
    successes: u64,
    latency_counts: Vec<u64>,
}

impl fmt::Debug for BuiltinProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinProvider").finish_non_exhaustive()
    }
}

impl BuiltinProvider {
    /// A provider reading `stats`.
    pub fn new(stats: Arc<dyn ProxyStats>) -> Self {
        BuiltinProvider { source: Source::InProcess(stats) }
    }

    /// A provider reading a proxy's admin listener at `url` (its `/stats/window`, e.g.
    /// `http://127.0.0.1:7182/stats/window`), or why no HTTP client could be built.
    pub fn remote(url: impl Into<String>) -> Result<Self, String> {
        Ok(BuiltinProvider {
            source: Source::Admin { client: crate::http::client()?, url: url.into() },
        })
    }

    async fn measure(&self, metric: &Metric) -> Result<Observation, String> {
        let query = parse(metric)?;
        let stats = match &self.source {
            Source::InProcess(stats) => stats.stats(&query.selector, query.window),
            Source::Admin { client, url } => fetch(client, url, &query).await?,
        };
        evaluate(&query, &stats)
    }
}

/// The metric's `weir/builtin` configuration, or why it is not a valid one.
fn parse(metric: &Metric) -> Result<Query, String> {
    let raw = metric
        .provider
        .plugin
        .as_ref()
        .and_then(|p| p.get(BUILTIN_PLUGIN))
        .ok_or("no weir/builtin plugin configuration")?;
    let config: Config = serde_json::from_value(raw.clone())
        .map_err(|e| format!("invalid weir/builtin configuration: {e}"))?;
    let window = config.window.as_deref().unwrap_or("1m");
    let nanos = weir_model::duration::parse_nanos(window)
        .map_err(|e| format!("invalid window {window:?}: {e}"))?;
    let window = Duration::from_nanos(nanos.unsigned_abs());
    let selector = DestinationSelector {
        service: config.service,
        namespace: config.namespace,
        workload: config.workload,
        version: config.subset,
        pod_template_hash: config.pod_template_hash,
    };
    Ok(Query {
        metric: config.metric,
        selector,
        window,
        threshold_ms: config.threshold.unwrap_or(500.0),
    })
}

/// The statistics of a remote proxy's admin listener for `query`.
async fn fetch(client: &reqwest::Client, url: &str, query: &Query) -> Result<WindowStats, String> {
    let selector = &query.selector;
    let mut params: Vec<(&str, String)> = [
        ("service", &selector.service),
        ("namespace", &selector.namespace),
        ("workload", &selector.workload),
        ("version", &selector.version),
        ("podTemplateHash", &selector.pod_template_hash),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.clone().map(|v| (key, v)))
    .collect();
    params.push(("windowMs", query.window.as_millis().to_string()));
    let response = client
        .get(url)
        .query(&params)
        .timeout(ADMIN_TIMEOUT)
        .send()
        .await
        .map_err(|e| crate::http::transport_error("GET", url, &e))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| crate::http::transport_error("GET", url, &e))?;
    if !status.is_success() {
        return Err(format!("the proxy's {url} answered {status}: {}", body.trim()));
    }
    let remote: RemoteStats = serde_json::from_str(&body)
        .map_err(|e| format!("the proxy's {url} answered an unreadable body: {e}"))?;
    let buckets = remote.latency_counts.len();
    let latency = LatencyHistogram::from_counts(remote.latency_counts).ok_or_else(|| {
        format!("the proxy's {url} answered {buckets} latency buckets (another weir version?)")
    })?;
    Ok(WindowStats { requests: remote.requests, successes: remote.successes, latency })
}

/// The observation `query` makes of `stats`.
fn evaluate(query: &Query, stats: &WindowStats) -> Result<Observation, String> {
    let value = match query.metric.as_str() {
        "request-success-rate" => stats.success_rate().map_or(f64::NAN, |r| r * 100.0),
        "request-duration" => stats.p(0.99).unwrap_or(f64::NAN),
        "apdex" => apdex(stats, query.threshold_ms),
        other => {
            return Err(format!(
                "unknown weir/builtin metric {other:?} (request-success-rate, \
                 request-duration, apdex)"
            ));
        }
    };
    Ok(Observation {
        result: Value::Float(value),
        value: go_float(value),
        metadata: Default::default(),
    })
}

/// SkyWalking's integer apdex (10000 = all satisfied) from a window's statistics.
fn apdex(stats: &WindowStats, threshold_ms: f64) -> f64 {
    if stats.requests == 0 {
        return f64::NAN;
    }
    let fast = stats.latency.count_at_most_ms(threshold_ms).min(stats.successes);
    let ok = stats.latency.count_at_most_ms(4.0 * threshold_ms).min(stats.successes);
    let tolerating = ok.saturating_sub(fast);
    ((fast * 10_000 + tolerating * 10_000 / 2) / stats.requests) as f64
}

impl MetricProvider for BuiltinProvider {
    fn kind(&self) -> &str {
        BUILTIN_PLUGIN
    }

    fn run<'a>(&'a self, req: MeasureRequest<'a>) -> BoxFuture<'a, Measurement> {
        Box::pin(async move {
            let now = wall_clock();
            match self.measure(req.metric).await {
                Ok(obs) => obs.measure(&Conditions::new(req.metric), now, now),
                Err(e) => error_measurement(e, now, now),
            }
        })
    }
}
