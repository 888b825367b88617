//! Crash convergence: the controller is killed at random moments during a rollout (its whole
//! runtime dropped mid-pass, like `kill -9` of the process that hosts it), then started again
//! on the same data directory with a freshly opened store. Whatever the seed, the rollout
//! finishes with the same result as an uninterrupted one: the same stable ReplicaSet hash,
//! 100 % of traffic on it, the same ReplicaSets.
//!
//! Real parts: the SQLite store, the controller runtime with its watches and workers, the wall
//! clock (pauses are one second long). The kubelet is a stand-in that marks pods ready.
//!
//! On both backends. Embedded: store, kubelet and controller are one process (`weir up`),
//! all killed and reopened together. Kube (`weir controller` against a cluster): the store,
//! weir's API server over it and the kubelet run on a runtime of their own that lives through
//! every kill, as a cluster does; only the controller process, connected through kube-rs,
//! dies and starts again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir_cluster::{Cluster, ListParams, Object, Patch, Registry, Subresource};
use weir_controller::Shutdown;
use weir_rollout_controller::run_rollout_controller;
use weir_store::Store;

use crate::harness::{
    Backend, NS, both_backends, canary_rollout, host_level_objects, host_level_routing, rt, with,
};

/// A small deterministic generator (xorshift64*), so every seed replays the same kills.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// What outlives the controller's deaths.
enum Host {
    /// The store's directory: the store is part of the controller's process.
    Embedded(PathBuf),
    /// A cluster: the store, the API server over it and the kubelet on their own runtime
    /// (dropped last: fields drop in order).
    Kube { server: weir_server::ApiServer, store: Arc<Store>, _runtime: tokio::runtime::Runtime },
}

impl Host {
    fn new(backend: Backend, dir: &Path) -> Host {
        let data = dir.join("store");
        match backend {
            Backend::Embedded => Host::Embedded(data),
            Backend::Kube => {
                let runtime = runtime();
                let store = Arc::new(Store::open(&data).expect("store"));
                let server = runtime
                    .block_on(weir_server::serve_store(store.as_ref().clone(), &dir.join("api")))
                    .expect("serve the API");
                runtime.spawn(kubelet_loop(store.clone()));
                Host::Kube { server, store, _runtime: runtime }
            }
        }
    }
}

/// One life of the controller: its own runtime (so killing it drops every task it spawned)
/// and its own store handle (embedded) or kube-rs client (Kube).
struct Incarnation {
    runtime: tokio::runtime::Runtime,
    store: Arc<Store>,
    _shutdown: Shutdown,
}

impl Incarnation {
    fn start(host: &Host) -> Incarnation {
        let runtime = runtime();
        let shutdown = Shutdown::new();
        let dir = match host {
            Host::Embedded(dir) => dir,
            Host::Kube { store, server, .. } => {
                let options = weir_kube::ConnectOptions {
                    kubeconfig: Some(server.kubeconfig_path()),
                    ..weir_kube::ConnectOptions::default()
                };
                let cluster = runtime.block_on(weir_kube::connect(&options)).expect("connect");
                runtime.spawn(run_rollout_controller(Arc::new(cluster), shutdown.clone()));
                return Incarnation { runtime, store: store.clone(), _shutdown: shutdown };
            }
        };
        // The previous life's blocking SQLite calls may still be finishing: wait for the lock.
        let deadline = Instant::now() + Duration::from_secs(30);
        let store = loop {
            match Store::open(dir) {
                Ok(store) => break Arc::new(store),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("reopening the store: {e}"),
            }
        };
        runtime.spawn(run_rollout_controller(store.clone(), shutdown.clone()));
        runtime.spawn(kubelet_loop(store.clone()));
        Incarnation { runtime, store, _shutdown: shutdown }
    }

    /// Drops every task at its next await point: no shutdown path runs.
    fn kill(self) {
        let Incarnation { runtime, store, _shutdown } = self;
        drop(store);
        runtime.shutdown_timeout(Duration::ZERO);
    }

    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }
}

