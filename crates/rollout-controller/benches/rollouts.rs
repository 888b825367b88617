//! Rollout controller benchmark (a `harness = false` bench that prints figures; not a test).
//!
//! 1. 1,000 Rollouts in the embedded store, pods made ready by a stand-in kubelet, the real
//!    controller runtime (watches, caches, work queue, 2 workers): how long the initial
//!    deploy, an update wave to the first pause and a promotion wave take for all of them;
//!    the cost of one no-op pass reading the store directly; resident memory.
//! 2. Weight change → proxy: the time from a VirtualService weight write (what a step change
//!    makes the rollout controller do) to the mesh proxy answering from the new destination,
//!    through the real mesh controller and proxy with two backend servers.
//!
//! Run: `cargo bench -p weir-rollout-controller --bench rollouts` (`ROLLOUTS=200` for fewer).

// A benchmark's output is its figures.
#![allow(clippy::print_stdout)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir_cluster::{Cluster, ListParams, Object, Patch, Registry, ResourceType, Subresource};
use weir_controller::Shutdown;
use weir_proxy::{ListenerConfig, Proxy, ProxyConfig, Role, RouteTable};
use weir_rollout_controller::{now, reconcile_rollout, run_rollout_controller};
use weir_store::Store;

const NS: &str = "bench";

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("built-in type").clone()
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn create(store: &Store, value: Value) {
    let mut object = Object::from_value(value).expect("object");
    let rt = Registry::builtin().for_object(&object.api_version, &object.kind).expect("kind");
    if rt.namespaced() {
        object.metadata.namespace = Some(NS.into());
    }
    store.create(&rt, object).await.expect("create");
}

fn rollout(i: usize) -> Value {
    let name = format!("app-{i}");
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "app:v1"}]}},
                 "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}
    })
}

/// The stand-in kubelet: every ReplicaSet's pods are ready; returns how many it touched.
async fn kubelet(store: &Store) -> usize {
    let list = store.list(&rt("replicasets"), Some(NS), &ListParams::default()).await;
    let mut touched = 0;
    for rs in list.expect("replicasets").items {
        let want = rs.field("spec").and_then(|s| s.get("replicas")).and_then(Value::as_i64);
        let want = want.unwrap_or(1);
        let have = rs.field("status").and_then(|s| s.get("availableReplicas"));
        if have.and_then(Value::as_i64) == Some(want) {
            continue;
        }
        let status = json!({"status": {"replicas": want, "readyReplicas": want,
            "availableReplicas": want}});
        let patch = Patch::Merge(status);
        let _ =
            store.patch(&rt("replicasets"), Some(NS), rs.name(), &patch, Subresource::Status).await;
        touched += 1;
    }
    touched
}

async fn phases(store: &Store) -> Vec<String> {
    let list = store.list(&rt("rollouts"), Some(NS), &ListParams::default()).await;
    list.expect("rollouts")
        .items
        .iter()
        .map(|r| {
            let phase = r.field("status").and_then(|s| s.get("phase")).and_then(Value::as_str);
            phase.unwrap_or("").to_owned()
        })
        .collect()
}

async fn thousand_rollouts(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rss_start = rss_mib();
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
    create(&store, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .await;
    let start = Instant::now();
    for i in 0..n {
        create(&store, rollout(i)).await;
    }
    println!("created {n} Rollouts in {:.2} s", start.elapsed().as_secs_f64());

    // The real runtime: watches, caches, work queue, 2 workers; a kubelet stand-in.
    let shutdown = Shutdown::new();
    let controller = tokio::spawn(run_rollout_controller(store.clone(), shutdown.clone()));
    let kube = {
        let store = store.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !shutdown.is_triggered() {
                kubelet(&store).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    wave(&store, n, "initial deploy (create RS, scale, promote)", "Healthy", Instant::now()).await;
    println!(
        "RSS with {n} Rollouts, {} ReplicaSets, runtime caches: {:.1} MiB (+{:.1} MiB)",
        2 * n,
        rss_mib(),
        rss_mib() - rss_start
    );

    // One pass as `reconcile_rollout` runs it without the runtime's caches (it lists the
    // namespace's ReplicaSets from the store): the no-op resync cost.
    let sample = n.min(200);
    let start = Instant::now();
    for i in 0..sample {
        reconcile_rollout(store.as_ref(), Some(NS), &format!("app-{i}"), now())
            .await
            .expect("pass");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "no-op pass reading the store ({} ReplicaSets listed per pass): {:.0} passes/s",
        2 * n,
        sample as f64 / secs
    );

    let start = Instant::now();
    for i in 0..n {
        let patch = Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:v2"}]}}}}));
        store
            .patch(&rt("rollouts"), Some(NS), &format!("app-{i}"), &patch, Subresource::Main)
            .await
            .expect("update");
    }
    wave(&store, n, "update to the first pause (new RS, scale, step)", "Paused", start).await;
    let start = Instant::now();
    for i in 0..n {
        let patch = Patch::Merge(json!({"status": {"pauseConditions": null}}));
        store
            .patch(&rt("rollouts"), Some(NS), &format!("app-{i}"), &patch, Subresource::Status)
            .await
            .expect("promote");
    }
    wave(&store, n, "promotion (step, scale, promote, scale down)", "Healthy", start).await;
    println!("RSS at the end: {:.1} MiB", rss_mib());
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(30), controller).await;
    let _ = kube.await;
}

/// Waits until all `n` rollouts are in `phase`; prints the wave's rate.
async fn wave(store: &Store, n: usize, what: &str, phase: &str, start: Instant) {
    loop {
        let phases = phases(store).await;
        if phases.len() == n && phases.iter().all(|p| p == phase) {
            break;
        }
        if start.elapsed() > Duration::from_secs(900) {
            println!("{what}: not all {phase} after 900 s");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{what}: {n} Rollouts {phase} in {secs:.2} s = {:.0} Rollouts/s", n as f64 / secs);
}

/// A backend answering every request with `body`.
fn backend(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, body));
        }
    });
    port
}

