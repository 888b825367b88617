//! The HTTP API over a real store, driven through `weir-client` (so both ends of the wire
//! are tested): status codes, Kubernetes `Status` errors, patches, deletes and watches.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use weir_client::Client;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, LabelSelector, ListParams, Object, Patch,
    PropagationPolicy, Registry, ResourceType, Subresource, WatchEvent, WatchParams,
};
use weir_server::Resources;
use weir_server::api::{ApiState, router};
use weir_store::{Store, StoreOptions};

const TOKEN: &str = "test-token";

struct Api {
    client: Client,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn start(options: StoreOptions) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), options).unwrap();
    let resources = Resources::load(dir.path().join("resource-types.json"), &store).await;
    // As on a cluster, objects are created in namespaces that exist.
    let namespaces = Registry::builtin().for_name("namespaces").unwrap().clone();
    store.create(&namespaces, Object::new("v1", "Namespace", None, "ns")).await.unwrap();
    let state = ApiState::new(store.clone(), resources, TOKEN.to_owned());
    let app = router(Arc::new(state.with_discovery(store.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api { client: Client::new(&format!("http://{addr}"), TOKEN), store, _dir: dir }
}

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).unwrap().clone()
}

fn object(value: serde_json::Value) -> Object {
    Object::from_value(value).unwrap()
}

fn config_map(name: &str, data: serde_json::Value) -> Object {
    object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": name}},
        "data": data
    }))
}

#[tokio::test]
async fn crud_conflicts_and_patches_keep_kubernetes_semantics() {
    let api = start(StoreOptions::default()).await;
    let cm = rt("cm");
    let created = api.client.create(&cm, config_map("a", json!({"k": "v"}))).await.unwrap();
    assert!(!created.uid().is_empty());
    assert_eq!(created.metadata.generation, Some(1));

    let again = api.client.create(&cm, config_map("a", json!({}))).await.unwrap_err();
    assert!(matches!(again, Error::AlreadyExists { .. }), "{again:?}");

    // A write with the resourceVersion we read succeeds; a second one with the same (now stale)
    // version is a conflict.
    let mut first = created.clone();
    first.data.insert("data".into(), json!({"k": "w"}));
    let updated = api.client.update(&cm, first).await.unwrap();
    assert_eq!(updated.metadata.generation, Some(2));
    let mut stale = created.clone();
    stale.data.insert("data".into(), json!({"k": "x"}));
    let conflict = api.client.update(&cm, stale).await.unwrap_err();
    assert!(matches!(conflict, Error::Conflict { .. }), "{conflict:?}");
    assert_eq!(conflict.status(), 409);

    let merged = api
        .client
        .patch(&cm, Some("ns"), "a", &Patch::Merge(json!({"data": {"n": "1"}})), Subresource::Main)
        .await
        .unwrap();
    assert_eq!(merged.data["data"], json!({"k": "w", "n": "1"}));
    let ops = serde_json::from_value(json!([{"op": "remove", "path": "/data/k"}])).unwrap();
    let patched =
        api.client.patch(&cm, Some("ns"), "a", &Patch::Json(ops), Subresource::Main).await.unwrap();
    assert_eq!(patched.data["data"], json!({"n": "1"}));

    api.client.create(&cm, config_map("b", json!({}))).await.unwrap();
    let selected = api
        .client
        .list(&cm, Some("ns"), &ListParams::labels(LabelSelector::parse("app in (b,c)").unwrap()))
        .await
        .unwrap();
    assert_eq!(selected.items.iter().map(Object::name).collect::<Vec<_>>(), ["b"]);

    let missing = api.client.get(&cm, Some("ns"), "zzz").await.unwrap_err();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn status_writes_leave_spec_and_generation_alone() {
    let api = start(StoreOptions::default()).await;
    let ro = rt("ro");
    let rollout = object(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": "r"}}, "strategy": {"canary": {}},
                 "template": {"metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }));
    let created = api.client.create(&ro, rollout).await.unwrap();
    let patched = api
        .client
        .patch(
            &ro,
            Some("ns"),
            "r",
            &Patch::Merge(json!({"status": {"phase": "Healthy"}, "spec": {"replicas": 9}})),
            Subresource::Status,
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"], json!({"phase": "Healthy"}));
    assert_eq!(patched.data["spec"], created.data["spec"]);
    assert_eq!(patched.metadata.generation, Some(1));
}

#[tokio::test]
async fn malformed_typed_objects_are_rejected_with_every_field_named() {
    let api = start(StoreOptions::default()).await;
    let ro = rt("ro");
    let bad = object(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"replicas": "three"}
    }));
    let error = api.client.create(&ro, bad).await.unwrap_err();
    let Error::Invalid { causes, .. } = &error else { panic!("expected Invalid, got {error:?}") };
    assert_eq!(error.status(), 422);
    assert!(causes.iter().any(|c| c.field.contains("spec.replicas")), "{causes:?}");

    // A body whose kind does not match the path is a bad request, not a silent write.
    let wrong_kind = config_map("c", json!({}));
    let error = api.client.create(&ro, wrong_kind).await.unwrap_err();
    assert_eq!(error.status(), 400, "{error:?}");

    // A patch that would make a typed object malformed is refused the same way, and nothing
    // is written.
    let good = object(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"replicas": 3}
    }));
    let created = api.client.create(&ro, good).await.unwrap();
    let patch = Patch::Merge(json!({"spec": {"replicas": "three"}}));
    let error =
        api.client.patch(&ro, Some("ns"), "r", &patch, Subresource::Main).await.unwrap_err();
    let Error::Invalid { causes, .. } = &error else { panic!("expected Invalid, got {error:?}") };
    assert!(causes.iter().any(|c| c.field.contains("spec.replicas")), "{causes:?}");
    let after = api.client.get(&ro, Some("ns"), "r").await.unwrap();
    assert_eq!(after.metadata.resource_version, created.metadata.resource_version);
}

