//! The mesh controller over a real store and a real proxy: objects written to the store become
//! routes that real HTTP requests follow, and a broken VirtualService is reported while the
//! last valid one keeps serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_cluster::{Cluster, Object, Patch, Registry, Subresource};
use weir_proxy::{ListenerConfig, Proxy, ProxyConfig, RouteTable};
use weir_store::{Store, StoreOptions};

/// A tiny HTTP server answering every request with `body`.
async fn upstream(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = socket.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

async fn get_through(proxy_port: u16, host: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", proxy_port)).await.unwrap();
    let request =
        format!("GET http://{host}/ HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

fn object(value: serde_json::Value) -> Object {
    Object::from_value(value).unwrap()
}

async fn create(store: &Store, value: serde_json::Value) {
    let object = object(value);
    let rt = Registry::builtin().for_object(&object.api_version, &object.kind).unwrap();
    let mut status = object.data.get("status").cloned();
    let created = store.create(&rt, object).await.unwrap();
    if let Some(status) = status.take() {
        let patch = Patch::Merge(json!({ "status": status }));
        store
            .patch(&rt, created.namespace(), created.name(), &patch, Subresource::Status)
            .await
            .unwrap();
    }
}

fn pod(name: &str, version: &str, port: u16) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "bookinfo", "labels": {"app": "reviews", "version": version},
                     "annotations": {"weir.dev/host-ports": format!("{{\"reviews\":{{\"9080\":{port}}}}}")}},
        "spec": {"containers": [{"name": "reviews", "image": "reviews", "ports": [{"containerPort": 9080}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// Polls until `check` passes or 20 s pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_in_the_store_become_routes_in_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), StoreOptions::default()).unwrap();
    let config = ProxyConfig {
        listeners: vec![ListenerConfig::mesh("127.0.0.1:0".parse().unwrap())],
        ..ProxyConfig::default()
    };
    let proxy = Arc::new(Proxy::start(config, &RouteTable::default()).await.unwrap());
    let mesh_port = proxy.addr(weir_proxy::Role::Mesh).unwrap().port();
    let shutdown = weir_controller::Shutdown::new();
    let controller = tokio::spawn(weir_mesh::run_mesh_controller(
        store.clone(),
        proxy.clone(),
        shutdown.clone(),
    ));

    let (v1, v2) = (upstream("v1").await, upstream("v2").await);
    create(
        &store,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080, "targetPort": 9080}]}
        }),
    )
    .await;
    create(&store, pod("reviews-1", "v1", v1)).await;
    eventually("the service to answer", || async {
        get_through(mesh_port, "reviews:9080").await.ends_with("v1")
    })
    .await;

    // A VirtualService sends everything to the v2 subset.
    create(&store, pod("reviews-2", "v2", v2)).await;
    create(&store, json!({
        "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}
    }))
    .await;
    create(
        &store,
        json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 0},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 100}
            ]}]}
        }),
    )
    .await;
    eventually("traffic on v2", || async {
        let mut all_v2 = true;
        for _ in 0..5 {
            all_v2 &= get_through(mesh_port, "reviews.bookinfo.svc.cluster.local:9080")
                .await
                .ends_with("v2");
        }
        all_v2
    })
    .await;

    // A broken edit is reported in the VirtualService's status and the last valid routes serve.
    let vs_type = Registry::builtin().for_name("vs").unwrap().clone();
    let broken = Patch::Merge(
        json!({"spec": {"http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}}),
    );
    store.patch(&vs_type, Some("bookinfo"), "reviews", &broken, Subresource::Main).await.unwrap();
    eventually("the problem in status", || async {
        let vs = store.get(&vs_type, Some("bookinfo"), "reviews").await.unwrap();
        vs.data["status"]["conditions"][0]["status"] == "False"
    })
    .await;
    let vs = store.get(&vs_type, Some("bookinfo"), "reviews").await.unwrap();
    let message =
        vs.data["status"]["validationMessages"][0]["description"].as_str().unwrap().to_owned();
    assert!(message.contains("subset \"v3\""), "{message}");
    assert!(get_through(mesh_port, "reviews:9080").await.ends_with("v2"));

    // A DestinationRule setting that cannot be served is reported in the rule's own status.
    let dr_type = Registry::builtin().for_name("dr").unwrap().clone();
    let bad_policy = Patch::Merge(
        json!({"spec": {"trafficPolicy": {"outlierDetection": {"interval": "soon"}}}}),
    );
    store
        .patch(&dr_type, Some("bookinfo"), "reviews", &bad_policy, Subresource::Main)
        .await
        .unwrap();
    eventually("the DestinationRule's problem in status", || async {
        let dr = store.get(&dr_type, Some("bookinfo"), "reviews").await.unwrap();
        dr.data["status"]["conditions"][0]["status"] == "False"
            && dr.data["status"]["validationMessages"][0]["description"]
                .as_str()
                .is_some_and(|m| m.contains("soon"))
    })
    .await;

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), controller).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_90_10_virtual_service_splits_2000_requests_within_3_points() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), StoreOptions::default()).unwrap();
    let config = ProxyConfig {
        listeners: vec![ListenerConfig::mesh("127.0.0.1:0".parse().unwrap())],
        ..ProxyConfig::default()
    };
    let proxy = Arc::new(Proxy::start(config, &RouteTable::default()).await.unwrap());
    let mesh_port = proxy.addr(weir_proxy::Role::Mesh).unwrap().port();
    let shutdown = weir_controller::Shutdown::new();
    let controller = tokio::spawn(weir_mesh::run_mesh_controller(
        store.clone(),
        proxy.clone(),
        shutdown.clone(),
    ));

    // The routing objects exist before any pod, so every table with endpoints has the split.
    create(
        &store,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080, "targetPort": 9080}]}
        }),
    )
    .await;
    create(&store, json!({
        "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}
    }))
    .await;
    create(
        &store,
        json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10}
            ]}]}
        }),
    )
    .await;
    let (v1, v2) = (upstream("v1").await, upstream("v2").await);
    create(&store, pod("reviews-1", "v1", v1)).await;
    create(&store, pod("reviews-2", "v2", v2)).await;
    // Both subsets have their endpoint once both versions answer.
    let (mut seen_v1, mut seen_v2) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(seen_v1 && seen_v2) {
        assert!(Instant::now() < deadline, "timed out waiting for both versions to answer");
        let response = get_through(mesh_port, "reviews:9080").await;
        seen_v1 |= response.ends_with("v1");
        seen_v2 |= response.ends_with("v2");
        if !(seen_v1 && seen_v2) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    let (mut n1, mut n2, mut other) = (0u32, 0u32, 0u32);
    for _ in 0..2000 {
        let response = get_through(mesh_port, "reviews.bookinfo:9080").await;
        if response.ends_with("v1") {
            n1 += 1;
        } else if response.ends_with("v2") {
            n2 += 1;
        } else {
            other += 1;
        }
    }
    assert_eq!(other, 0, "every request answered by v1 or v2");
    let share_v2 = f64::from(n2) * 100.0 / 2000.0;
    assert!((7.0..=13.0).contains(&share_v2), "v1 {n1}, v2 {n2}: v2 got {share_v2:.1} %");
    let share_v1 = f64::from(n1) * 100.0 / 2000.0;
    assert!((87.0..=93.0).contains(&share_v1), "v1 {n1}, v2 {n2}");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), controller).await.unwrap().unwrap();
}
