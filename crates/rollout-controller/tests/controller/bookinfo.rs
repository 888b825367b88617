//! The seed demo's `reviews-rollout` on a real store with the embedded Deployment/ReplicaSet
//! controllers and node agent (pods are `sleep` processes): first revision Healthy at 100 %
//! stable; a template change walks the Istio weights 10/90 → pause → promote → 20/80 across a
//! controller restart; abort puts 0/100 back; retry and promotions finish the update; restart
//! replaces every pod; undo brings revision 1 back as the canary and `promote --full` ends it.
//!
//! On both backends: the Rollout controller and the `weir rollouts` operations and views run
//! on the store or through kube-rs and the API server ([`crate::harness::ControllerApi`]); the
//! node agent (the kubelet and kube-controller-manager here) and the test's own edits act on
//! the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weir_cluster::{Cluster, ListParams, Object, Patch, Registry, ResourceType, Subresource};
use weir_controller::{Backoff, Shutdown};
use weir_model::rollouts::Rollout;
use weir_node::NodeConfig;
use weir_rollout_controller::{ops, run_rollout_controller, view};
use weir_store::Store;

use crate::harness::{Backend, ControllerApi, both_backends, on_api};

const NS: &str = "bookinfo";
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bookinfo");

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("built-in type").clone()
}

/// Every object of a multi-document YAML file (`kind: List` flattened).
fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("example manifest");
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(doc).expect("yaml");
        match value.get("kind").and_then(Value::as_str) {
            Some("List") => out.extend(value["items"].as_array().cloned().unwrap_or_default()),
            Some(_) => out.push(value),
            None => {}
        }
    }
    out
}

fn find(docs: &[Value], kind: &str, name: &str) -> Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{kind} {name} in the examples"))
}

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    api: ControllerApi,
    node: Shutdown,
    rollouts: Shutdown,
    rollout_task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.rollouts.trigger();
        self.node.trigger();
    }
}

fn node_config(data: &Path) -> NodeConfig {
    let mut config = NodeConfig::new(data);
    config.crash_backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    for image in [
        "bg",
        "docker.io/istio/examples-bookinfo-reviews-v1",
        "docker.io/istio/examples-bookinfo-reviews-v2",
    ] {
        config
            .image_map
            .insert(image.into(), vec!["/bin/sh".into(), "-c".into(), "exec sleep 600".into()]);
    }
    config
}

