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

use serde::Deserialize;
use serde::de::DeserializeSeed;
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
    /// While the swagger document is read: the node of each definition seen or referenced.
    definitions: HashMap<Box<str>, u32>,
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
        // The documents are read in one pass, one definition (one CRD) at a time, so building
        // never holds a whole document in memory. The embedded documents are checked by
        // tests/data.rs and the index by the tests below; a broken one would yield fewer
        // kinds rather than a panic.
        let mut swagger = serde_json::Deserializer::from_str(data::KUBERNETES_SWAGGER);
        let _ = stream::Swagger(&mut schemas).deserialize(&mut swagger);
        schemas.object_meta = schemas
            .definitions
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .map(|&node| Field { node, ext: NO_EXT });
        schemas.definitions = HashMap::new();
        let mut crds = serde_json::Deserializer::from_str(data::BUILTIN_CRDS);
        let _ = stream::Crds(&mut schemas).deserialize(&mut crds);
        schemas.nodes.shrink_to_fit();
        schemas.exts.shrink_to_fit();
        schemas
    })
}

/// The parts of the schema documents the index reads; everything else (descriptions, paths,
/// validations) is skipped while parsing, so building the index never holds the whole
/// document as a JSON tree.
mod raw {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    pub(super) struct Schema {
        #[serde(rename = "$ref")]
        pub(super) reference: Option<String>,
        #[serde(rename = "type")]
        pub(super) ty: Option<String>,
        pub(super) properties: Option<BTreeMap<String, Schema>>,
        pub(super) items: Option<Box<Schema>>,
        #[serde(rename = "additionalProperties")]
        pub(super) additional: Option<Additional>,
        #[serde(rename = "x-kubernetes-patch-strategy")]
        pub(super) patch_strategy: Option<String>,
        #[serde(rename = "x-kubernetes-patch-merge-key")]
        pub(super) merge_key: Option<String>,
        #[serde(rename = "x-kubernetes-list-type")]
        pub(super) list_type: Option<String>,
        #[serde(rename = "x-kubernetes-list-map-keys")]
        pub(super) list_map_keys: Option<Vec<String>>,
        #[serde(rename = "x-kubernetes-map-type")]
        pub(super) map_type: Option<String>,
        #[serde(rename = "x-kubernetes-preserve-unknown-fields")]
        pub(super) preserve_unknown: Option<bool>,
        #[serde(rename = "x-kubernetes-int-or-string")]
        pub(super) int_or_string: Option<bool>,
        #[serde(rename = "x-kubernetes-group-version-kind")]
        pub(super) gvk: Option<Vec<Gvk>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Additional {
        Schema(Box<Schema>),
        /// `true`/`false`: no schema for the values.
        Flag(serde::de::IgnoredAny),
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct Gvk {
        #[serde(default)]
        pub(super) group: String,
        pub(super) version: String,
        pub(super) kind: String,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct Crd {
        pub(super) spec: CrdSpec,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct CrdSpec {
        pub(super) group: String,
        pub(super) names: CrdNames,
        pub(super) versions: Vec<CrdVersion>,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct CrdNames {
        pub(super) kind: String,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct CrdVersion {
        pub(super) name: String,
        pub(super) schema: Option<CrdSchema>,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct CrdSchema {
        #[serde(rename = "openAPIV3Schema")]
        pub(super) open_api_v3_schema: Option<Schema>,
    }
}

/// Streaming readers of the embedded documents: each definition (each CRD) is parsed, indexed
/// and dropped before the next one is read.
mod stream {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{Schemas, raw};

    /// The swagger document: only `definitions` is read.
    pub(super) struct Swagger<'s>(pub(super) &'s mut Schemas);
    struct Definitions<'s>(&'s mut Schemas);
    /// The array of CRDs.
    pub(super) struct Crds<'s>(pub(super) &'s mut Schemas);

    impl<'de> DeserializeSeed<'de> for Swagger<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Swagger<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an OpenAPI v2 document")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == "definitions" {
                    map.next_value_seed(Definitions(&mut *self.0))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for Definitions<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Definitions<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("OpenAPI definitions")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(name) = map.next_key::<String>()? {
                let schema: raw::Schema = map.next_value()?;
                self.0.add_definition(&name, &schema);
            }
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for Crds<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Crds<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of CustomResourceDefinitions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(crd) = seq.next_element::<raw::Crd>()? {
                self.0.add_crd(&crd);
            }
            Ok(())
        }
    }
}

impl Schemas {
    fn empty() -> Self {
        Schemas { exts: vec![Ext::default()], ..Schemas::default() }
    }

