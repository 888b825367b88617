//! What patching needs to know about a kind's fields, as a compact index built once from the
//! schemas: for every field, how a list merges (strategic merge patch: merge key and strategy;
//! server-side apply: `x-kubernetes-list-type` and map keys), whether a map is atomic, and the
//! `retainKeys` strategy.
//!
//! Built-in kinds come from the Kubernetes OpenAPI v2 document ([`data::KUBERNETES_SWAGGER`],
//! `$ref`s resolved), custom kinds from CRD schemas ([`data::BUILTIN_CRDS`] and, at run time,
//! [`Schemas::from_crd`]). The parsed documents are dropped once the index is built: only
//! the index (nodes of shapes and extensions, a few hundred kilobytes) stays in memory.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::data;

/// How a `$patch`-less list merges in a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPatch<'a> {
    /// No strategy: the patch's list replaces the original (the default).
    Replace,
    /// `x-kubernetes-patch-strategy: merge` on a list of objects: items merge by this key.
    MergeByKey(&'a str),
    /// `x-kubernetes-patch-strategy: merge` on a list of primitives: the lists merge as sets.
    MergeSet,
}

/// How server-side apply treats a list (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType<'a> {
    /// Replaced as a whole; one owner (the default).
    Atomic,
    /// A set of scalars; each value has its own owner.
    Set,
    /// A list of objects identified by these keys (`x-kubernetes-list-map-keys`).
    Map(&'a [Box<str>]),
}

/// Where a kind's schema comes from; strategic merge patch serves built-in kinds only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Kubernetes OpenAPI document.
    BuiltIn,
    /// A CustomResourceDefinition.
    Custom,
}

/// The schema of a CRD is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CustomResourceDefinition: {0}")]
pub struct SchemaError(String);

/// A set of indexed kinds: the built-in ones ([`builtin`]) or one CRD's ([`Schemas::from_crd`]).
#[derive(Debug, Default)]
pub struct Schemas {
    nodes: Vec<Node>,
    exts: Vec<Ext>,
    kinds: HashMap<Gvk, (Field, Origin)>,
    object_meta: Option<Field>,
}

/// Group, version, kind.
type Gvk = (Box<str>, Box<str>, Box<str>);

/// A kind's schema root and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Kind<'a> {
    /// The object's type.
    pub ty: Type<'a>,
    /// Built-in or custom.
    pub origin: Origin,
}

/// One field's type in an index: walk down with [`Type::field`] and [`Type::items`].
#[derive(Clone, Copy)]
pub struct Type<'a> {
    schemas: &'a Schemas,
    field: Field,
}

impl std::fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Type").field("node", &self.field.node).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    node: u32,
    ext: u32,
}

#[derive(Debug)]
struct Node {
    shape: Shape,
    ext: u32,
}

#[derive(Debug)]
enum Shape {
    /// No schema (or `x-kubernetes-preserve-unknown-fields` without properties).
    Any,
    Scalar,
    Struct {
        fields: Box<[(Box<str>, Field)]>,
        rest: Option<Field>,
    },
    Map(Field),
    List(Field),
    /// A custom kind's `metadata`: the built-in ObjectMeta.
    ObjectMeta,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ext {
    merge: bool,
    replace: bool,
    retain_keys: bool,
    merge_key: Option<Box<str>>,
    list_type: Option<ListKind>,
    list_keys: Box<[Box<str>]>,
    map_atomic: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Atomic,
    Set,
    Map,
}

const NO_EXT: u32 = 0;

/// The index of every built-in kind and every CRD compiled into weir, built on first use.
pub fn builtin() -> &'static Schemas {
    static BUILTIN: OnceLock<Schemas> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        let mut schemas = Schemas::empty();
        // The embedded documents are checked by tests/data.rs; a broken one yields no kinds.
        if let Ok(swagger) = serde_json::from_str::<Value>(data::KUBERNETES_SWAGGER) {
            schemas.add_swagger(&swagger);
        }
        if let Ok(Value::Array(crds)) = serde_json::from_str::<Value>(data::BUILTIN_CRDS) {
            for crd in &crds {
                // Every embedded CRD has a schema; one that did not would be skipped.
                let _ = schemas.add_crd(crd);
            }
        }
        schemas.nodes.shrink_to_fit();
        schemas.exts.shrink_to_fit();
        schemas
    })
}

impl Schemas {
    fn empty() -> Self {
        Schemas { exts: vec![Ext::default()], ..Schemas::default() }
    }

    /// The index of one CustomResourceDefinition object (`apiextensions.k8s.io/v1`): every
    /// served version's `openAPIV3Schema`. A version without a schema is left out.
    pub fn from_crd(crd: &Value) -> Result<Schemas, SchemaError> {
        let mut schemas = Schemas::empty();
        schemas.add_crd(crd)?;
        Ok(schemas)
    }