fn serve(mut stream: TcpStream, body: &str) {
    let mut buf = [0u8; 4096];
    let mut request = Vec::new();
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if request.windows(4).any(|w| w == b"\r\n\r\n") {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            request.clear();
        }
    }
}

fn ask(mesh: SocketAddr) -> String {
    let Ok(mut stream) = TcpStream::connect(mesh) else { return String::new() };
    let head =
        "GET http://web.bench:8080/ HTTP/1.1\r\nHost: web.bench:8080\r\nConnection: close\r\n\r\n";
    let _ = stream.write_all(head.as_bytes());
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.rsplit("\r\n\r\n").next().unwrap_or("").to_owned()
}

async fn weight_to_proxy(trials: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
    let config = ProxyConfig {
        listeners: vec![ListenerConfig::mesh("127.0.0.1:0".parse().expect("addr"))],
        ..ProxyConfig::default()
    };
    let proxy = Arc::new(Proxy::start(config, &RouteTable::default()).await.expect("proxy"));
    let mesh = proxy.addr(Role::Mesh).expect("mesh listener");
    let shutdown = Shutdown::new();
    tokio::spawn(weir_mesh::run_mesh_controller(
        store.as_ref().clone(),
        proxy.clone(),
        shutdown.clone(),
    ));

    create(&store, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .await;
    create(
        &store,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]}}),
    )
    .await;
    for (hash, body) in [("h1", "stable"), ("h2", "canary")] {
        let port = backend(body);
        create(
            &store,
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{hash}"),
                "labels": {"app": "web", "rollouts-pod-template-hash": hash},
                "annotations": {weir_mesh::HOST_PORTS_ANNOTATION:
                    json!({"web": {"8080": port}}).to_string()}},
            "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 8080}]}]}}),
        )
        .await;
        let status = Patch::Merge(json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}}));
        store
            .patch(&rt("pods"), Some(NS), &format!("web-{hash}"), &status, Subresource::Status)
            .await
            .expect("ready");
    }
    create(
        &store,
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
        "metadata": {"name": "web"},
        "spec": {"host": "web", "subsets": [
            {"name": "stable", "labels": {"rollouts-pod-template-hash": "h1"}},
            {"name": "canary", "labels": {"rollouts-pod-template-hash": "h2"}}]}}),
    )
    .await;
    let vs = |canary: i64| {
        json!({"http": [{"name": "primary", "route": [
        {"destination": {"host": "web", "subset": "stable"}, "weight": 100 - canary},
        {"destination": {"host": "web", "subset": "canary"}, "weight": canary}]}]})
    };
    create(
        &store,
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
        "metadata": {"name": "web"}, "spec": with_hosts(vs(0))}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::task::spawn_blocking(move || ask(mesh)).await.expect("ask") != "stable" {
        assert!(Instant::now() < deadline, "the mesh never served the stable backend");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut samples = Vec::with_capacity(trials);
    for trial in 0..trials {
        let (canary, want) = if trial % 2 == 0 { (100, "canary") } else { (0, "stable") };
        // A merge patch (the mesh controller writes the VirtualService's status meanwhile).
        let patch = Patch::Merge(json!({"spec": with_hosts(vs(canary))}));
        let start = Instant::now();
        store
            .patch(&rt("virtualservices"), Some(NS), "web", &patch, Subresource::Main)
            .await
            .expect("write weights");
        let seen = tokio::task::spawn_blocking(move || {
            loop {
                if ask(mesh) == want {
                    return start.elapsed();
                }
                if start.elapsed() > Duration::from_secs(10) {
                    return start.elapsed();
                }
            }
        })
        .await
        .expect("probe");
        samples.push(seen);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| {
        samples
            [((samples.len() as f64 * p).ceil() as usize).saturating_sub(1).min(samples.len() - 1)]
    };
    println!(
        "weight write → proxy serving it ({trials} flips): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(samples[samples.len() - 1])
    );
    shutdown.trigger();
}

fn with_hosts(mut spec: Value) -> Value {
    spec["hosts"] = json!(["web"]);
    spec
}

fn main() {
    let n: usize = std::env::var("ROLLOUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("RSS at start: {:.1} MiB", rss_mib());
    runtime.block_on(weight_to_proxy(200));
    runtime.block_on(thousand_rollouts(n));
}
