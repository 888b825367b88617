//! Core `v1` Events, as controllers record them about the objects they act on (what
//! `kubectl describe` and `weir get events` show).

use k8s_openapi::jiff::Timestamp;

use crate::{Cluster, Object, Registry, Result};

/// One thing a controller did or saw.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    /// The Event's `reason` (`RolloutCompleted`, `AnalysisRunFailed`, …).
    pub reason: &'a str,
    /// The human-readable message.
    pub message: &'a str,
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// The controller, as `source.component`.
    pub component: &'a str,
}

/// The Event about `involved` at `now` (named by `generateName` after the object).
pub fn event_object(involved: &Object, record: EventRecord<'_>, now: Timestamp) -> Object {
    let mut object = Object::new("v1", "Event", involved.namespace(), "");
    object.metadata.generate_name = Some(format!("{}-", involved.name()));
    let fields = serde_json::json!({
        "involvedObject": {
            "apiVersion": involved.api_version, "kind": involved.kind, "name": involved.name(),
            "namespace": involved.namespace(), "uid": involved.uid(),
        },
        "reason": record.reason,
        "message": record.message,
        "type": if record.warning { "Warning" } else { "Normal" },
        "count": 1,
        "firstTimestamp": now.to_string(),
        "lastTimestamp": now.to_string(),
        "source": {"component": record.component},
    });
    if let serde_json::Value::Object(map) = fields {
        object.data.extend(map);
    }
    object
}

/// Creates the Event about `involved`.
pub async fn record_event<C: Cluster>(
    cluster: &C,
    involved: &Object,
    record: EventRecord<'_>,
    now: Timestamp,
) -> Result<Object> {
    let events = Registry::builtin()
        .for_name("events")
        .cloned()
        .unwrap_or_else(|| crate::ResourceType::guess("v1", "Event"));
    cluster.create(&events, event_object(involved, record, now)).await
}
