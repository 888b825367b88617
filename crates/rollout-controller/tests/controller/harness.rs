//! A small cluster for Given/When/Then scenarios: the embedded SQLite store with a manual
//! clock, the Rollout controller's own reconcile pass driven by hand, and a stand-in kubelet
//! that gives each ReplicaSet its pods (as Pod objects) and marks them ready, unless the test
//! holds some back. No processes, no timers: time moves only when the test says so.
//!
//! Each scenario runs on both backends ([`Backend`], [`both_backends!`]): the controller code
//! (reconcile passes, `weir rollouts` operations) gets the store itself, or a
//! `weir_kube::KubeCluster` that reaches the same store only through weir's API server, over
//! TLS with the kubeconfig `weir up` writes. The test's own Given/Then steps and the kubelet
//! act on the store directly either way, as a person with kubectl and a kubelet act on a real
//! cluster beside its controllers. The manual clock is the store's, so it holds for both.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, DeleteParams, ListParams, Object, Patch, Registry, ResourceType, Subresource,
};
use weir_controller::Action;
use weir_kube::{ConnectOptions, KubeCluster};
use weir_model::rollouts::{Rollout, RolloutStatus};
use weir_rollout_controller::reconcile_rollout;
use weir_server::ApiServer;
use weir_store::{Store, StoreOptions};

pub(crate) const NS: &str = "demo";

/// Which cluster API the controller code is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The store itself, as in `weir up`.
    Embedded,
    /// kube-rs through weir's API server over the same store, as `weir controller` runs.
    Kube,
}

/// Generates, for each `async fn name(backend: Backend)`, a module `name` with two tests,
/// `embedded` and `kube`, that run it on each backend (`multi_thread:` first for a
/// two-worker runtime; `blocking:` for a plain `fn` that makes its own runtimes). One body
/// per scenario, two runs.
macro_rules! both_backends {
    (blocking: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn embedded() {
                super::$name($crate::harness::Backend::Embedded);
            }
            #[test]
            fn kube() {
                super::$name($crate::harness::Backend::Kube);
            }
        }
    )+};
    (multi_thread: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::harness::Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn kube() {
                super::$name($crate::harness::Backend::Kube).await;
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn embedded() {
                super::$name($crate::harness::Backend::Embedded).await;
            }
            #[tokio::test]
            async fn kube() {
                super::$name($crate::harness::Backend::Kube).await;
            }
        }
    )+};
}
pub(crate) use both_backends;

/// The cluster API the controller code runs on: the store, or a `KubeCluster` connected to an
/// API server over it (which stops when this is dropped).
pub(crate) enum ControllerApi {
    /// The store itself.
    Embedded(Arc<Store>),
    /// kube-rs through the API server.
    Kube { cluster: KubeCluster, _server: ApiServer },
}

impl ControllerApi {
    /// Gives the controller code `store` on `backend`; `data_dir` keeps the API server's token,
    /// TLS files and kubeconfig.
    pub(crate) async fn start(
        backend: Backend,
        store: Arc<Store>,
        data_dir: &std::path::Path,
    ) -> ControllerApi {
        match backend {
            Backend::Embedded => ControllerApi::Embedded(store),
            Backend::Kube => {
                let server = weir_server::serve_store(store.as_ref().clone(), data_dir)
                    .await
                    .expect("serve the API over the store");
                let options = ConnectOptions {
                    kubeconfig: Some(server.kubeconfig_path()),
                    // No client-side throttling: scenarios send bursts, and time is manual.
                    qps: 0.0,
                    ..ConnectOptions::default()
                };
                let cluster = weir_kube::connect(&options).await.expect("connect through kube-rs");
                ControllerApi::Kube { cluster, _server: server }
            }
        }
    }
}

/// Runs `$body` with `$c` bound to the controller's cluster API (`&Store` or `&KubeCluster`),
/// for generic controller code that cannot take a trait object.
macro_rules! on_api {
    ($api:expr, |$c:ident| $body:expr) => {
        match $api {
            $crate::harness::ControllerApi::Embedded(store) => {
                let $c: &weir_store::Store = store;
                $body
            }
            $crate::harness::ControllerApi::Kube { cluster, .. } => {
                let $c = cluster;
                $body
            }
        }
    };
}
pub(crate) use on_api;

pub(crate) fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("built-in type").clone()
}

/// The scenario world.
pub(crate) struct World {
    _dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    /// What the controller code is given.
    pub(crate) api: ControllerApi,
    clock: Arc<Mutex<Timestamp>>,
    /// At most this many available pods per pod-template hash (default: all).
    pub(crate) ready_limit: BTreeMap<String, i32>,
}

