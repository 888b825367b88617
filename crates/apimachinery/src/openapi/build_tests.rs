//! The documents built from the embedded data, for a few served kinds of each origin.

use serde_json::{Value, json};

use super::*;

fn kind(group: &str, versions: &[&str], kind: &str, plural: &str) -> ServedKind {
    ServedKind {
        group: group.to_owned(),
        versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
        namespaced: true,
    }
}

fn kinds() -> Vec<ServedKind> {
    vec![
        kind("", &["v1"], "Pod", "pods"),
        kind("apps", &["v1"], "Deployment", "deployments"),
        kind("argoproj.io", &["v1alpha1"], "Rollout", "rollouts"),
        kind(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "VirtualService",
            "virtualservices",
        ),
        kind("example.com", &["v1"], "Tenant", "tenants"),
    ]
}

fn v3(documents: &Documents, path: &str) -> Value {
    serde_json::from_slice(&documents.v3(path).unwrap().json).unwrap()
}

#[test]
fn the_v3_index_lists_every_served_group_version() {
    let documents = build(&kinds(), &[]).unwrap();
    let index = documents.v3_index();
    let paths: Vec<&String> = index["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "api/v1",
            "apis/apps/v1",
            "apis/argoproj.io/v1alpha1",
            "apis/example.com/v1",
            "apis/networking.istio.io/v1",
            "apis/networking.istio.io/v1alpha3",
            "apis/networking.istio.io/v1beta1"
        ]
    );
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/openapi/v3/apis/apps/v1?hash={}", documents.v3("apis/apps/v1").unwrap().hash)
    );
}

/// `kubectl explain rollout.spec.strategy.canary.steps` walks this.
#[test]
fn the_rollout_schema_is_the_crds_with_its_group_version_kind() {
    let documents = build(&kinds(), &[]).unwrap();
    let doc = v3(&documents, "apis/argoproj.io/v1alpha1");
    let rollout = &doc["components"]["schemas"]["io.argoproj.v1alpha1.Rollout"];
    assert_eq!(
        rollout["x-kubernetes-group-version-kind"],
        json!([{"group": "argoproj.io", "kind": "Rollout", "version": "v1alpha1"}])
    );
    let steps = &rollout["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]
        ["steps"];
    assert_eq!(steps["type"], "array");
    assert!(steps["items"]["properties"]["setWeight"].is_object());
    // metadata is the API server's ObjectMeta, published in the same document.
    assert_eq!(
        rollout["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(
        doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object()
    );
    assert!(doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.Time"].is_object());
}

/// kubectl sends `fieldValidation=Strict` only when the kind's PATCH operation declares it, and
/// computes a strategic merge patch only when that operation accepts one.
#[test]
fn patch_operations_declare_field_validation_and_their_patch_types() {
    let documents = build(&kinds(), &[]).unwrap();
    let patch_of = |doc: &Value, path: &str| doc["paths"][path]["patch"].clone();
    let apps = v3(&documents, "apis/apps/v1");
    let deployment = patch_of(&apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    let argo = v3(&documents, "apis/argoproj.io/v1alpha1");
    let rollout =
        patch_of(&argo, "/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}");
    for op in [&deployment, &rollout] {
        let params = op["parameters"].as_array().unwrap();
        assert!(
            params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
            "{op}"
        );
    }
    assert_eq!(rollout["x-kubernetes-group-version-kind"]["kind"], "Rollout");
    let content = |op: &Value| -> Vec<String> {
        op["requestBody"]["content"].as_object().unwrap().keys().cloned().collect()
    };
    assert!(content(&deployment).contains(&"application/strategic-merge-patch+json".to_owned()));
    assert!(!content(&rollout).contains(&"application/strategic-merge-patch+json".to_owned()));
    assert!(content(&rollout).contains(&"application/merge-patch+json".to_owned()));
}

#[test]
fn every_served_version_has_its_own_schema() {
    let documents = build(&kinds(), &[]).unwrap();
    for version in ["v1", "v1beta1", "v1alpha3"] {
        let doc = v3(&documents, &format!("apis/networking.istio.io/{version}"));
        let name = format!("io.istio.networking.{version}.VirtualService");
        let schema = &doc["components"]["schemas"][&name];
        assert_eq!(schema["x-kubernetes-group-version-kind"][0]["version"], version);
        assert!(
            schema["properties"]["spec"]["properties"]["http"]["items"]["properties"]["route"]
                .is_object()
        );
    }
}

#[test]
fn v2_has_every_kind_with_its_group_version_kind_and_only_served_paths() {
    let documents = build(&kinds(), &[]).unwrap();
    let v2: Value = serde_json::from_slice(documents.v2()).unwrap();
    let definitions = v2["definitions"].as_object().unwrap();
    for (name, kind) in [
        ("io.k8s.api.core.v1.Pod", "Pod"),
        ("io.k8s.api.apps.v1.Deployment", "Deployment"),
        ("io.argoproj.v1alpha1.Rollout", "Rollout"),
        ("io.istio.networking.v1alpha3.VirtualService", "VirtualService"),
        ("com.example.v1.Tenant", "Tenant"),
    ] {
        assert_eq!(definitions[name]["x-kubernetes-group-version-kind"][0]["kind"], kind, "{name}");
    }
    // Swagger 2.0 has no anyOf: the CRD's int-or-string fields lose it.
    assert!(!documents_contain(&definitions["io.argoproj.v1alpha1.Rollout"], "anyOf"));
    let paths = v2["paths"].as_object().unwrap();
    assert!(paths.contains_key("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"));
    assert!(
        paths.contains_key(
            "/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}/scale"
        )
    );
    assert!(!paths.contains_key("/apis/apps/v1/namespaces/{namespace}/statefulsets"));
    assert!(!paths.keys().any(|p| p.starts_with("/apis/storage.k8s.io/")));
}

#[test]
fn a_kind_without_a_schema_is_open_and_a_runtime_crd_is_used() {
    let tenant_crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "spec": {"group": "example.com", "names": {"kind": "Tenant", "plural": "tenants"},
            "scope": "Namespaced", "versions": [{"name": "v1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"owner": {"type": "string"}}}}}}}]}
    });
    let open = build(&kinds(), &[]).unwrap();
    let schema =
        &v3(&open, "apis/example.com/v1")["components"]["schemas"]["com.example.v1.Tenant"];
    assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
    let declared = build(&kinds(), &[tenant_crd]).unwrap();
    let schema =
        &v3(&declared, "apis/example.com/v1")["components"]["schemas"]["com.example.v1.Tenant"];
    assert_eq!(schema["properties"]["spec"]["properties"]["owner"]["type"], "string");
    assert_ne!(
        open.v3("apis/example.com/v1").unwrap().hash,
        declared.v3("apis/example.com/v1").unwrap().hash
    );
}

fn documents_contain(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || documents_contain(v, key)),
        Value::Array(items) => items.iter().any(|v| documents_contain(v, key)),
        _ => false,
    }
}
