//! Dynamic objects: any manifest as `apiVersion`, `kind`, typed metadata and the rest as JSON.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// One stored object, whatever its kind.
///
/// `data` holds every top-level field other than `apiVersion`, `kind` and `metadata`
/// (`spec`, `status`, `data`, `stringData`, `operation`, …) in document order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Object {
    /// `group/version`, or `version` for the core group.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The object's kind, e.g. `Rollout`.
    pub kind: String,
    /// Kubernetes object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// All other top-level fields.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

/// A namespaced name plus kind, for messages and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// The object's kind.
    pub kind: String,
    /// Its namespace (`None` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// The answer to a list call: the objects and the store version they were read at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectList {
    /// The matching objects, ordered by namespace then name.
    pub items: Vec<Object>,
    /// Watch from here to see every change after this list.
    pub resource_version: String,
}

impl Object {
    /// A new object with only type and name set.
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Object {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: namespace.map(str::to_owned),
                ..ObjectMeta::default()
            },
            data: Map::new(),
        }
    }

    /// Converts a JSON value into an object; fails when `apiVersion` or `kind` is missing.
    pub fn from_value(value: Value) -> Result<Self> {
        serde_json::from_value(value)
            .map_err(|e| Error::BadRequest(format!("not a Kubernetes object: {e}")))
    }

    /// The object as one JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("an Object always serializes to JSON")
    }

    /// Converts a typed resource (a model type) into a dynamic object.
    pub fn from_typed<T: Serialize>(typed: &T) -> Result<Self> {
        let value = serde_json::to_value(typed)
            .map_err(|e| Error::BadRequest(format!("cannot serialize object: {e}")))?;
        Self::from_value(value)
    }

    /// Converts the object into a typed resource, naming the failing field on error.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T> {
        let value = self.to_value();
        serde_path_deserialize(value).map_err(|cause| Error::Invalid {
            kind: self.kind.clone(),
            name: self.name().to_owned(),
            causes: vec![cause],
        })
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }

    /// `metadata.uid`, or `""`.
    pub fn uid(&self) -> &str {
        self.metadata.uid.as_deref().unwrap_or("")
    }

    /// `metadata.resourceVersion`, or `""`.
    pub fn resource_version(&self) -> &str {
        self.metadata.resource_version.as_deref().unwrap_or("")
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// Kind, namespace and name.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.metadata.namespace.clone(),
            name: self.name().to_owned(),
        }
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// A top-level field such as `spec` or `status`.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }
}

fn serde_path_deserialize<T: DeserializeOwned>(
    value: Value,
) -> std::result::Result<T, crate::FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| crate::FieldError {
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })
}
