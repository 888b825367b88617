//! API-server semantics over HTTP, on a real store: field selectors on list and watch, dry
//! runs of every write, paging with consistent snapshots and expiring tokens, list versions,
//! and the watch parameters (`timeoutSeconds`, `sendInitialEvents`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use weir_client::Client;
use weir_cluster::{
    Cluster, FieldSelector, Object, Registry, ResourceType, WatchEvent, WatchParams,
};
use weir_server::Resources;
use weir_server::api::{ApiState, router};
use weir_store::{Store, StoreOptions};

const TOKEN: &str = "test-token";

struct Api {
    base: String,
    client: Client,
    http: reqwest::Client,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn start_with(snapshots: usize) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), StoreOptions::default()).unwrap();
    let resources = Resources::load(dir.path().join("resource-types.json"), &store).await;
    store.create(&rt("namespaces"), Object::new("v1", "Namespace", None, "ns")).await.unwrap();
    let state = ApiState::new(store.clone(), resources, TOKEN.to_owned())
        .with_list_snapshots(Duration::from_secs(300), snapshots);
    let app = router(Arc::new(state.with_discovery(store.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    Api { client: Client::new(&base, TOKEN), base, http: reqwest::Client::new(), store, _dir: dir }
}

async fn start() -> Api {
    start_with(64).await
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let code = response.status().as_u16();
        (code, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .patch(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        (code, response.json().await.unwrap_or(Value::Null))
    }

    /// The lines of a watch response, until the server ends it.
    async fn watch_lines(&self, path: &str) -> Vec<Value> {
        let response =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let text = tokio::time::timeout(Duration::from_secs(20), response.text())
            .await
            .expect("the watch ended by itself")
            .unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).unwrap().clone()
}

fn config_map(name: &str) -> Object {
    Object::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns"}, "data": {"k": name}
    }))
    .unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect()
}

fn event(name: &str, pod: &str, reason: &str) -> Object {
    Object::from_value(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "ns", "apiVersion": "v1"},
        "reason": reason, "type": "Normal", "message": "m", "source": {"component": "kubelet"},
    }))
    .unwrap()
}

#[tokio::test]
async fn field_selectors_filter_lists_and_refuse_unknown_fields() {
    let api = start().await;
    let (cm, ev) = (rt("cm"), rt("events"));
    for name in ["x", "y"] {
        api.store.create(&cm, config_map(name)).await.unwrap();
    }
    api.store.create(&ev, event("web.1", "web", "Started")).await.unwrap();
    api.store.create(&ev, event("db.1", "db", "Started")).await.unwrap();

    let (code, list) =
        api.get("/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Dx").await;
    assert_eq!((code, names(&list)), (200, vec!["x"]));
    // What `kubectl describe pod web` asks for.
    let describe =
        "involvedObject.name%3Dweb,involvedObject.namespace%3Dns,involvedObject.kind%3DPod";
    let (code, list) =
        api.get(&format!("/api/v1/namespaces/ns/events?fieldSelector={describe}")).await;
    assert_eq!((code, names(&list)), (200, vec!["web.1"]));
    let (code, list) = api.get("/api/v1/events?fieldSelector=involvedObject.name!%3Dweb").await;
    assert_eq!((code, names(&list)), (200, vec!["db.1"]));

    let (code, status) = api.get("/api/v1/namespaces/ns/configmaps?fieldSelector=foo%3Dbar").await;
    assert_eq!(code, 400);
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(status["message"], "field label not supported: foo");
    let (code, _) =
        api.get("/api/v1/namespaces/ns/configmaps?watch=true&fieldSelector=foo%3Dbar").await;
    assert_eq!(code, 400, "a watch refuses it too");
}

#[tokio::test]
async fn a_watch_with_a_name_selector_streams_only_that_object() {
    // `kubectl get cm x -w`.
    let api = start().await;
    let cm = rt("cm");
    let params =
        WatchParams { field_selector: Some(FieldSelector::name("x")), ..Default::default() };
    let mut watch = api.client.watch(&cm, Some("ns"), &params).await.unwrap();
    api.client.create(&cm, config_map("y")).await.unwrap();
    api.client.create(&cm, config_map("x")).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next()).await.unwrap();
    let first = first.unwrap().unwrap();
    assert!(matches!(&first, WatchEvent::Added(o) if o.name() == "x"), "{first:?}");
}