    /// The schema of `group`/`version`/`kind` (core kinds have the group `""`).
    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<Kind<'_>> {
        let key: Gvk = (group.into(), version.into(), kind.into());
        self.kinds.get(&key).map(|(field, origin)| Kind {
            ty: Type { schemas: self, field: *field },
            origin: *origin,
        })
    }

    fn add_swagger(&mut self, swagger: &Value) {
        let Some(definitions) = swagger.get("definitions").and_then(Value::as_object) else {
            return;
        };
        let mut ids: HashMap<&str, u32> = HashMap::new();
        for name in definitions.keys() {
            ids.insert(name.as_str(), self.push(Shape::Any, NO_EXT));
        }
        for (name, schema) in definitions {
            let id = ids[name.as_str()];
            let (shape, ext) = self.shape_of(schema, &ids, false);
            self.nodes[id as usize] = Node { shape, ext };
            for gvk in schema
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let part = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").into();
                self.kinds.insert(
                    (part("group"), part("version"), part("kind")),
                    (Field { node: id, ext: NO_EXT }, Origin::BuiltIn),
                );
            }
        }
        if let Some(&id) = ids.get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") {
            self.object_meta = Some(Field { node: id, ext: NO_EXT });
        }
    }

    fn add_crd(&mut self, crd: &Value) -> Result<(), SchemaError> {
        let spec = crd.get("spec").ok_or_else(|| SchemaError("no spec".to_owned()))?;
        let text = |v: Option<&Value>, what: &str| {
            v.and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| SchemaError(format!("no {what}")))
        };
        let group = text(spec.get("group"), "spec.group")?;
        let kind = text(spec.pointer("/names/kind"), "spec.names.kind")?;
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .ok_or_else(|| SchemaError("no spec.versions".to_owned()))?;
        for version in versions {
            let name = text(version.get("name"), "spec.versions[].name")?;
            let Some(schema) = version.pointer("/schema/openAPIV3Schema") else { continue };
            let (shape, ext) = self.shape_of(schema, &HashMap::new(), true);
            let root = self.push(shape, ext);
            self.kinds.insert(
                (group.as_str().into(), name.into(), kind.as_str().into()),
                (Field { node: root, ext: NO_EXT }, Origin::Custom),
            );
        }
        Ok(())
    }

    fn push(&mut self, shape: Shape, ext: u32) -> u32 {
        self.nodes.push(Node { shape, ext });
        u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
    }

    fn intern_ext(&mut self, schema: &Value) -> u32 {
        let ext = ext_of(schema);
        if ext == Ext::default() {
            return NO_EXT;
        }
        self.exts.push(ext);
        u32::try_from(self.exts.len() - 1).unwrap_or(0)
    }

    /// A field declared by `schema`: a reference (with the property's own extensions) or a
    /// new inline node.
    fn field_of(&mut self, schema: &Value, ids: &HashMap<&str, u32>) -> Field {
        if let Some(target) = reference(schema).and_then(|name| ids.get(name)) {
            return Field { node: *target, ext: self.intern_ext(schema) };
        }
        let (shape, ext) = self.shape_of(schema, ids, false);
        Field { node: self.push(shape, ext), ext: NO_EXT }
    }

    fn shape_of(
        &mut self,
        schema: &Value,
        ids: &HashMap<&str, u32>,
        crd_root: bool,
    ) -> (Shape, u32) {
        let ext = self.intern_ext(schema);
        if let Some(target) = reference(schema).and_then(|name| ids.get(name)) {
            // A bare `$ref` inside `items`/`additionalProperties` is handled by field_of; a
            // definition that is only a reference becomes a struct of one field-less alias.
            let field = Field { node: *target, ext: NO_EXT };
            return (Shape::Struct { fields: Box::new([]), rest: Some(field) }, ext);
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if let Some(items) = schema.get("items") {
            return (Shape::List(self.field_of(items, ids)), ext);
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|v| v.is_object());
        match (properties, additional) {
            (Some(properties), _) => {
                let mut fields: Vec<(Box<str>, Field)> = Vec::with_capacity(properties.len());
                for (name, property) in properties {
                    let field = if crd_root && name == "metadata" {
                        Field { node: self.push(Shape::ObjectMeta, NO_EXT), ext: NO_EXT }
                    } else {
                        self.field_of(property, ids)
                    };
                    fields.push((name.as_str().into(), field));
                }
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                let rest = match additional {
                    Some(values) => Some(self.field_of(values, ids)),
                    None if preserve => {
                        Some(Field { node: self.push(Shape::Any, NO_EXT), ext: NO_EXT })
                    }
                    None => None,
                };
                (Shape::Struct { fields: fields.into_boxed_slice(), rest }, ext)
            }
            (None, Some(values)) => (Shape::Map(self.field_of(values, ids)), ext),
            (None, None) => match ty {
                Some("string" | "integer" | "number" | "boolean") => (Shape::Scalar, ext),
                _ if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) => {
                    (Shape::Scalar, ext)
                }
                _ => (Shape::Any, ext),
            },
        }
    }
}

