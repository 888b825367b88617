//! Kubernetes protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`)
//! decoded into the JSON object an API server would have read from the same request.
//!
//! kubectl's generators (`kubectl create namespace|configmap|secret|deployment|job|…`,
//! `kubectl autoscale`) send built-in kinds this way. The wire format: the 4-byte magic
//! `k8s\0`, then a `runtime.Unknown` message whose `typeMeta` names the object's apiVersion and
//! kind and whose `raw` holds the object's own message (generated from the Go types by
//! go-to-protobuf, see `data/README.md`).
//!
//! The object's message is decoded with the embedded descriptors ([`prost_reflect`]), then
//! written as JSON the way Go's encoder writes the typed object (what kubectl sends as JSON for
//! the same command, `kubectl create … --dry-run=client -o json`):
//! - a scalar field holding its zero value is left out unless Go writes it (a pointer, or a
//!   field without `omitempty`: `replicas: 0` stays, an empty `namespace` goes);
//! - an empty struct is `{}` (`status: {}`, `resources: {}`); embedded structs are flattened
//!   (`Probe.handler`, `Volume.volumeSource`);
//! - the special types: `Time` (RFC 3339, seconds; the zero time left out), `MicroTime`
//!   (RFC 3339 with microseconds), `Duration` (Go's `1h2m3s`), `IntOrString` (a number or a
//!   string), `Quantity` (its string), `RawExtension` and `FieldsV1` (the JSON they carry),
//!   named slices such as `ExtraValue` (the bare array), `bytes` (base64).
//!
//! Only the stable (`vN`) versions of built-in groups are known; any other apiVersion/kind
//! (custom resources among them) is [`ProtobufError::UnknownKind`], which the API answers 415
//! as a Kubernetes API server does.

mod go_time;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use base64::Engine as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use go_time::rfc3339;

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4 bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

const META_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    /// The body does not start with the magic bytes `k8s\0`.
    #[error("the body is not a Kubernetes protobuf message (it does not start with \"k8s\\x00\")")]
    NoMagic,
    /// The envelope or the object's message is not valid protobuf for its type.
    #[error("the protobuf body cannot be decoded: {0}")]
    Malformed(String),
    /// The envelope names an encoding of the object other than plain protobuf.
    #[error(
        "the protobuf body's content encoding {encoding:?} / type {content_type:?} is not supported"
    )]
    UnsupportedEncoding { encoding: String, content_type: String },
    /// The apiVersion/kind is not a built-in kind with a protobuf encoding (custom resources
    /// are never protobuf).
    #[error("{api_version}, Kind={kind} has no protobuf encoding: send application/json")]
    UnknownKind { api_version: String, kind: String },
}

/// Decodes a Kubernetes protobuf body into the object as JSON (with `apiVersion` and `kind`).
pub fn decode(body: &[u8]) -> Result<Json, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let schema = schema();
    let unknown = schema.message("k8s.io.apimachinery.pkg.runtime.Unknown")?;
    let unknown = DynamicMessage::decode(unknown, envelope)
        .map_err(|e| ProtobufError::Malformed(format!("runtime.Unknown: {e}")))?;
    let string_field = |message: &DynamicMessage, name: &str| {
        message
            .get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let encoding = string_field(&unknown, "contentEncoding");
    let content_type = string_field(&unknown, "contentType");
    if !encoding.is_empty() || !(content_type.is_empty() || content_type == MEDIA_TYPE) {
        return Err(ProtobufError::UnsupportedEncoding { encoding, content_type });
    }
    let type_meta = unknown
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned())
        .ok_or_else(|| ProtobufError::Malformed("runtime.Unknown has no typeMeta".to_owned()))?;
    let api_version = string_field(&type_meta, "apiVersion");
    let kind = string_field(&type_meta, "kind");
    let descriptor = schema.kind(&api_version, &kind).ok_or_else(|| {
        ProtobufError::UnknownKind { api_version: api_version.clone(), kind: kind.clone() }
    })?;
    let raw = unknown.get_field_by_name("raw").and_then(|v| v.as_bytes().cloned());
    let object = DynamicMessage::decode(descriptor, raw.unwrap_or_default())
        .map_err(|e| ProtobufError::Malformed(format!("{api_version} {kind}: {e}")))?;
    let mut json = Map::new();
    json.insert("kind".to_owned(), Json::String(kind));
    json.insert("apiVersion".to_owned(), Json::String(api_version));
    match schema.message_json(&object)? {
        Some(Json::Object(fields)) => json.extend(fields),
        _ => return Err(ProtobufError::Malformed("the object is not a message".to_owned())),
    }
    Ok(Json::Object(json))
}

/// The embedded descriptors and what they do not say about the Go types (see
/// `data/regenerate-protobuf.py`).
struct Schema {
    pool: DescriptorPool,
    go: GoFacts,
}