#[tokio::test]
async fn dry_runs_answer_every_write_and_store_nothing() {
    let api = start().await;
    let cm = rt("cm");
    let base = "/api/v1/namespaces/ns/configmaps";
    let body = config_map("a").to_value();

    let (code, created) =
        api.send(reqwest::Method::POST, &format!("{base}?dryRun=All"), Some(body.clone())).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["name"], "a");
    assert!(created["metadata"]["uid"].is_string());
    assert_eq!(api.get(&format!("{base}/a")).await.0, 404);
    assert_eq!(api.store.revision(), 1, "only the namespace was written");

    let stored = api.client.create(&cm, config_map("a")).await.unwrap();
    let revision = api.store.revision();
    let mut changed = stored.to_value();
    changed["data"] = json!({"k": "changed"});
    let (code, updated) =
        api.send(reqwest::Method::PUT, &format!("{base}/a?dryRun=All"), Some(changed)).await;
    assert_eq!((code, &updated["data"]["k"]), (200, &json!("changed")));
    assert_eq!(updated["metadata"]["resourceVersion"], json!(stored.resource_version()));
    let (code, patched) =
        api.patch(&format!("{base}/a?dryRun=All"), json!({"data": {"k": "patched"}})).await;
    assert_eq!((code, &patched["data"]["k"]), (200, &json!("patched")));
    let (code, deleted) =
        api.send(reqwest::Method::DELETE, &format!("{base}/a?dryRun=All"), None).await;
    assert_eq!((code, &deleted["metadata"]["name"]), (200, &json!("a")));

    assert_eq!(api.store.get(&cm, Some("ns"), "a").await.unwrap(), stored);
    assert_eq!(api.store.revision(), revision, "nothing was written");

    let (code, status) =
        api.send(reqwest::Method::POST, &format!("{base}?dryRun=Some"), Some(body)).await;
    assert_eq!((code, &status["reason"]), (400, &json!("BadRequest")));
    assert!(status["message"].as_str().unwrap().starts_with("Invalid dry run value"), "{status}");
    // Validation still runs: an invalid name is refused in a dry run too.
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
    let (code, _) = api.send(reqwest::Method::POST, &format!("{base}?dryRun=All"), Some(bad)).await;
    assert_eq!(code, 422);
}

