//! Server-side field validation (`fieldValidation=Strict|Warn`): the fields of an object (or of
//! a merge or strategic merge patch) that its kind's schema does not declare, with the paths the
//! API server names them by (`spec.template.spec.containers[0].foo`).
//!
//! [`FieldSchemas`] is a compact tree of the declared fields of every served kind, built once
//! per registry change from the same sources as the OpenAPI documents (the Kubernetes document
//! for built-in kinds, the CRDs' `openAPIV3Schema`s for custom kinds); the 3 MB documents are not
//! kept. Fields under `x-kubernetes-preserve-unknown-fields`, `additionalProperties` maps and
//! schemas that declare no properties are open, as pruning treats them.
//!
//! The documents are read into [`schema::Schema`]s that keep only what the check needs (no
//! descriptions), so building the tree never holds the documents' full JSON trees.

mod schema;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::data;
use crate::openapi::ServedKind;
use schema::{Additional, Crd, Schema, Swagger};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

#[derive(Debug, Clone)]
enum Node {
    /// An object with declared properties (`additional`: the schema of other keys, if a map;
    /// `open`: other keys are kept as they are).
    Object { properties: BTreeMap<String, usize>, additional: Option<usize>, open: bool },
    /// A list of `items`.
    Array(usize),
    /// A scalar, or anything not checked further.
    Any,
}

/// The declared fields of every served kind.
#[derive(Debug, Clone, Default)]
pub struct FieldSchemas {
    nodes: Vec<Node>,
    kinds: BTreeMap<(String, String, String), usize>,
}

impl FieldSchemas {
    /// Builds the trees of `kinds`, custom kinds from `crds` (runtime CRD objects) first, then
    /// the built-in CRDs; a kind without a schema is not checked.
    pub fn build(kinds: &[ServedKind], crds: &[Value]) -> Self {
        let swagger: Swagger = serde_json::from_str(data::KUBERNETES_SWAGGER).unwrap_or_default();
        let builtin: Vec<Crd> = serde_json::from_str(data::BUILTIN_CRDS).unwrap_or_default();
        let runtime: Vec<Crd> =
            crds.iter().filter_map(|crd| serde::Deserialize::deserialize(crd).ok()).collect();
        let mut catalog: BTreeMap<(&str, &str), &Crd> = BTreeMap::new();
        for crd in builtin.iter().chain(&runtime) {
            catalog.insert((crd.spec.group.as_str(), crd.spec.names.kind.as_str()), crd);
        }
        let mut by_gvk: BTreeMap<(String, String, String), &str> = BTreeMap::new();
        for (name, definition) in &swagger.definitions {
            for gvk in &definition.group_version_kinds {
                let key = (gvk.group.clone(), gvk.version.clone(), gvk.kind.clone());
                by_gvk.entry(key).or_insert(name);
            }
        }
        let mut builder = Builder {
            nodes: Vec::new(),
            definitions: &swagger.definitions,
            built: BTreeMap::new(),
        };
        let mut schemas = BTreeMap::new();
        for kind in kinds {
            for version in &kind.versions {
                let gvk = (kind.group.clone(), version.clone(), kind.kind.clone());
                let root = if let Some(name) = by_gvk.get(&gvk) {
                    builder.definition(name)
                } else if let Some(schema) = catalog
                    .get(&(kind.group.as_str(), kind.kind.as_str()))
                    .and_then(|crd| crd.schema(version))
                {
                    builder.custom_root(schema)
                } else {
                    continue;
                };
                schemas.insert(gvk, root);
            }
        }
        FieldSchemas { nodes: builder.nodes, kinds: schemas }
    }

    /// Whether `group`/`version` `kind` has a schema here.
    pub fn knows(&self, group: &str, version: &str, kind: &str) -> bool {
        self.kinds.contains_key(&(group.to_owned(), version.to_owned(), kind.to_owned()))
    }

    /// The undeclared fields of `value` (an object, or a merge/strategic patch of one: `$`
    /// directives and `null`s are not fields), in document order; `None` for an unknown kind.
    pub fn unknown_fields(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        value: &Value,
    ) -> Option<Vec<String>> {
        let root = *self.kinds.get(&(group.to_owned(), version.to_owned(), kind.to_owned()))?;
        let mut unknown = Vec::new();
        self.walk(root, value, &mut String::new(), &mut unknown);
        Some(unknown)
    }