fn reference(schema: &Value) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/definitions/"))
}

fn ext_of(schema: &Value) -> Ext {
    let mut ext = Ext::default();
    let Some(object) = schema.as_object() else { return ext };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    for strategy in text("x-kubernetes-patch-strategy").unwrap_or("").split(',') {
        match strategy.trim() {
            "merge" => ext.merge = true,
            "replace" => ext.replace = true,
            "retainKeys" => ext.retain_keys = true,
            _ => {}
        }
    }
    ext.merge_key = text("x-kubernetes-patch-merge-key").map(Into::into);
    ext.list_type = match text("x-kubernetes-list-type") {
        Some("atomic") => Some(ListKind::Atomic),
        Some("set") => Some(ListKind::Set),
        Some("map") => Some(ListKind::Map),
        _ => None,
    };
    ext.list_keys = object
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(Into::into).collect())
        .unwrap_or_default();
    ext.map_atomic = match text("x-kubernetes-map-type") {
        Some("atomic") => Some(true),
        Some("granular") => Some(false),
        _ => None,
    };
    ext
}

impl<'a> Type<'a> {
    fn node(&self) -> &'a Node {
        &self.schemas.nodes[self.field.node as usize]
    }

    /// This type with references and a custom kind's `metadata` resolved.
    fn resolved(self) -> Type<'a> {
        let mut current = self;
        // Aliases (a definition that is a bare `$ref`) are followed a bounded number of times.
        for _ in 0..8 {
            match &current.node().shape {
                Shape::ObjectMeta => match builtin().object_meta {
                    Some(field) => current = Type { schemas: builtin(), field },
                    None => return current,
                },
                Shape::Struct { fields, rest: Some(alias) } if fields.is_empty() => {
                    let ext =
                        if current.field.ext != NO_EXT { current.field.ext } else { alias.ext };
                    current =
                        Type { schemas: current.schemas, field: Field { node: alias.node, ext } };
                }
                _ => return current,
            }
        }
        current
    }

    /// The type of field `name` of an object (or of any value of a map); `None` when the
    /// schema does not declare it (patching then falls back to plain JSON semantics).
    pub fn field(self, name: &str) -> Option<Type<'a>> {
        let this = self.resolved();
        let field = match &this.node().shape {
            Shape::Struct { fields, rest } => fields
                .binary_search_by(|(n, _)| n.as_ref().cmp(name))
                .ok()
                .map(|i| fields[i].1)
                .or(*rest)?,
            Shape::Map(values) => *values,
            _ => return None,
        };
        Some(Type { schemas: this.schemas, field })
    }

    /// The type of a list's items.
    pub fn items(self) -> Option<Type<'a>> {
        let this = self.resolved();
        match &this.node().shape {
            Shape::List(items) => Some(Type { schemas: this.schemas, field: *items }),
            _ => None,
        }
    }

    /// Whether the schema says this is a list.
    pub fn is_list(self) -> bool {
        matches!(self.resolved().node().shape, Shape::List(_))
    }

    /// Whether the schema says this is a scalar (string, number, boolean, int-or-string).
    pub fn is_scalar(self) -> bool {
        matches!(self.resolved().node().shape, Shape::Scalar)
    }

    /// Whether the schema has nothing to say (free-form JSON): lists are atomic, maps granular.
    pub fn is_free_form(self) -> bool {
        matches!(self.resolved().node().shape, Shape::Any)
    }

    /// One extension attribute: the field's declaration first, then its type's.
    fn ext<T>(self, get: impl Fn(&'a Ext) -> Option<T>) -> Option<T> {
        let exts = &self.schemas.exts;
        let declared = exts.get(self.field.ext as usize).and_then(&get);
        declared.or_else(|| {
            let resolved = self.resolved();
            let on_field = resolved.schemas.exts.get(resolved.field.ext as usize).and_then(&get);
            on_field
                .or_else(|| resolved.schemas.exts.get(resolved.node().ext as usize).and_then(&get))
        })
    }

    /// How a strategic merge patch merges this list.
    pub fn list_patch(self) -> ListPatch<'a> {
        if self.ext(|e| e.replace.then_some(())).is_some()
            || self.ext(|e| e.merge.then_some(())).is_none()
        {
            return ListPatch::Replace;
        }
        match self.ext(|e| e.merge_key.as_deref()) {
            Some(key) => ListPatch::MergeByKey(key),
            None => ListPatch::MergeSet,
        }
    }

    /// Whether a strategic merge patch replaces this map or object as a whole
    /// (`x-kubernetes-patch-strategy: replace`).
    pub fn replaces_map(self) -> bool {
        self.ext(|e| e.replace.then_some(())).is_some()
    }

    /// Whether this field has the `retainKeys` strategy.
    pub fn retains_keys(self) -> bool {
        self.ext(|e| e.retain_keys.then_some(())).is_some()
    }

    /// How server-side apply merges this list: the declared list type, else (as the API
    /// server converts the OpenAPI document) `map` keyed by the patch merge key or `set` for
    /// a merge strategy, else atomic.
    pub fn list_type(self) -> ListType<'a> {
        match self.ext(|e| e.list_type) {
            Some(ListKind::Atomic) => ListType::Atomic,
            Some(ListKind::Set) => ListType::Set,
            Some(ListKind::Map) => {
                let keys = self.ext(|e| (!e.list_keys.is_empty()).then_some(&*e.list_keys));
                match keys {
                    Some(keys) => ListType::Map(keys),
                    None => ListType::Atomic,
                }
            }
            None => match self.list_patch() {
                ListPatch::MergeByKey(_) => self
                    .ext(|e| e.merge_key.as_ref().map(std::slice::from_ref))
                    .map_or(ListType::Atomic, ListType::Map),
                ListPatch::MergeSet => ListType::Set,
                ListPatch::Replace => ListType::Atomic,
            },
        }
    }

    /// Whether server-side apply treats this object or map as one value
    /// (`x-kubernetes-map-type: atomic`).
    pub fn is_atomic_map(self) -> bool {
        self.ext(|e| e.map_atomic).unwrap_or(false)
    }
}