    /// The index of one CustomResourceDefinition object (`apiextensions.k8s.io/v1`): every
    /// version's `openAPIV3Schema`. A version without a schema is left out.
    pub fn from_crd(crd: &Value) -> Result<Schemas, SchemaError> {
        let crd = raw::Crd::deserialize(crd).map_err(|e| SchemaError(e.to_string()))?;
        let mut schemas = Schemas::empty();
        schemas.add_crd(&crd);
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

    /// The node of definition `name`, reserved on first mention (a reference may come before
    /// the definition).
    fn definition(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.definitions.get(name) {
            return id;
        }
        let id = self.push(Shape::Any, NO_EXT);
        self.definitions.insert(name.into(), id);
        id
    }

    fn add_definition(&mut self, name: &str, schema: &raw::Schema) {
        let id = self.definition(name);
        let (shape, ext) = self.shape_of(schema, false);
        self.nodes[id as usize] = Node { shape, ext };
        for gvk in schema.gvk.iter().flatten() {
            self.kinds.insert(
                (gvk.group.as_str().into(), gvk.version.as_str().into(), gvk.kind.as_str().into()),
                (Field { node: id, ext: NO_EXT }, Origin::BuiltIn),
            );
        }
    }

    fn add_crd(&mut self, crd: &raw::Crd) {
        let spec = &crd.spec;
        for version in &spec.versions {
            let Some(schema) = version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref())
            else {
                continue;
            };
            let (shape, ext) = self.shape_of(schema, true);
            let root = self.push(shape, ext);
            self.kinds.insert(
                (
                    spec.group.as_str().into(),
                    version.name.as_str().into(),
                    spec.names.kind.as_str().into(),
                ),
                (Field { node: root, ext: NO_EXT }, Origin::Custom),
            );
        }
    }

    fn push(&mut self, shape: Shape, ext: u32) -> u32 {
        self.nodes.push(Node { shape, ext });
        u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
    }

    fn intern_ext(&mut self, schema: &raw::Schema) -> u32 {
        let ext = ext_of(schema);
        if ext == Ext::default() {
            return NO_EXT;
        }
        if let Some(at) = self.exts.iter().position(|e| *e == ext) {
            return u32::try_from(at).unwrap_or(NO_EXT);
        }
        self.exts.push(ext);
        u32::try_from(self.exts.len() - 1).unwrap_or(NO_EXT)
    }

    /// A field declared by `schema`: a reference (with the property's own extensions) or a
    /// new inline node.
    fn field_of(&mut self, schema: &raw::Schema) -> Field {
        if let Some(name) = reference(schema) {
            return Field { node: self.definition(name), ext: self.intern_ext(schema) };
        }
        let (shape, ext) = self.shape_of(schema, false);
        Field { node: self.push(shape, ext), ext: NO_EXT }
    }

    fn shape_of(&mut self, schema: &raw::Schema, crd_root: bool) -> (Shape, u32) {
        let ext = self.intern_ext(schema);
        if let Some(name) = reference(schema) {
            // A definition that is only a reference: an alias, followed on lookup.
            let field = Field { node: self.definition(name), ext: NO_EXT };
            return (Shape::Struct { fields: Box::new([]), rest: Some(field) }, ext);
        }
        if let Some(items) = &schema.items {
            return (Shape::List(self.field_of(items)), ext);
        }
        let additional = match &schema.additional {
            Some(raw::Additional::Schema(values)) => Some(values.as_ref()),
            _ => None,
        };
        match (&schema.properties, additional) {
            (Some(properties), _) => {
                let mut fields: Vec<(Box<str>, Field)> = Vec::with_capacity(properties.len());
                for (name, property) in properties {
                    let field = if crd_root && name == "metadata" {
                        Field { node: self.push(Shape::ObjectMeta, NO_EXT), ext: NO_EXT }
                    } else {
                        self.field_of(property)
                    };
                    fields.push((name.as_str().into(), field));
                }
                let rest = match additional {
                    Some(values) => Some(self.field_of(values)),
                    None if schema.preserve_unknown == Some(true) => {
                        Some(Field { node: self.push(Shape::Any, NO_EXT), ext: NO_EXT })
                    }
                    None => None,
                };
                (Shape::Struct { fields: fields.into_boxed_slice(), rest }, ext)
            }
            (None, Some(values)) => (Shape::Map(self.field_of(values)), ext),
            (None, None) => match schema.ty.as_deref() {
                Some("string" | "integer" | "number" | "boolean") => (Shape::Scalar, ext),
                _ if schema.int_or_string == Some(true) => (Shape::Scalar, ext),
                _ => (Shape::Any, ext),
            },
        }
    }
}

fn reference(schema: &raw::Schema) -> Option<&str> {
    schema.reference.as_deref().and_then(|r| r.strip_prefix("#/definitions/"))
}

fn ext_of(schema: &raw::Schema) -> Ext {
    let mut ext = Ext::default();
    for strategy in schema.patch_strategy.as_deref().unwrap_or("").split(',') {
        match strategy.trim() {
            "merge" => ext.merge = true,
            "replace" => ext.replace = true,
            "retainKeys" => ext.retain_keys = true,
            _ => {}
        }
    }
    ext.merge_key = schema.merge_key.as_deref().map(Into::into);
    ext.list_type = match schema.list_type.as_deref() {
        Some("atomic") => Some(ListKind::Atomic),
        Some("set") => Some(ListKind::Set),
        Some("map") => Some(ListKind::Map),
        _ => None,
    };
    ext.list_keys = schema.list_map_keys.iter().flatten().map(|k| k.as_str().into()).collect();
    ext.map_atomic = match schema.map_type.as_deref() {
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
        assert!(builtin().kind("", "v1", "Pod").is_some());
        assert!(builtin().kind("networking.istio.io", "v1beta1", "VirtualService").is_some());
        assert!(builtin().kind("gateway.networking.k8s.io", "v1", "HTTPRoute").is_some());
        assert!(builtin().kind("argoproj.io", "v1alpha1", "Application").is_some());
    }
}
