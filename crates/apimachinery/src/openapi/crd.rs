//! Custom kinds in the OpenAPI documents: the CRD that declares a kind (applied at runtime, or
//! built in), its published schema (the `openAPIV3Schema` with `apiVersion`, `kind` and
//! `metadata` as the apiextensions server rewrites them) and its paths.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ServedKind;
use crate::data;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The built-in CRDs, parsed (2.5 MB of JSON: parsed when needed, not kept).
pub fn builtin_crds() -> Vec<Value> {
    serde_json::from_str(data::BUILTIN_CRDS).unwrap_or_default()
}

/// The CRDs in force: runtime ones over the built-in ones, found by group and kind.
#[derive(Debug)]
pub struct Catalog {
    crds: Vec<Value>,
    by_group_kind: BTreeMap<(String, String), usize>,
}

impl Catalog {
    /// A catalog of `runtime` CRD objects over the built-in ones.
    pub fn new(runtime: &[Value]) -> Self {
        let mut crds = builtin_crds();
        crds.extend(runtime.iter().cloned());
        let mut by_group_kind = BTreeMap::new();
        for (index, crd) in crds.iter().enumerate() {
            let group = crd.pointer("/spec/group").and_then(Value::as_str);
            let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str);
            if let (Some(group), Some(kind)) = (group, kind) {
                by_group_kind.insert((group.to_owned(), kind.to_owned()), index);
            }
        }
        Catalog { crds, by_group_kind }
    }

    /// The CRD of a kind.
    pub fn get(&self, group: &str, kind: &str) -> Option<&Value> {
        let index = self.by_group_kind.get(&(group.to_owned(), kind.to_owned()))?;
        self.crds.get(*index)
    }

    /// The CRD's entry for `version`, or (schemas are identical across Istio's versions) the
    /// first version that has a schema.
    pub fn version(&self, group: &str, kind: &str, version: &str) -> Option<&Value> {
        let versions = self.get(group, kind)?.pointer("/spec/versions")?.as_array()?;
        versions
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
            .or_else(|| versions.iter().find(|v| v.pointer("/schema/openAPIV3Schema").is_some()))
    }
}

/// The published name of a custom kind's schema: the group reversed, the version, the kind
/// (`io.argoproj.v1alpha1.Rollout`), as the apiextensions server names it.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// One served version of a custom kind.
#[derive(Debug)]
pub(super) struct CustomKind<'k> {
    kind: &'k ServedKind,
    version: &'k str,
    schema: Option<Value>,
    status: bool,
    scale: bool,
}

impl<'k> CustomKind<'k> {
    pub(super) fn new(kind: &'k ServedKind, version: &'k str, catalog: &Catalog) -> Self {
        let entry = catalog.version(&kind.group, &kind.kind, version);
        let schema = entry.and_then(|e| e.pointer("/schema/openAPIV3Schema")).cloned();
        let has =
            |sub: &str| entry.and_then(|e| e.pointer(&format!("/subresources/{sub}"))).is_some();
        CustomKind { kind, version, schema, status: has("status"), scale: has("scale") }
    }

    fn gvk(&self, kind: &str) -> Value {
        json!([{ "group": self.kind.group, "kind": kind, "version": self.version }])
    }

    fn name(&self) -> String {
        definition_name(&self.kind.group, self.version, &self.kind.kind)
    }

    /// The kind's schema and its list's, in v3 form.
    pub(super) fn schemas(&self) -> Vec<(String, Value)> {
        let mut schema = match &self.schema {
            Some(Value::Object(map)) => map.clone(),
            _ => {
                let mut open = Map::new();
                open.insert("x-kubernetes-preserve-unknown-fields".to_owned(), json!(true));
                open
            }
        };
        schema.insert("type".to_owned(), json!("object"));
        let properties = schema.entry("properties").or_insert_with(|| json!({}));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert(
                "apiVersion".to_owned(),
                json!({ "description": API_VERSION_DESCRIPTION, "type": "string" }),
            );
            properties.insert(
                "kind".to_owned(),
                json!({ "description": KIND_DESCRIPTION, "type": "string" }),
            );
            properties.insert(
                "metadata".to_owned(),
                json!({
                    "allOf": [{ "$ref": format!("#/components/schemas/{OBJECT_META}") }],
                    "description": METADATA_DESCRIPTION,
                }),
            );
        }
        schema.insert("x-kubernetes-group-version-kind".to_owned(), self.gvk(&self.kind.kind));

