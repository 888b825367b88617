//! The set of metric providers a controller measures with, keyed by the provider's type name
//! (`Prometheus`, `SkyWalking`, `Web`, `Job`, `weir/builtin`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use weir_analysis::MetricProvider;
use weir_cluster::Cluster;
use weir_model::rollouts::Metric;

use crate::builtin::{BuiltinProvider, ProxyStats};
use crate::job::JobProvider;
use crate::prometheus::PrometheusProvider;
use crate::skywalking::SkyWalkingProvider;
use crate::web::WebProvider;

/// The metric providers, by the type name [`weir_model::rollouts::MetricProvider::type_name`]
/// gives a metric's provider.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: BTreeMap<String, Arc<dyn MetricProvider>>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

impl Providers {
    /// No provider at all (every measurement is an Error).
    pub fn new() -> Self {
        Providers::default()
    }

    /// The providers that need no cluster: Prometheus, SkyWalking and web.
    pub fn standard() -> Self {
        Providers::new()
            .with(Arc::new(PrometheusProvider::new()))
            .with(Arc::new(SkyWalkingProvider::new()))
            .with(Arc::new(WebProvider::new()))
    }

    /// What `weir up` runs: [`Providers::standard`], the job provider on `cluster`, and the
    /// built-in provider when the proxy's statistics are available.
    pub fn embedded<C: Cluster>(cluster: Arc<C>, stats: Option<Arc<dyn ProxyStats>>) -> Self {
        let mut providers = Providers::standard().with(Arc::new(JobProvider::new(cluster)));
        if let Some(stats) = stats {
            providers = providers.with(Arc::new(BuiltinProvider::new(stats)));
        }
        providers
    }

    /// Adds (or replaces) a provider under its [`MetricProvider::kind`].
    pub fn with(mut self, provider: Arc<dyn MetricProvider>) -> Self {
        self.by_kind.insert(provider.kind().to_owned(), provider);
        self
    }

    /// The provider of `metric`, if there is one for its provider type.
    pub fn for_metric(&self, metric: &Metric) -> Option<&Arc<dyn MetricProvider>> {
        self.by_kind.get(metric.provider.type_name()?)
    }
}
