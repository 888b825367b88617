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
use weir_rollout_controller::{RolloutReconciler, ops, reconcile_rollout};
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

/// Another writer's change: `(plural, made before the controller's status write (else its
/// main write), the other writer's patch, the subresource it patches)`.
type OtherWrite = (String, bool, Patch, Subresource);

/// The store behind an RBAC check; refusals are answered as the API server answers them (403
/// `Forbidden`, with its message) and remembered. `denied` takes rights away in one namespace
/// (a RoleBinding the controller's account lacks there): `(namespace, verb, resource)`.
#[derive(Clone)]
struct Authorized {
    store: Arc<Store>,
    rules: Arc<Vec<PolicyRule>>,
    refused: Arc<Mutex<BTreeSet<String>>>,
    denied: Arc<Mutex<Vec<(String, String, String)>>>,
    /// Other writers' changes, each made just before the controller's next `update` of that
    /// resource: `(plural, on the controller's status write, the other writer's patch and
    /// the subresource it writes)`.
    others: Arc<Mutex<Vec<OtherWrite>>>,
}

impl Authorized {
    fn check(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        subresource: Subresource,
        verb: &str,
    ) -> Result<()> {
        let resource = match subresource {
            Subresource::Status => format!("{}/status", rt.plural),
            _ => rt.plural.clone(),
        };
        let denied = self.denied.lock().unwrap().iter().any(|(n, v, r)| {
            Some(n.as_str()) == ns && v == verb && *r == format!("{resource}.{}", rt.group)
        });
        if !denied && self.rules.iter().any(|r| r.allows(&rt.group, &resource, verb)) {
            return Ok(());
        }
        let what = format!("{verb} {resource}.{}", rt.group);
        self.refused.lock().unwrap().insert(what.clone());
        // The API server's wording (k8s.io/apiserver's `forbiddenMessage`).
        let scope = ns.map(|ns| format!(" in the namespace \"{ns}\"")).unwrap_or_default();
        Err(Error::Forbidden(format!(
            "{resource}.{} is forbidden: User \"system:serviceaccount:weir-system:weir-controller\" \
             cannot {verb} resource \"{resource}\" in API group \"{}\"{scope}",
            rt.group, rt.group
        )))
    }

    fn deny(&self, ns: &str, verb: &str, resource: &str) {
        self.denied.lock().unwrap().push((ns.into(), verb.into(), resource.into()));
    }

    fn allow_all_denied(&self) {
        self.denied.lock().unwrap().clear();
    }

    /// Makes the pending change of another writer before the controller's write of `object`.
    async fn interleave(&self, rt: &ResourceType, status: bool, object: &Object) {
        let pending = {
            let mut others = self.others.lock().unwrap();
            let at = others.iter().position(|(p, s, ..)| *p == rt.plural && *s == status);
            at.map(|i| others.remove(i))
        };
        if let Some((_, _, patch, sub)) = pending {
            let ns = object.namespace();
            self.store.patch(rt, ns, object.name(), &patch, sub).await.unwrap();
        }
    }
}

impl Cluster for Authorized {
    async fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Object> {
        self.check(rt, ns, Subresource::Main, "get")?;
        self.store.get(rt, ns, name).await
    }
    async fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        p: &ListParams,
    ) -> Result<ObjectList> {
        self.check(rt, ns, Subresource::Main, "list")?;
        self.store.list(rt, ns, p).await
    }
    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, object.namespace(), Subresource::Main, "create")?;
        self.store.create(rt, object).await
    }
    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, object.namespace(), Subresource::Main, "update")?;
        self.interleave(rt, false, &object).await;
        self.store.update(rt, object).await
    }
    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.check(rt, object.namespace(), Subresource::Status, "update")?;
        self.interleave(rt, true, &object).await;
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
        self.check(rt, ns, sub, "patch")?;
        self.store.patch(rt, ns, name, patch, sub).await
    }
    async fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        p: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        self.check(rt, ns, Subresource::Main, "delete")?;
        self.store.delete(rt, ns, name, p).await
    }
    async fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        p: &WatchParams,
    ) -> Result<WatchStream> {
        self.check(rt, ns, Subresource::Main, "watch")?;
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
    create_in(store, NS, value).await;
}

async fn create_in(store: &Store, ns: &str, value: Value) {
    let mut object = Object::from_value(value).unwrap();
    let rt = Registry::builtin().for_object(&object.api_version, &object.kind).unwrap();
    if rt.namespaced() {
        object.metadata.namespace = Some(ns.into());
    }
    store.create(&rt, object).await.unwrap();
}