pub(crate) fn open_store(dir: &std::path::Path, clock: Arc<Mutex<Timestamp>>) -> Store {
    let options = StoreOptions {
        clock: Arc::new(move || *clock.lock().expect("clock")),
        ..StoreOptions::default()
    };
    Store::open_with(&dir.join("store"), options).expect("open store")
}

impl World {
    /// A world whose controller code runs on the store itself (scenarios that take no
    /// [`Backend`]).
    #[allow(dead_code, reason = "kept for scenarios written before both backends")]
    pub(crate) async fn new() -> World {
        World::on(Backend::Embedded).await
    }

    /// A world whose controller code runs on `backend`.
    pub(crate) async fn on(backend: Backend) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(Mutex::new("2026-01-01T00:00:00Z".parse().expect("time")));
        let store = Arc::new(open_store(dir.path(), clock.clone()));
        let api = ControllerApi::start(backend, store.clone(), &dir.path().join("api")).await;
        let w = World { _dir: dir, store, api, clock, ready_limit: BTreeMap::new() };
        w.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
        w
    }

    pub(crate) fn now(&self) -> Timestamp {
        *self.clock.lock().expect("clock")
    }

    pub(crate) fn advance(&self, secs: i64) {
        let mut now = self.clock.lock().expect("clock");
        *now += SignedDuration::from_secs(secs);
    }

    pub(crate) async fn create(&self, value: Value) {
        let mut object = Object::from_value(value).expect("object");
        let rt = Registry::builtin()
            .for_object(&object.api_version, &object.kind)
            .unwrap_or_else(|| ResourceType::guess(&object.api_version, &object.kind));
        if rt.namespaced() {
            object.metadata.namespace = Some(NS.into());
        }
        self.store.create(&rt, object).await.expect("create");
    }

    pub(crate) async fn get(&self, plural: &str, name: &str) -> Value {
        self.store.get(&rt(plural), Some(NS), name).await.expect("get").to_value()
    }

    pub(crate) async fn list(&self, plural: &str) -> Vec<Value> {
        let list = self.store.list(&rt(plural), Some(NS), &ListParams::default()).await;
        list.expect("list").items.iter().map(Object::to_value).collect()
    }

    pub(crate) async fn rollout(&self, name: &str) -> Rollout {
        let object = self.store.get(&rt("rollouts"), Some(NS), name).await.expect("rollout");
        object.to_typed().expect("typed rollout")
    }

    pub(crate) async fn status(&self, name: &str) -> RolloutStatus {
        self.rollout(name).await.status.unwrap_or_default()
    }

    pub(crate) async fn phase(&self, name: &str) -> (String, String) {
        let st = self.status(name).await;
        (st.phase.unwrap_or_default(), st.message.unwrap_or_default())
    }

    pub(crate) async fn patch(&self, plural: &str, name: &str, patch: Value) {
        let patch = Patch::Merge(patch);
        self.store
            .patch(&rt(plural), Some(NS), name, &patch, Subresource::Main)
            .await
            .expect("patch");
    }

    pub(crate) async fn patch_status(&self, plural: &str, name: &str, patch: Value) {
        let patch = Patch::Merge(patch);
        self.store
            .patch(&rt(plural), Some(NS), name, &patch, Subresource::Status)
            .await
            .expect("status patch");
    }

    /// A user operation of `weir rollouts` (promote, abort, …).
    pub(crate) async fn op(&self, name: &str, patch: weir_rollout_controller::ops::RolloutPatch) {
        on_api!(&self.api, |c| weir_rollout_controller::ops::apply(c, NS, name, &patch).await)
            .expect("rollout operation");
    }

    /// Replaces the container image of the Rollout's own template.
    pub(crate) async fn set_image(&self, name: &str, image: &str) {
        let ro = self.get("rollouts", name).await;
        let mut containers = ro["spec"]["template"]["spec"]["containers"].clone();
        containers[0]["image"] = json!(image);
        self.patch(
            "rollouts",
            name,
            json!({"spec": {"template": {"spec": {"containers": containers}}}}),
        )
        .await;
    }

    /// One reconcile pass of the controller at the current time; it must succeed.
    pub(crate) async fn reconcile(&self, name: &str) -> Action {
        self.try_reconcile(name).await.unwrap_or_else(|e| panic!("reconcile {name}: {e}"))
    }

    /// One reconcile pass that may fail (the runtime would retry it with backoff).
    pub(crate) async fn try_reconcile(&self, name: &str) -> Result<Action, String> {
        let now = self.now();
        on_api!(&self.api, |c| reconcile_rollout(c, Some(NS), name, now).await)
    }

    /// The stand-in kubelet: every ReplicaSet gets its pods, ready and available (up to the
    /// test's `ready_limit` for its hash); surplus pods are deleted.
    pub(crate) async fn kubelet(&self) {
        let pods_rt = rt("pods");
        let pods = self.list("pods").await;
        for rs in self.list("replicasets").await {
            let name = rs["metadata"]["name"].as_str().unwrap_or("").to_owned();
            let uid = rs["metadata"]["uid"].as_str().unwrap_or("").to_owned();
            let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
            let mut mine: Vec<&Value> = pods
                .iter()
                .filter(|p| p["metadata"]["ownerReferences"][0]["uid"] == uid.as_str())
                .collect();
            mine.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or("").to_owned());
            let have = i64::try_from(mine.len()).unwrap_or(0);
            let hash =
                rs["metadata"]["labels"]["rollouts-pod-template-hash"].as_str().unwrap_or("");
            let limit = self.ready_limit.get(hash).copied().map_or(want, i64::from);
            for extra in mine.iter().skip(usize::try_from(want.max(0)).unwrap_or(0)) {
                let pod = extra["metadata"]["name"].as_str().unwrap_or("");
                let _ = self.store.delete(&pods_rt, Some(NS), pod, &DeleteParams::default()).await;
            }
            for i in have..want {
                let labels = rs["spec"]["template"]["metadata"]["labels"].clone();
                let pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"generateName": format!("{name}-"), "namespace": NS,
                        "labels": labels,
                        "annotations": {"weir.test/index": i.to_string()},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                            "name": name, "uid": uid, "controller": true}]},
                    "spec": rs["spec"]["template"]["spec"].clone(),
                });
                let object = Object::from_value(pod).expect("pod");
                let created = self.store.create(&pods_rt, object).await.expect("create pod");
                let ready = if i < limit { "True" } else { "False" };
                let status = json!({"status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": ready}]}});
                self.patch_status("pods", created.name(), status).await;
            }
            let available = want.min(limit);
            let status = json!({"replicas": want, "readyReplicas": available,
                "availableReplicas": available, "fullyLabeledReplicas": want,
                "observedGeneration": rs["metadata"]["generation"]});
            if rs["status"]["replicas"] != want || rs["status"]["availableReplicas"] != available {
                self.patch_status("replicasets", &name, json!({"status": status})).await;
            }
        }
    }

    /// Reconciles (with the kubelet running) until the Rollout and its ReplicaSets stop
    /// changing. Time does not move.
    pub(crate) async fn settle(&self, name: &str) {
        let mut last = Value::Null;
        for _ in 0..60 {
            // An error (e.g. a DestinationRule switch delayed until a ReplicaSet is
            // available) is retried by the runtime; the next pass is that retry.
            let _ = self.try_reconcile(name).await;
            self.kubelet().await;
            let snapshot = json!({
                "status": self.get("rollouts", name).await["status"],
                "rss": self.list("replicasets").await.iter()
                    .map(|r| json!([r["metadata"]["name"], r["spec"]["replicas"],
                                    r["metadata"]["annotations"], r["status"]["availableReplicas"]]))
                    .collect::<Vec<_>>(),
            });
            if snapshot == last {
                return;
            }
            last = snapshot;
        }
        panic!("{name} did not settle: {:#}", self.get("rollouts", name).await["status"]);
    }

    /// `spec.replicas` of the ReplicaSet with `hash` (0 when there is none).
    pub(crate) async fn replicas_of(&self, hash: &str) -> i64 {
        self.list("replicasets")
            .await
            .iter()
            .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == hash)
            .and_then(|r| r["spec"]["replicas"].as_i64())
            .unwrap_or(0)
    }

    pub(crate) async fn replica_set_of(&self, hash: &str) -> Value {
        self.list("replicasets")
            .await
            .into_iter()
            .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == hash)
            .unwrap_or_else(|| panic!("no ReplicaSet for {hash}"))
    }

    /// The reasons of the Rollout's recorded events, oldest first.
    pub(crate) async fn event_reasons(&self, name: &str) -> Vec<String> {
        let mut events: Vec<Value> = self
            .list("events")
            .await
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .collect();
        events.sort_by_key(|e| {
            e["metadata"]["resourceVersion"].as_str().unwrap_or("").parse::<u64>().unwrap_or(0)
        });
        events.iter().map(|e| e["reason"].as_str().unwrap_or("").to_owned()).collect()
    }

    /// The `(canary, stable)` weights of the VirtualService's first weighted route, by host
    /// or subset name.
    pub(crate) async fn vs_weights(&self, vs: &str, canary: &str, stable: &str) -> (i64, i64) {
        let vs = self.get("virtualservices", vs).await;
        let routes = vs["spec"]["http"].as_array().cloned().unwrap_or_default();
        let route = routes.iter().find(|r| r["name"] == "primary").or(routes.last());
        let dests = route.and_then(|r| r["route"].as_array()).cloned().unwrap_or_default();
        let weight = |n: &str| {
            dests
                .iter()
                .find(|d| d["destination"]["subset"] == n || d["destination"]["host"] == n)
                .and_then(|d| d["weight"].as_i64())
                .unwrap_or(0)
        };
        (weight(canary), weight(stable))
    }
}

