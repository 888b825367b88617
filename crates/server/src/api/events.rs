//! `events.k8s.io/v1` Events: the same stored objects as core `v1` Events, converted both
//! ways as the API server converts them (`pkg/apis/events/v1/conversion.go`):
//!
//! | core/v1 Event        | events.k8s.io/v1 Event     |
//! |----------------------|----------------------------|
//! | `involvedObject`     | `regarding`                |
//! | `message`            | `note`                     |
//! | `reportingComponent` | `reportingController`      |
//! | `source`             | `deprecatedSource`         |
//! | `firstTimestamp`     | `deprecatedFirstTimestamp` |
//! | `lastTimestamp`      | `deprecatedLastTimestamp`  |
//! | `count`              | `deprecatedCount`          |
//!
//! (`reason`, `type`, `action`, `related`, `eventTime`, `series`, `reportingInstance` keep
//! their names.) Field selectors name the events.k8s.io fields (`regarding.name`,
//! `reportingController`, …) and are translated to the core ones before the core list or watch.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use weir_cluster::{
    Cluster, DeleteOutcome, DryRun, Error, FieldSelector, Object, Patch, Registry, ResourceType,
    Result, WatchEvent,
};

use weir_cluster::selector::FieldRequirement;

use super::dry_run::Target;
use super::{ApiState, delete_params, is_true, list, namespaces, parse_object};

/// The renamed fields, core name first.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// The group and version this module serves.
pub(crate) const API_VERSION: &str = "events.k8s.io/v1";

/// Whether a request path addresses `events.k8s.io/v1` events.
pub(crate) fn is_events_v1(group: &str, version: &str, plural: &str) -> bool {
    group == "events.k8s.io" && version == "v1" && plural == "events"
}

fn rename(fields: &Map<String, Value>, to_v1: bool) -> Map<String, Value> {
    fields
        .iter()
        .map(|(key, value)| {
            let renamed = RENAMED.iter().find_map(|(core, v1)| match to_v1 {
                true if key == core => Some(*v1),
                false if key == v1 => Some(*core),
                _ => None,
            });
            (renamed.unwrap_or(key).to_owned(), value.clone())
        })
        .collect()
}

/// A core Event as an events.k8s.io/v1 Event.
pub(crate) fn to_v1(core: Object) -> Object {
    Object {
        api_version: API_VERSION.to_owned(),
        kind: "Event".to_owned(),
        data: rename(&core.data, true),
        metadata: core.metadata,
    }
}

/// An events.k8s.io/v1 Event as the core Event it is stored as.
pub(crate) fn to_core(v1: Object) -> Object {
    Object {
        api_version: "v1".to_owned(),
        kind: "Event".to_owned(),
        data: rename(&v1.data, false),
        metadata: v1.metadata,
    }
}

/// A watch event of the core watch, as an events.k8s.io/v1 watcher sees it.
pub(crate) fn watch_event_to_v1(event: WatchEvent) -> WatchEvent {
    match event {
        WatchEvent::Added(o) => WatchEvent::Added(to_v1(o)),
        WatchEvent::Modified(o) => WatchEvent::Modified(to_v1(o)),
        WatchEvent::Deleted(o) => WatchEvent::Deleted(to_v1(o)),
        WatchEvent::Bookmark(mut o) => {
            o.api_version = API_VERSION.to_owned();
            WatchEvent::Bookmark(o)
        }
    }
}

/// Translates an events.k8s.io field selector to the core fields. A field events.k8s.io
/// does not select on is refused with the API server's message.
pub(crate) fn core_selector(selector: &FieldSelector) -> Result<FieldSelector> {
    selector.check("events.k8s.io", "Event")?;
    let mut text = Vec::new();
    for requirement in selector.requirements() {
        let FieldRequirement { field, .. } = requirement;
        let core = if let Some(rest) = field.strip_prefix("regarding.") {
            format!("involvedObject.{rest}")
        } else if field == "reportingController" {
            "reportingComponent".to_owned()
        } else {
            field.clone()
        };
        let single = FieldSelector::from_requirements(vec![FieldRequirement {
            field: core,
            ..requirement.clone()
        }]);
        text.push(single.to_string());
    }
    FieldSelector::parse(&text.join(","))
}

/// The query of a core request for an events.k8s.io request's query.
pub(crate) fn core_query(query: &HashMap<String, String>) -> Result<HashMap<String, String>> {
    let mut core = query.clone();
    if let Some(text) = query.get("fieldSelector").filter(|t| !t.is_empty()) {
        let translated = core_selector(&FieldSelector::parse(text)?)?;
        core.insert("fieldSelector".to_owned(), translated.to_string());
    }
    Ok(core)
}

/// The events.k8s.io/v1 type, for list bodies.
fn v1_type() -> ResourceType {
    ResourceType::guess(API_VERSION, "Event")
}

fn core_type() -> Result<ResourceType> {
    Registry::builtin()
        .for_name("events")
        .cloned()
        .ok_or_else(|| Error::Internal("the core Event type is not registered".to_owned()))
}

