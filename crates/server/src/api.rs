//! The HTTP API: Kubernetes-style paths over the cluster API, JSON in and out, watch as a
//! stream of newline-delimited events, errors as Kubernetes `Status` objects.
//!
//! | path | verbs |
//! |---|---|
//! | `/healthz` | GET (no token) |
//! | `/version` | GET: a Kubernetes version object |
//! | `/api`, `/apis`, `/apis/{group}`, `/api/v1`, `/apis/{group}/{version}` | GET: discovery (legacy, or aggregated v2 when `Accept` asks for it) |
//! | `/weir/v1/resources` | GET: every served resource type |
//! | `/api/v1/namespaces/{ns}/pods/{name}/log` | GET: a container's log (`container`, `follow`, `tailLines`) |
//! | `/openapi/v2`, `/openapi/v3`, `/openapi/v3/{api/v1,apis/G/V}` | GET: OpenAPI documents (`openapi`) |
//! | `/api/v1/…`, `/apis/{group}/{version}/…` | collection GET (list, `?watch=true`), POST; item GET, PUT, PATCH, DELETE; `/status` and `/scale` GET, PUT, PATCH |
//!
//! Every served version of a kind is readable and writable as that version: objects are stored
//! in the preferred version and answered with the `apiVersion` of the request's path.

mod body;
pub(crate) mod discovery;
mod dry_run;
mod events;
mod field_validation;
mod list;
mod logs;
mod meta;
mod namespaces;
mod openapi;
mod path;
mod scale;
mod table;
mod watch;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, DryRun, Error, Object, Patch, PatchParams,
    PropagationPolicy, ResourceType, Subresource,
};
use weir_model::typed::TypedObject;

use crate::auth::{Token, require_token};
use crate::resources::Resources;
use path::ApiPath;

/// The largest request body accepted (the store caps single objects below this).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct ApiState<C> {
    pub(crate) cluster: C,
    pub(crate) resources: Resources,
    pub(crate) token: Token,
    /// Where the node agent keeps pod logs (embedded mode only).
    pub(crate) data_dir: Option<std::path::PathBuf>,
    /// The embedded store, asked for the kinds of a group when a path names a type no client
    /// declared (a controller wrote the first object of it).
    pub(crate) discovery: Option<weir_store::Store>,
    /// The OpenAPI documents, rendered once per registry change.
    pub(crate) openapi: openapi::OpenApiCache,
    /// The declared fields of every kind, for `fieldValidation`.
    pub(crate) field_schemas: field_validation::FieldSchemaCache,
    /// Snapshots of recent paged lists, which their `continue` tokens name.
    pub(crate) lists: list::Snapshots,
}

impl<C> ApiState<C> {
    /// State for a router over `cluster`, accepting `token`.
    pub fn new(cluster: C, resources: Resources, token: String) -> Self {
        ApiState {
            cluster,
            resources,
            token: Token::new(token),
            data_dir: None,
            discovery: None,
            openapi: openapi::OpenApiCache::default(),
            field_schemas: field_validation::FieldSchemaCache::default(),
            lists: list::Snapshots::default(),
        }
    }

    /// Finds types in `store` that were stored without going through this API.
    pub fn with_discovery(mut self, store: weir_store::Store) -> Self {
        self.discovery = Some(store);
        self
    }

    /// Serves pod logs from this data directory's `pods/` folder.
    pub fn with_data_dir(mut self, data_dir: std::path::PathBuf) -> Self {
        self.data_dir = Some(data_dir);
        self
    }

    /// Keeps at most `capacity` paged lists' snapshots, each for `ttl` (defaults: 64, 5 min).
    pub fn with_list_snapshots(mut self, ttl: std::time::Duration, capacity: usize) -> Self {
        self.lists = list::Snapshots::new(ttl, capacity);
        self
    }
}