        let list_kind = format!("{}List", self.kind.kind);
        let list = json!({
            "description": format!("{list_kind} is a list of {}", self.kind.kind),
            "required": ["items"],
            "type": "object",
            "properties": {
                "apiVersion": { "description": API_VERSION_DESCRIPTION, "type": "string" },
                "items": {
                    "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", self.kind.plural),
                    "type": "array",
                    "items": { "$ref": format!("#/components/schemas/{}", self.name()) },
                },
                "kind": { "description": KIND_DESCRIPTION, "type": "string" },
                "metadata": {
                    "allOf": [{ "$ref": format!("#/components/schemas/{LIST_META}") }],
                    "description": LIST_METADATA_DESCRIPTION,
                },
            },
            "x-kubernetes-group-version-kind": self.gvk(&list_kind),
        });
        vec![(self.name(), Value::Object(schema)), (format!("{}List", self.name()), list)]
    }

    /// The kind's paths, in v2 form (converted with the built-in paths for v3).
    pub(super) fn paths(&self) -> Vec<(String, Value)> {
        let base = super::group_version_path(&self.kind.group, self.version);
        let plural = &self.kind.plural;
        let collection = if self.kind.namespaced {
            format!("/{base}/namespaces/{{namespace}}/{plural}")
        } else {
            format!("/{base}/{plural}")
        };
        let item = format!("{collection}/{{name}}");
        let object = format!("#/definitions/{}", self.name());
        let list = format!("#/definitions/{}List", self.name());
        let mut scope_params = vec![json!({
            "name": "pretty", "in": "query", "type": "string", "uniqueItems": true,
            "description": "If 'true', then the output is pretty printed.",
        })];
        if self.kind.namespaced {
            scope_params.push(json!({
                "name": "namespace", "in": "path", "required": true, "type": "string",
                "uniqueItems": true, "description": "object name and auth scope, such as for teams and projects",
            }));
        }
        let mut item_params = scope_params.clone();
        item_params.push(json!({
            "name": "name", "in": "path", "required": true, "type": "string", "uniqueItems": true,
            "description": format!("name of the {}", self.kind.kind),
        }));

        let mut paths = Vec::new();
        if self.kind.namespaced {
            paths.push((
                format!("/{base}/{plural}"),
                json!({
                    "get": self.op("list", "list", &format!("list objects of kind {}", self.kind.kind), &list, list_params(), &["*/*"]),
                    "parameters": [scope_params[0]],
                }),
            ));
        }
        let write_params = || vec![dry_run(), field_manager(), field_validation()];
        paths.push((
            collection,
            json!({
                "get": self.op("list", "list", &format!("list objects of kind {}", self.kind.kind), &list, list_params(), &["*/*"]),
                "post": self.op("create", "post", &format!("create a {}", self.kind.kind), &object, with_body(write_params(), &object), &["*/*"]),
                "delete": self.op("deletecollection", "deletecollection", &format!("delete collection of {}", self.kind.kind), "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Status", list_params(), &["*/*"]),
                "parameters": scope_params,
            }),
        ));
        let patch_types = [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ];
        let patch_params = || {
            let mut params = write_params();
            params.push(json!({
                "name": "force", "in": "query", "type": "boolean", "uniqueItems": true,
                "description": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
            }));
            with_body(params, "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
        };
        paths.push((
            item.clone(),
            json!({
                "get": self.op("read", "get", &format!("read the specified {}", self.kind.kind), &object, vec![], &["*/*"]),
                "put": self.op("replace", "put", &format!("replace the specified {}", self.kind.kind), &object, with_body(write_params(), &object), &["*/*"]),
                "patch": self.op("patch", "patch", &format!("partially update the specified {}", self.kind.kind), &object, patch_params(), &patch_types),
                "delete": self.op("delete", "delete", &format!("delete a {}", self.kind.kind), "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Status", vec![dry_run()], &["*/*"]),
                "parameters": item_params.clone(),
            }),
        ));
        if self.status {
            paths.push((
                format!("{item}/status"),
                json!({
                    "get": self.op("readStatus", "get", &format!("read status of the specified {}", self.kind.kind), &object, vec![], &["*/*"]),
                    "put": self.op("replaceStatus", "put", &format!("replace status of the specified {}", self.kind.kind), &object, with_body(write_params(), &object), &["*/*"]),
                    "patch": self.op("patchStatus", "patch", &format!("partially update status of the specified {}", self.kind.kind), &object, patch_params(), &patch_types),
                    "parameters": item_params.clone(),
                }),
            ));
        }
        if self.scale {
            let scale = "#/definitions/io.k8s.api.autoscaling.v1.Scale";
            let mut get = self.op(
                "readScale",
                "get",
                &format!("read scale of the specified {}", self.kind.kind),
                scale,
                vec![],
                &["*/*"],
            );
            let mut put = self.op(
                "replaceScale",
                "put",
                &format!("replace scale of the specified {}", self.kind.kind),
                scale,
                with_body(write_params(), scale),
                &["*/*"],
            );
            let mut patch = self.op(
                "patchScale",
                "patch",
                &format!("partially update scale of the specified {}", self.kind.kind),
                scale,
                patch_params(),
                &patch_types,
            );
            for op in [&mut get, &mut put, &mut patch] {
                op["x-kubernetes-group-version-kind"] =
                    json!({ "group": "autoscaling", "kind": "Scale", "version": "v1" });
            }
            paths.push((
                format!("{item}/scale"),
                json!({ "get": get, "put": put, "patch": patch, "parameters": item_params }),
            ));
        }
        paths
    }

    /// One v2 operation, as the apiextensions server describes it.
    fn op(
        &self,
        verb: &str,
        action: &str,
        description: &str,
        response: &str,
        parameters: Vec<Value>,
        consumes: &[&str],
    ) -> Value {
        let namespaced =
            if self.kind.namespaced && !matches!(verb, "list") { "Namespaced" } else { "" };
        let (verb_word, suffix) = match verb.find(char::is_uppercase) {
            Some(i) => (&verb[..i], &verb[i..]),
            None => (verb, ""),
        };
        let operation_id = format!(
            "{verb_word}{}{}{namespaced}{}{suffix}",
            camel(&self.kind.group),
            camel(self.version),
            self.kind.kind
        );
        json!({
            "consumes": consumes,
            "description": description,
            "operationId": operation_id,
            "parameters": parameters,
            "produces": ["application/json", "application/yaml"],
            "responses": {
                "200": { "description": "OK", "schema": { "$ref": response } },
                "401": { "description": "Unauthorized" },
            },
            "schemes": ["https"],
            "tags": [format!("{}{}", camel(&self.kind.group), camel(self.version))],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": { "group": self.kind.group, "kind": self.kind.kind, "version": self.version },
        })
    }
}

