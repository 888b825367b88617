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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use weir_analysis::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, error_measurement,
};
use weir_expr::Value;
use weir_model::rollouts::{Measurement, Metric};
use weir_proxy::{DestinationSelector, Proxy, WindowStats};

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

/// The built-in provider (type name [`BUILTIN_PLUGIN`]).
pub struct BuiltinProvider {
    stats: Arc<dyn ProxyStats>,
}

impl fmt::Debug for BuiltinProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinProvider").finish_non_exhaustive()
    }
}

impl BuiltinProvider {
    /// A provider reading `stats`.
    pub fn new(stats: Arc<dyn ProxyStats>) -> Self {
        BuiltinProvider { stats }
    }

    fn measure(&self, metric: &Metric) -> Result<Observation, String> {
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
            service: config.service.clone(),
            namespace: config.namespace.clone(),
            workload: config.workload.clone(),
            version: config.subset.clone(),
            pod_template_hash: config.pod_template_hash.clone(),
        };
        let stats = self.stats.stats(&selector, window);
        let value = match config.metric.as_str() {
            "request-success-rate" => stats.success_rate().map_or(f64::NAN, |r| r * 100.0),
            "request-duration" => stats.p(0.99).unwrap_or(f64::NAN),
            "apdex" => apdex(&stats, config.threshold.unwrap_or(500.0)),
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
            match self.measure(req.metric) {
                Ok(obs) => obs.measure(&Conditions::new(req.metric), now, now),
                Err(e) => error_measurement(e, now, now),
            }
        })
    }
}