/// The API's router. Every route but `/healthz` requires the bearer token.
pub fn router<C: Cluster + DryRun + Clone>(state: Arc<ApiState<C>>) -> Router
where
    C::Dry: std::fmt::Debug,
{
    let authenticated = Router::new()
        .route("/version", get(meta::version))
        .route("/api", get(meta::core_versions::<C>))
        .route("/apis", get(meta::group_list::<C>))
        .route("/api/{version}", get(meta::core_resources::<C>))
        .route("/apis/{group}", get(meta::group::<C>))
        .route("/apis/{group}/{version}", get(meta::group_resources::<C>))
        .route("/weir/v1/resources", get(list_resources::<C>))
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(logs::pod_log::<C>))
        .route("/openapi/v2", get(openapi::v2::<C>))
        .route("/openapi/v3", get(openapi::v3_index::<C>))
        .route("/openapi/v3/{*path}", get(openapi::v3_document::<C>))
        .fallback(resource_request::<C>)
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token::<C>));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(authenticated)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(body_too_large_as_status))
        .with_state(state)
}

/// The body limit's own answer (axum's plain-text 413) as the Kubernetes `Status` that
/// kube-apiserver gives for a body over its limit (`apierrors.NewRequestEntityTooLargeError`):
/// reason `RequestEntityTooLarge`, code 413. A 413 that already is a `Status` is left alone.
async fn body_too_large_as_status(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return response;
    }
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
        "reason": "RequestEntityTooLarge",
        "code": 413,
    });
    (StatusCode::PAYLOAD_TOO_LARGE, Json(status)).into_response()
}

async fn list_resources<C: Cluster + Clone>(State(state): State<Arc<ApiState<C>>>) -> Json<Value> {
    let registry = state.resources.snapshot();
    let types: Vec<Value> = registry
        .iter()
        .map(|rt| {
            json!({
                "group": rt.group, "version": rt.version, "versions": rt.versions, "kind": rt.kind,
                "plural": rt.plural, "namespaced": rt.namespaced(), "shortNames": rt.short_names,
            })
        })
        .collect();
    Json(json!({ "resources": types }))
}

/// Renders an error as a Kubernetes `Status` with the matching HTTP code.
pub(crate) fn error_response(error: &Error) -> Response {
    let code = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code.is_server_error() {
        tracing::error!(error = %error, "request failed");
    }
    (code, Json(status_object(error))).into_response()
}

fn status_object(error: &Error) -> Value {
    let mut details = json!({});
    match error {
        Error::NotFound { kind, name }
        | Error::AlreadyExists { kind, name }
        | Error::Conflict { kind, name, .. } => {
            details = json!({ "kind": kind, "name": name });
        }
        Error::Invalid { kind, name, causes } => {
            let causes: Vec<Value> = causes
                .iter()
                .map(|c| json!({ "reason": "FieldValueInvalid", "field": c.field, "message": c.message }))
                .collect();
            details = json!({ "kind": kind, "name": name, "causes": causes });
        }
        Error::ApplyConflict { causes, .. } => {
            let causes: Vec<Value> = causes
                .iter()
                .map(|c| json!({ "reason": "FieldManagerConflict", "field": c.field, "message": c.message }))
                .collect();
            details = json!({ "causes": causes });
        }
        _ => {}
    }
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": error.to_string(), "reason": error.reason(), "details": details, "code": error.status(),
    })
}

fn ok(code: StatusCode, object: &Object) -> Response {
    (code, Json(object)).into_response()
}

async fn resource_request<C: Cluster + DryRun + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response
where
    C::Dry: std::fmt::Debug,
{
    // `as=Table`: the response is re-written on its way out (see `table`).
    let table = match (method == Method::GET).then(|| table::requested(&headers, &query)) {
        Some(Err(error)) => return error_response(&error),
        Some(Ok(options)) => options,
        None => None,
    };
    // `fieldValidation`: unknown fields refused (Strict) or warned about, before any write.
    let warnings =
        match field_validation::check(&state, &method, uri.path(), &query, &headers, &body).await {
            Ok(warnings) => warnings,
            Err(error) => return error_response(&error),
        };
    let mut response = match handle(&state, &method, &uri, &query, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    };
    field_validation::add_warnings(&mut response, &warnings);
    // Looked up after the request: a kind the request discovered is known now.
    let path = ApiPath::parse(uri.path());
    let rt = path.as_ref().and_then(|p| state.resources.for_path(&p.group, &p.version, &p.plural));
    match (table, rt, path) {
        (Some(options), Some(rt), Some(path)) => {
            let convertor = table::convertor(&state, &rt, &path.version);
            table::transform(response, convertor, options, is_true(query.get("watch"))).await
        }
        _ => response,
    }
}

