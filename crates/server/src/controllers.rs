//! The delivery controllers (Rollout, AnalysisRun, Application) composed over any
//! [`Cluster`]: `weir up` runs them on the embedded store, `weir controller` on a Kubernetes
//! cluster through `weir-kube`. One list, so both modes run the same set.
//!
//! [`NamespaceScoped`] restricts them to one namespace (`weir controller --namespace`, Argo's
//! `--namespaced`): every list and watch of a namespaced type that asks for all namespaces is
//! sent to that namespace instead, so the controllers need no option of their own and a
//! namespaced Role is enough RBAC.

use std::sync::Arc;

use tokio::task::JoinHandle;
use weir_app_controller::AppControllerConfig;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, ListParams, Object, ObjectList, Patch, ResourceType,
    Result, Subresource, WatchParams, WatchStream,
};
use weir_controller::Shutdown;

/// Starts the Rollout, AnalysisRun and Application controllers on `cluster`; each task ends
/// after `shutdown`.
pub fn spawn_delivery_controllers<C: Cluster>(
    cluster: Arc<C>,
    providers: weir_analysis_controller::Providers,
    app: AppControllerConfig,
    shutdown: &Shutdown,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(weir_analysis_controller::run_analysis_controller(
            cluster.clone(),
            providers,
            shutdown.clone(),
        )),
        tokio::spawn(weir_rollout_controller::run_rollout_controller(
            cluster.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(weir_app_controller::run_app_controller(cluster, app, shutdown.clone())),
    ]
}

/// A [`Cluster`] whose all-namespace lists and watches of namespaced types are confined to
/// one namespace. Gets and writes pass through unchanged (they name their namespace).
#[derive(Debug, Clone)]
pub struct NamespaceScoped<C> {
    inner: Arc<C>,
    namespace: String,
}

impl<C> NamespaceScoped<C> {
    /// `inner`, seen through `namespace`.
    pub fn new(inner: Arc<C>, namespace: impl Into<String>) -> Self {
        NamespaceScoped { inner, namespace: namespace.into() }
    }

    fn scope<'a>(&'a self, rt: &ResourceType, namespace: Option<&'a str>) -> Option<&'a str> {
        match namespace {
            None if rt.namespaced() => Some(self.namespace.as_str()),
            other => other,
        }
    }
}

impl<C: Cluster> Cluster for NamespaceScoped<C> {
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        self.inner.get(rt, namespace, name).await
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        self.inner.list(rt, self.scope(rt, namespace), params).await
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.inner.create(rt, object).await
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.inner.update(rt, object).await
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.inner.update_status(rt, object).await
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        self.inner.patch(rt, namespace, name, patch, subresource).await
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        self.inner.delete(rt, namespace, name, params).await
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        self.inner.watch(rt, self.scope(rt, namespace), params).await
    }
}

#[cfg(test)]
mod tests {
    use weir_cluster::Registry;
    use weir_store::Store;

    use super::*;

    #[tokio::test]
    async fn all_namespace_lists_of_namespaced_types_see_one_namespace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let registry = Registry::builtin();
        let (cms, namespaces) = (
            registry.for_name("configmaps").cloned().expect("configmaps"),
            registry.for_name("namespaces").cloned().expect("namespaces"),
        );
        for ns in ["team-a", "team-b"] {
            store.create(&namespaces, Object::new("v1", "Namespace", None, ns)).await.expect("ns");
            store.create(&cms, Object::new("v1", "ConfigMap", Some(ns), "c")).await.expect("cm");
        }
        let scoped = NamespaceScoped::new(store.clone(), "team-a");
        let all = ListParams::default();
        let seen = scoped.list(&cms, None, &all).await.expect("list");
        let where_: Vec<Option<&str>> = seen.items.iter().map(Object::namespace).collect();
        assert_eq!(where_, [Some("team-a")]);
        // Cluster-scoped types and explicit namespaces are not rewritten.
        assert!(scoped.list(&namespaces, None, &all).await.expect("namespaces").items.len() >= 2);
        assert_eq!(scoped.list(&cms, Some("team-b"), &all).await.expect("b").items.len(), 1);
    }
}
