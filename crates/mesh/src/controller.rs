//! The mesh controller: watches Services, Pods, VirtualServices, DestinationRules and Gateways
//! and keeps the proxy's route table equal to their translation.
//!
//! Level-triggered: any change (or a relist after a lost watch) marks the mesh dirty; the loop
//! then lists every input from the cluster, translates, and installs the table. A
//! VirtualService that does not translate keeps serving its last valid version, and its
//! problems are written to its `status` (as Istio's `validationMessages` and a `Reconciled`
//! condition) until it is fixed. A DestinationRule setting that does not translate is left
//! out (the level above it applies) and reported in the rule's status the same way. Warnings
//! about fields the embedded proxy does not serve are written alike, once per change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Notify;
use weir_cluster::{
    Cluster, Error, ListParams, Patch, Registry, ResourceType, Subresource, WatchParams,
};
use weir_controller::Shutdown;
use weir_model::istio::{DestinationRule, Gateway, VirtualService};
use weir_proxy::Proxy;

use crate::{Endpoint, MeshObjects, endpoint_of_pod, translate};

/// How long changes are gathered before the table is rebuilt: a rollout step touches a
/// VirtualService and several pods within milliseconds, and one rebuild serves them all.
const DEBOUNCE: Duration = Duration::from_millis(10);

/// How long to wait before re-watching after a watch failed.
const RETRY: Duration = Duration::from_secs(1);

/// Runs the mesh controller until `shutdown` is triggered.
pub async fn run_mesh_controller<C: Cluster + Clone>(
    cluster: C,
    proxy: Arc<Proxy>,
    shutdown: Shutdown,
) {
    let registry = Registry::builtin();
    let types: Vec<ResourceType> =
        ["services", "pods", "virtualservices", "destinationrules", "gateways"]
            .iter()
            .filter_map(|name| registry.for_name(name).cloned())
            .collect();
    let dirty = Arc::new(Notify::new());
    let mut watchers = Vec::new();
    for rt in types {
        watchers.push(tokio::spawn(watch_type(
            cluster.clone(),
            rt,
            dirty.clone(),
            shutdown.clone(),
        )));
    }
    let mut state = MeshState::default();
    dirty.notify_one();
    loop {
        tokio::select! {
            () = dirty.notified() => {}
            () = shutdown.wait() => break,
        }
        tokio::time::sleep(DEBOUNCE).await;
        if let Err(e) = state.reconcile(&cluster, &proxy).await {
            tracing::warn!(error = %e, "mesh: cannot rebuild the route table; retrying");
            tokio::time::sleep(RETRY).await;
            dirty.notify_one();
        }
    }
    for watcher in watchers {
        watcher.abort();
    }
}

/// Marks the mesh dirty on every change to objects of one type; re-watches (from the last
/// seen version, or from scratch after `Expired`) when a watch ends.
async fn watch_type<C: Cluster>(
    cluster: C,
    rt: ResourceType,
    dirty: Arc<Notify>,
    shutdown: Shutdown,
) {
    let mut resource_version: Option<String> = None;
    loop {
        let params =
            WatchParams { resource_version: resource_version.clone(), ..WatchParams::default() };
        match cluster.watch(&rt, None, &params).await {
            Ok(mut stream) => loop {
                let event = tokio::select! {
                    event = stream.next() => event,
                    () = shutdown.wait() => return,
                };
                match event {
                    Some(Ok(event)) => {
                        resource_version = event.resource_version().map(str::to_owned);
                        dirty.notify_one();
                    }
                    Some(Err(Error::Expired { .. })) => {
                        resource_version = None;
                        dirty.notify_one();
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(kind = %rt.kind, error = %e, "mesh: watch failed");
                        break;
                    }
                    None => break,
                }
            },
            Err(Error::Expired { .. }) => resource_version = None,
            Err(e) => tracing::warn!(kind = %rt.kind, error = %e, "mesh: cannot watch"),
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = shutdown.wait() => return,
        }
    }
}

/// What the controller remembers between rebuilds: the last valid version of each
/// VirtualService and the status it last wrote.
#[derive(Debug, Default)]
struct MeshState {
    last_valid: BTreeMap<String, VirtualService>,
    reported: BTreeMap<String, Value>,
    /// The table the proxy serves: an identical rebuild is not installed again, since each
    /// install restarts the weighted schedules (frequent re-installs would skew the split).
    installed: Option<weir_proxy::RouteTable>,
}