    fn walk(&self, node: usize, value: &Value, path: &mut String, unknown: &mut Vec<String>) {
        match (&self.nodes[node], value) {
            (Node::Object { properties, additional, open }, Value::Object(map)) => {
                for (key, child) in map {
                    if key.starts_with('$') {
                        continue;
                    }
                    let next = properties.get(key).or(additional.as_ref()).copied();
                    let length = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    match next {
                        Some(next) => self.walk(next, child, path, unknown),
                        None if *open => {}
                        None => unknown.push(path.clone()),
                    }
                    path.truncate(length);
                }
            }
            (Node::Array(items), Value::Array(values)) => {
                for (index, child) in values.iter().enumerate() {
                    let length = path.len();
                    path.push_str(&format!("[{index}]"));
                    self.walk(*items, child, path, unknown);
                    path.truncate(length);
                }
            }
            _ => {}
        }
    }
}

struct Builder<'d> {
    nodes: Vec<Node>,
    definitions: &'d BTreeMap<String, Schema>,
    built: BTreeMap<String, usize>,
}

impl Builder<'_> {
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// A definition of the Kubernetes document, built once (recursive definitions such as
    /// JSONSchemaProps refer to their own node).
    fn definition(&mut self, name: &str) -> usize {
        if let Some(id) = self.built.get(name) {
            return *id;
        }
        let id = self.push(Node::Any);
        self.built.insert(name.to_owned(), id);
        if let Some(definition) = self.definitions.get(name) {
            let node = self.node(definition);
            self.nodes[id] = node;
        }
        id
    }

    /// A CRD's root: its schema with `apiVersion`, `kind` and `metadata` as the server has them.
    fn custom_root(&mut self, schema: &Schema) -> usize {
        let id = self.schema(schema);
        let meta = self.definition(OBJECT_META);
        let any = self.push(Node::Any);
        let fixed = [("apiVersion", any), ("kind", any), ("metadata", meta)];
        match &mut self.nodes[id] {
            Node::Object { properties, .. } => {
                for (key, node) in fixed {
                    properties.insert(key.to_owned(), node);
                }
            }
            other => {
                *other = Node::Object {
                    properties: fixed.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
                    additional: None,
                    open: true,
                };
            }
        }
        id
    }

    /// The node of a schema: a reference is its definition's node (so recursive definitions
    /// refer to themselves), anything else a new node.
    fn schema(&mut self, schema: &Schema) -> usize {
        match schema.reference() {
            Some(name) => self.definition(name),
            None => {
                let node = self.node(schema);
                self.push(node)
            }
        }
    }

    fn node(&mut self, schema: &Schema) -> Node {
        if let Some(name) = schema.reference() {
            let id = self.definition(name);
            return self.nodes[id].clone();
        }
        if schema.int_or_string == Some(true) {
            return Node::Any;
        }
        if let Some(items) = &schema.items {
            let item = self.schema(items);
            return Node::Array(item);
        }
        let open = schema.preserve_unknown_fields == Some(true);
        let additional = match &schema.additional_properties {
            Some(Additional::Schema(inner)) if !inner.is_empty() => Some(self.schema(inner)),
            Some(Additional::Schema(_)) | Some(Additional::Allowed(true)) => {
                Some(self.push(Node::Any))
            }
            _ => None,
        };
        match &schema.properties {
            Some(properties) if !properties.is_empty() => {
                let properties = properties
                    .iter()
                    .map(|(key, child)| (key.clone(), self.schema(child)))
                    .collect();
                Node::Object { properties, additional, open }
            }
            _ if additional.is_some() => {
                Node::Object { properties: BTreeMap::new(), additional, open }
            }
            // No declared property: nothing to check against (FieldsV1, RawExtension, …).
            _ => Node::Any,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kind(group: &str, version: &str, kind: &str, plural: &str) -> ServedKind {
        ServedKind {
            group: group.to_owned(),
            versions: vec![version.to_owned()],
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced: true,
        }
    }

    fn schemas() -> FieldSchemas {
        FieldSchemas::build(
            &[
                kind("apps", "v1", "Deployment", "deployments"),
                kind("", "v1", "ConfigMap", "configmaps"),
                kind("argoproj.io", "v1alpha1", "Rollout", "rollouts"),
                kind("example.com", "v1", "Tenant", "tenants"),
            ],
            &[],
        )
    }

    #[test]
    fn reports_undeclared_fields_with_the_api_servers_paths() {
        let schemas = schemas();
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "label"}, "annotations": {"a": "b"}},
            "spec": {
                "replicas": 1, "bogus": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"cpu": "1"}}},
                    {"name": "side", "unknownField": "x"}
                ]}}
            },
            "status": {}
        });
        assert_eq!(
            schemas.unknown_fields("apps", "v1", "Deployment", &deployment).unwrap(),
            ["spec.bogus", "spec.template.spec.containers[1].unknownField"]
        );
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"any": "key"}, "extra": true});
        assert_eq!(schemas.unknown_fields("", "v1", "ConfigMap", &config_map).unwrap(), ["extra"]);
        assert!(schemas.unknown_fields("", "v1", "Secret", &config_map).is_none());
    }

    #[test]
    fn a_strategic_merge_patch_is_checked_without_its_directives() {
        // kubectl apply's three-way patch of an edited Deployment.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "web", "image": "v2", "imagePullPolicyy": "Always"}],
            "volumes": null
        }}}});
        assert_eq!(
            schemas().unknown_fields("apps", "v1", "Deployment", &patch).unwrap(),
            ["spec.template.spec.containers[0].imagePullPolicyy"]
        );
    }

    #[test]
    fn custom_kinds_follow_their_crd_schema() {
        let schemas = schemas();
        let rollout = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {"replicas": 2, "strategy": {"canary": {"steps": [
                {"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeigth": 20}
            ]}}, "template": {"spec": {"containers": [{"name": "a", "image": "b"}]}}}
        });
        assert_eq!(
            schemas.unknown_fields("argoproj.io", "v1alpha1", "Rollout", &rollout).unwrap(),
            ["spec.strategy.canary.steps[2].setWeigth"]
        );
        // A learned kind without a CRD is not checked.
        assert!(!schemas.knows("example.com", "v1", "Tenant"));
    }

    /// Manifests people apply to real clusters declare no field their kind's schema lacks:
    /// every object of the demo and of the Argo examples (CRD kinds included) passes; a field
    /// reported there would be a false positive of this check.
    #[test]
    fn real_manifests_have_no_unknown_fields() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
        if !root.is_dir() {
            return;
        }
        let mut objects = Vec::new();
        let mut folders: Vec<_> = ["seed-demo", "argo-rollouts-examples", "argocd-example-apps"]
            .iter()
            .map(|f| root.join(f))
            .collect();
        while let Some(dir) = folders.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("templates") {
                        folders.push(path); // Helm templates are not YAML
                    }
                    continue;
                }
                if !path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for document in serde_yaml_ng::Deserializer::from_str(&text) {
                    let Ok(value) = <Value as serde::Deserialize>::deserialize(document) else {
                        continue;
                    };
                    match value.get("items").and_then(Value::as_array) {
                        Some(items) => {
                            objects.extend(items.iter().map(|i| (path.clone(), i.clone())))
                        }
                        None if value.is_object() => objects.push((path.clone(), value)),
                        None => {}
                    }
                }
            }
        }
        let gvk = |o: &Value| {
            let api_version = o["apiVersion"].as_str().unwrap_or("");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            (group.to_owned(), version.to_owned(), o["kind"].as_str().unwrap_or("").to_owned())
        };
        let served: Vec<ServedKind> = objects
            .iter()
            .map(|(_, o)| gvk(o))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|(group, version, kind)| ServedKind {
                group,
                versions: vec![version],
                plural: format!("{}s", kind.to_lowercase()),
                kind,
                namespaced: true,
            })
            .collect();
        let schemas = FieldSchemas::build(&served, &[]);
        let mut checked = 0;
        for (path, object) in &objects {
            let (group, version, kind) = gvk(object);
            if let Some(unknown) = schemas.unknown_fields(&group, &version, &kind, object) {
                checked += 1;
                assert!(unknown.is_empty(), "{}: {kind} {unknown:?}", path.display());
            }
        }
        assert!(checked > 100, "only {checked} objects checked");
    }
}
