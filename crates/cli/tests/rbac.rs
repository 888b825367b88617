//! Is the ClusterRole `weir install` renders enough for the Rollout controller? The rendered
//! role (taken from `weir install --dry-run -o yaml`, as a user gets it) is enforced by an RBAC
//! check in front of the embedded store, and a canary with Istio subset-level traffic routing
//! is taken from v1 to v2 through it by the real Rollout controller's reconcile: every call it
//! makes must be allowed. The Application controller's `*` on `*` rule is left out, or it would
//! allow everything; the kubelet stand-in and the user's promote act on the store directly, as
//! kubelet and the user (with their own permissions) do in a cluster.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, ListParams, Object, ObjectList, Patch, Registry,
    ResourceType, Result, Subresource, WatchParams, WatchStream,
};
use weir_rollout_controller::{ops, reconcile_rollout};
use weir_store::Store;

const NS: &str = "demo";

/// One RBAC rule as the API server evaluates it (apiGroups × resources × verbs, `*` matching
/// anything, a subresource named `resource/sub`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyRule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

impl PolicyRule {
    fn allows(&self, group: &str, resource: &str, verb: &str) -> bool {
        let has = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        has(&self.api_groups, group) && has(&self.resources, resource) && has(&self.verbs, verb)
    }

    fn is_wildcard(&self) -> bool {
        self.resources.iter().any(|r| r == "*")
    }
}

/// The store behind an RBAC check; refusals are answered as the API server would (here as
/// `BadRequest` with the `forbidden:` text) and remembered.
#[derive(Clone)]
struct Authorized {
    store: Arc<Store>,
    rules: Arc<Vec<PolicyRule>>,
    refused: Arc<Mutex<BTreeSet<String>>>,
}

impl Authorized {
    fn check(&self, rt: &ResourceType, subresource: Subresource, verb: &str) -> Result<()> {
        let resource = match subresource {
            Subresource::Status => format!("{}/status", rt.plural),
            _ => rt.plural.clone(),
        };
        if self.rules.iter().any(|r| r.allows(&rt.group, &resource, verb)) {
            return Ok(());
        }
        let what = format!("{verb} {resource}.{}", rt.group);
        self.refused.lock().unwrap().insert(what.clone());
        Err(Error::BadRequest(format!("forbidden: cannot {what}")))
    }
}

impl Cluster for Authorized {
    async fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Object> {
        self.check(rt, Subresource::Main, "get")?;
        self.store.get(rt, ns, name).await
    }
    async fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        p: &ListParams,
    ) -> Result<ObjectList> {
        self.check(rt, Subresource::Main, "list")?;
        self.store.list(rt, ns, p).await
    }
    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, Subresource::Main, "create")?;
        self.store.create(rt, object).await
    }
    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, Subresource::Main, "update")?;
        self.store.update(rt, object).await
    }
    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, Subresource::Status, "update")?;
        self.store.update_status(rt, object).await
    }
    async fn patch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        sub: Subresource,
    ) -> Result<Object> {
        self.check(rt, sub, "patch")?;
        self.store.patch(rt, ns, name, patch, sub).await
    }
    async fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        p: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        self.check(rt, Subresource::Main, "delete")?;
        self.store.delete(rt, ns, name, p).await
    }
    async fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        p: &WatchParams,
    ) -> Result<WatchStream> {
        self.check(rt, Subresource::Main, "watch")?;
        self.store.watch(rt, ns, p).await
    }
}

/// The ClusterRole's rules from `weir install --dry-run -o yaml`.
fn rendered_cluster_role() -> Vec<PolicyRule> {
    let output =
        Command::new(support::WEIR).args(["install", "--dry-run", "-o", "yaml"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = Value::deserialize(document).unwrap();
        if value["kind"] == "ClusterRole" {
            return serde_json::from_value(value["rules"].clone()).unwrap();
        }
    }
    panic!("no ClusterRole in the rendered install");
}

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).unwrap().clone()
}

async fn create(store: &Store, value: Value) {
    let mut object = Object::from_value(value).unwrap();
    let rt = Registry::builtin().for_object(&object.api_version, &object.kind).unwrap();
    if rt.namespaced() {
        object.metadata.namespace = Some(NS.into());
    }
    store.create(&rt, object).await.unwrap();
}