/// Walks `path` (field names; list items are entered with `[]`) from `ty`.
pub fn walk<'a>(ty: Type<'a>, path: &[&str]) -> Option<Type<'a>> {
    path.iter().try_fold(ty, |t, step| if *step == "[]" { t.items() } else { t.field(step) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Type<'static> {
        builtin().kind("apps", "v1", "Deployment").unwrap().ty
    }

    #[test]
    fn containers_merge_by_name_and_are_a_list_map() {
        // Expected values: PodSpec.containers in the OpenAPI document.
        let containers = walk(deployment(), &["spec", "template", "spec", "containers"]).unwrap();
        assert_eq!(containers.list_patch(), ListPatch::MergeByKey("name"));
        assert!(matches!(containers.list_type(), ListType::Map(keys) if &*keys[0] == "name"));
        let ports = walk(containers, &["[]", "ports"]).unwrap();
        assert_eq!(ports.list_patch(), ListPatch::MergeByKey("containerPort"));
    }

    #[test]
    fn tolerations_replace_and_finalizers_merge_as_a_set() {
        let tolerations = walk(deployment(), &["spec", "template", "spec", "tolerations"]).unwrap();
        assert_eq!(tolerations.list_patch(), ListPatch::Replace);
        assert_eq!(tolerations.list_type(), ListType::Atomic);
        let finalizers = walk(deployment(), &["metadata", "finalizers"]).unwrap();
        assert_eq!(finalizers.list_patch(), ListPatch::MergeSet);
        assert_eq!(finalizers.list_type(), ListType::Set);
    }

    #[test]
    fn strategy_retains_keys_and_selector_is_atomic() {
        assert!(walk(deployment(), &["spec", "strategy"]).unwrap().retains_keys());
        assert!(walk(deployment(), &["spec", "selector"]).unwrap().is_atomic_map());
        assert!(!walk(deployment(), &["metadata", "labels"]).unwrap().is_atomic_map());
    }

    #[test]
    fn custom_kinds_come_from_crds_with_object_meta() {
        let rollout = builtin().kind("argoproj.io", "v1alpha1", "Rollout").unwrap();
        assert_eq!(rollout.origin, Origin::Custom);
        let finalizers = walk(rollout.ty, &["metadata", "finalizers"]).unwrap();
        assert_eq!(finalizers.list_type(), ListType::Set);
        assert!(walk(rollout.ty, &["spec", "strategy"]).is_some());
    }

    #[test]
    fn a_crd_object_is_indexed_at_run_time() {
        let crd = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [{
                "name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"parts": {
                        "type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id"],
                        "items": {"type": "object", "properties": {"id": {"type": "string"}}}}}}}}}}]}
        });
        let schemas = Schemas::from_crd(&crd).unwrap();
        let widget = schemas.kind("example.com", "v1", "Widget").unwrap();
        let parts = walk(widget.ty, &["spec", "parts"]).unwrap();
        assert!(matches!(parts.list_type(), ListType::Map(keys) if &*keys[0] == "id"));
        assert!(Schemas::from_crd(&serde_json::json!({})).is_err());
    }
}
