//! The OpenAPI documents and tables a real API over a real store serves, read as kubectl reads
//! them: every kind of the registry has a schema in `/openapi/v2` and in its group-version's
//! `/openapi/v3` document; a CRD applied at runtime appears; `as=Table` answers Tables.

use std::sync::Arc;

use serde_json::{Value, json};
use weir_cluster::Registry;
use weir_server::Resources;
use weir_server::api::{ApiState, router};
use weir_store::Store;

const TOKEN: &str = "test-token";

struct Api {
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // The namespace the tests write in exists, as on a cluster (`weir up` makes it).
    let namespaces = Registry::builtin().for_name("namespaces").cloned().unwrap();
    let default = weir_cluster::Object::new("v1", "Namespace", None, "default");
    weir_cluster::Cluster::create(&store, &namespaces, default).await.unwrap();
    let resources = Resources::load(dir.path().join("resource-types.json"), &store).await;
    let state = ApiState::new(store.clone(), resources, TOKEN.to_owned());
    let app = router(Arc::new(state.with_discovery(store.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), _dir: dir }
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
async fn kubectl_protobuf_v2_request_is_answered_and_stale_hashes_redirect() {
    let api = start().await;
    let response =
        api.get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    let bytes = response.bytes().await.unwrap();
    // Document.swagger (field 1, length-delimited) is "2.0".
    assert_eq!(&bytes[..5], b"\x0a\x032.0");
    let refused = api.get("/openapi/v2", "application/yaml").await;
    assert_eq!(refused.status(), 406);
    let status: Value = refused.json().await.unwrap();
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
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}],
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
    let crontab = api
        .http
        .post(format!("{}/apis/stable.example.com/v1/namespaces/default/crontabs", api.base))
        .bearer_auth(TOKEN)
        .json(&json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "nightly", "namespace": "default"}, "spec": {"cronSpec": "0 3 * * *"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(crontab.status(), 201);
    let table: Value = api
        .get("/apis/stable.example.com/v1/namespaces/default/crontabs", KUBECTL_TABLE)
        .await
        .json()
        .await
        .unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Spec"]);
    assert_eq!(table["rows"][0]["cells"], json!(["nightly", "0 3 * * *"]));
    let v2 = api.json("/openapi/v2").await;
    assert!(has_gvk(
        &v2["definitions"]["com.example.stable.v1.CronTab"],
        "stable.example.com",
        "v1",
        "CronTab"
    ));
}

const KUBECTL_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

#[tokio::test]
async fn as_table_answers_tables_for_get_list_and_watch() {
    let api = start().await;
    let created = api
        .http
        .post(format!("{}/api/v1/namespaces/default/configmaps", api.base))
        .bearer_auth(TOKEN)
        .json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1", "b": "2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let list: Value =
        api.get("/api/v1/namespaces/default/configmaps", KUBECTL_TABLE).await.json().await.unwrap();
    assert_eq!(list["kind"], "Table");
    assert_eq!(list["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> = list["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Data", "Age"]);
    assert_eq!(list["rows"][0]["cells"][0], "settings");
    assert_eq!(list["rows"][0]["cells"][1], 2);
    assert_eq!(list["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert!(list["metadata"]["resourceVersion"].as_str().is_some_and(|rv| !rv.is_empty()));

    let one: Value = api
        .get("/api/v1/namespaces/default/configmaps/settings?includeObject=Object", KUBECTL_TABLE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["rows"][0]["object"]["data"]["b"], "2");

    let plain: Value = api
        .get("/api/v1/namespaces/default/configmaps", "application/json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["kind"], "ConfigMapList");

    let bad =
        api.get("/api/v1/namespaces/default/configmaps?includeObject=All", KUBECTL_TABLE).await;
    assert_eq!(bad.status(), 400);
    let missing = api.get("/api/v1/namespaces/default/configmaps/nothing", KUBECTL_TABLE).await;
    assert_eq!(missing.status(), 404);
    let status: Value = missing.json().await.unwrap();
    assert_eq!(status["kind"], "Status");

    // A Rollout list uses the CRD's printer columns.
    let rollouts: Value = api
        .get("/apis/argoproj.io/v1alpha1/namespaces/default/rollouts", KUBECTL_TABLE)
        .await
        .json()
        .await
        .unwrap();
    let columns: Vec<&str> = rollouts["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Desired", "Current", "Up-to-date", "Available", "Age"]);

    // `kubectl get cm -w`: the first event is a Table with its columns.
    let mut watch = api
        .get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0", KUBECTL_TABLE)
        .await;
    assert_eq!(watch.status(), 200);
    let mut buffer = Vec::new();
    while !buffer.contains(&b'\n') {
        let chunk = watch.chunk().await.unwrap().expect("the watch sends the existing object");
        buffer.extend_from_slice(&chunk);
    }
    let end = buffer.iter().position(|b| *b == b'\n').unwrap();
    let event: Value = serde_json::from_slice(&buffer[..end]).unwrap();
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["kind"], "Table");
    assert_eq!(event["object"]["rows"][0]["cells"][0], "settings");
    assert_eq!(event["object"]["columnDefinitions"][1]["name"], "Data");
}

/// What `kubectl apply` sends once the v3 document declares `fieldValidation` (kubectl 1.37
/// adds `fieldValidation=Strict` by default), and the API server's answers.
#[tokio::test]
async fn field_validation_refuses_or_warns_about_unknown_fields() {
    let api = start().await;
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 1, "bogus": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "unknownField": "x"}]}}}
    });
    let collection = format!("{}/apis/apps/v1/namespaces/default/deployments", api.base);
    let strict = api
        .http
        .post(format!("{collection}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict"))
        .bearer_auth(TOKEN)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(strict.status(), 400);
    let status: Value = strict.json().await.unwrap();
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: \
         unknown field \"spec.bogus\", unknown field \"spec.template.spec.containers[0].unknownField\""
    );
    let absent =
        api.get("/apis/apps/v1/namespaces/default/deployments/web", "application/json").await;
    assert_eq!(absent.status(), 404, "nothing was stored");

    let warned = api
        .http
        .post(format!("{collection}?fieldValidation=Warn"))
        .bearer_auth(TOKEN)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(warned.status(), 201);
    let warnings: Vec<&str> =
        warned.headers().get_all("warning").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(
        warnings,
        [
            "299 - \"unknown field \\\"spec.bogus\\\"\"",
            "299 - \"unknown field \\\"spec.template.spec.containers[0].unknownField\\\"\""
        ]
    );

    // Without the parameter weir does not check (see `field_validation`).
    let unchecked = api
        .http
        .put(format!("{collection}/web"))
        .bearer_auth(TOKEN)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert!(unchecked.headers().get("warning").is_none());

    let patch = api
        .http
        .patch(format!("{collection}/web?fieldValidation=Strict"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":2,"paused":true,"minReadySecond":3}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 400);
    let status: Value = patch.json().await.unwrap();
    assert_eq!(status["message"], "strict decoding error: unknown field \"spec.minReadySecond\"");

    let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"strategy": {"canary": {"steps": [{"setWeigth": 10}]}}}});
    let refused = api
        .http
        .post(format!(
            "{}/apis/argoproj.io/v1alpha1/namespaces/default/rollouts?fieldValidation=Strict",
            api.base
        ))
        .bearer_auth(TOKEN)
        .json(&rollout)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let status: Value = refused.json().await.unwrap();
    assert_eq!(
        status["message"],
        "Rollout in version \"v1alpha1\" cannot be handled as a Rollout: strict decoding error: \
         unknown field \"spec.strategy.canary.steps[0].setWeigth\""
    );
    let invalid = api
        .http
        .post(format!("{collection}?fieldValidation=Loud"))
        .bearer_auth(TOKEN)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
}
