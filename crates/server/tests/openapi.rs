//! The OpenAPI documents and tables a real API over a real store serves, read as kubectl reads
//! them: every kind of the registry has a schema in `/openapi/v2` and in its group-version's
//! `/openapi/v3` document; a CRD applied at runtime appears; `as=Table` answers Tables.

use std::sync::Arc;

use serde_json::{Value, json};
use weir_cluster::{Cluster, Object, Registry};
use weir_server::Resources;
use weir_server::api::{ApiState, router};
use weir_store::Store;

const TOKEN: &str = "test-token";

struct Api {
    base: String,
    http: reqwest::Client,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let resources = Resources::load(dir.path().join("resource-types.json"), &store).await;
    let state = ApiState::new(store.clone(), resources, TOKEN.to_owned());
    let app = router(Arc::new(state.with_discovery(store.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), store, _dir: dir }
}

impl Api {
    async fn get(&self, path: &str, accept: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("Accept", accept)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path, "application/json").await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }
}

fn has_gvk(schema: &Value, group: &str, version: &str, kind: &str) -> bool {
    schema["x-kubernetes-group-version-kind"].as_array().is_some_and(|gvks| {
        gvks.iter().any(|g| g["group"] == group && g["version"] == version && g["kind"] == kind)
    })
}

#[tokio::test]
async fn every_registry_kind_has_a_schema_in_v2_and_v3() {
    let api = start().await;
    let v2 = api.json("/openapi/v2").await;
    let definitions = v2["definitions"].as_object().unwrap();
    let index = api.json("/openapi/v3").await;
    for rt in Registry::builtin().iter() {
        for version in &rt.versions {
            assert!(
                definitions.values().any(|d| has_gvk(d, &rt.group, version, &rt.kind)),
                "no v2 definition for {}/{version} {}",
                rt.group,
                rt.kind
            );
            let gv = if rt.group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{}/{version}", rt.group)
            };
            let url = index["paths"][&gv]["serverRelativeURL"].as_str().unwrap();
            let document = api.json(url).await;
            let schemas = document["components"]["schemas"].as_object().unwrap();
            assert!(
                schemas.values().any(|s| has_gvk(s, &rt.group, version, &rt.kind)),
                "no v3 schema for {}/{version} {}",
                rt.group,
                rt.kind
            );
        }
    }
    // What `kubectl explain rollout.spec.strategy.canary.steps` walks.
    let url = index["paths"]["apis/argoproj.io/v1alpha1"]["serverRelativeURL"].as_str().unwrap();
    let argo = api.json(url).await;
    let rollout = &argo["components"]["schemas"]["io.argoproj.v1alpha1.Rollout"];
    let steps = &rollout["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]
        ["steps"];
    assert_eq!(steps["type"], "array", "{steps}");
}

#[tokio::test]
async fn kubectl_protobuf_v2_request_is_refused_and_stale_hashes_redirect() {
    let api = start().await;
    let response =
        api.get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").await;
    assert_eq!(response.status(), 406);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["reason"], "NotAcceptable");

    let index = api.json("/openapi/v3").await;
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().to_owned();
    let current = api.get(&url, "application/json").await;
    assert_eq!(current.headers()["cache-control"], "public, immutable");
    let etag = current.headers()["etag"].to_str().unwrap().to_owned();
    let again = api
        .http
        .get(format!("{}{url}", api.base))
        .bearer_auth(TOKEN)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let no_redirect =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let stale = no_redirect
        .get(format!("{}/openapi/v3/apis/apps/v1?hash=0", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 301);
    assert_eq!(stale.headers()["location"], url.as_str());
    assert_eq!(api.get("/openapi/v3/apis/nothing/v1", "application/json").await.status(), 404);
    let anonymous = api.http.get(format!("{}/openapi/v3", api.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_crd_applied_at_runtime_appears_in_the_documents() {
    let api = start().await;
    let before = api.json("/openapi/v3").await;
    assert!(before["paths"].get("apis/stable.example.com/v1").is_none());
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {"group": "stable.example.com", "scope": "Namespaced",
            "names": {"kind": "CronTab", "plural": "crontabs", "singular": "crontab"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}}}}]}
    });
    let response = api
        .http
        .post(format!("{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", api.base))
        .bearer_auth(TOKEN)
        .json(&crd)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let after = api.json("/openapi/v3").await;
    let url = after["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].as_str().unwrap();
    let document = api.json(url).await;
    let schema = &document["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert_eq!(schema["properties"]["spec"]["properties"]["cronSpec"]["type"], "string");
    let v2 = api.json("/openapi/v2").await;
    assert!(has_gvk(
        &v2["definitions"]["com.example.stable.v1.CronTab"],
        "stable.example.com",
        "v1",
        "CronTab"
    ));
}
