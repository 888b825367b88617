//! PATCH with strategic merge patch and server-side apply over HTTP, as kubectl and kube-rs
//! send them: raw requests (content types, `fieldManager`/`force`, 201 on create, the
//! `Status` of a conflict) and `weir-client`'s `Patch::Strategic`/`Patch::Apply`.

use std::sync::Arc;

use serde_json::{Value, json};
use weir_client::Client;
use weir_cluster::{Cluster, Error, Patch, Registry, ResourceType, Subresource};
use weir_server::Resources;
use weir_server::api::{ApiState, router};
use weir_store::{Store, StoreOptions};

const TOKEN: &str = "test-token";

async fn start() -> (String, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), StoreOptions::default()).unwrap();
    // The namespace the tests write in exists, as on a cluster.
    let namespace = weir_cluster::Object::new("v1", "Namespace", None, "ns");
    store.create(&rt("namespaces"), namespace).await.unwrap();
    let resources = Resources::load(dir.path().join("resource-types.json"), &store).await;
    let state = ApiState::new(store.clone(), resources, TOKEN.to_owned());
    let app = router(Arc::new(state.with_discovery(store)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let client = Client::new(&base, TOKEN);
    (base, client, dir)
}

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).unwrap().clone()
}

async fn patch(base: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .patch(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

const DEPLOYMENT_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ns
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
";

#[tokio::test]
async fn server_side_apply_creates_conflicts_and_forces() {
    let (base, client, _dir) = start().await;
    let path = "/apis/apps/v1/namespaces/ns/deployments/web";
    let yaml = "application/apply-patch+yaml";

    let (code, status) = patch(&base, path, yaml, DEPLOYMENT_YAML).await;
    assert_eq!(code, 422, "no fieldManager: {status}");
    assert_eq!(status["reason"], "Invalid");

    let (code, created) =
        patch(&base, &format!("{path}?fieldManager=kubectl"), yaml, DEPLOYMENT_YAML).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["managedFields"][0]["manager"], "kubectl");
    assert_eq!(created["metadata"]["managedFields"][0]["operation"], "Apply");

    let (code, same) =
        patch(&base, &format!("{path}?fieldManager=kubectl"), yaml, DEPLOYMENT_YAML).await;
    assert_eq!(code, 200);
    assert_eq!(same["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

    let other = DEPLOYMENT_YAML.replace("replicas: 2", "replicas: 5");
    let (code, status) = patch(&base, &format!("{path}?fieldManager=hpa"), yaml, &other).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "field": ".spec.replicas", "message": "conflict with \"kubectl\""}])
    );

    let (code, forced) =
        patch(&base, &format!("{path}?fieldManager=hpa&force=true"), yaml, &other).await;
    assert_eq!(code, 200, "{forced}");
    assert_eq!(forced["spec"]["replicas"], 5);
    assert_eq!(forced["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");

    let renamed = DEPLOYMENT_YAML.replace("name: web", "name: api");
    let (code, status) =
        patch(&base, &format!("{path}?fieldManager=kubectl"), yaml, &renamed).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "the name of the object (api) does not match the name on the URL (web)"
    );

    // kube-rs' Patch::Apply maps to the same request through the client.
    let deploys = rt("deployments");
    let config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 7}});
    let apply =
        |force| Patch::Apply { config: config.clone(), field_manager: "kube-rs".into(), force };
    let err = client
        .patch(&deploys, Some("ns"), "web", &apply(false), Subresource::Main)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ApplyConflict { causes, .. } if causes[0].field == ".spec.replicas"),
        "{err:?}"
    );
    let applied =
        client.patch(&deploys, Some("ns"), "web", &apply(true), Subresource::Main).await.unwrap();
    assert_eq!(applied.data["spec"]["replicas"], 7);
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_and_is_refused_on_custom_resources() {
    let (base, client, _dir) = start().await;
    let deploys = rt("deployments");
    let path = "/apis/apps/v1/namespaces/ns/deployments/web";
    let (code, _) = patch(
        &base,
        &format!("{path}?fieldManager=kubectl"),
        "application/apply-patch+yaml",
        DEPLOYMENT_YAML,
    )
    .await;
    assert_eq!(code, 201);

    let smp = Patch::Strategic(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "sidecar", "image": "busybox"}]}}}}));
    let patched = client.patch(&deploys, Some("ns"), "web", &smp, Subresource::Main).await.unwrap();
    // Merged by name, in `$setElementOrder`'s order (the store also adds the API server's
    // container defaults, such as `terminationMessagePath`).
    let containers = patched.data["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let names_images: Vec<(&Value, &Value)> =
        containers.iter().map(|c| (&c["name"], &c["image"])).collect();
    assert_eq!(
        names_images,
        [(&json!("nginx"), &json!("nginx:1.27")), (&json!("sidecar"), &json!("busybox"))]
    );

    let (code, status) = patch(
        &base,
        path,
        "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["message"], "map: map[image:x] does not contain declared merge key: name");

    let rollouts = rt("rollouts");
    let rollout = weir_cluster::Object::from_value(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "ns"}, "spec": {"replicas": 1}}),
    )
    .unwrap();
    client.create(&rollouts, rollout).await.unwrap();
    let (code, status) = patch(
        &base,
        "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/r",
        "application/strategic-merge-patch+json",
        r#"{"spec":{"replicas":2}}"#,
    )
    .await;
    assert_eq!(code, 415, "{status}");
    assert_eq!(status["reason"], "UnsupportedMediaType");

    let (code, status) = patch(&base, path, "text/plain", "{}").await;
    assert_eq!(code, 415, "{status}");
}