/// kubelet and the ReplicaSet controller, acting with their own rights: every ReplicaSet gets
/// its pods, ready and available; surplus pods go; a pod no ReplicaSet owns (an analysis job's)
/// runs to completion.
async fn kubelet(store: &Store) {
    kubelet_in(store, NS).await;
}

async fn kubelet_in(store: &Store, ns: &str) {
    let pods = store.list(&rt("pods"), Some(ns), &ListParams::default()).await.unwrap().items;
    for pod in &pods {
        let owned_by_rs =
            pod.metadata.owner_references.iter().flatten().any(|o| o.kind == "ReplicaSet");
        if !owned_by_rs && pod.field("status").and_then(|s| s.get("phase")).is_none() {
            let done = Patch::Merge(json!({"status": {"phase": "Succeeded"}}));
            store
                .patch(&rt("pods"), Some(ns), pod.name(), &done, Subresource::Status)
                .await
                .unwrap();
        }
    }
    let sets = store.list(&rt("replicasets"), Some(ns), &ListParams::default()).await.unwrap();
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
                .delete(&rt("pods"), Some(ns), extra.name(), &DeleteParams::default())
                .await
                .unwrap();
        }
        for _ in have..want {
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": format!("{name}-"), "namespace": ns,
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
                .patch(&rt("pods"), Some(ns), created.name(), &patch, Subresource::Status)
                .await
                .unwrap();
        }
        if rs["status"]["availableReplicas"] != want || rs["status"]["replicas"] != want {
            let status = json!({"status": {"replicas": want, "readyReplicas": want,
                "availableReplicas": want, "fullyLabeledReplicas": want,
                "observedGeneration": rs["metadata"]["generation"]}});
            let patch = Patch::Merge(status);
            store
                .patch(&rt("replicasets"), Some(ns), &name, &patch, Subresource::Status)
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
    seed_in(store, NS, steps).await;
}

async fn seed_in(store: &Store, ns: &str, steps: Value) {
    create_in(
        store,
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
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
        create_in(store, ns, object).await;
    }
}

fn authorized(rules: Vec<PolicyRule>) -> (tempfile::TempDir, Authorized) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    (
        dir,
        Authorized {
            store,
            rules: Arc::new(rules),
            refused: Arc::default(),
            denied: Arc::default(),
            others: Arc::default(),
        },
    )
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

/// The role minus the Application controller's wildcard rule.
fn rendered_rules() -> Vec<PolicyRule> {
    rendered_cluster_role().into_iter().filter(|r| !r.is_wildcard()).collect()
}

/// The Rollout `app` in `ns` and the Events about it with `reason`.
async fn rollout_and_events(store: &Store, ns: &str, reason: &str) -> (Value, Vec<Value>) {
    let ro = store.get(&rt("rollouts"), Some(ns), "app").await.unwrap().to_value();
    let events = store.list(&rt("events"), Some(ns), &ListParams::default()).await.unwrap();
    let events = events
        .items
        .iter()
        .map(Object::to_value)
        .filter(|e| e["reason"] == reason && e["involvedObject"]["name"] == "app")
        .collect();
    (ro, events)
}

