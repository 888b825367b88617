//! The embedded documents still match the shared fixtures they were made from
//! (`data/regenerate.py`); skipped where the fixtures are not beside the repository.

use std::path::PathBuf;

use serde_json::Value;
use weir_apimachinery::data;

fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    dir.is_dir().then_some(dir)
}

#[test]
fn the_kubernetes_document_is_the_fixtures() {
    let Some(fixtures) = fixtures() else { return };
    let text = std::fs::read_to_string(fixtures.join("kubernetes/swagger.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let embedded: Value = serde_json::from_str(data::KUBERNETES_SWAGGER).unwrap();
    assert!(fixture == embedded, "data/kubernetes-swagger.json is stale: run data/regenerate.py");
}

#[test]
fn the_builtin_crds_are_the_fixtures() {
    let Some(fixtures) = fixtures() else { return };
    let embedded: Vec<Value> = serde_json::from_str(data::BUILTIN_CRDS).unwrap();
    let mut expected = Vec::new();
    for folder in ["argo-cd", "argo-rollouts", "gateway-api", "istio"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures.join("crds").join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for document in serde_yaml_ng::Deserializer::from_str(&text) {
                let value: Value = serde::Deserialize::deserialize(document).unwrap();
                if value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                    expected.push(value);
                }
            }
        }
    }
    assert_eq!(embedded.len(), expected.len(), "data/crds.json is stale: run data/regenerate.py");
    for (embedded, expected) in embedded.iter().zip(&expected) {
        assert!(
            embedded == expected,
            "data/crds.json is stale at {}",
            expected["metadata"]["name"]
        );
    }
}