/// kubelet and the ReplicaSet controller, acting with their own rights: every ReplicaSet gets
/// its pods, ready and available; surplus pods go; a pod no ReplicaSet owns (an analysis job's)
/// runs to completion.
async fn kubelet(store: &Store) {
    let pods = store.list(&rt("pods"), Some(NS), &ListParams::default()).await.unwrap().items;
    for pod in &pods {
        let owned_by_rs =
            pod.metadata.owner_references.iter().flatten().any(|o| o.kind == "ReplicaSet");
        if !owned_by_rs && pod.field("status").and_then(|s| s.get("phase")).is_none() {
            let done = Patch::Merge(json!({"status": {"phase": "Succeeded"}}));
            store
                .patch(&rt("pods"), Some(NS), pod.name(), &done, Subresource::Status)
                .await
                .unwrap();
        }
    }
    let sets = store.list(&rt("replicasets"), Some(NS), &ListParams::default()).await.unwrap();
    for rs in sets.items.iter().map(Object::to_value) {
        let name = rs["metadata"]["name"].as_str().unwrap().to_owned();
        let uid = rs["metadata"]["uid"].as_str().unwrap().to_owned();
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
        let mine: Vec<&Object> = pods
            .iter()
            .filter(|p| p.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
            .collect();
        let have = i64::try_from(mine.len()).unwrap();
        for extra in mine.iter().skip(usize::try_from(want).unwrap()) {
            store
                .delete(&rt("pods"), Some(NS), extra.name(), &DeleteParams::default())
                .await
                .unwrap();
        }
        for _ in have..want {
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": format!("{name}-"), "namespace": NS,
                    "labels": rs["spec"]["template"]["metadata"]["labels"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": name, "uid": uid, "controller": true}]},
                "spec": rs["spec"]["template"]["spec"],
            });
            let created =
                store.create(&rt("pods"), Object::from_value(pod).unwrap()).await.unwrap();
            let status = json!({"status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}});
            let patch = Patch::Merge(status);
            store
                .patch(&rt("pods"), Some(NS), created.name(), &patch, Subresource::Status)
                .await
                .unwrap();
        }
        if rs["status"]["availableReplicas"] != want || rs["status"]["replicas"] != want {
            let status = json!({"status": {"replicas": want, "readyReplicas": want,
                "availableReplicas": want, "fullyLabeledReplicas": want,
                "observedGeneration": rs["metadata"]["generation"]}});
            let patch = Patch::Merge(status);
            store
                .patch(&rt("replicasets"), Some(NS), &name, &patch, Subresource::Status)
                .await
                .unwrap();
        }
    }
}

/// Reconciles through the RBAC check, with the kubelet between passes, until nothing changes.
async fn settle(cluster: &Authorized) -> Value {
    let mut last = Value::Null;
    for _ in 0..40 {
        let _ = reconcile_rollout(cluster, Some(NS), "app", weir_cluster::wall_clock()).await;
        kubelet(&cluster.store).await;
        let now = cluster.store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_value();
        if now["status"] == last {
            return now;
        }
        last = now["status"].clone();
    }
    panic!("the rollout did not settle: {last:#}");
}

/// What the canary went through: the rollout at the pause (with the VirtualService then) and
/// at the end, and the calls the role refused.
struct Run {
    paused: Value,
    weights_at_pause: Vec<i64>,
    done: Value,
    refused: BTreeSet<String>,
}

/// The Service, DestinationRule, VirtualService and a Rollout with `steps`.
async fn seed(store: &Store, steps: Value) {
    create(store, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
    for object in [
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app"},
               "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}}),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
               "metadata": {"name": "app"},
               "spec": {"host": "app", "subsets": [
                   {"name": "stable", "labels": {"app": "app"}},
                   {"name": "canary", "labels": {"app": "app"}}]}}),
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": "app"},
               "spec": {"hosts": ["app"], "http": [{"name": "primary", "route": [
                   {"destination": {"host": "app", "subset": "stable"}, "weight": 100},
                   {"destination": {"host": "app", "subset": "canary"}, "weight": 0}]}]}}),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "app"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}},
                   "template": {"metadata": {"labels": {"app": "app"}},
                                "spec": {"containers": [{"name": "app", "image": "app:v1"}]}},
                   "strategy": {"canary": {
                       "steps": steps,
                       "trafficRouting": {"istio": {
                           "virtualService": {"name": "app", "routes": ["primary"]},
                           "destinationRule": {"name": "app", "canarySubsetName": "canary",
                                               "stableSubsetName": "stable"}}}}}}}),
    ] {
        create(store, object).await;
    }
}

fn authorized(rules: Vec<PolicyRule>) -> (tempfile::TempDir, Authorized) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    (dir, Authorized { store, rules: Arc::new(rules), refused: Arc::default() })
}

/// Sets the Rollout's image (the user's change, with the user's rights).
async fn set_image(store: &Store, image: &str) {
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    store
        .patch(&rt("rollouts"), Some(NS), "app", &Patch::Merge(patch), Subresource::Main)
        .await
        .unwrap();
}

async fn canary_v1_to_v2(rules: Vec<PolicyRule>) -> Run {
    let (_dir, cluster) = authorized(rules);
    let store = cluster.store.clone();
    seed(&store, json!([{"setWeight": 20}, {"pause": {}}])).await;
    settle(&cluster).await;

    // The user changes the image, then promotes at the pause (with their own rights).
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}});
    store
        .patch(&rt("rollouts"), Some(NS), "app", &Patch::Merge(image), Subresource::Main)
        .await
        .unwrap();
    let paused = settle(&cluster).await;
    let vs = store.get(&rt("virtualservices"), Some(NS), "app").await.unwrap().to_value();
    let weights_at_pause = vs["spec"]["http"][0]["route"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["weight"].as_i64())
        .collect();
    if paused["status"]["phase"] == "Paused" {
        let typed = store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_typed().unwrap();
        ops::apply(store.as_ref(), NS, "app", &ops::promote(&typed, false)).await.unwrap();
    }
    let done = settle(&cluster).await;
    let refused = cluster.refused.lock().unwrap().clone();
    Run { paused, weights_at_pause, done, refused }
}

