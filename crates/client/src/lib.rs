//! The cluster API over HTTP: [`Client`] implements [`weir_cluster::Cluster`] against a running
//! weir's API, so the CLI (and anything else outside the server process) uses the same calls
//! as the controllers inside it.
//!
//! It is also the proof that the trait fits a remote API server: every method is one request,
//! errors come back from Kubernetes `Status` objects, and a watch is a stream of
//! newline-delimited events.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, FieldError, ListParams, Object, ObjectList, Patch,
    PropagationPolicy, Registry, ResourceType, Result, Scope, StatusParts, Subresource,
    VersionMatch, WatchEvent, WatchParams, WatchStream,
};

/// A connection to a running weir's API.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("token", &"*****").finish()
    }
}

impl Client {
    /// A client for the API at `base` (e.g. `http://127.0.0.1:7171`) with a bearer token.
    pub fn new(base: &str, token: &str) -> Self {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            // The bearer token must never travel through a proxy named in HTTP_PROXY (inside
            // a pod that is weir's own mesh listener): weir's API is always reached directly.
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a plain HTTP client (no TLS backend) always builds"),
        }
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The resource types the server serves (built-in, CRDs, learned kinds).
    pub async fn resources(&self) -> Result<Registry> {
        let value = self.send(self.request(Method::GET, "/weir/v1/resources")).await?;
        let mut registry = Registry::default();
        for t in value.get("resources").and_then(Value::as_array).into_iter().flatten() {
            let text = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
            let list = |key: &str| -> Vec<String> {
                t.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            };
            registry.insert(ResourceType {
                group: text("group"),
                version: text("version"),
                versions: list("versions"),
                kind: text("kind"),
                plural: text("plural"),
                scope: if t.get("namespaced").and_then(Value::as_bool) == Some(false) {
                    Scope::Cluster
                } else {
                    Scope::Namespaced
                },
                short_names: list("shortNames"),
            });
        }
        Ok(registry)
    }

    /// A pod container's log: everything (or the last `tail` lines), then, with `follow`, new
    /// output as it is written, until the stream is dropped.
    pub async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        follow: bool,
        tail: Option<usize>,
    ) -> Result<futures::stream::BoxStream<'static, Result<Vec<u8>>>> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(container) = container {
            query.push(("container", container.to_owned()));
        }
        if follow {
            query.push(("follow", "true".to_owned()));
        }
        if let Some(tail) = tail {
            query.push(("tailLines", tail.to_string()));
        }
        let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log");
        let response = self
            .request(Method::GET, &path)
            .query(&query)
            .send()
            .await
            .map_err(unreachable(&self.base))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.map_err(unreachable(&self.base))?;
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(error_from_status(status, &value));
        }
        let base = self.base.clone();
        Ok(response
            .bytes_stream()
            .map(move |chunk| chunk.map(|b| b.to_vec()).map_err(|e| unreachable(&base)(e)))
            .boxed())
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Value> {
        let response = request.send().await.map_err(unreachable(&self.base))?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable(&self.base))?;
        let value: Value = serde_json::from_slice(&body).unwrap_or_else(
            |_| json!({ "message": String::from_utf8_lossy(&body).trim().to_owned() }),
        );
        if status.is_success() { Ok(value) } else { Err(error_from_status(status, &value)) }
    }

    async fn send_object(&self, request: RequestBuilder) -> Result<Object> {
        Object::from_value(self.send(request).await?)
    }
}

fn unreachable(base: &str) -> impl Fn(reqwest::Error) -> Error + '_ {
    move |e| Error::Unavailable(format!("cannot reach weir at {base}: {}", error_chain(&e)))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Rebuilds the cluster error a server answered with from its `Status` body.
fn error_from_status(status: StatusCode, body: &Value) -> Error {
    let text =
        |pointer: &str| body.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
    let causes = body
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| FieldError {
            field: c.get("field").and_then(Value::as_str).unwrap_or("").to_owned(),
            message: c.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
        })
        .collect();
    Error::from_status(StatusParts {
        code: status.as_u16(),
        reason: text("/reason"),
        message: text("/message"),
        kind: text("/details/kind"),
        name: text("/details/name"),
        causes,
    })
}

fn item_path(
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    subresource: Subresource,
) -> String {
    let mut path = format!("{}/{name}", rt.collection_path(namespace));
    if subresource == Subresource::Status {
        path.push_str("/status");
    }
    path
}

fn object_namespace<'a>(rt: &ResourceType, object: &'a Object) -> Option<&'a str> {
    if rt.namespaced() { object.namespace() } else { None }
}