impl Env {
    async fn start(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&dir.path().join("store")).expect("open store"));
        let api = ControllerApi::start(backend, store.clone(), &dir.path().join("api")).await;
        let node = Shutdown::new();
        tokio::spawn(weir_node::run(
            store.clone(),
            node_config(&dir.path().join("data")),
            node.clone(),
        ));
        let mut env =
            Env { _dir: dir, store, api, node, rollouts: Shutdown::new(), rollout_task: None };
        env.start_rollouts();
        env
    }

    fn start_rollouts(&mut self) {
        self.rollouts = Shutdown::new();
        let shutdown = self.rollouts.clone();
        self.rollout_task = Some(match &self.api {
            ControllerApi::Embedded(store) => {
                tokio::spawn(run_rollout_controller(store.clone(), shutdown))
            }
            ControllerApi::Kube { cluster, .. } => {
                tokio::spawn(run_rollout_controller(Arc::new(cluster.clone()), shutdown))
            }
        });
    }

    async fn restart_rollouts(&mut self) {
        self.rollouts.trigger();
        if let Some(task) = self.rollout_task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("controller stops within 30 s")
                .expect("controller task");
        }
        self.start_rollouts();
    }

    async fn create(&self, value: Value) {
        let mut object = Object::from_value(value).expect("object");
        let rt =
            Registry::builtin().for_object(&object.api_version, &object.kind).expect("known kind");
        if rt.namespaced() {
            object.metadata.namespace = Some(NS.into());
        }
        self.store.create(&rt, object).await.expect("create");
    }

    async fn get(&self, plural: &str, name: &str) -> Value {
        self.store.get(&rt(plural), Some(NS), name).await.expect("get").to_value()
    }

    async fn rollout(&self) -> Rollout {
        let object = self.store.get(&rt("rollouts"), Some(NS), "reviews-rollout").await;
        object.expect("rollout").to_typed().expect("typed rollout")
    }

    /// `(canary, stable)` weights of the VirtualService's route.
    async fn weights(&self) -> (i64, i64) {
        let vs = self.get("virtualservices", "reviews").await;
        let route = vs["spec"]["http"][0]["route"].as_array().cloned().unwrap_or_default();
        let weight = |subset: &str| {
            route
                .iter()
                .find(|r| r["destination"]["subset"] == subset)
                .and_then(|r| r["weight"].as_i64())
                .unwrap_or(0)
        };
        (weight("canary"), weight("stable"))
    }

    /// `(canary, stable)` pod-template hashes of the DestinationRule's subsets.
    async fn subset_hashes(&self) -> (String, String) {
        let dr = self.get("destinationrules", "reviews").await;
        let subsets = dr["spec"]["subsets"].as_array().cloned().unwrap_or_default();
        let hash = |name: &str| {
            subsets
                .iter()
                .find(|s| s["name"] == name)
                .and_then(|s| s["labels"]["rollouts-pod-template-hash"].as_str())
                .unwrap_or("")
                .to_owned()
        };
        (hash("canary"), hash("stable"))
    }

    async fn promote(&self) {
        let patch = ops::promote(&self.rollout().await, false);
        on_api!(&self.api, |c| ops::apply(c, NS, "reviews-rollout", &patch).await)
            .expect("promote");
    }

    async fn status_patch(&self, patch: ops::RolloutPatch) {
        on_api!(&self.api, |c| ops::apply(c, NS, "reviews-rollout", &patch).await).expect("patch");
    }

    /// What `weir rollouts get` reads.
    async fn tree(&self) -> view::RolloutTree {
        on_api!(&self.api, |c| view::RolloutTree::read(c, NS, "reviews-rollout").await)
            .expect("tree")
    }

    /// Waits (≤ 30 s) until `check` holds, showing the rollout's status if it never does.
    async fn until(&self, what: &str, mut check: impl AsyncFnMut(&Env) -> bool) {
        for _ in 0..300 {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ro = self.rollout().await;
        let vs = self.weights().await;
        panic!("timed out waiting for {what}; weights {vs:?}; status {:#?}", ro.status);
    }
}

fn phase(ro: &Rollout) -> String {
    ro.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
}

fn step(ro: &Rollout) -> i32 {
    ro.status.as_ref().and_then(|s| s.current_step_index).unwrap_or(-1)
}

fn stable_rs(ro: &Rollout) -> String {
    ro.status.as_ref().and_then(|s| s.stable_rs.clone()).unwrap_or_default()
}

fn current_hash(ro: &Rollout) -> String {
    ro.status.as_ref().and_then(|s| s.current_pod_hash.clone()).unwrap_or_default()
}

/// The seed rollout with manual pauses first, then one-second ones.
fn seed_rollout() -> Value {
    let mut ro =
        find(&documents(&format!("{EXAMPLES}/rollout/rollout.yaml")), "Rollout", "reviews-rollout");
    ro["spec"]["strategy"]["canary"]["steps"] = json!([
        {"setWeight": 10}, {"pause": {}},
        {"setWeight": 20}, {"pause": {}},
        {"setWeight": 40}, {"pause": {"duration": "1s"}},
        {"setWeight": 80}, {"pause": {"duration": 1}},
    ]);
    ro
}

async fn background_runs(env: &Env) -> Vec<Value> {
    let list = env.store.list(&rt("analysisruns"), Some(NS), &ListParams::default()).await;
    let items = list.expect("list runs").items;
    items
        .iter()
        .map(Object::to_value)
        .filter(|r| r["metadata"]["labels"]["rollout-type"] == "Background")
        .collect()
}