fn reconcile_error(ro: &Value) -> Option<Value> {
    ro["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "ReconcileError")
        .cloned()
}

/// Item 1 of issue 13 part 5: a call the role refuses in one namespace (no `create
/// replicasets` there) is reported on that Rollout (a condition and a Warning Event naming the
/// verb, resource and namespace), retried after 30 s then 60 s (the controller runtime's
/// `FORBIDDEN_BACKOFF`) without writing or recording anything again, while the Rollout of
/// another namespace goes on through the same reconciler; once the role allows the call, the
/// next pass goes on and clears the condition.
#[tokio::test]
async fn a_refused_call_is_reported_on_the_rollout_and_retried_slowly() {
    use std::time::Duration;
    let (_dir, cluster) = authorized(rendered_rules());
    let store = cluster.store.clone();
    let steps = json!([{"setWeight": 20}, {"pause": {}}]);
    seed_in(&store, NS, steps.clone()).await;
    seed_in(&store, "locked", steps).await;
    cluster.deny("locked", "create", "replicasets.apps");
    let reconciler = RolloutReconciler::new(Arc::new(cluster.clone()));
    let now = weir_cluster::wall_clock();

    let action = reconciler.reconcile_at(Some("locked"), "app", now).await.unwrap();
    assert_eq!(action.requeue_after(), Some(Duration::from_secs(30)));
    let (ro, events) = rollout_and_events(&store, "locked", "Forbidden").await;
    let condition = reconcile_error(&ro).expect("a ReconcileError condition");
    assert_eq!(condition["status"], "True");
    assert_eq!(condition["reason"], "Forbidden");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.starts_with("forbidden: cannot create replicasets.apps in namespace \"locked\": "),
        "{message}"
    );
    assert!(message.contains("cannot create resource \"replicasets\""), "{message}");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["message"], message);

    // The same refusal again: a longer wait, no status write, no second Event.
    let action = reconciler.reconcile_at(Some("locked"), "app", now).await.unwrap();
    assert_eq!(action.requeue_after(), Some(Duration::from_secs(60)));
    let (again, events) = rollout_and_events(&store, "locked", "Forbidden").await;
    assert_eq!(again["metadata"]["resourceVersion"], ro["metadata"]["resourceVersion"]);
    assert_eq!(events.len(), 1);

    // The other namespace is not held back by the refused one.
    let mut healthy = Value::Null;
    for _ in 0..40 {
        let _ = reconciler.reconcile_at(Some(NS), "app", weir_cluster::wall_clock()).await;
        kubelet(&store).await;
        healthy = store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_value();
        if healthy["status"]["phase"] == "Healthy" {
            break;
        }
    }
    assert_eq!(healthy["status"]["phase"], "Healthy", "{:#}", healthy["status"]);
    assert_eq!(reconcile_error(&healthy), None);

    // The role is fixed: the next pass creates the ReplicaSet and the condition goes.
    cluster.allow_all_denied();
    reconciler.reconcile_at(Some("locked"), "app", now).await.unwrap();
    let (ro, _) = rollout_and_events(&store, "locked", "Forbidden").await;
    assert_eq!(reconcile_error(&ro), None, "{:#}", ro["status"]);
    let sets = store.list(&rt("replicasets"), Some("locked"), &ListParams::default()).await;
    assert_eq!(sets.unwrap().items.len(), 1);
}

/// When even the report is refused (no `update rollouts/status`, no `create events` in the
/// namespace), a pass neither fails nor loops: it waits the same long backoff and changes
/// nothing (the one log line it writes per Rollout is not checked here).
#[tokio::test]
async fn a_refused_report_backs_off_without_writing() {
    use std::time::Duration;
    let (_dir, cluster) = authorized(rendered_rules());
    let store = cluster.store.clone();
    seed_in(&store, "locked", json!([{"setWeight": 20}, {"pause": {}}])).await;
    cluster.deny("locked", "create", "replicasets.apps");
    cluster.deny("locked", "update", "rollouts/status.argoproj.io");
    cluster.deny("locked", "create", "events.");
    let reconciler = RolloutReconciler::new(Arc::new(cluster.clone()));
    let before = store.get(&rt("rollouts"), Some("locked"), "app").await.unwrap().to_value();
    for want in [30, 60, 120] {
        let action = reconciler
            .reconcile_at(Some("locked"), "app", weir_cluster::wall_clock())
            .await
            .unwrap();
        assert_eq!(action.requeue_after(), Some(Duration::from_secs(want)));
    }
    let (after, events) = rollout_and_events(&store, "locked", "Forbidden").await;
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    assert!(events.is_empty());
    let refused = cluster.refused.lock().unwrap().clone();
    assert!(refused.contains("update rollouts/status.argoproj.io"), "{refused:?}");
}