impl Cluster for Client {
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        let path = item_path(rt, namespace, name, Subresource::Main);
        self.send_object(self.request(Method::GET, &path)).await
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        let mut request = self.request(Method::GET, &rt.collection_path(namespace));
        if let Some(selector) = &params.label_selector {
            request = request.query(&[("labelSelector", selector.to_string())]);
        }
        if let Some(selector) = &params.field_selector {
            request = request.query(&[("fieldSelector", selector.to_string())]);
        }
        if let Some(rv) = &params.resource_version {
            request = request.query(&[("resourceVersion", rv.as_str())]);
        }
        match params.version_match {
            VersionMatch::Unset => {}
            VersionMatch::NotOlderThan => {
                request = request.query(&[("resourceVersionMatch", "NotOlderThan")]);
            }
            VersionMatch::Exact => request = request.query(&[("resourceVersionMatch", "Exact")]),
        }
        let value = self.send(request).await?;
        let items = value
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| Object::from_value(item.clone()))
            .collect::<Result<Vec<_>>>()?;
        let resource_version = value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Ok(ObjectList { items, resource_version })
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let path = rt.collection_path(object_namespace(rt, &object));
        self.send_object(self.request(Method::POST, &path).json(&object)).await
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let path = item_path(rt, object_namespace(rt, &object), object.name(), Subresource::Main);
        self.send_object(self.request(Method::PUT, &path).json(&object)).await
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let path = item_path(rt, object_namespace(rt, &object), object.name(), Subresource::Status);
        self.send_object(self.request(Method::PUT, &path).json(&object)).await
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        // Strategic and apply patches keep their own content type (and the apply's
        // fieldManager/force query parameters): the server applies them with the kind's schema.
        let request = self
            .request(Method::PATCH, &item_path(rt, namespace, name, subresource))
            .query(&patch.query())
            .header(reqwest::header::CONTENT_TYPE, patch.content_type())
            .body(patch.body()?);
        self.send_object(request).await
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        let policy = match params.propagation_policy {
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
            PropagationPolicy::Orphan => "Orphan",
        };
        let mut preconditions = serde_json::Map::new();
        if let Some(uid) = &params.precondition_uid {
            preconditions.insert("uid".to_owned(), json!(uid));
        }
        if let Some(rv) = &params.precondition_resource_version {
            preconditions.insert("resourceVersion".to_owned(), json!(rv));
        }
        let options = json!({ "propagationPolicy": policy, "preconditions": preconditions });
        let request = self
            .request(Method::DELETE, &item_path(rt, namespace, name, Subresource::Main))
            .json(&options);
        let response = request.send().await.map_err(unreachable(&self.base))?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable(&self.base))?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(error_from_status(status, &value));
        }
        let object = Object::from_value(value)?;
        Ok(if status == StatusCode::ACCEPTED {
            DeleteOutcome::Pending(object)
        } else {
            DeleteOutcome::Deleted(object)
        })
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let mut query: HashMap<&str, String> = HashMap::from([("watch", "true".to_owned())]);
        if let Some(rv) = &params.resource_version {
            query.insert("resourceVersion", rv.clone());
        }
        if let Some(selector) = &params.label_selector {
            query.insert("labelSelector", selector.to_string());
        }
        if let Some(selector) = &params.field_selector {
            query.insert("fieldSelector", selector.to_string());
        }
        if params.bookmarks {
            query.insert("allowWatchBookmarks", "true".to_owned());
        }
        if params.send_initial_events {
            query.insert("sendInitialEvents", "true".to_owned());
            query.insert("resourceVersionMatch", "NotOlderThan".to_owned());
            query.insert("allowWatchBookmarks", "true".to_owned());
        }
        let request = self.request(Method::GET, &rt.collection_path(namespace)).query(&query);
        let response = request.send().await.map_err(unreachable(&self.base))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.map_err(unreachable(&self.base))?;
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(error_from_status(status, &value));
        }
        let base = self.base.clone();
        let bytes = response.bytes_stream().map_err(move |e| unreachable(&base)(e));
        Ok(lines(bytes).map(|line| line.and_then(|line| parse_event(&line))).boxed())
    }
}

/// Splits a byte stream into lines.
fn lines<B: AsRef<[u8]> + Send + 'static>(
    bytes: impl futures::Stream<Item = Result<B>> + Send + 'static,
) -> impl futures::Stream<Item = Result<Vec<u8>>> + Send + 'static {
    futures::stream::unfold(
        (bytes.boxed(), Vec::new(), false),
        |(mut bytes, mut buffer, done)| async move {
            loop {
                if let Some(at) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=at).collect();
                    return Some((Ok(line), (bytes, buffer, done)));
                }
                if done {
                    return None;
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buffer.extend_from_slice(chunk.as_ref()),
                    Some(Err(e)) => return Some((Err(e), (bytes, buffer, true))),
                    None => {
                        if buffer.iter().all(u8::is_ascii_whitespace) {
                            return None;
                        }
                        buffer.push(b'\n');
                        return Some((Ok(std::mem::take(&mut buffer)), (bytes, Vec::new(), true)));
                    }
                }
            }
        },
    )
}

fn parse_event(line: &[u8]) -> Result<WatchEvent> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| Error::Internal(format!("malformed watch event: {e}")))?;
    if value.get("type").and_then(Value::as_str) == Some("ERROR") {
        let status = value.get("object").cloned().unwrap_or(Value::Null);
        let code = status.get("code").and_then(Value::as_u64).unwrap_or(500);
        let code = StatusCode::from_u16(u16::try_from(code).unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(error_from_status(code, &status));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::Internal(format!("malformed watch event: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_the_errors_the_server_raised() {
        let conflict = json!({"reason": "Conflict", "message": "operation cannot be fulfilled on Rollout \"r\": the object has been modified", "details": {"kind": "Rollout", "name": "r"}});
        assert_eq!(
            error_from_status(StatusCode::CONFLICT, &conflict),
            Error::Conflict {
                kind: "Rollout".into(),
                name: "r".into(),
                message: "the object has been modified".into()
            }
        );
        let expired = json!({"reason": "Expired", "message": "too old resource version: 5 (oldest retained: 90)"});
        assert_eq!(
            error_from_status(StatusCode::GONE, &expired),
            Error::Expired { requested: 5, oldest: 90 }
        );
        assert_eq!(error_from_status(StatusCode::UNAUTHORIZED, &json!({})), Error::Unauthorized);
    }

    #[test]
    fn error_events_end_as_errors() {
        let line = br#"{"type":"ERROR","object":{"code":410,"reason":"Expired","message":"too old resource version: 1 (oldest retained: 7)"}}"#;
        assert_eq!(parse_event(line), Err(Error::Expired { requested: 1, oldest: 7 }));
    }
}