both_backends!(multi_thread: reviews_rollout_canary_through_istio);
async fn reviews_rollout_canary_through_istio(backend: Backend) {
    let mut env = Env::start(backend).await;
    env.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
    let app = documents(&format!("{EXAMPLES}/application/bookinfo.yaml"));
    env.create(find(&app, "Service", "reviews")).await;
    env.create(find(&app, "Deployment", "reviews")).await;
    let istio = documents(&format!("{EXAMPLES}/istio/conf.yaml"));
    env.create(find(&istio, "VirtualService", "reviews")).await;
    env.create(find(&istio, "DestinationRule", "reviews")).await;
    let analysis = documents(&format!("{EXAMPLES}/rollout/analysis.yaml"));
    env.create(find(&analysis, "AnalysisTemplate", "apdex")).await;
    env.create(seed_rollout()).await;

    // Revision 1: straight to stable, all traffic on it.
    env.until("revision 1 Healthy", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Healthy" && !stable_rs(&ro).is_empty()
    })
    .await;
    let v1 = stable_rs(&env.rollout().await);
    env.until("100 % stable on v1 subsets", async |e| {
        e.weights().await == (0, 100) && e.subset_hashes().await == (v1.clone(), v1.clone())
    })
    .await;
    let rs1 = env.get("replicasets", &format!("reviews-rollout-{v1}")).await;
    assert_eq!(rs1["metadata"]["annotations"]["rollout.argoproj.io/revision"], "1");
    assert_eq!(rs1["metadata"]["annotations"]["rollout.argoproj.io/desired-replicas"], "5");
    assert_eq!(rs1["spec"]["template"]["metadata"]["labels"]["version"], "stable");
    assert_eq!(rs1["metadata"]["ownerReferences"][0]["kind"], "Rollout");

    // A template change in the referenced Deployment starts a canary.
    let image = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4"}]}}}});
    env.store
        .patch(&rt("deployments"), Some(NS), "reviews", &Patch::Merge(image), Subresource::Main)
        .await
        .expect("new image");
    env.until("paused at 10 %", async |e| {
        let ro = e.rollout().await;
        step(&ro) == 1 && phase(&ro) == "Paused" && e.weights().await == (10, 90)
    })
    .await;
    let v2 = current_hash(&env.rollout().await);
    assert_ne!(v1, v2);
    assert_eq!(env.subset_hashes().await, (v2.clone(), v1.clone()));
    let rs2 = env.get("replicasets", &format!("reviews-rollout-{v2}")).await;
    assert_eq!(rs2["spec"]["template"]["metadata"]["labels"]["version"], "canary");
    assert_eq!(rs2["metadata"]["annotations"]["rollout.argoproj.io/revision"], "2");

    // The controller restarted mid-rollout carries on from the status.
    env.restart_rollouts().await;
    env.promote().await;
    env.until("paused at 20 %", async |e| {
        let ro = e.rollout().await;
        step(&ro) == 3 && phase(&ro) == "Paused" && e.weights().await == (20, 80)
    })
    .await;
    env.until("background analysis started", async |e| !background_runs(e).await.is_empty()).await;

    let tree = env.tree().await;
    let shown = view::render_get(&tree, weir_rollout_controller::now());
    assert!(shown.contains("  Step:          3/8"), "{shown}");
    assert!(shown.contains("  ActualWeight:  20"), "{shown}");
    assert!(shown.contains("# revision:2"), "{shown}");

    // Abort: all traffic back to stable, analysis terminated, Degraded.
    env.status_patch(ops::abort()).await;
    env.until("aborted to 0/100", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Degraded" && e.weights().await == (0, 100)
    })
    .await;
    env.until("background analysis terminated", async |e| {
        background_runs(e).await.iter().all(|r| r["spec"]["terminate"] == true)
    })
    .await;

    // Retry, then promote through the manual pauses; the timed ones pass by themselves.
    env.status_patch(ops::retry()).await;
    env.until("paused at 10 % again", async |e| {
        let ro = e.rollout().await;
        step(&ro) == 1 && phase(&ro) == "Paused" && e.weights().await == (10, 90)
    })
    .await;
    env.promote().await;
    env.until("paused at 20 % again", async |e| {
        let ro = e.rollout().await;
        step(&ro) == 3 && phase(&ro) == "Paused"
    })
    .await;
    env.promote().await;
    env.until("v2 Healthy and stable", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Healthy" && stable_rs(&ro) == v2
    })
    .await;
    env.until("100 % on v2", async |e| {
        e.weights().await == (0, 100) && e.subset_hashes().await == (v2.clone(), v2.clone())
    })
    .await;
    // The pods move to the stable metadata once the route has moved (make before break), and
    // the ReplicaSet records it last.
    let rs2 = format!("reviews-rollout-{v2}");
    env.until("v2 carries the stable metadata", async |e| {
        let rs = e.get("replicasets", &rs2).await;
        rs["spec"]["template"]["metadata"]["labels"]["version"] == "stable"
    })
    .await;

    // Restart: every pod is replaced, then status.restartedAt records it.
    let at = weir_rollout_controller::now();
    env.status_patch(ops::restart(at)).await;
    env.until("pods restarted", async |e| {
        let ro = e.rollout().await;
        let restarted = ro.status.as_ref().and_then(|s| s.restarted_at.clone());
        restarted.is_some() && restarted == ro.spec.restart_at && phase(&ro) == "Healthy"
    })
    .await;

    // Undo: the Deployment gets revision 1's template back (its ReplicaSet is reused as the
    // canary, since v2 is stable); `promote --full` finishes it.
    let tree = env.tree().await;
    let undo = ops::undo(&env.rollout().await, &tree.replica_sets, None).expect("undo");
    assert_eq!(undo.revision, 1);
    assert_eq!(undo.target.1, "Deployment");
    let body = serde_json::to_vec(&undo.json_patch).expect("json");
    let patch = Patch::from_body("application/json-patch+json", &body).expect("patch");
    env.store
        .patch(&rt("deployments"), Some(NS), "reviews", &patch, Subresource::Main)
        .await
        .expect("undo");
    env.until("revision 1's ReplicaSet is the canary again", async |e| {
        let ro = e.rollout().await;
        current_hash(&ro) == v1 && step(&ro) == 1 && e.weights().await == (10, 90)
    })
    .await;
    let ro = env.rollout().await;
    env.status_patch(ops::promote(&ro, true)).await;
    env.until("fully promoted back to v1", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Healthy" && stable_rs(&ro) == v1
    })
    .await;
    env.until("100 % on v1 again", async |e| e.subset_hashes().await == (v1.clone(), v1.clone()))
        .await;
}