/// A pod template for app `app` running `image`.
pub(crate) fn template(app: &str, image: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}},
           "spec": {"containers": [{"name": "app", "image": image}]}})
}

/// A canary Rollout named `name` with `replicas` and the given `strategy.canary`.
pub(crate) fn canary_rollout(name: &str, replicas: i64, canary: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": template(name, &format!("{name}:v1")),
                 "strategy": {"canary": canary}}
    })
}

/// A blue-green Rollout with active service `<name>-active` and preview `<name>-preview`.
pub(crate) fn blue_green_rollout(name: &str, replicas: i64, extra: Value) -> Value {
    let mut strategy = json!({"activeService": format!("{name}-active"),
                              "previewService": format!("{name}-preview")});
    for (k, v) in extra.as_object().into_iter().flatten() {
        strategy[k] = v.clone();
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": template(name, &format!("{name}:v1")),
                 "strategy": {"blueGreen": strategy}}
    })
}

pub(crate) fn service(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
           "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}})
}

/// Host-level Istio objects: Services `<app>-stable`/`<app>-canary` and a VirtualService
/// `<app>` with route `primary`.
pub(crate) fn host_level_objects(app: &str) -> Vec<Value> {
    vec![
        service(&format!("{app}-stable"), app),
        service(&format!("{app}-canary"), app),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": app},
               "spec": {"hosts": [app], "http": [{"name": "primary", "route": [
                   {"destination": {"host": format!("{app}-stable")}, "weight": 100},
                   {"destination": {"host": format!("{app}-canary")}, "weight": 0}]}]}}),
    ]
}

