//! [`KubeCluster`]: the [`Cluster`] trait over kube-rs, one `Api<DynamicObject>` call per method,
//! every call throttled, timed out and retried by the policy in [`crate::retry`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PatchParams, PostParams};
use kube::discovery::ApiCapabilities;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, ListParams, Object, ObjectList, Patch,
    ResourceType, Result, Scope, Subresource, WatchParams, WatchStream,
};

use crate::connect::ConnectOptions;
use crate::convert::{api_resource, delete_params, from_dynamic, list_params, to_dynamic};
use crate::errors::Failure;
use crate::limit::RateLimiter;
use crate::retry::{Idempotency, retry_after};
use crate::watch;

/// How long the server keeps one watch request open before the backend reopens it from the
/// last resourceVersion (kube-rs' and client-go's default is 290 s, under the API server's
/// 30-minute ceiling).
const WATCH_TIMEOUT_SECONDS: u32 = 290;

/// A Kubernetes API server, as a [`Cluster`]. Cheap to clone (clones share the connection
/// pool and the rate limiter).
#[derive(Clone)]
pub struct KubeCluster {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    server: String,
    default_namespace: String,
    limiter: Arc<RateLimiter>,
    request_timeout: Duration,
    watch_timeout_seconds: u32,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("server", &self.inner.server)
            .field("default_namespace", &self.inner.default_namespace)
            .finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A backend over an already-built kube-rs configuration (no request is made). Retries are
    /// this crate's (see [`crate`]), so kube-rs' own retry layer is turned off.
    pub fn from_config(
        mut config: kube::Config,
        options: &ConnectOptions,
    ) -> std::result::Result<Self, String> {
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| crate::errors::chain(&e))?;
        Ok(KubeCluster {
            inner: Arc::new(Inner {
                client,
                server: server.trim_end_matches('/').to_owned(),
                default_namespace,
                limiter: Arc::new(RateLimiter::new(options.qps, options.burst)),
                request_timeout: options.request_timeout,
                watch_timeout_seconds: WATCH_TIMEOUT_SECONDS,
            }),
        })
    }

    /// The same backend with watches reopened every `seconds` (tests use a few seconds to
    /// exercise resumption).
    pub fn with_watch_timeout(self, seconds: u32) -> Self {
        let inner = &self.inner;
        KubeCluster {
            inner: Arc::new(Inner {
                client: inner.client.clone(),
                server: inner.server.clone(),
                default_namespace: inner.default_namespace.clone(),
                limiter: inner.limiter.clone(),
                request_timeout: inner.request_timeout,
                watch_timeout_seconds: seconds.max(1),
            }),
        }
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The namespace the kubeconfig context (or the pod's service account) names.
    pub fn default_namespace(&self) -> &str {
        &self.inner.default_namespace
    }

    /// The kube-rs client underneath, for calls the [`Cluster`] trait has no word for (logs,
    /// `/scale`, discovery). It is not throttled by this backend's rate limiter.
    pub fn client(&self) -> kube::Client {
        self.inner.client.clone()
    }

    /// The resource type of a kind weir does not know, found through discovery
    /// (`/apis/GROUP/VERSION`): `NotFound` when the server does not serve it (a missing CRD).
    pub async fn discover(&self, api_version: &str, kind: &str) -> Result<ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let client = self.inner.client.clone();
        let found = self
            .call(Idempotency::Read, || {
                let client = client.clone();
                let gvk = gvk.clone();
                async move { kube::discovery::pinned_kind(&client, &gvk).await }
            })
            .await;
        match found {
            Ok((ar, caps)) => Ok(resource_type(&ar, &caps)),
            Err(Error::NotFound { .. }) => {
                Err(Error::NotFound { kind: kind.to_owned(), name: api_version.to_owned() })
            }
            Err(e) => Err(e),
        }
    }

    /// Of `wanted`, the types the server does not serve (CRDs not installed), found through
    /// discovery of each group-version. Errors other than "not served" are returned.
    pub async fn missing(&self, wanted: &[ResourceType]) -> Result<Vec<ResourceType>> {
        let mut missing = Vec::new();
        for rt in wanted {
            match self.discover(&rt.api_version(), &rt.kind).await {
                Ok(_) => {}
                Err(Error::NotFound { .. }) => missing.push(rt.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok(missing)
    }

    /// One request to check the server answers: `GET /version`.
    pub(crate) async fn probe(&self) -> std::result::Result<(), Failure> {
        self.inner.limiter.acquire().await;
        let request = http::Request::get("/version")
            .body(Vec::new())
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let answer = tokio::time::timeout(
            self.inner.request_timeout,
            self.inner.client.request_text(request),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::from_kube(e)),
            Err(_) => Err(Failure::Ambiguous(format!(
                "no answer within {:?}",
                self.inner.request_timeout
            ))),
        }
    }

    /// The kube-rs handle for one type in one namespace (or all).
    pub(crate) fn api(&self, rt: &ResourceType, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = api_resource(rt);
        let client = self.inner.client.clone();
        match (rt.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client, ns, &ar),
            _ => Api::all_with(client, &ar),
        }
    }

    pub(crate) fn watch_timeout_seconds(&self) -> u32 {
        self.inner.watch_timeout_seconds
    }

    /// Runs one API call: throttled, with a timeout, retried as the policy allows.
    pub(crate) async fn call<T, F, Fut>(&self, idempotency: Idempotency, attempt: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, kube::Error>>,
    {
        self.call_noting_breaks(idempotency, attempt).await.0
    }

    /// [`Self::call`], also saying whether an attempt broke off after the request may have
    /// been sent (so that an earlier attempt may have acted).
    async fn call_noting_breaks<T, F, Fut>(
        &self,
        idempotency: Idempotency,
        attempt: F,
    ) -> (Result<T>, bool)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, kube::Error>>,
    {
        let mut retry = 0;
        let mut broke = false;
        loop {
            self.inner.limiter.acquire().await;
            let failure = match tokio::time::timeout(self.inner.request_timeout, attempt()).await {
                Ok(Ok(value)) => return (Ok(value), broke),
                Ok(Err(error)) => Failure::from_kube(error),
                Err(_) => {
                    Failure::Ambiguous(format!("no answer within {:?}", self.inner.request_timeout))
                }
            };
            match retry_after(idempotency, &failure, retry) {
                Some(delay) => {
                    broke |= matches!(failure, Failure::Ambiguous(_));
                    tracing::debug!(?failure, ?delay, retry, "API call failed; retrying");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                None => return (Err(failure.into_error(&self.inner.server)), broke),
            }
        }
    }

    /// A replace (of the object, or of its status) guarded by the object's resourceVersion.
    ///
    /// When an attempt broke off after the request may have been sent and the retry answered
    /// 409 Conflict, the first attempt may have landed (its replay then carries a stale
    /// resourceVersion). The object is read back: if it holds what was written, the write
    /// succeeded and its result is returned, so that the caller does not take its own write
    /// for another writer's (and, say, drop the events that go with it). Otherwise the
    /// Conflict stands.
    async fn replace_guarded(
        &self,
        rt: &ResourceType,
        object: Object,
        part: Part,
    ) -> Result<Object> {
        let namespace = object_namespace(rt, &object).map(str::to_owned);
        let api = self.api(rt, namespace.as_deref());
        let name = object.name().to_owned();
        let body = to_dynamic(object.clone());
        let pp = PostParams::default();
        let (result, broke) = self
            .call_noting_breaks(Idempotency::Idempotent, || async {
                match part {
                    Part::Whole => api.replace(&name, &pp, &body).await,
                    Part::Status => api.replace_status(&name, &pp, &body).await,
                }
            })
            .await;
        match result {
            Ok(written) => from_dynamic(written, rt),
            Err(conflict @ Error::Conflict { .. }) if broke => {
                match self.get(rt, namespace.as_deref(), &name).await {
                    Ok(current) if holds_write(&object, &current, part) => {
                        tracing::debug!(kind = %rt.kind, %name, "a broken-off write had landed");
                        Ok(current)
                    }
                    _ => Err(conflict),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// What a replace writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The object (its status is ignored by the server).
    Whole,
    /// The status subresource (everything but the status is ignored).
    Status,
}

/// Whether `current` (read back from the server) holds what a replace of `part` with `sent`
/// wrote: the same object (uid), and the same status, or the same fields but the status and
/// the metadata the server sets.
fn holds_write(sent: &Object, current: &Object, part: Part) -> bool {
    if sent.metadata.uid.is_some() && sent.metadata.uid != current.metadata.uid {
        return false;
    }
    match part {
        Part::Status => sent.data.get("status") == current.data.get("status"),
        Part::Whole => {
            let fields = |o: &Object| {
                let mut data = o.data.clone();
                data.remove("status");
                data
            };
            let (s, c) = (&sent.metadata, &current.metadata);
            fields(sent) == fields(current)
                && s.labels.clone().unwrap_or_default() == c.labels.clone().unwrap_or_default()
                && s.annotations.clone().unwrap_or_default()
                    == c.annotations.clone().unwrap_or_default()
                && s.owner_references.clone().unwrap_or_default()
                    == c.owner_references.clone().unwrap_or_default()
                && s.finalizers.clone().unwrap_or_default()
                    == c.finalizers.clone().unwrap_or_default()
        }
    }
}

/// A weir resource type from discovery's answer.
pub(crate) fn resource_type(ar: &kube::api::ApiResource, caps: &ApiCapabilities) -> ResourceType {
    ResourceType {
        group: ar.group.clone(),
        version: ar.version.clone(),
        versions: vec![ar.version.clone()],
        kind: ar.kind.clone(),
        plural: ar.plural.clone(),
        scope: match caps.scope {
            kube::discovery::Scope::Cluster => Scope::Cluster,
            kube::discovery::Scope::Namespaced => Scope::Namespaced,
        },
        short_names: Vec::new(),
    }
}

fn object_namespace<'a>(rt: &ResourceType, object: &'a Object) -> Option<&'a str> {
    if rt.namespaced() { object.namespace() } else { None }
}

impl Cluster for KubeCluster {
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        let api = self.api(rt, namespace);
        let object = self.call(Idempotency::Read, || api.get(name)).await?;
        from_dynamic(object, rt)
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        let api = self.api(rt, namespace);
        let lp = list_params(params);
        let list = self.call(Idempotency::Read, || api.list(&lp)).await?;
        let resource_version = list.metadata.resource_version.clone().unwrap_or_default();
        let items = list
            .items
            .into_iter()
            .map(|item| from_dynamic(item, rt))
            .collect::<Result<Vec<_>>>()?;
        Ok(ObjectList { items, resource_version })
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let api = self.api(rt, object_namespace(rt, &object));
        let body = to_dynamic(object);
        let pp = PostParams::default();
        let created = self.call(Idempotency::Unsafe, || api.create(&pp, &body)).await?;
        from_dynamic(created, rt)
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.replace_guarded(rt, object, Part::Whole).await
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        self.replace_guarded(rt, object, Part::Status).await
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        let api = self.api(rt, namespace);
        let (kube_patch, idempotency, pp) = kube_patch(patch)?;
        let patched = self
            .call(idempotency, || async {
                match subresource {
                    Subresource::Main => api.patch(name, &pp, &kube_patch).await,
                    Subresource::Status => api.patch_status(name, &pp, &kube_patch).await,
                }
            })
            .await?;
        from_dynamic(patched, rt)
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        let api = self.api(rt, namespace);
        let dp = delete_params(params);
        let answer = self.call(Idempotency::Idempotent, || api.delete(name, &dp)).await?;
        answer.either(
            // The API server answers with the object: still there (finalizers, foreground
            // deletion) when it carries a deletionTimestamp and finalizers, else its last state.
            |object| {
                let object = from_dynamic(object, rt)?;
                let pending = object.metadata.deletion_timestamp.is_some()
                    && object.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty());
                Ok(if pending {
                    DeleteOutcome::Pending(object)
                } else {
                    DeleteOutcome::Deleted(object)
                })
            },
            // Some kinds answer with a Status: the object is gone and only its name is known.
            |status| {
                let mut object = Object::new(&rt.api_version(), &rt.kind, namespace, name);
                object.metadata.uid = status.details.map(|d| d.uid).filter(|uid| !uid.is_empty());
                Ok(DeleteOutcome::Deleted(object))
            },
        )
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let stream = watch::resuming(self.clone(), rt.clone(), namespace, params).await?;
        Ok(stream.boxed())
    }
}

/// The kube-rs patch for a weir patch, how safe it is to repeat, and its parameters.
fn kube_patch(
    patch: &Patch,
) -> Result<(kube::api::Patch<serde_json::Value>, Idempotency, PatchParams)> {
    let pp = PatchParams::default();
    match patch {
        Patch::Merge(value) => {
            Ok((kube::api::Patch::Merge(value.clone()), Idempotency::Idempotent, pp))
        }
        Patch::Json(ops) => Ok((kube::api::Patch::Json(ops.clone()), Idempotency::Unsafe, pp)),
        Patch::Strategic(value) => {
            Ok((kube::api::Patch::Strategic(value.clone()), Idempotency::Idempotent, pp))
        }
        // Applying the same configuration twice is what server-side apply is made for.
        Patch::Apply { config, field_manager, force } => Ok((
            kube::api::Patch::Apply(config.clone()),
            Idempotency::Idempotent,
            PatchParams { field_manager: Some(field_manager.clone()), force: *force, ..pp },
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(uid: &str, spec: serde_json::Value, status: serde_json::Value) -> Object {
        let mut o = Object::new("argoproj.io/v1alpha1", "Rollout", Some("ns"), "ro");
        o.metadata.uid = Some(uid.to_owned());
        o.data.insert("spec".into(), spec);
        o.data.insert("status".into(), status);
        o
    }

    /// What a read-back must hold for a broken-off replace to count as landed: the same
    /// object (uid) with the written part; server-set metadata (resourceVersion, generation,
    /// managedFields) and the part not written do not matter.
    #[test]
    fn a_read_back_holds_the_write_when_the_written_part_matches() {
        let sent = object("u1", json!({"replicas": 2}), json!({"phase": "Paused"}));
        let mut landed = sent.clone();
        landed.metadata.resource_version = Some("42".into());
        landed.metadata.generation = Some(3);
        let other_status = object("u1", json!({"replicas": 2}), json!({"phase": "Healthy"}));
        let other_spec = object("u1", json!({"replicas": 3}), json!({"phase": "Paused"}));
        let recreated = object("u2", json!({"replicas": 2}), json!({"phase": "Paused"}));
        let mut relabelled = sent.clone();
        relabelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
        let cases = [
            (&landed, Part::Status, true),
            (&landed, Part::Whole, true),
            (&other_status, Part::Status, false),
            (&other_status, Part::Whole, true),
            (&other_spec, Part::Status, true),
            (&other_spec, Part::Whole, false),
            (&recreated, Part::Status, false),
            (&recreated, Part::Whole, false),
            (&relabelled, Part::Whole, false),
            (&relabelled, Part::Status, true),
        ];
        for (current, part, expected) in cases {
            assert_eq!(holds_write(&sent, current, part), expected, "{part:?} {current:?}");
        }
    }
}