fn selector_hash(service: &Value) -> String {
    service["spec"]["selector"]["rollouts-pod-template-hash"].as_str().unwrap_or("").to_owned()
}

both_backends!(multi_thread: blue_green_switches_services_on_promotion);
async fn blue_green_switches_services_on_promotion(backend: Backend) {
    let env = Env::start(backend).await;
    env.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
    for name in ["bg-active", "bg-preview"] {
        env.create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                          "spec": {"selector": {"app": "bg"}, "ports": [{"port": 80}]}}))
            .await;
    }
    let template = |image: &str| {
        json!({"metadata": {"labels": {"app": "bg"}},
               "spec": {"containers": [{"name": "bg", "image": image}]}})
    };
    env.create(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "reviews-rollout"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bg"}},
                 "template": template("bg:v1"),
                 "strategy": {"blueGreen": {"activeService": "bg-active",
                     "previewService": "bg-preview", "autoPromotionEnabled": false}}}
    }))
    .await;
    env.until("blue Healthy and active", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Healthy"
            && !stable_rs(&ro).is_empty()
            && selector_hash(&e.get("services", "bg-active").await) == stable_rs(&ro)
    })
    .await;
    let blue = stable_rs(&env.rollout().await);

    let patch = Patch::Merge(json!({"spec": {"template": template("bg:v2")}}));
    env.store
        .patch(&rt("rollouts"), Some(NS), "reviews-rollout", &patch, Subresource::Main)
        .await
        .expect("new image");
    env.until("green previewed, paused", async |e| {
        let ro = e.rollout().await;
        let preview = selector_hash(&e.get("services", "bg-preview").await);
        phase(&ro) == "Paused" && !preview.is_empty() && preview != blue
    })
    .await;
    assert_eq!(selector_hash(&env.get("services", "bg-active").await), blue);
    let green = selector_hash(&env.get("services", "bg-preview").await);

    env.promote().await;
    env.until("green active and Healthy", async |e| {
        let ro = e.rollout().await;
        phase(&ro) == "Healthy"
            && stable_rs(&ro) == green
            && selector_hash(&e.get("services", "bg-active").await) == green
    })
    .await;
    let tree = env.tree().await;
    let shown = view::render_get(&tree, weir_rollout_controller::now());
    assert!(shown.contains("Strategy:        BlueGreen"), "{shown}");
}
