//! The OpenAPI documents an API server publishes, built from the embedded Kubernetes document
//! and the CustomResourceDefinitions of the kinds weir serves:
//!
//! - `/openapi/v2`: the Kubernetes swagger document, its paths narrowed to the served kinds,
//!   plus a definition (with `x-kubernetes-group-version-kind`) and paths for every custom kind;
//! - `/openapi/v3`: an index of group-versions, and one OpenAPI 3.0 document per group-version
//!   (`components.schemas` as the API server names them, custom kinds with their CRD's
//!   `openAPIV3Schema` as written, `x-kubernetes-*` extensions kept).
//!
//! kubectl reads the v3 documents for `explain`, for the strategic merge patch of
//! `apply`/`diff`/`edit` (a PATCH operation whose request body accepts
//! `application/strategic-merge-patch+json`), and to learn that the server validates fields
//! itself (a `fieldValidation` query parameter on the kind's PATCH operation).
//!
//! [`build`] is a pure function of the served kinds and the CRDs: the server calls it once per
//! registry change and serves the bytes.

mod convert;
pub mod crd;
mod proto;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::data;

/// One kind the server serves, as its registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedKind {
    /// API group, `""` for the core group.
    pub group: String,
    /// Every served version, preferred first.
    pub versions: Vec<String>,
    /// Kind, e.g. `Rollout`.
    pub kind: String,
    /// Lower-case plural used in paths.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

/// Why the documents could not be built (only an embedded document that does not parse).
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The embedded Kubernetes document is not the JSON object it should be.
    #[error("the embedded Kubernetes OpenAPI document is invalid: {0}")]
    EmbeddedDocument(String),
}

/// One rendered OpenAPI v3 document of a group-version.
#[derive(Debug, Clone)]
pub struct GroupVersionDocument {
    /// The JSON document.
    pub json: Vec<u8>,
    /// A stable hash of `json` (upper-case hex), the `hash` of its `serverRelativeURL`.
    pub hash: String,
}

/// Every OpenAPI document of one registry state, rendered.
#[derive(Debug, Clone)]
pub struct Documents {
    v2: Vec<u8>,
    v2_protobuf: Vec<u8>,
    v2_hash: String,
    v3: BTreeMap<String, GroupVersionDocument>,
}

impl Documents {
    /// The `/openapi/v2` JSON document.
    pub fn v2(&self) -> &[u8] {
        &self.v2
    }

    /// The `/openapi/v2` document as gnostic's `openapi.v2.Document` protobuf message (what
    /// client-go's `OpenAPISchema()` asks for).
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2_protobuf
    }

    /// A hash of the v2 document (for `ETag`).
    pub fn v2_hash(&self) -> &str {
        &self.v2_hash
    }

    /// The `/openapi/v3` index: `{"paths": {"apis/apps/v1": {"serverRelativeURL": …}}}`.
    pub fn v3_index(&self) -> Value {
        let paths: Map<String, Value> = self
            .v3
            .iter()
            .map(|(path, doc)| {
                let url = format!("/openapi/v3/{path}?hash={}", doc.hash);
                (path.clone(), json!({ "serverRelativeURL": url }))
            })
            .collect();
        json!({ "paths": paths })
    }

    /// The v3 document of `path` (`api/v1`, `apis/apps/v1`).
    pub fn v3(&self, path: &str) -> Option<&GroupVersionDocument> {
        self.v3.get(path.trim_matches('/'))
    }

    /// The group-version paths that have a v3 document.
    pub fn v3_paths(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }
}

