//! `/openapi/v2`, `/openapi/v3` and `/openapi/v3/{api/v1|apis/G/V}`: the documents of
//! [`weir_apimachinery::openapi`], built on the first request after a registry change (on a
//! blocking thread: parsing the embedded documents takes a while) and then served as bytes.
//!
//! kubectl asks `/openapi/v2` for protobuf only (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`,
//! the only form client-go's `OpenAPISchema()` decodes; kubectl 1.37 reads it to validate the
//! items of a `kind: List` file): it gets the protobuf document. Other clients get JSON; a
//! request accepting neither is answered 406.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use weir_apimachinery::openapi::{self, Documents, ServedKind};
use weir_cluster::{Cluster, Error, Registry};

use super::{ApiState, error_response};

/// The rendered documents of the registry's latest state.
#[derive(Debug, Default)]
pub(crate) struct OpenApiCache {
    built: tokio::sync::Mutex<Option<(u64, Arc<Documents>)>>,
}

/// The served kinds of a registry, as the builder takes them.
pub(crate) fn served_kinds(registry: &Registry) -> Vec<ServedKind> {
    registry
        .iter()
        .map(|rt| ServedKind {
            group: rt.group.clone(),
            versions: rt.versions.clone(),
            kind: rt.kind.clone(),
            plural: rt.plural.clone(),
            namespaced: rt.namespaced(),
        })
        .collect()
}

/// The documents for the registry as it is now, built if it changed since the last build.
pub(crate) async fn documents<C>(state: &ApiState<C>) -> Result<Arc<Documents>, Error> {
    let mut built = state.openapi.built.lock().await;
    let generation = state.resources.generation();
    if let Some((at, documents)) = built.as_ref()
        && *at == generation
    {
        return Ok(documents.clone());
    }
    let kinds = served_kinds(&state.resources.snapshot());
    let crds = state.resources.crds();
    let documents = tokio::task::spawn_blocking(move || openapi::build(&kinds, &crds))
        .await
        .map_err(|e| Error::Internal(format!("building the OpenAPI documents failed: {e}")))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    // Copied out of the blocking thread's allocations before they are all freed: the kept
    // bytes would otherwise pin that thread's heap (with the parsed documents' freed pages).
    let documents = Arc::new(documents.clone());
    *built = Some((generation, documents.clone()));
    Ok(documents)
}

/// The media type of the v2 protobuf document.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// Whether a client that sent `headers` takes JSON (kubectl's v2 request takes only protobuf).
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').any(|media| {
        let media = media.split(';').next().unwrap_or("").trim();
        matches!(media, "application/json" | "*/*" | "application/*" | "")
    })
}

/// Whether the client asks for the v2 protobuf document before JSON.
fn prefers_protobuf(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    for media in accept.split(',') {
        match media.split(';').next().unwrap_or("").trim() {
            V2_PROTOBUF => return true,
            "application/json" | "*/*" | "application/*" => return false,
            _ => {}
        }
    }
    false
}

/// 406 as the API server words it (the cluster port has no variant for it: only HTTP has it).
fn not_acceptable() -> Response {
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "only application/json is served for OpenAPI documents",
        "reason": "NotAcceptable", "code": 406,
    });
    (StatusCode::NOT_ACCEPTABLE, axum::Json(status)).into_response()
}

/// One document's bytes, shared with the cache (a 3 MB document is not copied per request).
struct SharedBytes {
    documents: Arc<Documents>,
    part: Part,
}

enum Part {
    V2,
    V2Protobuf,
    V3(String),
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        match &self.part {
            Part::V2 => self.documents.v2(),
            Part::V2Protobuf => self.documents.v2_protobuf(),
            Part::V3(path) => {
                self.documents.v3(path).map(|d| d.json.as_slice()).unwrap_or_default()
            }
        }
    }
}

fn shared(documents: &Arc<Documents>, part: Part) -> Bytes {
    Bytes::from_owner(SharedBytes { documents: documents.clone(), part })
}

/// A JSON document with its `ETag`, or 304 when the client has it already.
fn json_document(headers: &HeaderMap, bytes: Bytes, etag: &str, immutable: bool) -> Response {
    document(headers, bytes, etag, immutable, "application/json")
}

/// A document of `content_type` with its `ETag`, or 304 when the client has it already.
fn document(
    headers: &HeaderMap,
    bytes: Bytes,
    etag: &str,
    immutable: bool,
    content_type: &'static str,
) -> Response {
    let etag = format!("\"{etag}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let cache_control = if immutable { "public, immutable" } else { "no-cache, private" };
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Body::from(bytes).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}

/// `GET /openapi/v2`.
pub(crate) async fn v2<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    headers: HeaderMap,
) -> Response {
    let protobuf = prefers_protobuf(&headers);
    if !protobuf && !accepts_json(&headers) {
        return not_acceptable();
    }
    match documents(&state).await {
        Ok(documents) if protobuf => {
            let etag = format!("{}-pb", documents.v2_hash());
            let bytes = shared(&documents, Part::V2Protobuf);
            // Served as octet-stream, as the API server does: client-go's media type parser
            // refuses the `@` of the name it asks by.
            document(&headers, bytes, &etag, false, "application/octet-stream")
        }
        Ok(documents) => {
            json_document(&headers, shared(&documents, Part::V2), documents.v2_hash(), false)
        }
        Err(e) => error_response(&e),
    }
}

/// `GET /openapi/v3`: the index of group-version documents.
pub(crate) async fn v3_index<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    headers: HeaderMap,
) -> Response {
    if !accepts_json(&headers) {
        return not_acceptable();
    }
    match documents(&state).await {
        Ok(documents) => {
            let bytes = serde_json::to_vec(&documents.v3_index()).unwrap_or_default();
            let etag = openapi::content_hash(&bytes);
            json_document(&headers, Bytes::from(bytes), &etag, false)
        }
        Err(e) => error_response(&e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct HashQuery {
    hash: Option<String>,
}

/// `GET /openapi/v3/api/v1`, `/openapi/v3/apis/G/V`. A request for another hash than the
/// current one is redirected to the current one, as the API server does.
pub(crate) async fn v3_document<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    Path(path): Path<String>,
    Query(query): Query<HashQuery>,
    headers: HeaderMap,
) -> Response {
    if !accepts_json(&headers) {
        return not_acceptable();
    }
    let documents = match documents(&state).await {
        Ok(documents) => documents,
        Err(e) => return error_response(&e),
    };
    let Some(document) = documents.v3(&path) else {
        return error_response(&Error::NotFound {
            kind: "OpenAPI document".to_owned(),
            name: format!("/openapi/v3/{path}"),
        });
    };
    let hash = document.hash.clone();
    let body = shared(&documents, Part::V3(path.clone()));
    match query.hash {
        Some(asked) if asked != hash => {
            let location = format!("/openapi/v3/{}?hash={hash}", path.trim_matches('/'));
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Some(_) => json_document(&headers, body, &hash, true),
        None => json_document(&headers, body, &hash, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_v2_protobuf_request_is_not_json() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            accepts_json(&headers)
        };
        assert!(!with("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"));
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(V2_PROTOBUF));
        assert!(prefers_protobuf(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json, */*"));
        assert!(!prefers_protobuf(&headers));
        assert!(with("application/json"));
        assert!(with("application/json, */*"));
        assert!(with("*/*"));
        assert!(accepts_json(&HeaderMap::new()));
    }
}