/// `argoproj.io` → `ArgoprojIo`, `v1alpha1` → `V1alpha1`.
fn camel(text: &str) -> String {
    text.split(['.', '-'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn with_body(mut params: Vec<Value>, schema: &str) -> Vec<Value> {
    params.insert(
        0,
        json!({ "in": "body", "name": "body", "required": true, "schema": { "$ref": schema } }),
    );
    params
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "type": kind, "uniqueItems": true, "description": description })
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    )
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
    )
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
        query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_apiextensions_server() {
        assert_eq!(
            definition_name("argoproj.io", "v1alpha1", "Rollout"),
            "io.argoproj.v1alpha1.Rollout"
        );
        assert_eq!(
            definition_name("networking.istio.io", "v1", "VirtualService"),
            "io.istio.networking.v1.VirtualService"
        );
        assert_eq!(camel("networking.istio.io"), "NetworkingIstioIo");
    }

    #[test]
    fn a_version_missing_from_the_crd_reads_the_first_schema() {
        let catalog = Catalog::new(&[]);
        // The embedded Istio CRDs declare v1alpha3 and v1beta1; weir serves v1 as well.
        let v1 = catalog.version("networking.istio.io", "VirtualService", "v1").unwrap();
        assert_eq!(v1["name"], "v1alpha3");
        let beta = catalog.version("networking.istio.io", "VirtualService", "v1beta1").unwrap();
        assert_eq!(beta["name"], "v1beta1");
        assert!(catalog.version("example.com", "Nothing", "v1").is_none());
    }

    #[test]
    fn a_runtime_crd_overrides_a_builtin_one() {
        let runtime = vec![json!({"spec": {"group": "argoproj.io", "names": {"kind": "Rollout"},
            "versions": [{"name": "v1alpha1", "schema": {"openAPIV3Schema": {"type": "object"}}}]}})];
        let catalog = Catalog::new(&runtime);
        assert_eq!(
            catalog.version("argoproj.io", "Rollout", "v1alpha1").unwrap()["schema"]["openAPIV3Schema"],
            json!({"type": "object"})
        );
    }
}