/// Item 2 of issue 13 part 5: other writers are not overwritten. While a canary runs, a person
/// edits a VirtualService route the Rollout does not manage (just before the controller writes
/// the VirtualService) and an HPA scales the Rollout (just before the controller writes its
/// status). Both writes of the controller are guarded by the resourceVersion it read, so each
/// is a conflict that the next pass retries on the fresh object: the person's timeout and the
/// HPA's replicas survive, and the canary still pauses at 20 %.
#[tokio::test]
async fn other_writers_changes_survive_the_controllers_writes() {
    let (_dir, cluster) = authorized(rendered_rules());
    let store = cluster.store.clone();
    seed(&store, json!([{"setWeight": 20}, {"pause": {}}])).await;
    let other_route = json!({"spec": {"http": [
        {"name": "primary", "route": [
            {"destination": {"host": "app", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "app", "subset": "canary"}, "weight": 0}]},
        {"name": "other", "route": [{"destination": {"host": "app", "subset": "stable"}}]}]}});
    store
        .patch(
            &rt("virtualservices"),
            Some(NS),
            "app",
            &Patch::Merge(other_route),
            Subresource::Main,
        )
        .await
        .unwrap();
    settle(&cluster).await;

    // The HPA's write lands between the controller's read of the Rollout and its status
    // write (through `/scale` in a cluster: `spec.replicas` of the main resource).
    cluster.others.lock().unwrap().extend([
        (
            "virtualservices".to_owned(),
            false,
            Patch::Json(
                serde_json::from_value(
                    json!([{"op": "add", "path": "/spec/http/1/timeout", "value": "5s"}]),
                )
                .unwrap(),
            ),
            Subresource::Main,
        ),
        (
            "rollouts".to_owned(),
            true,
            Patch::Merge(json!({"spec": {"replicas": 3}})),
            Subresource::Main,
        ),
    ]);
    set_image(&store, "app:v2").await;
    // Passes until the pause (a pass that lost a write to a conflict changes no status, so
    // `settle`'s "nothing changed" is not the end here).
    let mut paused = Value::Null;
    for _ in 0..40 {
        let _ = reconcile_rollout(&cluster, Some(NS), "app", weir_cluster::wall_clock()).await;
        kubelet(&store).await;
        paused = store.get(&rt("rollouts"), Some(NS), "app").await.unwrap().to_value();
        if paused["status"]["phase"] == "Paused" {
            break;
        }
    }

    let pending: Vec<String> =
        cluster.others.lock().unwrap().iter().map(|o| format!("{}/{}", o.0, o.1)).collect();
    assert!(pending.is_empty(), "both other writers wrote: {pending:?}: {:#}", paused["status"]);
    assert_eq!(paused["status"]["phase"], "Paused", "{:#}", paused["status"]);
    assert_eq!(paused["spec"]["replicas"], 3, "the HPA's replicas survive");
    let vs = store.get(&rt("virtualservices"), Some(NS), "app").await.unwrap().to_value();
    let http = &vs["spec"]["http"];
    assert_eq!(http[1]["name"], "other");
    assert_eq!(http[1]["timeout"], "5s", "the person's edit survives: {http:#}");
    let weights: Vec<i64> =
        http[0]["route"].as_array().unwrap().iter().filter_map(|d| d["weight"].as_i64()).collect();
    assert_eq!(weights, [80, 20]);
}

/// Item 1 for AnalysisRuns, through the running AnalysisRun controller: the role may not
/// update runs' status in one namespace. The run's `status.message` says what was refused
/// (written with the `patch` the role allows) and one Warning Event is recorded; the
/// controller keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_analysis_run_says_so_in_its_status() {
    let (_dir, cluster) = authorized(rendered_rules());
    let store = cluster.store.clone();
    create_in(
        &store,
        "locked",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "locked"}}),
    )
    .await;
    create_in(
        &store,
        "locked",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "run"},
            "spec": {"metrics": [{"name": "web", "count": 1,
                "provider": {"web": {"url": "http://127.0.0.1:1/", "jsonPath": "{$.ok}"}}}]}}),
    )
    .await;
    cluster.deny("locked", "update", "analysisruns/status.argoproj.io");
    let shared = Arc::new(cluster.clone());
    let shutdown = weir_controller::Shutdown::new();
    let controller = tokio::spawn(weir_analysis_controller::run_analysis_controller(
        shared,
        weir_analysis_controller::Providers::standard(),
        shutdown.clone(),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let run = store.get(&rt("analysisruns"), Some("locked"), "run").await.unwrap().to_value();
        if run["status"]["message"].as_str().is_some_and(|m| m.starts_with("forbidden: ")) {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "{:#}", run["status"]);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let message = run["status"]["message"].as_str().unwrap();
    assert!(message.contains("cannot update resource \"analysisruns/status\""), "{message}");
    assert!(message.contains("in the namespace \"locked\""), "{message}");
    let events = store.list(&rt("events"), Some("locked"), &ListParams::default()).await.unwrap();
    let reported: Vec<Value> = events
        .items
        .iter()
        .map(Object::to_value)
        .filter(|e| e["reason"] == "Forbidden" && e["involvedObject"]["name"] == "run")
        .collect();
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert!(!controller.is_finished(), "the controller keeps running");
    shutdown.trigger();
    controller.await.unwrap();
}