async fn handle<C: Cluster + DryRun + Clone>(
    state: &ApiState<C>,
    method: &Method,
    uri: &Uri,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Error>
where
    C::Dry: std::fmt::Debug,
{
    let not_found = || Error::NotFound { kind: "resource".to_owned(), name: uri.path().to_owned() };
    let path = ApiPath::parse(uri.path()).ok_or_else(not_found)?;
    // A protobuf body (kubectl's generators) continues as the JSON it decodes to.
    let decoded_body;
    let writes = matches!(*method, Method::POST | Method::PUT);
    let body = match writes.then(|| body::as_json(headers, body)) {
        Some(Ok(Some(json))) => {
            decoded_body = json;
            &decoded_body
        }
        Some(Err(refused)) => return Ok(refused.into_response()),
        _ => body,
    };
    if events::is_events_v1(&path.group, &path.version, &path.plural) && path.subresource.is_none()
    {
        let target = dry_run::Target::of(&state.cluster, dry_run::requested(method, query)?);
        let (namespace, name) = (path.namespace.as_deref(), path.name.as_deref());
        return events::serve(state, &target, method, namespace, name, query, headers, body).await;
    }
    let rt = match state.resources.for_path(&path.group, &path.version, &path.plural) {
        Some(rt) => rt,
        None if matches!(*method, Method::POST | Method::PUT) => {
            let object = parse_object(body)?;
            state
                .resources
                .learn_from_object(&path.group, &path.version, &path.plural, &object)
                .ok_or_else(not_found)?
        }
        None => discover(state, &path).await.ok_or_else(not_found)?,
    };
    let namespace = if rt.namespaced() { path.namespace.as_deref() } else { None };
    if !rt.namespaced() && path.namespace.is_some() {
        return Err(not_found());
    }
    let cluster = &dry_run::Target::of(&state.cluster, dry_run::requested(method, query)?);
    // Reads go through the version the path names (the store answers in it); writes are stored
    // in the preferred version, and their answers relabelled.
    let served = ResourceType { version: path.version.clone(), ..rt.clone() };
    let as_served = |mut object: Object| {
        object.api_version = served.api_version();
        object
    };
    let subresource = match (path.subresource.as_deref(), &path.name) {
        (None, _) => Subresource::Main,
        (Some("status"), _) => Subresource::Status,
        (Some("scale"), Some(name)) => {
            let facts = meta::facts(state).await;
            return scale::handle(cluster, &facts, &served, namespace, name, method, headers, body)
                .await;
        }
        (Some(_), _) => return Err(not_found()),
    };

    match (&path.name, method.clone()) {
        (None, Method::GET) if is_true(query.get("watch")) => {
            watch(cluster, &served, namespace, query, std::convert::identity).await
        }
        (None, Method::GET) => {
            match list::list(&state.lists, cluster, &served, namespace, query).await {
                Ok(page) => Ok(Json(list::body(&served, &page)).into_response()),
                Err(rendered) => Ok(rendered),
            }
        }
        (None, Method::POST) if path.subresource.is_none() => {
            let object = checked_body(&rt, namespace, None, body)?;
            namespaces::admit_create(cluster, &rt, object.namespace(), object.name()).await?;
            let created = cluster.create(&rt, object).await?;
            after_write(state, cluster, &rt, &created);
            Ok(ok(StatusCode::CREATED, &as_served(created)))
        }
        (Some(name), Method::GET) => {
            Ok(ok(StatusCode::OK, &cluster.get(&served, namespace, name).await?))
        }
        (Some(name), Method::PUT) => {
            let object = checked_body(&rt, namespace, Some(name), body)?;
            let updated = match subresource {
                Subresource::Main => cluster.update(&rt, object).await?,
                Subresource::Status => cluster.update_status(&rt, object).await?,
            };
            after_write(state, cluster, &rt, &updated);
            Ok(ok(StatusCode::OK, &as_served(updated)))
        }
        (Some(name), Method::PATCH) => {
            let content_type =
                headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let params = PatchParams {
                field_manager: query.get("fieldManager").cloned(),
                force: is_true(query.get("force")),
            };
            let patch = Patch::from_request(content_type, body, &params)?;
            weir_store::check_apply_identity(&patch, &rt, name, namespace)?;
            let creates = match subresource {
                Subresource::Main => {
                    check_patch_result(cluster, &rt, namespace, name, &patch).await?
                }
                Subresource::Status => false,
            };
            if creates {
                // A server-side apply that creates: its namespace must exist, as for a POST.
                namespaces::admit_create(cluster, &rt, namespace, name).await?;
            }
            let patched = cluster.patch(&rt, namespace, name, &patch, subresource).await?;
            after_write(state, cluster, &rt, &patched);
            // Server-side apply answers 201 when it created the object.
            let code = if creates { StatusCode::CREATED } else { StatusCode::OK };
            Ok(ok(code, &as_served(patched)))
        }
        (Some(name), Method::DELETE) if path.subresource.is_none() => {
            let params = delete_params(query, body)?;
            match cluster.delete(&rt, namespace, name, &params).await? {
                DeleteOutcome::Deleted(object) => Ok(ok(StatusCode::OK, &as_served(object))),
                DeleteOutcome::Pending(object) => Ok(ok(StatusCode::ACCEPTED, &as_served(object))),
            }
        }
        _ => Err(Error::BadRequest(format!("method {method} is not allowed on {}", uri.path()))),
    }
}

/// The type of `path` among the kinds stored in its group whose conventional plural it is
/// (the Application controller stores the kinds of its manifests without telling the API).
async fn discover<C>(state: &ApiState<C>, path: &ApiPath) -> Option<ResourceType> {
    let store = state.discovery.as_ref()?;
    let kinds = match store.kinds_in_group(&path.group).await {
        Ok(kinds) => kinds,
        Err(e) => {
            tracing::warn!(group = %path.group, error = %e, "cannot list the kinds of a group");
            return None;
        }
    };
    let api_version = match path.group.as_str() {
        "" => path.version.clone(),
        group => format!("{group}/{}", path.version),
    };
    let (kind, namespaced) = kinds
        .into_iter()
        .find(|(kind, _)| ResourceType::guess(&api_version, kind).plural == path.plural)?;
    state
        .resources
        .learn_kind(&api_version, &kind, namespaced)
        .filter(|rt| rt.plural == path.plural)
}

fn after_write<C: DryRun>(
    state: &ApiState<C>,
    target: &dry_run::Target<C>,
    rt: &ResourceType,
    object: &Object,
) {
    if target.is_dry_run() {
        return; // nothing was stored
    }
    if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
        state.resources.learn_crd(object);
    }
}