/// `data/k8s-protobuf-json.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoFacts {
    keep_zero: HashSet<String>,
    inline: HashSet<String>,
    rename: HashMap<String, String>,
    list_wrappers: HashSet<String>,
}

fn schema() -> &'static Schema {
    static SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema {
        pool: DescriptorPool::decode(crate::data::KUBERNETES_PROTOBUF_DESCRIPTORS)
            .expect("the embedded descriptor set is valid (tested)"),
        go: serde_json::from_str(crate::data::KUBERNETES_PROTOBUF_GO_FACTS)
            .expect("the embedded Go facts are valid (tested)"),
    });
    &SCHEMA
}

impl Schema {
    fn message(&self, name: &str) -> Result<MessageDescriptor, ProtobufError> {
        self.pool
            .get_message_by_name(name)
            .ok_or_else(|| ProtobufError::Malformed(format!("no descriptor for {name}")))
    }

    /// The message of a built-in kind: `k8s.io.api.{first label of the group}.{version}.{kind}`
    /// (`core` for the legacy group; `meta.k8s.io` is apimachinery's).
    fn kind(&self, api_version: &str, kind: &str) -> Option<MessageDescriptor> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let well_formed =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !well_formed(version) || !well_formed(kind) {
            return None;
        }
        let package = match group {
            "" => format!("k8s.io.api.core.{version}"),
            "meta.k8s.io" => format!("k8s.io.apimachinery.pkg.apis.meta.{version}"),
            group if group.ends_with(".k8s.io") || !group.contains('.') => {
                let label = group.split('.').next().unwrap_or(group);
                if !well_formed(label) {
                    return None;
                }
                format!("k8s.io.api.{label}.{version}")
            }
            _ => return None,
        };
        let descriptor = self.pool.get_message_by_name(&format!("{package}.{kind}"))?;
        // A kind is a message with metadata (not a nested type that shares the name).
        descriptor.get_field_by_name("metadata").map(|_| descriptor)
    }

    /// A message as JSON; `None` when Go writes nothing for it (the zero `Time`, an empty
    /// `RawExtension`).
    fn message_json(&self, message: &DynamicMessage) -> Result<Option<Json>, ProtobufError> {
        let descriptor = message.descriptor();
        let name = descriptor.full_name();
        if let Some(special) = name.strip_prefix(META_V1).and_then(|n| n.strip_prefix('.')) {
            match special {
                "Time" => return Ok(time_json(message, false)?.map(Json::String)),
                "MicroTime" => return Ok(time_json(message, true)?.map(Json::String)),
                "Duration" => {
                    let nanos = int_field(message, "duration");
                    return Ok(Some(Json::String(weir_gocompat::duration::format(nanos))));
                }
                "FieldsV1" => return raw_json(message, "Raw"),
                _ => {}
            }
        }
        match name {
            "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
                return Ok(Some(if int_field(message, "type") == 1 {
                    Json::String(string_field(message, "strVal"))
                } else {
                    Json::from(int_field(message, "intVal"))
                }));
            }
            "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
                return Ok(Some(Json::String(string_field(message, "string"))));
            }
            "k8s.io.apimachinery.pkg.runtime.RawExtension" => return raw_json(message, "raw"),
            _ => {}
        }
        if self.go.list_wrappers.contains(name) {
            let items = message.get_field_by_name("items");
            let items = match items.as_deref() {
                Some(Value::List(items)) => {
                    items.iter().map(|v| self.value_json(v)).collect::<Result<Vec<_>, _>>()?
                }
                _ => Vec::new(),
            };
            return Ok(Some(Json::Array(
                items.into_iter().map(|v| v.unwrap_or(Json::Null)).collect(),
            )));
        }

        let mut object = Map::new();
        for (field, value) in message.fields() {
            let full_name = field.full_name();
            if self.go.inline.contains(full_name) {
                if let Some(Json::Object(inner)) = self.value_json(value)? {
                    object.extend(inner);
                }
                continue;
            }
            let json_name =
                self.go.rename.get(full_name).map_or_else(|| field.name().to_owned(), Clone::clone);
            let keep_zero = self.go.keep_zero.contains(full_name);
            let json = match value {
                Value::List(items) if items.is_empty() => None,
                Value::List(items) => {
                    let items = items
                        .iter()
                        .map(|v| Ok(self.value_json(v)?.unwrap_or(Json::Null)))
                        .collect::<Result<Vec<_>, ProtobufError>>()?;
                    Some(Json::Array(items))
                }
                Value::Map(entries) if entries.is_empty() => None,
                Value::Map(entries) => {
                    let mut sorted: Vec<(&MapKey, &Value)> = entries.iter().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    let mut map = Map::new();
                    for (key, value) in sorted {
                        map.insert(map_key(key), self.value_json(value)?.unwrap_or(Json::Null));
                    }
                    Some(Json::Object(map))
                }
                scalar if !keep_zero && is_zero(scalar) => None,
                other => self.value_json(other)?,
            };
            if let Some(json) = json {
                object.insert(json_name, json);
            }
        }
        Ok(Some(Json::Object(object)))
    }

    fn value_json(&self, value: &Value) -> Result<Option<Json>, ProtobufError> {
        Ok(Some(match value {
            Value::Bool(b) => Json::Bool(*b),
            Value::I32(n) | Value::EnumNumber(n) => Json::from(*n),
            Value::I64(n) => Json::from(*n),
            Value::U32(n) => Json::from(*n),
            Value::U64(n) => Json::from(*n),
            Value::F32(n) => {
                serde_json::Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number)
            }
            Value::F64(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Message(m) => return self.message_json(m),
            Value::List(_) | Value::Map(_) => {
                return Err(ProtobufError::Malformed("a nested list or map".to_owned()));
            }
        }))
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Message(_) | Value::List(_) | Value::Map(_) => false,
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn int_field(message: &DynamicMessage, name: &str) -> i64 {
    match message.get_field_by_name(name).as_deref() {
        Some(Value::I32(n)) => i64::from(*n),
        Some(Value::I64(n)) => *n,
        _ => 0,
    }
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    message.get_field_by_name(name).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The JSON a `RawExtension` or `FieldsV1` carries; `None` when empty.
fn raw_json(message: &DynamicMessage, field: &str) -> Result<Option<Json>, ProtobufError> {
    let raw = message.get_field_by_name(field).and_then(|v| v.as_bytes().cloned());
    match raw {
        Some(raw) if !raw.is_empty() => serde_json::from_slice(&raw).map(Some).map_err(|e| {
            ProtobufError::Malformed(format!("{} is not JSON: {e}", message.descriptor().name()))
        }),
        _ => Ok(None),
    }
}

/// A `Time` (`2026-12-03T14:11:45Z`) or `MicroTime` (`2026-12-03T14:11:45.123456Z`) in UTC;
/// `None` for the zero time (seconds and nanos 0, what Go writes for an unset time).
fn time_json(message: &DynamicMessage, micro: bool) -> Result<Option<String>, ProtobufError> {
    let seconds = int_field(message, "seconds");
    let nanos = int_field(message, "nanos");
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    rfc3339(seconds, nanos, micro).map(Some).ok_or_else(|| {
        ProtobufError::Malformed(format!("time {seconds}s {nanos}ns is out of range"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schema_loads_and_knows_the_special_types() {
        let schema = schema();
        for name in [
            "k8s.io.apimachinery.pkg.runtime.Unknown",
            "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
            "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
            "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
            "k8s.io.apimachinery.pkg.api.resource.Quantity",
        ] {
            assert!(schema.message(name).is_ok(), "{name}");
        }
        // Every Go fact names a field or message the descriptors have.
        for field in
            schema.go.keep_zero.iter().chain(&schema.go.inline).chain(schema.go.rename.keys())
        {
            let (message, name) = field.rsplit_once('.').unwrap();
            let descriptor = schema.message(message).unwrap();
            assert!(descriptor.get_field_by_name(name).is_some(), "{field}");
        }
        for wrapper in &schema.go.list_wrappers {
            assert!(schema.message(wrapper).is_ok(), "{wrapper}");
        }
    }

    #[test]
    fn kinds_map_to_their_group_packages() {
        let schema = schema();
        let cases = [
            ("v1", "Namespace", Some("k8s.io.api.core.v1.Namespace")),
            ("apps/v1", "Deployment", Some("k8s.io.api.apps.v1.Deployment")),
            ("batch/v1", "CronJob", Some("k8s.io.api.batch.v1.CronJob")),
            ("rbac.authorization.k8s.io/v1", "Role", Some("k8s.io.api.rbac.v1.Role")),
            ("networking.k8s.io/v1", "Ingress", Some("k8s.io.api.networking.v1.Ingress")),
            ("coordination.k8s.io/v1", "Lease", Some("k8s.io.api.coordination.v1.Lease")),
            ("events.k8s.io/v1", "Event", Some("k8s.io.api.events.v1.Event")),
            (
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                Some("k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler"),
            ),
            ("autoscaling/v1", "Scale", Some("k8s.io.api.autoscaling.v1.Scale")),
            // Not kinds: a nested type, a custom resource, nonsense.
            ("apps/v1", "DeploymentSpec", None),
            ("argoproj.io/v1alpha1", "Rollout", None),
            ("networking.istio.io/v1", "VirtualService", None),
            ("apps/v1", "../Deployment", None),
            ("", "", None),
        ];
        for (api_version, kind, expected) in cases {
            let found = schema.kind(api_version, kind);
            assert_eq!(
                found.as_ref().map(MessageDescriptor::full_name),
                expected,
                "{api_version} {kind}"
            );
        }
    }
}