/// Subset-level Istio objects: one Service `<app>`, a DestinationRule with subsets
/// `stable`/`canary` and a VirtualService `<app>` routing to them.
pub(crate) fn subset_level_objects(app: &str) -> Vec<Value> {
    vec![
        service(app, app),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
               "metadata": {"name": app},
               "spec": {"host": app, "subsets": [
                   {"name": "stable", "labels": {"app": app}},
                   {"name": "canary", "labels": {"app": app}}]}}),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": app},
               "spec": {"hosts": [app], "http": [{"name": "primary", "route": [
                   {"destination": {"host": app, "subset": "stable"}, "weight": 100},
                   {"destination": {"host": app, "subset": "canary"}, "weight": 0}]}]}}),
    ]
}

pub(crate) fn host_level_routing(app: &str) -> Value {
    json!({"canaryService": format!("{app}-canary"), "stableService": format!("{app}-stable"),
           "trafficRouting": {"istio": {"virtualService": {"name": app, "routes": ["primary"]}}}})
}

pub(crate) fn subset_level_routing(app: &str) -> Value {
    json!({"trafficRouting": {"istio": {
        "virtualService": {"name": app, "routes": ["primary"]},
        "destinationRule": {"name": app, "canarySubsetName": "canary", "stableSubsetName": "stable"}}}})
}

/// Merges `extra`'s keys into the object `base`.
pub(crate) fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().into_iter().flatten() {
        base[k] = v.clone();
    }
    base
}

/// Creates `rollout`, lets it settle and returns its stable hash (it must be Healthy).
pub(crate) async fn healthy(w: &World, rollout: Value) -> String {
    let name = rollout["metadata"]["name"].as_str().expect("name").to_owned();
    w.create(rollout).await;
    w.settle(&name).await;
    let st = w.status(&name).await;
    assert_eq!(st.phase.as_deref(), Some("Healthy"), "{name} starts Healthy: {st:#?}");
    st.stable_rs.expect("stable")
}