fn is_true(value: Option<&String>) -> bool {
    matches!(value.map(String::as_str), Some("true" | "1"))
}

fn parse_object(body: &Bytes) -> Result<Object, Error> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("request body is not valid JSON: {e}")))?;
    Object::from_value(value)
}

/// Parses a write's body, checks that it addresses this path, and that a typed kind is
/// well-formed (every field problem is answered as 422 with its path).
fn checked_body(
    rt: &ResourceType,
    namespace: Option<&str>,
    name: Option<&str>,
    body: &Bytes,
) -> Result<Object, Error> {
    let mut object = parse_object(body)?;
    if object.kind != rt.kind || object.group() != rt.group {
        return Err(Error::BadRequest(format!(
            "the body's kind {} ({}) does not match the path's resource {} ({})",
            object.kind,
            object.api_version,
            rt.plural,
            rt.api_version()
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
    match (namespace, object.namespace()) {
        (Some(path_ns), Some(body_ns)) if path_ns != body_ns => {
            return Err(Error::BadRequest(format!(
                "the namespace of the object ({body_ns}) does not match the namespace of the path ({path_ns})"
            )));
        }
        (Some(path_ns), None) => object.metadata.namespace = Some(path_ns.to_owned()),
        (None, _) if !rt.namespaced() => object.metadata.namespace = None,
        _ => {}
    }
    if let Err(diagnostics) = TypedObject::from_object(&object) {
        return Err(Error::Invalid {
            kind: object.kind.clone(),
            name: object.name().to_owned(),
            causes: diagnostics.iter().map(|d| d.to_field_error()).collect(),
        });
    }
    Ok(object)
}

/// Refuses a patch whose result would not be a well-formed object of a typed kind (422 with
/// every field problem, as for a create or an update), before anything is written. The check
/// runs on the object as read now; the store applies the patch to the object as stored (and
/// decides apply conflicts). Returns whether the patch is an apply that creates the object.
async fn check_patch_result<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    patch: &Patch,
) -> Result<bool, Error> {
    let live = match cluster.get(rt, namespace, name).await {
        Ok(live) => Some(live.to_value()),
        Err(Error::NotFound { .. }) if matches!(patch, Patch::Apply { .. }) => None,
        Err(e) => return Err(e),
    };
    let forced;
    let checked = match patch {
        Patch::Apply { config, field_manager, .. } => {
            forced = Patch::Apply {
                config: config.clone(),
                field_manager: field_manager.clone(),
                force: true,
            };
            &forced
        }
        other => other,
    };
    let value = weir_store::patch_value(live.as_ref(), checked, rt, None, "1970-01-01T00:00:00Z")?;
    let patched = Object::from_value(value)?;
    if let Err(diagnostics) = TypedObject::from_object(&patched) {
        return Err(Error::Invalid {
            kind: patched.kind.clone(),
            name: patched.name().to_owned(),
            causes: diagnostics.iter().map(|d| d.to_field_error()).collect(),
        });
    }
    Ok(live.is_none())
}

fn delete_params(query: &HashMap<String, String>, body: &Bytes) -> Result<DeleteParams, Error> {
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("invalid DeleteOptions: {e}")))?
    };
    let policy = query
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| options.get("propagationPolicy").and_then(Value::as_str));
    let propagation_policy = match policy {
        None | Some("Background") => PropagationPolicy::Background,
        Some("Foreground") => PropagationPolicy::Foreground,
        Some("Orphan") => PropagationPolicy::Orphan,
        Some(other) => {
            return Err(Error::BadRequest(format!("unknown propagationPolicy {other:?}")));
        }
    };
    let precondition = |key: &str| {
        options.pointer(&format!("/preconditions/{key}")).and_then(Value::as_str).map(str::to_owned)
    };
    Ok(DeleteParams {
        propagation_policy,
        precondition_uid: precondition("uid"),
        precondition_resource_version: precondition("resourceVersion"),
    })
}