#[tokio::test]
async fn unknown_kinds_are_stored_as_generic_objects() {
    let api = start(StoreOptions::default()).await;
    let tenant = object(json!({
        "apiVersion": "api.tsb.tetrate.io/v2", "kind": "Tenant",
        "metadata": {"name": "tse", "namespace": "ns"}, "spec": {"displayName": "x"}
    }));
    let tenant_type = ResourceType::guess("api.tsb.tetrate.io/v2", "Tenant");
    api.client.create(&tenant_type, tenant).await.unwrap();
    let registry = api.client.resources().await.unwrap();
    let learned = registry.for_name("tenants").expect("the kind is learned");
    let back = api.client.get(learned, Some("ns"), "tse").await.unwrap();
    assert_eq!(back.data["spec"], json!({"displayName": "x"}));

    // A kind a controller wrote straight into the store (as the Application controller
    // does) is served too, with its scope.
    let group_type = ResourceType::guess("gateway.tsb.tetrate.io/v2", "Group");
    let group = object(json!({
        "apiVersion": "gateway.tsb.tetrate.io/v2", "kind": "Group",
        "metadata": {"name": "g", "namespace": "ns"}, "spec": {"configMode": "DIRECT"}
    }));
    api.store.create(&group_type, group).await.unwrap();
    let back = api.client.get(&group_type, Some("ns"), "g").await.unwrap();
    assert_eq!(back.data["spec"], json!({"configMode": "DIRECT"}));
    let registry = api.client.resources().await.unwrap();
    let learned = registry.for_object("gateway.tsb.tetrate.io/v2", "Group");
    assert!(
        learned.as_ref().is_some_and(|rt| rt.namespaced() && rt.plural == "groups"),
        "{learned:?}"
    );
    let missing = ResourceType::guess("gateway.tsb.tetrate.io/v2", "Nothing");
    let error = api.client.get(&missing, Some("ns"), "g").await.unwrap_err();
    assert_eq!(error.status(), 404);
}

