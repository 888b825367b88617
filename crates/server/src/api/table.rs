//! `as=Table` on get, list and watch: the JSON response of the request is turned into a
//! `meta.k8s.io` Table by [`weir_apimachinery::table`] on its way out, so lists keep their
//! `metadata` (resourceVersion, continue) and watches their events whatever produced them.
//! In a watch, each event's object becomes a Table of one row; only the first carries the
//! column definitions (kubectl keeps the last ones it saw, as with the API server).

use std::collections::HashMap;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use weir_apimachinery::table::{IncludeObject, TableConvertor, TableOptions};
use weir_cluster::{Error, ResourceType};

use super::{ApiState, error_response};

/// The largest list turned into a Table (the store caps what it returns far below this).
const MAX_LIST_BYTES: usize = 512 * 1024 * 1024;

/// The Table a GET request asks for, if any; a bad `includeObject` is a 400.
pub(crate) fn requested(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<TableOptions>, Error> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if !accept.contains("as=Table") {
        return Ok(None);
    }
    let include = IncludeObject::parse(query.get("includeObject").map(String::as_str))
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    Ok(TableOptions::from_accept(accept, include))
}

/// The convertor for a path's resource type and version (CRD columns from a learned CRD).
pub(crate) fn convertor<C>(
    state: &ApiState<C>,
    rt: &ResourceType,
    version: &str,
) -> TableConvertor {
    let crd = state.resources.crd_printer_columns(&rt.group, &rt.kind);
    TableConvertor::for_kind(&rt.group, version, &rt.kind, crd.as_ref())
}

/// Turns a successful JSON response (an object, a list or a watch stream) into Tables;
/// anything else (errors as `Status`) passes unchanged.
pub(crate) async fn transform(
    response: Response,
    convertor: TableConvertor,
    options: TableOptions,
    watch: bool,
) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    if watch {
        let body = Body::from_stream(watch_tables(body, convertor, options));
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_LIST_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&Error::Internal(format!("reading a response: {e}"))),
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    let table = object_table(&value, &convertor, &options, SystemTime::now());
    let bytes = serde_json::to_vec(&table).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes)).into_response()
}

/// A list's Table (its items, its metadata) or one object's.
fn object_table(
    value: &Value,
    convertor: &TableConvertor,
    options: &TableOptions,
    now: SystemTime,
) -> Value {
    match value.get("items").and_then(Value::as_array) {
        Some(items) => {
            let metadata = value.get("metadata").cloned().unwrap_or_else(|| json!({}));
            convertor.table(items, metadata, options, now)
        }
        None => {
            let rv = value.pointer("/metadata/resourceVersion").cloned();
            let metadata = rv.map(|rv| json!({ "resourceVersion": rv })).unwrap_or(json!({}));
            convertor.table(std::slice::from_ref(value), metadata, options, now)
        }
    }
}

/// One watch event with its object as a Table (bookmarks as an empty Table carrying the
/// resourceVersion, errors unchanged).
fn event_table(
    mut event: Value,
    convertor: &TableConvertor,
    options: &TableOptions,
    now: SystemTime,
) -> Value {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let Some(object) = event.get("object") else { return event };
    let table = match kind.as_str() {
        "ADDED" | "MODIFIED" | "DELETED" => object_table(object, convertor, options, now),
        "BOOKMARK" => {
            let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            convertor.table(&[], metadata, options, now)
        }
        _ => return event,
    };
    event["object"] = table;
    event
}

/// The watch body, one JSON event per line, re-written line by line.
fn watch_tables(
    body: Body,
    convertor: TableConvertor,
    mut options: TableOptions,
) -> impl futures::Stream<Item = Result<Bytes, axum::Error>> + Send {
    let mut pending: Vec<u8> = Vec::new();
    body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        pending.extend_from_slice(&chunk);
        let mut out = Vec::new();
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<Value>(&line) {
                Ok(event) => {
                    let event = event_table(event, &convertor, &options, SystemTime::now());
                    if event.get("object").and_then(|o| o.get("kind")) == Some(&json!("Table")) {
                        options.with_columns = false;
                    }
                    out.extend(serde_json::to_vec(&event).unwrap_or_default());
                    out.push(b'\n');
                }
                Err(_) => out.extend(line),
            }
        }
        Ok(Bytes::from(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watch_lines_become_tables_with_columns_once() {
        let convertor = TableConvertor::for_kind("", "v1", "ConfigMap", None);
        let options = TableOptions {
            api_version: "meta.k8s.io/v1".to_owned(),
            include: IncludeObject::None,
            with_columns: true,
        };
        let object = |rv: &str| json!({"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": rv}, "data": {"a": "b"}});
        let lines = [
            json!({"type": "ADDED", "object": object("1")}),
            json!({"type": "MODIFIED", "object": object("2")}),
            json!({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "3"}}}),
        ];
        let mut text: Vec<u8> = Vec::new();
        for line in &lines {
            text.extend(serde_json::to_vec(line).unwrap());
            text.push(b'\n');
        }
        // Split mid-line, as a network stream may.
        let (a, b) = text.split_at(17);
        let body = Body::from_stream(futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::copy_from_slice(a)),
            Ok(Bytes::copy_from_slice(b)),
        ]));
        let chunks: Vec<Bytes> =
            watch_tables(body, convertor, options).map(|c| c.unwrap()).collect().await;
        let all: Vec<u8> = chunks.concat();
        let events: Vec<Value> = all
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["object"]["kind"], "Table");
        assert_eq!(events[0]["object"]["columnDefinitions"][1]["name"], "Data");
        assert_eq!(events[0]["object"]["rows"][0]["cells"][1], 1);
        assert_eq!(events[0]["object"]["metadata"]["resourceVersion"], "1");
        assert_eq!(events[1]["object"]["columnDefinitions"], json!([]));
        assert_eq!(events[1]["type"], "MODIFIED");
        assert_eq!(events[2]["object"]["rows"], json!([]));
        assert_eq!(events[2]["object"]["metadata"]["resourceVersion"], "3");
    }
}
