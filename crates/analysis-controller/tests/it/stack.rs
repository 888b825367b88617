//! The whole progressive-delivery stack on one real store: the embedded ReplicaSet controller
//! and node agent (pods are `sleep` processes), the Rollout controller and the AnalysisRun
//! controller, plus helpers to read Rollouts and their AnalysisRuns as JSON.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use weir_analysis_controller::{Providers, run_analysis_controller};
use weir_cluster::{Cluster, ListParams, Object, Patch, Registry, Subresource};
use weir_controller::{Backoff, Shutdown};
use weir_model::rollouts::{AnalysisRun, Rollout};
use weir_node::NodeConfig;
use weir_rollout_controller::{ops, run_rollout_controller};
use weir_store::Store;

use crate::support::{NS, rt};

/// The images pods may use; each runs `sleep`.
const IMAGES: [&str; 2] = ["app:v1", "app:v2"];

/// A store with the node, rollout and analysis controllers running on it.
pub(crate) struct Stack {
    _dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
}

impl Stack {
    pub(crate) async fn start(providers: Providers) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
        let ns = Object::new("v1", "Namespace", None, NS);
        store.create(&rt("namespaces"), ns).await.expect("namespace");
        let mut config = NodeConfig::new(dir.path().join("data"));
        config.crash_backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        config.drain_delay = Duration::from_millis(100);
        for image in IMAGES {
            config.image_map.insert(image.into(), vec!["sleep".into(), "600".into()]);
        }
        let shutdown = Shutdown::new();
        let tasks = vec![
            tokio::spawn(weir_node::run(store.clone(), config, shutdown.clone())),
            tokio::spawn(run_rollout_controller(store.clone(), shutdown.clone())),
            tokio::spawn(run_analysis_controller(store.clone(), providers, shutdown.clone())),
        ];
        Stack { _dir: dir, store, shutdown, tasks }
    }

    /// Stops every controller and waits (bounded) for the pods' processes to end.
    pub(crate) async fn stop(mut self) {
        self.shutdown.trigger();
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }

    /// Creates any object given as JSON, in the test namespace when namespaced.
    pub(crate) async fn create(&self, value: Value) {
        let mut object = Object::from_value(value).expect("object");
        let rt = Registry::builtin().for_object(&object.api_version, &object.kind).expect("kind");
        if rt.namespaced() {
            object.metadata.namespace = Some(NS.into());
        }
        self.store.create(&rt, object).await.expect("create");
    }

    pub(crate) async fn rollout(&self, name: &str) -> Value {
        let object = self.store.get(&rt("rollouts"), Some(NS), name).await.expect("rollout");
        object.to_value()
    }

    /// Sets the rollout's single container image (a new revision).
    pub(crate) async fn set_image(&self, name: &str, image: &str) {
        let patch = Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": image}]}}}}));
        self.store
            .patch(&rt("rollouts"), Some(NS), name, &patch, Subresource::Main)
            .await
            .expect("set image");
    }

    /// `weir rollouts promote NAME`.
    pub(crate) async fn promote(&self, name: &str) {
        let object = self.store.get(&rt("rollouts"), Some(NS), name).await.expect("rollout");
        let ro: Rollout = object.to_typed().expect("typed rollout");
        let patch = ops::promote(&ro, false);
        ops::apply(self.store.as_ref(), NS, name, &patch).await.expect("promote");
    }

    /// The AnalysisRuns owned by rollout `name`, oldest first.
    pub(crate) async fn runs_of(&self, name: &str) -> Vec<Value> {
        let list = self.store.list(&rt("analysisruns"), Some(NS), &ListParams::default()).await;
        let mut runs: Vec<Value> = list
            .expect("list runs")
            .items
            .iter()
            .map(Object::to_value)
            .filter(|r| r["metadata"]["ownerReferences"][0]["name"] == name)
            .collect();
        runs.sort_by_key(|r| r["metadata"]["creationTimestamp"].as_str().map(str::to_owned));
        runs
    }

    pub(crate) async fn run(&self, name: &str) -> AnalysisRun {
        let object = self.store.get(&rt("analysisruns"), Some(NS), name).await.expect("run");
        object.to_typed().expect("typed run")
    }

    /// Waits (at most `secs`) until `check` holds; panics with the rollout and its runs.
    pub(crate) async fn until(
        &self,
        rollout: &str,
        secs: u64,
        what: &str,
        check: impl AsyncFn(&Stack) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !check(self).await {
            if tokio::time::Instant::now() > deadline {
                let ro = self.rollout(rollout).await;
                let runs: Vec<Value> =
                    self.runs_of(rollout).await.into_iter().map(|r| r["status"].clone()).collect();
                panic!(
                    "timed out after {secs}s waiting for {what}\nrollout status: {:#}\nruns: {:#}",
                    ro["status"],
                    Value::Array(runs)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until rollout `name` has `phase`.
    pub(crate) async fn until_phase(&self, name: &str, phase: &str, secs: u64) -> Value {
        self.until(name, secs, &format!("rollout phase {phase}"), async |s| {
            s.rollout(name).await["status"]["phase"] == phase
        })
        .await;
        self.rollout(name).await
    }

    /// Waits until rollout `name` is Healthy on a revision other than `old_stable`'s.
    pub(crate) async fn until_promoted(&self, name: &str, old_stable: &str, secs: u64) -> Value {
        self.until(name, secs, "the new revision Healthy and stable", async |s| {
            let ro = s.rollout(name).await;
            ro["status"]["phase"] == "Healthy"
                && ro["status"]["stableRS"].as_str().is_some_and(|h| h != old_stable)
        })
        .await;
        self.rollout(name).await
    }

    /// Creates the rollout and waits for its first revision to be Healthy; returns its hash.
    pub(crate) async fn healthy_rollout(&self, rollout: Value) -> String {
        let name = rollout["metadata"]["name"].as_str().expect("name").to_owned();
        self.create(rollout).await;
        self.until(&name, 60, "revision 1 Healthy", async |s| {
            let ro = s.rollout(&name).await;
            ro["status"]["phase"] == "Healthy" && ro["status"]["stableRS"].is_string()
        })
        .await;
        self.rollout(&name).await["status"]["stableRS"].as_str().unwrap_or("").to_owned()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A canary Rollout of one `app:v1` pod with this `canary` strategy.
pub(crate) fn canary_rollout(name: &str, canary: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": "app:v1"}]}},
            "strategy": {"canary": canary},
        }
    })
}

/// An AnalysisTemplate named `name` with this `spec`.
pub(crate) fn template(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
           "metadata": {"name": name}, "spec": spec})
}