#[tokio::test]
async fn namespaces_must_exist_and_take_their_contents_with_them() {
    let api = start().await;
    let (cm, ns) = (rt("cm"), rt("namespaces"));
    let mut in_missing = config_map("a").to_value();
    in_missing["metadata"]["namespace"] = json!("missing");
    let (code, status) = api
        .send(reqwest::Method::POST, "/api/v1/namespaces/missing/configmaps", Some(in_missing))
        .await;
    assert_eq!((code, &status["reason"]), (404, &json!("NotFound")));
    assert_eq!(status["message"], "namespaces \"missing\" not found");

    let created =
        api.client.create(&ns, Object::new("v1", "Namespace", None, "team")).await.unwrap();
    assert_eq!(created.field("status").unwrap()["phase"], "Active", "defaulted");
    let mut held = config_map("held");
    held.metadata.namespace = Some("team".to_owned());
    held.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    api.client.create(&cm, held).await.unwrap();
    let mut plain = config_map("plain");
    plain.metadata.namespace = Some("team".to_owned());
    api.client.create(&cm, plain).await.unwrap();

    let (code, deleting) = api.send(reqwest::Method::DELETE, "/api/v1/namespaces/team", None).await;
    assert_eq!(code, 202, "{deleting}");
    assert_eq!(deleting["status"]["phase"], "Terminating");
    let left = api.client.list(&cm, Some("team"), &Default::default()).await.unwrap();
    let left: Vec<&str> = left.items.iter().map(Object::name).collect();
    assert_eq!(left, ["held"], "the rest is gone; the finalizer holds one");
    let mut late = config_map("late");
    late.metadata.namespace = Some("team".to_owned());
    let err = api.client.create(&cm, late).await.unwrap_err();
    assert_eq!(err.status(), 403, "{err}");

    // The finalizer goes: the object, then the namespace.
    let patch = weir_cluster::Patch::Merge(json!({"metadata": {"finalizers": null}}));
    api.client
        .patch(&cm, Some("team"), "held", &patch, weir_cluster::Subresource::Main)
        .await
        .unwrap();
    let gone = api.client.get(&ns, None, "team").await.unwrap_err();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn pages_of_one_list_show_one_snapshot() {
    let api = start().await;
    let cm = rt("cm");
    for name in ["a", "b", "c", "d", "e"] {
        api.store.create(&cm, config_map(name)).await.unwrap();
    }
    let base = "/api/v1/namespaces/ns/configmaps";
    let (code, first) = api.get(&format!("{base}?limit=2")).await;
    assert_eq!((code, names(&first)), (200, vec!["a", "b"]));
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    let rv = first["metadata"]["resourceVersion"].clone();
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();

    // Writes between pages do not show in them.
    api.store.delete(&cm, Some("ns"), "c", &Default::default()).await.unwrap();
    api.store.create(&cm, config_map("bb")).await.unwrap();
    let (code, second) = api.get(&format!("{base}?limit=2&continue={token}")).await;
    assert_eq!((code, names(&second)), (200, vec!["c", "d"]));
    assert_eq!(second["metadata"]["resourceVersion"], rv);
    let token2 = second["metadata"]["continue"].as_str().unwrap().to_owned();
    // client-go's pager may keep `resourceVersion=0` beside the token; another version is 400.
    let (code, _) = api.get(&format!("{base}?limit=2&continue={token2}&resourceVersion=5")).await;
    assert_eq!(code, 400);
    let (_, third) = api.get(&format!("{base}?limit=2&continue={token2}&resourceVersion=0")).await;
    assert_eq!(names(&third), ["e"]);
    assert!(third["metadata"].get("continue").is_none());

    // A token belongs to its query.
    let (code, status) =
        api.get(&format!("{base}?limit=2&continue={token}&labelSelector=app%3Dx")).await;
    assert_eq!((code, &status["reason"]), (400, &json!("BadRequest")));
    let (code, _) =
        api.get(&format!("/api/v1/namespaces/other/configmaps?limit=2&continue={token}")).await;
    assert_eq!(code, 400);
    let (code, _) = api.get(&format!("{base}?continue=garbage")).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn an_expired_token_is_410_with_a_token_for_the_remainder() {
    let api = start_with(1).await; // one snapshot: the next paged list evicts the first
    let cm = rt("cm");
    for name in ["a", "b", "c"] {
        api.store.create(&cm, config_map(name)).await.unwrap();
    }
    let base = "/api/v1/namespaces/ns/configmaps";
    let (_, first) = api.get(&format!("{base}?limit=1")).await;
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    api.get(&format!("{base}?limit=1")).await;
    api.store.create(&cm, config_map("bb")).await.unwrap();

    let (code, status) = api.get(&format!("{base}?limit=1&continue={token}")).await;
    assert_eq!((code, &status["reason"], &status["code"]), (410, &json!("Expired"), &json!(410)));
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("The provided continue parameter is too old")
    );
    let remainder = status["metadata"]["continue"].as_str().expect("a token for the remainder");
    let (code, rest) = api.get(&format!("{base}?continue={remainder}")).await;
    assert_eq!((code, names(&rest)), (200, vec!["b", "bb", "c"]), "the current state after a");
}

#[tokio::test]
async fn lists_read_an_exact_version_or_say_why_not() {
    let api = start().await;
    let cm = rt("cm");
    api.store.create(&cm, config_map("a")).await.unwrap();
    let then = api.store.revision();
    api.store.create(&cm, config_map("b")).await.unwrap();
    let base = "/api/v1/namespaces/ns/configmaps";
    let (code, list) =
        api.get(&format!("{base}?resourceVersion={then}&resourceVersionMatch=Exact")).await;
    assert_eq!((code, names(&list)), (200, vec!["a"]));
    assert_eq!(list["metadata"]["resourceVersion"], then.to_string());
    let (code, status) =
        api.get(&format!("{base}?resourceVersion=999&resourceVersionMatch=NotOlderThan")).await;
    assert_eq!((code, &status["reason"]), (504, &json!("Timeout")));
    let (code, list) = api.get(&format!("{base}?resourceVersion=0")).await;
    assert_eq!((code, names(&list)), (200, vec!["a", "b"]));
}

#[tokio::test]
async fn watches_end_after_their_timeout_and_mark_the_end_of_initial_events() {
    let api = start().await;
    let cm = rt("cm");
    for name in ["a", "b"] {
        api.store.create(&cm, config_map(name)).await.unwrap();
    }
    // kube-rs' and client-go's streaming list: initial ADDED events, then the closing bookmark.
    let lines = api
        .watch_lines(
            "/api/v1/namespaces/ns/configmaps?watch=true&sendInitialEvents=true\
             &resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        )
        .await;
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "ADDED", "BOOKMARK"]);
    let bookmark = &lines[2]["object"];
    assert_eq!(bookmark["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(bookmark["metadata"]["resourceVersion"], api.store.revision().to_string());

    let (code, status) =
        api.get("/api/v1/namespaces/ns/configmaps?watch=true&sendInitialEvents=true").await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")));
}

#[tokio::test]
async fn events_are_served_as_core_and_events_k8s_io_objects() {
    let api = start().await;
    let ev = rt("events");
    api.store.create(&ev, event("web.1", "web", "Started")).await.unwrap();
    api.store.create(&ev, event("db.1", "db", "Pulled")).await.unwrap();

    // `kubectl events --for pod/web` style, through events.k8s.io/v1.
    let (code, list) = api
        .get("/apis/events.k8s.io/v1/namespaces/ns/events?fieldSelector=regarding.name%3Dweb")
        .await;
    assert_eq!((code, names(&list)), (200, vec!["web.1"]), "{list}");
    assert_eq!(list["kind"], "EventList");
    assert_eq!(list["apiVersion"], "events.k8s.io/v1");
    let item = &list["items"][0];
    assert_eq!(
        (item["regarding"]["name"].clone(), item["note"].clone()),
        (json!("web"), json!("m"))
    );
    assert_eq!(item["deprecatedSource"]["component"], "kubelet");
    let (code, status) =
        api.get("/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.name%3Dweb").await;
    assert_eq!(
        (code, &status["message"]),
        (400, &json!("field label not supported: involvedObject.name"))
    );

    // Written as events.k8s.io/v1, read back as core/v1.
    let new = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.2", "namespace": "ns"},
        "regarding": {"kind": "Pod", "name": "web", "namespace": "ns"},
        "reason": "Killing", "note": "Stopping container web", "type": "Normal",
        "reportingController": "kubelet", "reportingInstance": "node-1", "action": "Kill",
        "eventTime": "2026-01-01T00:00:00.000000Z",
    });
    let (code, created) = api
        .send(reqwest::Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events", Some(new))
        .await;
    assert_eq!((code, &created["note"]), (201, &json!("Stopping container web")), "{created}");
    let core = api.store.get(&ev, Some("ns"), "web.2").await.unwrap().to_value();
    assert_eq!(core["involvedObject"]["name"], "web");
    assert_eq!(core["message"], "Stopping container web");
    assert_eq!(core["reportingComponent"], "kubelet");
    let describe = "involvedObject.name%3Dweb,involvedObject.kind%3DPod";
    let (_, core_list) =
        api.get(&format!("/api/v1/namespaces/ns/events?fieldSelector={describe}")).await;
    assert_eq!(names(&core_list), ["web.1", "web.2"]);

    let (code, patched) = api
        .patch("/apis/events.k8s.io/v1/namespaces/ns/events/web.2", json!({"note": "changed"}))
        .await;
    assert_eq!((code, &patched["note"]), (200, &json!("changed")));
    assert_eq!(
        api.store.get(&ev, Some("ns"), "web.2").await.unwrap().to_value()["message"],
        "changed"
    );
}

/// Issue 15 item 8: an immutable ConfigMap (or Secret) refuses changes to its data and to
/// `immutable` itself over every write (PUT, merge patch, dry run too) with the API server's
/// 422 Status (`ValidateConfigMapUpdate`'s field causes); labels may still change, and
/// deleting and creating it again is the way to change it.
#[tokio::test]
async fn immutable_config_maps_refuse_data_changes_with_the_api_servers_status() {
    let api = start().await;
    let base = "/api/v1/namespaces/ns/configmaps";
    let mut frozen = config_map("frozen").to_value();
    frozen["immutable"] = json!(true);
    let (code, created) = api.send(reqwest::Method::POST, base, Some(frozen)).await;
    assert_eq!(code, 201, "{created}");
    let revision = api.store.revision();

    let mut changed = created.clone();
    changed["data"] = json!({"k": "changed"});
    let (code, status) =
        api.send(reqwest::Method::PUT, &format!("{base}/frozen"), Some(changed)).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    assert_eq!(status["details"]["causes"][0]["field"], "data");
    let thawed = json!({"immutable": false});
    let (code, status) = api.patch(&format!("{base}/frozen"), thawed.clone()).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "immutable");
    let (code, _) = api.patch(&format!("{base}/frozen?dryRun=All"), thawed).await;
    assert_eq!(code, 422);
    assert_eq!(api.store.revision(), revision, "nothing was written");

    let (code, labelled) =
        api.patch(&format!("{base}/frozen"), json!({"metadata": {"labels": {"a": "b"}}})).await;
    assert_eq!((code, &labelled["metadata"]["labels"]["a"]), (200, &json!("b")));
    assert_eq!(api.send(reqwest::Method::DELETE, &format!("{base}/frozen"), None).await.0, 200);
    let mut again = config_map("frozen").to_value();
    again["data"] = json!({"k": "new"});
    assert_eq!(api.send(reqwest::Method::POST, base, Some(again)).await.0, 201);
}
