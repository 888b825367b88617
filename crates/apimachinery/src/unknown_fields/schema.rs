//! The parts of the Kubernetes document and of CRDs that field validation reads, deserialized
//! directly (serde skips descriptions and everything else without allocating them).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The Kubernetes document's definitions.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Swagger {
    #[serde(default)]
    pub(super) definitions: BTreeMap<String, Schema>,
}

/// One `x-kubernetes-group-version-kind` entry.
#[derive(Debug, Deserialize)]
pub(super) struct GroupVersionKind {
    #[serde(default)]
    pub(super) group: String,
    #[serde(default)]
    pub(super) version: String,
    #[serde(default)]
    pub(super) kind: String,
}

/// A schema, as far as declared fields go.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Schema {
    #[serde(rename = "$ref")]
    reference: Option<String>,
    #[serde(rename = "allOf")]
    all_of: Option<Vec<Schema>>,
    pub(super) properties: Option<BTreeMap<String, Schema>>,
    pub(super) items: Option<Box<Schema>>,
    #[serde(rename = "additionalProperties")]
    pub(super) additional_properties: Option<Additional>,
    #[serde(rename = "x-kubernetes-preserve-unknown-fields")]
    pub(super) preserve_unknown_fields: Option<bool>,
    #[serde(rename = "x-kubernetes-int-or-string")]
    pub(super) int_or_string: Option<bool>,
    #[serde(rename = "x-kubernetes-group-version-kind", default)]
    pub(super) group_version_kinds: Vec<GroupVersionKind>,
}

impl Schema {
    /// The definition this schema refers to (`$ref`, or a lone `allOf` reference as in v3).
    pub(super) fn reference(&self) -> Option<&str> {
        self.reference
            .as_deref()
            .or_else(|| self.all_of.as_ref()?.first()?.reference.as_deref())
            .map(|r| r.rsplit('/').next().unwrap_or(""))
    }

    /// Whether the schema says nothing about fields.
    pub(super) fn is_empty(&self) -> bool {
        self.reference.is_none()
            && self.all_of.is_none()
            && self.properties.is_none()
            && self.items.is_none()
            && self.additional_properties.is_none()
            && self.preserve_unknown_fields.is_none()
            && self.int_or_string.is_none()
    }
}

/// `additionalProperties`: a flag or a schema.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

/// A CustomResourceDefinition's group, kind and versions' schemas.
#[derive(Debug, Deserialize)]
pub(super) struct Crd {
    pub(super) spec: CrdSpec,
}

#[derive(Debug, Deserialize)]
pub(super) struct CrdSpec {
    pub(super) group: String,
    pub(super) names: CrdNames,
    #[serde(default)]
    versions: Vec<CrdVersion>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CrdNames {
    pub(super) kind: String,
}

#[derive(Debug, Deserialize)]
struct CrdVersion {
    name: String,
    schema: Option<CrdValidation>,
}

#[derive(Debug, Deserialize)]
struct CrdValidation {
    #[serde(rename = "openAPIV3Schema")]
    open_api_v3_schema: Option<Schema>,
}

impl Crd {
    /// The schema of `version`, or (Istio's versions are identical) of the first version that
    /// has one.
    pub(super) fn schema(&self, version: &str) -> Option<&Schema> {
        fn of(v: &CrdVersion) -> Option<&Schema> {
            v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref())
        }
        let versions = &self.spec.versions;
        versions
            .iter()
            .find(|v| v.name == version)
            .and_then(of)
            .or_else(|| versions.iter().find_map(of))
    }
}