/// The stand-in kubelet: every ReplicaSet's pods are ready at once.
async fn kubelet_loop(store: Arc<Store>) {
    loop {
        if let Ok(list) = store.list(&rt("replicasets"), Some(NS), &ListParams::default()).await {
            for rs in list.items {
                let want = rs.field("spec").and_then(|s| s.get("replicas")).and_then(Value::as_i64);
                let want = want.unwrap_or(1);
                let have = rs.field("status").and_then(|s| s.get("availableReplicas"));
                if have.and_then(Value::as_i64) == Some(want) {
                    continue;
                }
                let status = json!({"status": {"replicas": want, "readyReplicas": want,
                    "availableReplicas": want, "fullyLabeledReplicas": want}});
                let _ = store
                    .patch(
                        &rt("replicasets"),
                        Some(NS),
                        rs.name(),
                        &Patch::Merge(status),
                        Subresource::Status,
                    )
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create(store: &Store, value: Value) {
    let mut object = Object::from_value(value).expect("object");
    let rt = Registry::builtin().for_object(&object.api_version, &object.kind).expect("kind");
    if rt.namespaced() {
        object.metadata.namespace = Some(NS.into());
    }
    store.create(&rt, object).await.expect("create");
}

async fn rollout_status(store: &Store) -> Value {
    let ro = store.get(&rt("rollouts"), Some(NS), "app").await.expect("rollout");
    ro.field("status").cloned().unwrap_or(Value::Null)
}

/// What a finished rollout must look like, from the store.
async fn outcome(store: &Store) -> (String, (i64, i64), Vec<(String, i64)>) {
    let st = rollout_status(store).await;
    let vs = store.get(&rt("virtualservices"), Some(NS), "app").await.expect("vs").to_value();
    let route = vs["spec"]["http"][0]["route"].as_array().cloned().unwrap_or_default();
    let weight = |host: &str| {
        route.iter().find(|d| d["destination"]["host"] == host).and_then(|d| d["weight"].as_i64())
    };
    let weights = (weight("app-canary").unwrap_or(-1), weight("app-stable").unwrap_or(-1));
    let list = store.list(&rt("replicasets"), Some(NS), &ListParams::default()).await;
    let mut rss: Vec<(String, i64)> = list
        .expect("replicasets")
        .items
        .iter()
        .map(|r| {
            let replicas = r.field("spec").and_then(|s| s.get("replicas")).and_then(Value::as_i64);
            (r.name().to_owned(), replicas.unwrap_or(-1))
        })
        .collect();
    rss.sort();
    (st["stableRS"].as_str().unwrap_or("").to_owned(), weights, rss)
}

/// Finished: v2 promoted, Healthy, the old ReplicaSet scaled down after its delay.
async fn finished(store: &Store, v2: &str) -> bool {
    let st = rollout_status(store).await;
    let (stable, weights, rss) = outcome(store).await;
    st["phase"] == "Healthy"
        && stable == v2
        && weights == (0, 100)
        && rss.iter().all(
            |(name, replicas)| if name.ends_with(v2) { *replicas == 3 } else { *replicas == 0 },
        )
}

fn hash_of(image: &str) -> String {
    let ro = canary_rollout("app", 3, json!({}));
    let mut template: k8s_openapi::api::core::v1::PodTemplateSpec =
        serde_json::from_value(ro["spec"]["template"].clone()).expect("template");
    template.spec.as_mut().expect("spec").containers[0].image = Some(image.to_owned());
    weir_rollout::hash::pod_template_hash(&template, None)
}

/// Runs the whole rollout with `kills` random kills (seeded), returns its outcome.
fn rollout_with_kills(
    backend: Backend,
    seed: u64,
    kills: usize,
) -> (String, (i64, i64), Vec<(String, i64)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::new(backend, dir.path());
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let life = Incarnation::start(&host);
    let v1 = hash_of("app:v1");
    let v2 = hash_of("app:v2");
    life.block_on(async {
        let store = life.store.as_ref();
        create(store, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
        for o in host_level_objects("app") {
            create(store, o).await;
        }
        let canary = with(host_level_routing("app"), json!({
            "scaleDownDelaySeconds": 1,
            "steps": [{"setWeight": 20}, {"pause": {"duration": 1}},
                      {"setWeight": 60}, {"pause": {"duration": 1}}]}));
        create(store, canary_rollout("app", 3, canary)).await;
        wait(store, "revision 1 Healthy", async |s| {
            let st = rollout_status(s).await;
            st["phase"] == "Healthy" && st["stableRS"] == v1.as_str()
        })
        .await;
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}});
        store
            .patch(&rt("rollouts"), Some(NS), "app", &Patch::Merge(patch), Subresource::Main)
            .await
            .expect("update");
    });
    let mut life = life;
    let mut mid_rollout = 0;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.below(700)));
        mid_rollout += usize::from(!life.block_on(finished(life.store.as_ref(), &v2)));
        life.kill();
        life = Incarnation::start(&host);
    }
    assert!(kills == 0 || mid_rollout > 0, "seed {seed}: every kill came after the end");
    let result = life.block_on(async {
        let store = life.store.as_ref();
        wait(store, "v2 fully rolled out", async |s| finished(s, &v2).await).await;
        outcome(store).await
    });
    life.kill();
    result
}

/// Polls `check` for up to 60 s, then fails with the rollout's status.
async fn wait(store: &Store, what: &str, mut check: impl AsyncFnMut(&Store) -> bool) {
    for _ in 0..600 {
        if check(store).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {:#}", rollout_status(store).await);
}

both_backends!(blocking: killed_at_random_points_the_rollout_finishes_the_same);
fn killed_at_random_points_the_rollout_finishes_the_same(backend: Backend) {
    let baseline = rollout_with_kills(backend, 0, 0);
    let v2 = hash_of("app:v2");
    assert_eq!(baseline.0, v2);
    assert_eq!(baseline.1, (0, 100));
    assert_eq!(baseline.2.len(), 2, "{:?}", baseline.2);
    for seed in 1..=4 {
        let crashed = rollout_with_kills(backend, seed, 3);
        assert_eq!(crashed, baseline, "seed {seed}");
    }
}