/// Builds every document for `kinds`. Custom kinds take their schema from `crds` (CRD objects
/// applied at runtime, as JSON) first, then from the built-in CRDs; a kind with neither gets an
/// open schema (any field kept).
pub fn build(kinds: &[ServedKind], crds: &[Value]) -> Result<Documents, OpenApiError> {
    let mut swagger: Value = serde_json::from_str(data::KUBERNETES_SWAGGER)
        .map_err(|e| OpenApiError::EmbeddedDocument(e.to_string()))?;
    let catalog = crd::Catalog::new(crds);
    let Some(root) = swagger.as_object_mut() else {
        return Err(OpenApiError::EmbeddedDocument("not a JSON object".to_owned()));
    };
    let mut definitions = take_object(root, "definitions");
    let parameters = take_object(root, "parameters");
    let mut paths = take_object(root, "paths");

    let builtin_gvks = gvk_index(&definitions);
    let served: BTreeSet<(String, String)> =
        kinds.iter().map(|k| (k.group.clone(), k.plural.clone())).collect();
    let served_versions: BTreeSet<(String, String)> = kinds
        .iter()
        .flat_map(|k| k.versions.iter().map(|v| (k.group.clone(), v.clone())))
        .collect();
    paths.retain(|path, _| keep_path(path, &served, &served_versions));

    // Custom kinds: a definition per served version (v2-shaped; the v3 schema kept aside) and
    // their paths.
    let mut custom_v3: BTreeMap<String, Value> = BTreeMap::new();
    for kind in kinds {
        for version in &kind.versions {
            let gvk = (kind.group.clone(), version.clone(), kind.kind.clone());
            if builtin_gvks.contains_key(&gvk) {
                continue;
            }
            let custom = crd::CustomKind::new(kind, version, &catalog);
            for (name, schema) in custom.schemas() {
                definitions.insert(name.clone(), convert::downgrade_schema(&schema));
                custom_v3.insert(name, schema);
            }
            for (path, item) in custom.paths() {
                paths.insert(path, item);
            }
        }
    }

    // Peak memory matters (a build runs while the server serves): what is no longer needed
    // goes before the next step.
    drop(catalog);
    let mut v3 = BTreeMap::new();
    for (group, version) in &served_versions {
        let prefix = group_version_path(group, version);
        let gv_paths: Map<String, Value> = paths
            .iter()
            .filter(|(path, _)| path_in_group_version(path, &prefix))
            .map(|(path, item)| (path.clone(), convert::path_item(item, &parameters)))
            .collect();
        if gv_paths.is_empty() {
            continue;
        }
        let schemas = schema_closure(&gv_paths, &definitions, &custom_v3);
        let document = json!({
            "openapi": "3.0.0",
            "info": { "title": "Kubernetes", "version": "unversioned" },
            "paths": gv_paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": { "BearerToken": {
                    "type": "apiKey", "description": "Bearer Token authentication",
                    "name": "authorization", "in": "header"
                } }
            },
            "security": [{ "BearerToken": [] }],
        });
        let json = serde_json::to_vec(&document).unwrap_or_default();
        let hash = content_hash(&json);
        v3.insert(prefix, GroupVersionDocument { json, hash });
    }

    drop(custom_v3);
    root.insert("paths".to_owned(), Value::Object(paths));
    root.insert("definitions".to_owned(), Value::Object(definitions));
    root.insert("parameters".to_owned(), Value::Object(parameters));
    let v2 = serde_json::to_vec(&swagger).unwrap_or_default();
    let v2_hash = content_hash(&v2);
    let v2_protobuf = proto::document(&swagger);
    Ok(Documents { v2, v2_protobuf, v2_hash, v3 })
}

fn take_object(root: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match root.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `(group, version, kind)` → definition name, from `x-kubernetes-group-version-kind`.
fn gvk_index(definitions: &Map<String, Value>) -> BTreeMap<(String, String, String), String> {
    let mut index = BTreeMap::new();
    for (name, definition) in definitions {
        for gvk in gvks_of(definition) {
            // Kinds listed by several definitions (DeleteOptions, WatchEvent): the first wins.
            index.entry(gvk).or_insert_with(|| name.clone());
        }
    }
    index
}

/// The group-version-kinds a schema declares.
pub(crate) fn gvks_of(schema: &Value) -> Vec<(String, String, String)> {
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    schema
        .get("x-kubernetes-group-version-kind")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| (field(g, "group"), field(g, "version"), field(g, "kind")))
        .collect()
}