impl MeshState {
    async fn reconcile<C: Cluster>(&mut self, cluster: &C, proxy: &Proxy) -> Result<(), Error> {
        let registry = Registry::builtin();
        let list = |name: &str| registry.for_name(name).cloned().expect("built-in type");
        let services = typed(cluster, &list("services")).await?;
        let pods: Vec<k8s_openapi::api::core::v1::Pod> = typed(cluster, &list("pods")).await?;
        let mut virtual_services: Vec<VirtualService> =
            typed(cluster, &list("virtualservices")).await?;
        let destination_rules: Vec<DestinationRule> =
            typed(cluster, &list("destinationrules")).await?;
        let gateways: Vec<Gateway> = typed(cluster, &list("gateways")).await?;
        let endpoints: Vec<Endpoint> = pods.iter().map(endpoint_of_pod).collect();

        let objects = |vs: &[VirtualService]| {
            translate(&MeshObjects {
                services: &services,
                endpoints: &endpoints,
                virtual_services: vs,
                destination_rules: &destination_rules,
                gateways: &gateways,
            })
        };
        let first = objects(&virtual_services);
        // Broken VirtualServices keep serving their last valid version.
        for vs in &mut virtual_services {
            let key = vs_key(vs);
            if first.problems.contains_key(&key) {
                if let Some(valid) = self.last_valid.get(&key) {
                    *vs = valid.clone();
                }
            } else {
                self.last_valid.insert(key, vs.clone());
            }
        }
        let translation =
            if first.problems.is_empty() { first.clone() } else { objects(&virtual_services) };
        if self.installed.as_ref() == Some(&translation.table) {
            // Nothing changed for the data plane (e.g. a pod status or our own status write).
        } else {
            match proxy.update(&translation.table) {
                Ok(()) => {
                    if tracing::enabled!(tracing::Level::DEBUG) {
                        let backends: Vec<String> = (translation.table.backends.iter())
                            .map(|(name, b)| format!("{name}={}", b.endpoints.len()))
                            .collect();
                        tracing::debug!(backends = %backends.join(" "), "mesh: route table installed");
                    }
                    self.installed = Some(translation.table.clone());
                }
                Err(invalid) => {
                    tracing::warn!(error = %invalid, "mesh: the proxy refused the route table; the last good one keeps serving")
                }
            }
        }
        self.last_valid.retain(|key, _| virtual_services.iter().any(|vs| vs_key(vs) == *key));
        let targets: Vec<ReportTarget<'_>> = virtual_services
            .iter()
            .map(|vs| ReportTarget {
                resource: "virtualservices",
                meta: &vs.metadata,
                when_invalid: "the last valid version keeps serving",
            })
            .chain(destination_rules.iter().map(|dr| ReportTarget {
                resource: "destinationrules",
                meta: &dr.metadata,
                when_invalid: "the invalid settings are ignored",
            }))
            .collect();
        self.report(cluster, &registry, &targets, &first.problems, &first.warnings).await;
        Ok(())
    }

    /// Writes each VirtualService's and DestinationRule's translation problems and warnings
    /// to its status, once per change.
    async fn report<C: Cluster>(
        &mut self,
        cluster: &C,
        registry: &Registry,
        targets: &[ReportTarget<'_>],
        problems: &BTreeMap<String, Vec<String>>,
        warnings: &BTreeMap<String, Vec<String>>,
    ) {
        let mut seen = std::collections::BTreeSet::new();
        for target in targets {
            let Some(rt) = registry.for_name(target.resource).cloned() else { continue };
            let key = format!(
                "{}/{}/{}",
                rt.kind,
                target.meta.namespace.as_deref().unwrap_or_default(),
                target.meta.name.as_deref().unwrap_or_default()
            );
            seen.insert(key.clone());
            let errors = problems.get(&key).cloned().unwrap_or_default();
            let notes = warnings.get(&key).cloned().unwrap_or_default();
            let messages: Vec<Value> = errors
                .iter()
                .map(|m| json!({"level": "ERROR", "type": {"code": "WEIR0001", "name": "InvalidRoute"}, "description": m}))
                .chain(notes.iter().map(|m| json!({"level": "WARNING", "type": {"code": "WEIR0002", "name": "NotServedEmbedded"}, "description": m})))
                .collect();
            let condition = if errors.is_empty() {
                json!({"type": "Reconciled", "status": "True", "reason": "Translated", "message": "served by weir's proxy"})
            } else {
                json!({"type": "Reconciled", "status": "False", "reason": "InvalidConfig",
                       "message": format!("{}: {}", target.when_invalid, errors.join("; "))})
            };
            let status = json!({"conditions": [condition], "validationMessages": messages, "observedGeneration": target.meta.generation});
            if self.reported.get(&key) == Some(&status) {
                continue;
            }
            let namespace = target.meta.namespace.as_deref();
            let name = target.meta.name.as_deref().unwrap_or_default();
            let patch = Patch::Merge(json!({"status": status}));
            match cluster.patch(&rt, namespace, name, &patch, Subresource::Status).await {
                Ok(_) => {
                    self.reported.insert(key, status);
                }
                Err(e) => tracing::debug!(object = %key, error = %e, "mesh: cannot write status"),
            }
        }
        // Forget objects that are gone, so a re-created one is reported again.
        self.reported.retain(|key, _| seen.contains(key));
    }
}

/// An object whose translation outcome is written to its status.
struct ReportTarget<'a> {
    /// Its resource type, by plural.
    resource: &'static str,
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// What happens while it is invalid, for the condition's message.
    when_invalid: &'static str,
}

fn vs_key(vs: &VirtualService) -> String {
    format!(
        "VirtualService/{}/{}",
        vs.metadata.namespace.as_deref().unwrap_or_default(),
        vs.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Every object of a type, converted to its typed model; objects that do not convert are
/// skipped with a warning (the API refuses them, so only a hand-edited store has them).
async fn typed<C: Cluster, T: serde::de::DeserializeOwned>(
    cluster: &C,
    rt: &ResourceType,
) -> Result<Vec<T>, Error> {
    let list = cluster.list(rt, None, &ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter_map(|o| match o.to_typed::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(object = %o.object_ref(), error = %e, "mesh: skipping object");
                None
            }
        })
        .collect())
}
