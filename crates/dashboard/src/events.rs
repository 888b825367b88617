//! `/ui/events`: server-sent events backed by the cluster's `watch`. Each change of a kind the
//! dashboard shows becomes one `change` event naming the kind, namespace and name; the page's
//! script re-renders `<main>` when the kind is one it shows. The stream starts after a list
//! of each kind (no replay); when a watch ends (an expired version, a restart) the stream ends
//! and the browser's `EventSource` reconnects, after which the page re-renders once. Streams
//! end when weir shuts down, so an open tab does not hold up a graceful shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::json;
use weir_cluster::{Cluster, ListParams, Registry, WatchEvent, WatchParams};

use crate::{Refusal, Shared};

/// The kinds the pages show, by plural.
const WATCHED: &[&str] = &[
    "applications",
    "rollouts",
    "replicasets",
    "pods",
    "analysisruns",
    "deployments",
    "services",
    "virtualservices",
];

pub(crate) async fn stream<C: Cluster + Clone>(
    axum::extract::State(state): Shared<C>,
    headers: HeaderMap,
) -> Response {
    if state.sessions.of_request(&headers).is_none() {
        return Refusal::Unauthorized.into_response();
    }
    let registry = Registry::builtin();
    let mut streams = Vec::new();
    for plural in WATCHED {
        let Some(rt) = registry.for_name(plural) else { continue };
        let listed = match state.cluster.list(rt, None, &ListParams::default()).await {
            Ok(list) => list.resource_version,
            Err(e) => {
                tracing::warn!(kind = %rt.kind, error = %e, "dashboard events: cannot list");
                continue;
            }
        };
        let params = WatchParams { resource_version: Some(listed), ..WatchParams::default() };
        match state.cluster.watch(rt, None, &params).await {
            Ok(watch) => streams.push(watch),
            Err(e) => tracing::warn!(kind = %rt.kind, error = %e, "dashboard events: cannot watch"),
        }
    }
    let shutdown = state.shutdown.clone();
    let stopped = async move { shutdown.wait().await };
    let events = futures::stream::select_all(streams)
        .take_until(stopped)
        .take_while(|event| futures::future::ready(event.is_ok()))
        .filter_map(|event| futures::future::ready(event.ok().and_then(change)));
    sse(events)
}

/// The `change` event of a watch event (none for bookmarks).
fn change(event: WatchEvent) -> Option<Event> {
    let (kind, object) = match &event {
        WatchEvent::Added(o) => ("added", o),
        WatchEvent::Modified(o) => ("modified", o),
        WatchEvent::Deleted(o) => ("deleted", o),
        WatchEvent::Bookmark(_) => return None,
    };
    let data = json!({"type": kind, "kind": object.kind, "namespace": object.namespace(), "name": object.name()});
    Some(Event::default().event("change").data(data.to_string()))
}

fn sse(events: impl Stream<Item = Event> + Send + 'static) -> Response {
    let events = events.map(Ok::<_, Infallible>);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