#[tokio::test]
async fn deletes_collect_dependents_and_honour_finalizers() {
    let api = start(StoreOptions::default()).await;
    let (cm, secret) = (rt("cm"), rt("secret"));
    let owner = api.client.create(&cm, config_map("owner", json!({}))).await.unwrap();
    let dependent = object(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "dep", "namespace": "ns", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid()}
        ]}
    }));
    api.client.create(&secret, dependent).await.unwrap();
    let outcome = api
        .client
        .delete(
            &cm,
            Some("ns"),
            "owner",
            &DeleteParams {
                propagation_policy: PropagationPolicy::Foreground,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(outcome, DeleteOutcome::Deleted(_) | DeleteOutcome::Pending(_)));
    assert_eq!(api.client.get(&secret, Some("ns"), "dep").await.unwrap_err().status(), 404);

    let mut held = config_map("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.client.create(&cm, held).await.unwrap();
    let pending =
        api.client.delete(&cm, Some("ns"), "held", &DeleteParams::default()).await.unwrap();
    let DeleteOutcome::Pending(pending) = pending else {
        panic!("finalizer should hold the object")
    };
    assert!(pending.metadata.deletion_timestamp.is_some());
    api.client
        .patch(
            &cm,
            Some("ns"),
            "held",
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            Subresource::Main,
        )
        .await
        .unwrap();
    assert_eq!(api.client.get(&cm, Some("ns"), "held").await.unwrap_err().status(), 404);
}

#[tokio::test]
async fn watches_stream_resume_and_expire_over_http() {
    let api = start(StoreOptions { event_retention: 5, ..StoreOptions::default() }).await;
    let cm = rt("cm");
    api.client.create(&cm, config_map("first", json!({}))).await.unwrap();
    let list = api.client.list(&cm, Some("ns"), &ListParams::default()).await.unwrap();
    assert_ne!(list.resource_version, "0");
    let mut watch = api
        .client
        .watch(
            &cm,
            Some("ns"),
            &WatchParams {
                resource_version: Some(list.resource_version.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    api.client.create(&cm, config_map("w", json!({}))).await.unwrap();
    let event = watch.next().await.unwrap().unwrap();
    let WatchEvent::Added(added) = &event else { panic!("expected ADDED, got {event:?}") };
    assert_eq!(added.name(), "w");
    let resume_from = event.resource_version().unwrap().to_owned();
    drop(watch);

    // Changes made while nobody watches are replayed on resume.
    api.client
        .patch(&cm, Some("ns"), "w", &Patch::Merge(json!({"data": {"k": "1"}})), Subresource::Main)
        .await
        .unwrap();
    let mut resumed = api
        .client
        .watch(
            &cm,
            Some("ns"),
            &WatchParams { resource_version: Some(resume_from), ..Default::default() },
        )
        .await
        .unwrap();
    let event = resumed.next().await.unwrap().unwrap();
    assert!(matches!(event, WatchEvent::Modified(_)), "{event:?}");

    // Once the store no longer retains a version, the watch says so instead of skipping events.
    for i in 0..20 {
        api.client.create(&cm, config_map(&format!("x{i}"), json!({}))).await.unwrap();
    }
    let expired = api
        .client
        .watch(
            &cm,
            Some("ns"),
            &WatchParams { resource_version: Some(list.resource_version), ..Default::default() },
        )
        .await;
    let error = match expired {
        Err(e) => e,
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
    };
    assert!(matches!(error, Error::Expired { .. }), "{error:?}");
}

#[tokio::test]
async fn requests_without_the_token_are_refused() {
    let api = start(StoreOptions::default()).await;
    let intruder = Client::new(api.client.base(), "not-the-token");
    let error = intruder.list(&rt("cm"), Some("ns"), &ListParams::default()).await.unwrap_err();
    assert_eq!(error, Error::Unauthorized);
}

/// The API's port as `weir up` serves it (TLS-or-plain listener, header-read timeout,
/// connection cap), with limits small enough for a test.
async fn serve_limited(limits: weir_server::ListenerLimits) -> (weir_server::ApiServer, Client) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let server = weir_server::serve_store_with_limits(store, dir.path(), limits).await.unwrap();
    let token = std::fs::read_to_string(server.token_path()).unwrap();
    let client = Client::new(&format!("http://{}", server.addr()), token.trim());
    // The data directory is kept by the server's files for the test's life.
    std::mem::forget(dir);
    (server, client)
}

/// Reads until the server closes the connection (end of stream or a reset).
async fn closed_by_server(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    // A guard so a regression fails instead of hanging; the server's timeout is far shorter.
    let guard = std::time::Duration::from_secs(60);
    let closed = tokio::time::timeout(guard, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                // hyper may answer 408 before closing.
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
}

/// Issue 16, item 1: more idle connections than the cap (which made the API stop answering
/// at 1,100 connections under a 1,024-descriptor limit) do not lock the API out: the silent
/// ones are closed after the header-read timeout and a normal request is then served.
#[tokio::test]
async fn a_flood_of_idle_connections_does_not_lock_the_api_out() {
    let limits = weir_server::ListenerLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        max_connections: 8,
    };
    let (server, client) = serve_limited(limits).await;
    let mut idle = Vec::new();
    for _ in 0..3 * limits.max_connections {
        idle.push(tokio::net::TcpStream::connect(server.addr()).await.unwrap());
    }
    // Served once the idle ones are closed, however long that takes on a loaded machine.
    let namespaces = Registry::builtin().for_name("namespaces").unwrap().clone();
    let listed = client.list(&namespaces, None, &ListParams::default()).await;
    assert!(listed.is_ok(), "{listed:?}");
    // Every idle connection was closed by the server (those accepted after the first ones
    // went too, each after its own timeout).
    for stream in &mut idle {
        closed_by_server(stream).await;
    }
    server.stop().await;
}

/// Issue 16, item 1: a client that sends part of a request head and then nothing (slowloris)
/// is disconnected after the header-read timeout; one that sends nothing at all too, and one
/// that stays idle after a request (the keep-alive idle timeout).
#[tokio::test]
async fn slowloris_connections_are_closed_after_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt;
    let limits = weir_server::ListenerLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        ..weir_server::ListenerLimits::default()
    };
    let (server, client) = serve_limited(limits).await;
    let mut slow = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    // One served request, then the kept-alive connection stays idle.
    let mut kept_alive = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    closed_by_server(&mut slow).await;
    closed_by_server(&mut silent).await;
    closed_by_server(&mut kept_alive).await;
    // The server itself is still serving.
    let namespaces = Registry::builtin().for_name("namespaces").unwrap().clone();
    assert!(client.list(&namespaces, None, &ListParams::default()).await.is_ok());
    server.stop().await;
}

/// Issue 16, item 6: a body over the API's 4 MiB limit gets the `Status` kube-apiserver gives
/// (reason `RequestEntityTooLarge`, code 413), not a plain-text line; nothing is stored.
#[tokio::test]
async fn a_body_over_the_limit_gets_a_request_entity_too_large_status() {
    let api = start(StoreOptions::default()).await;
    let data = "x".repeat(weir_server::api::MAX_BODY_BYTES + 1);
    let body = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "huge", "namespace": "ns"}, "data": {"big": data},
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/namespaces/ns/configmaps", api.client.base()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "RequestEntityTooLarge");
    assert_eq!(status["code"], 413);
    let message = status["message"].as_str().unwrap();
    assert!(message.contains(&weir_server::api::MAX_BODY_BYTES.to_string()), "{message}");
    let error = api.client.get(&rt("cm"), Some("ns"), "huge").await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

/// Issue 16, item 1, as a user meets it: with the API port flooded past its connection cap
/// (`DEFAULT_MAX_CONNECTIONS` idle connections and more), `weir up`'s gateway still answers
/// (each listener has its own cap), and the API answers again once the idle connections are
/// closed by its header-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_api_port_leaves_the_gateway_serving() {
    // Client and server share this process: both ends of every idle connection need a
    // descriptor, which a hard limit of 1,024 cannot give.
    let hard_limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
    if hard_limit.is_some_and(|limit| limit < 4096) {
        eprintln!("skipped: the hard open-file limit ({hard_limit:?}) is under 4,096");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = weir_server::UpConfig {
        data_dir: dir.path().join("data"),
        port: 0,
        gateway_port: 0,
        mesh_port: 0,
        metrics_port: 0,
        app_resync: std::time::Duration::from_secs(120),
        app_resync_jitter: std::time::Duration::from_secs(1),
        plugins: Vec::new(),
        image_map: Default::default(),
        seed: Vec::new(),
        controllers: weir_server::ControllerSet::None,
    };
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let weir = tokio::spawn(weir_server::up(
        config,
        move |started| {
            let _ = started_tx.send(started.endpoints.clone());
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let endpoints = started_rx.await.unwrap();
    let api_addr = endpoints.api.trim_start_matches("http://").to_owned();
    let gateway = endpoints.gateway.clone().unwrap();

    let mut idle = Vec::new();
    for _ in 0..weir_server::DEFAULT_MAX_CONNECTIONS + 50 {
        idle.push(tokio::net::TcpStream::connect(&api_addr).await.unwrap());
    }
    // The gateway routes nothing here: any HTTP answer (404 from the proxy) shows it serves.
    let through_gateway = reqwest::get(format!("{gateway}/")).await.unwrap();
    assert_eq!(through_gateway.status().as_u16(), 404);
    // The API answers once the idle connections are closed (after its header-read timeout).
    let token = std::fs::read_to_string(&endpoints.token_file).unwrap();
    let client = Client::new(&endpoints.api, token.trim());
    let namespaces = Registry::builtin().for_name("namespaces").unwrap().clone();
    let listed = client.list(&namespaces, None, &ListParams::default()).await;
    assert!(listed.is_ok(), "{listed:?}");
    drop(idle);
    let _ = stop_tx.send(());
    weir.await.unwrap().unwrap();
}

/// Issue 16, item 7: what the API server refuses is refused over HTTP with its `Status`
/// (422 with `details.causes`, or 400 for a bad `labelSelector`), on create and on patch, and
/// nothing is stored.
#[tokio::test]
async fn inputs_the_api_server_refuses_get_its_status_and_nothing_is_stored() {
    let api = start(StoreOptions::default()).await;
    let http = reqwest::Client::new();
    let base = api.client.base().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}")).bearer_auth(TOKEN).json(&body).send()
    };
    let deployment = |name: &str, replicas: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    };
    let long_ns = "n".repeat(253);
    let cases = [
        (
            "/api/v1/namespaces/ns/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a..b"}}),
            "metadata.name",
            "Invalid value: \"a..b\": a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": long_ns}}),
            "metadata.name",
            "must be no more than 63 characters",
        ),
        (
            "/api/v1/namespaces/ns/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "x", "annotations": {"x<script>": "1"}}}),
            "metadata.annotations",
            "Invalid value: \"x<script>\": name part must consist of alphanumeric characters",
        ),
        (
            "/apis/apps/v1/namespaces/ns/deployments",
            deployment("neg", -1),
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
    ];
    for (path, body, field, message) in cases {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status().as_u16(), 422, "{path} {field}");
        let status: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status["reason"], "Invalid", "{status}");
        let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
        assert!(
            causes.iter().any(|c| c["field"] == field
                && c["message"].as_str().is_some_and(|m| m.contains(message))),
            "{status:#}"
        );
    }
    for (kind, name) in [("cm", "a..b"), ("cm", "x"), ("deployments", "neg")] {
        let error = api.client.get(&rt(kind), Some("ns"), name).await.unwrap_err();
        assert!(matches!(error, Error::NotFound { .. }), "{kind}/{name}: {error:?}");
    }

    // A patch to a negative count is refused and the stored object keeps its replicas.
    assert_eq!(
        post("/apis/apps/v1/namespaces/ns/deployments", deployment("web", 2))
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    let patch = Patch::Merge(json!({"spec": {"replicas": -1}}));
    let error =
        api.client.patch(&rt("deployments"), Some("ns"), "web", &patch, Subresource::Main).await;
    assert!(matches!(&error, Err(Error::Invalid { .. })), "{error:?}");
    let stored = api.store.get(&rt("deployments"), Some("ns"), "web").await.unwrap();
    assert_eq!(stored.to_value()["spec"]["replicas"], 2);

    // A malformed labelSelector is a 400 with the API server's message.
    let response = http
        .get(format!("{base}/api/v1/namespaces/ns/configmaps?labelSelector=a%3D%3Db%3D%3Dc"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["message"], "found '==', expected: ',' or 'end of string'");
}