/// `api/v1` or `apis/G/V`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

fn path_in_group_version(path: &str, prefix: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(prefix))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether a path of the Kubernetes document addresses something weir serves: paths outside
/// `/api` and `/apis` stay, group-version paths stay for served group-versions, resource paths
/// for served resources.
fn keep_path(
    path: &str,
    served: &BTreeSet<(String, String)>,
    served_versions: &BTreeSet<(String, String)>,
) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api"] | ["apis"] => return true,
        ["api", version, rest @ ..] => (("", *version), rest),
        ["apis", group] => return served.iter().any(|(g, _)| g == group),
        ["apis", group, version, rest @ ..] => ((*group, *version), rest),
        _ => return true,
    };
    if !served_versions.contains(&(group.0.to_owned(), group.1.to_owned())) {
        return false;
    }
    let rest = match rest {
        ["watch", rest @ ..] => rest,
        rest => rest,
    };
    let plural = match rest {
        [] => return true,
        ["namespaces", "{namespace}", plural, ..] => *plural,
        [plural, ..] => *plural,
    };
    served.contains(&(group.0.to_owned(), plural.to_owned()))
}

/// The schemas `paths` refer to, transitively, in v3 form.
fn schema_closure(
    paths: &Map<String, Value>,
    definitions: &Map<String, Value>,
    custom_v3: &BTreeMap<String, Value>,
) -> Map<String, Value> {
    let mut pending: Vec<String> = Vec::new();
    for item in paths.values() {
        convert::collect_refs(item, &mut pending);
    }
    let mut schemas = BTreeMap::new();
    while let Some(name) = pending.pop() {
        if schemas.contains_key(&name) {
            continue;
        }
        let schema = match custom_v3.get(&name) {
            Some(schema) => schema.clone(),
            None => match definitions.get(&name) {
                Some(definition) => convert::schema(definition),
                None => continue,
            },
        };
        convert::collect_refs(&schema, &mut pending);
        schemas.insert(name, schema);
    }
    schemas.into_iter().collect()
}

/// FNV-1a (64 bits) as upper-case hex: a stable content hash for cache keys and ETags.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:016X}", weir_gocompat::fnv::fnv1a64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn keeps_only_served_paths() {
        let served = set(&[("apps", "deployments"), ("", "pods"), ("", "namespaces")]);
        let versions = set(&[("apps", "v1"), ("", "v1")]);
        let keep = |p: &str| keep_path(p, &served, &versions);
        assert!(keep("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"));
        assert!(keep("/apis/apps/v1/watch/deployments"));
        assert!(keep("/apis/apps/v1/"));
        assert!(keep("/api/v1/namespaces/{name}"));
        assert!(keep("/api/v1/namespaces/{namespace}/pods"));
        assert!(keep("/version/"));
        assert!(!keep("/apis/apps/v1/namespaces/{namespace}/statefulsets"));
        assert!(!keep("/apis/storage.k8s.io/v1/storageclasses"));
        assert!(!keep("/api/v1/namespaces/{namespace}/configmaps"));
    }

    #[test]
    fn a_path_belongs_to_its_group_version_only() {
        assert!(path_in_group_version("/apis/apps/v1/deployments", "apis/apps/v1"));
        assert!(path_in_group_version("/apis/apps/v1/", "apis/apps/v1"));
        assert!(!path_in_group_version("/apis/apps/v1beta1/x", "apis/apps/v1"));
        assert!(path_in_group_version("/api/v1/pods", "api/v1"));
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a 64 of "" and "a", from the algorithm's published test vectors.
        assert_eq!(content_hash(b""), "CBF29CE484222325");
        assert_eq!(content_hash(b"a"), "AF63DC4C8601EC8C");
    }
}

#[cfg(test)]
mod build_tests;