/// A write's body as the core Event it stores, checked against the path.
fn core_body(body: &Bytes, namespace: &str, name: Option<&str>) -> Result<Object> {
    let mut object = parse_object(body)?;
    if object.kind != "Event" || object.api_version != API_VERSION {
        return Err(Error::BadRequest(format!(
            "the body's kind {} ({}) does not match the path's resource events ({API_VERSION})",
            object.kind, object.api_version
        )));
    }
    if let Some(name) = name
        && object.name() != name
    {
        return Err(Error::BadRequest(format!(
            "the name in the body ({:?}) does not match the name in the path ({name:?})",
            object.name()
        )));
    }
    match object.namespace() {
        Some(ns) if ns != namespace => {
            return Err(Error::BadRequest(format!(
                "the namespace of the object ({ns}) does not match the namespace of the path ({namespace})"
            )));
        }
        _ => object.metadata.namespace = Some(namespace.to_owned()),
    }
    Ok(to_core(object))
}

fn answer(code: StatusCode, core: Object) -> Response {
    (code, Json(to_v1(core))).into_response()
}

/// Serves an events.k8s.io/v1 request over the core Events.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve<C>(
    state: &ApiState<C>,
    cluster: &Target<C>,
    method: &Method,
    namespace: Option<&str>,
    name: Option<&str>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response>
where
    C: Cluster + DryRun + Clone,
    C::Dry: std::fmt::Debug,
{
    let core = core_type()?;
    let in_namespace = || {
        namespace.ok_or_else(|| {
            Error::BadRequest("events are namespaced: a namespace is required".to_owned())
        })
    };
    match (name, method.clone()) {
        (None, Method::GET) if is_true(query.get("watch")) => {
            super::watch(cluster, &core, namespace, &core_query(query)?, watch_event_to_v1).await
        }
        (None, Method::GET) => {
            let core_query = core_query(query)?;
            match list::list(&state.lists, cluster, &core, namespace, &core_query).await {
                Ok(mut page) => {
                    page.items = page.items.into_iter().map(to_v1).collect();
                    Ok(Json(list::body(&v1_type(), &page)).into_response())
                }
                Err(rendered) => Ok(rendered),
            }
        }
        (None, Method::POST) => {
            let ns = in_namespace()?;
            let object = core_body(body, ns, None)?;
            namespaces::admit_create(cluster, &core, Some(ns), object.name()).await?;
            Ok(answer(StatusCode::CREATED, cluster.create(&core, object).await?))
        }
        (Some(name), Method::GET) => {
            Ok(answer(StatusCode::OK, cluster.get(&core, namespace, name).await?))
        }
        (Some(name), Method::PUT) => {
            let object = core_body(body, in_namespace()?, Some(name))?;
            Ok(answer(StatusCode::OK, cluster.update(&core, object).await?))
        }
        (Some(name), Method::PATCH) => {
            // The patch is written against the events.k8s.io form: apply it there, store the
            // core form under the version read (a concurrent write is a 409).
            let content_type =
                headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let patch = Patch::from_body(content_type, body)?;
            let live = to_v1(cluster.get(&core, namespace, name).await?);
            let mut value = live.to_value();
            weir_cluster::apply_patch(&mut value, &patch)?;
            let mut patched = Object::from_value(value)?;
            if patched.name() != name || patched.uid() != live.uid() {
                return Err(Error::BadRequest(
                    "a patch cannot change metadata.name or metadata.uid".to_owned(),
                ));
            }
            patched.metadata.resource_version.clone_from(&live.metadata.resource_version);
            Ok(answer(StatusCode::OK, cluster.update(&core, to_core(patched)).await?))
        }
        (Some(name), Method::DELETE) => {
            let params = delete_params(query, body)?;
            Ok(match cluster.delete(&core, namespace, name, &params).await? {
                DeleteOutcome::Deleted(object) => answer(StatusCode::OK, object),
                DeleteOutcome::Pending(object) => answer(StatusCode::ACCEPTED, object),
            })
        }
        _ => Err(Error::BadRequest(format!(
            "method {method} is not allowed on events.k8s.io events"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn core_event() -> Object {
        Object::from_value(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "ns"},
            "reason": "Started", "message": "Started container web", "type": "Normal",
            "source": {"component": "kubelet"}, "count": 2,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z",
            "reportingComponent": "kubelet",
        }))
        .unwrap()
    }

    #[test]
    fn conversion_renames_as_the_api_server_and_round_trips() {
        let v1 = to_v1(core_event());
        let value = v1.to_value();
        assert_eq!(value["apiVersion"], "events.k8s.io/v1");
        assert_eq!(value["regarding"]["name"], "web");
        assert_eq!(value["note"], "Started container web");
        assert_eq!(value["reportingController"], "kubelet");
        assert_eq!(value["deprecatedSource"]["component"], "kubelet");
        assert_eq!(value["deprecatedCount"], 2);
        assert_eq!(value["deprecatedLastTimestamp"], "2026-01-01T00:01:00Z");
        assert_eq!(value["reason"], "Started");
        assert!(value.get("involvedObject").is_none() && value.get("message").is_none());
        assert_eq!(to_core(v1), core_event());
    }

    #[test]
    fn selectors_name_the_v1_fields_and_reach_the_core_ones() {
        let v1 =
            FieldSelector::parse("regarding.name=web,reportingController=kubelet,type!=Warning")
                .unwrap();
        let core = core_selector(&v1).unwrap();
        assert_eq!(
            core.to_string(),
            "involvedObject.name=web,reportingComponent=kubelet,type!=Warning"
        );
        assert!(core.matches("", "Event", &core_event()));
        let err =
            core_selector(&FieldSelector::parse("involvedObject.name=web").unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: involvedObject.name");
    }
}