#[tokio::test]
async fn the_rendered_cluster_role_is_enough_for_a_canary_with_istio() {
    let rules: Vec<PolicyRule> =
        rendered_cluster_role().into_iter().filter(|r| !r.is_wildcard()).collect();
    let run = canary_v1_to_v2(rules).await;
    assert!(run.refused.is_empty(), "the rendered role refuses: {:?}", run.refused);
    // The canary really ran through traffic routing: paused at 20 % (stable 80).
    assert_eq!(run.paused["status"]["phase"], "Paused", "{:#}", run.paused["status"]);
    assert_eq!(run.weights_at_pause, [80, 20]);
    let done = &run.done["status"];
    assert_eq!(done["phase"], "Healthy", "{done:#}");
    assert_eq!(done["stableRS"], done["currentPodHash"]);
    assert_ne!(done["stableRS"], run.paused["status"]["stableRS"], "v2 became stable");
}

/// The check has teeth: without the Istio rule the same canary is refused exactly there.
#[tokio::test]
async fn a_role_without_the_istio_rule_is_refused_on_virtual_services() {
    let rules: Vec<PolicyRule> = rendered_cluster_role()
        .into_iter()
        .filter(|r| !r.is_wildcard() && !r.api_groups.contains(&"networking.istio.io".to_owned()))
        .collect();
    let refused = canary_v1_to_v2(rules).await.refused;
    assert!(
        refused.iter().any(|r| r.ends_with("virtualservices.networking.istio.io")),
        "{refused:?}"
    );
    assert!(refused.iter().all(|r| r.ends_with(".networking.istio.io")), "{refused:?}");
}

/// The Rollout and AnalysisRun controllers as they run (informers with list and watch, the
/// job metric provider, Events), through the rendered role: a canary with an analysis step
/// passes, and nothing is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_cluster_role_is_enough_for_the_running_controllers() {
    let rules: Vec<PolicyRule> =
        rendered_cluster_role().into_iter().filter(|r| !r.is_wildcard()).collect();
    let (_dir, cluster) = authorized(rules);
    let store = cluster.store.clone();
    let steps = json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "check"}]}}, {"pause": {}}]);
    seed(&store, steps).await;
    create(
        &store,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "check"},
        "spec": {"metrics": [{"name": "job", "provider": {"job": {"spec": {"backoffLimit": 0,
            "template": {"spec": {"containers": [{"name": "check", "image": "check:1"}],
                                  "restartPolicy": "Never"}}}}}}]}}),
    )
    .await;

    let shared = Arc::new(cluster.clone());
    let shutdown = weir_controller::Shutdown::new();
    let providers = weir_analysis_controller::Providers::embedded(shared.clone(), None);
    let controllers = [
        tokio::spawn(weir_rollout_controller::run_rollout_controller(
            shared.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(weir_analysis_controller::run_analysis_controller(
            shared,
            providers,
            shutdown.clone(),
        )),
    ];
    let phase = |want: &'static str| {
        let store = store.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
            loop {
                kubelet(&store).await;
                let ro = store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_value();
                let status = &ro["status"];
                let settled = status["phase"] == want
                    && (want != "Healthy" || status["stableRS"] == status["currentPodHash"]);
                if settled {
                    return ro;
                }
                assert!(std::time::Instant::now() < deadline, "never {want}: {status:#}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    let v1 = phase("Healthy").await;
    set_image(&store, "app:v2").await;
    // Paused at the last step, after the analysis step passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let paused = loop {
        let ro = phase("Paused").await;
        if ro["status"]["currentStepIndex"] == 2 {
            break ro;
        }
        assert!(std::time::Instant::now() < deadline, "{:#}", ro["status"]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let runs = store.list(&rt("analysisruns"), Some(NS), &ListParams::default()).await.unwrap();
    let phases: Vec<Value> =
        runs.items.iter().map(|r| r.to_value()["status"]["phase"].clone()).collect();
    assert_eq!(phases, [json!("Successful")]);
    let typed = store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_typed().unwrap();
    ops::apply(store.as_ref(), NS, "app", &ops::promote(&typed, false)).await.unwrap();
    let done = phase("Healthy").await;
    assert_ne!(done["status"]["stableRS"], v1["status"]["stableRS"], "v2 became stable");
    assert_eq!(paused["status"]["canary"]["weights"]["canary"]["weight"], 20);

    shutdown.trigger();
    for controller in controllers {
        controller.await.unwrap();
    }
    let refused = cluster.refused.lock().unwrap().clone();
    assert!(refused.is_empty(), "the rendered role refuses: {refused:?}");
}