/// Streams watch events as newline-delimited JSON. A too-old resourceVersion is answered the
/// Kubernetes way: status 200 and one `ERROR` event carrying a 410 `Status`.
async fn watch<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
    convert: fn(weir_cluster::WatchEvent) -> weir_cluster::WatchEvent,
) -> Result<Response, Error> {
    let params = watch::params(query)?;
    let timeout = watch::timeout(query)?;
    let line = |value: Value| -> Result<Bytes, Infallible> {
        let mut bytes = serde_json::to_vec(&value).expect("JSON values serialize");
        bytes.push(b'\n');
        Ok(Bytes::from(bytes))
    };
    let error_event = |e: &Error| json!({ "type": "ERROR", "object": status_object(e) });
    let body = match cluster.watch(rt, namespace, &params).await {
        Ok(stream) => {
            // An error ends the stream after it is reported, as Kubernetes ends a watch.
            let events = stream.scan(false, move |ended, event| {
                if *ended {
                    return std::future::ready(None);
                }
                let bytes = match event {
                    Ok(event) => {
                        line(serde_json::to_value(convert(event)).expect("watch events serialize"))
                    }
                    Err(e) => {
                        *ended = true;
                        line(error_event(&e))
                    }
                };
                std::future::ready(Some(bytes))
            });
            match timeout {
                // The stream ends cleanly (the response completes) when the time is up.
                Some(after) => Body::from_stream(events.take_until(tokio::time::sleep(after))),
                None => Body::from_stream(events),
            }
        }
        Err(e @ Error::Expired { .. }) => {
            Body::from_stream(futures::stream::iter([line(error_event(&e))]))
        }
        Err(e) => return Err(e),
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
