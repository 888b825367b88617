//! Watches that survive the API server closing them: a real server ends every watch request
//! after `timeoutSeconds` (and load balancers cut idle connections); the stream this module
//! returns reopens the watch from the last resourceVersion it saw (bookmarks included), so the
//! caller sees one stream that ends only with an error, `Expired` (410) meaning "list again".

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{Api, DynamicObject};
use kube::core::WatchEvent as KubeEvent;
use weir_cluster::{Object, ResourceType, Result, WatchEvent, WatchParams};

use crate::KubeCluster;
use crate::convert::{from_dynamic, watch_params};
use crate::errors::{Failure, error_from_status};
use crate::retry::{Idempotency, MAX_RETRIES};

type KubeStream = BoxStream<'static, std::result::Result<KubeEvent<DynamicObject>, kube::Error>>;

/// Where a resuming watch is.
struct Resuming {
    cluster: KubeCluster,
    api: Api<DynamicObject>,
    rt: ResourceType,
    params: kube::api::WatchParams,
    /// The last resourceVersion seen (from an event or a bookmark).
    version: String,
    current: Option<KubeStream>,
    /// Consecutive broken streams without an event in between.
    breaks: u32,
    done: bool,
}

/// Opens a watch (errors of the first request are returned at once, `Expired` included) and
/// returns the stream that resumes it.
pub(crate) async fn resuming(
    cluster: KubeCluster,
    rt: ResourceType,
    namespace: Option<&str>,
    params: &WatchParams,
) -> Result<impl futures::Stream<Item = Result<WatchEvent>> + Send + 'static> {
    let api = cluster.api(&rt, namespace);
    let kube_params = watch_params(params, cluster.watch_timeout_seconds());
    // kube-rs needs a version; "0" is the API server's "from any point, with the current
    // objects as ADDED events", which is what `None` means in weir.
    let version = params.resource_version.clone().filter(|v| !v.is_empty()).unwrap_or("0".into());
    let first = open(&cluster, &api, &kube_params, &version).await?;
    // The initial events are sent once: a resumed watch continues from the last version seen.
    let mut kube_params = kube_params;
    kube_params.send_initial_events = false;
    let state = Resuming {
        cluster,
        api,
        rt,
        params: kube_params,
        version,
        current: Some(first),
        breaks: 0,
        done: false,
    };
    Ok(futures::stream::unfold(state, next))
}

async fn open(
    cluster: &KubeCluster,
    api: &Api<DynamicObject>,
    params: &kube::api::WatchParams,
    version: &str,
) -> Result<KubeStream> {
    cluster
        .call(Idempotency::Read, || async { Ok(api.watch(params, version).await?.boxed()) })
        .await
}

async fn next(mut s: Resuming) -> Option<(Result<WatchEvent>, Resuming)> {
    loop {
        if s.done {
            return None;
        }
        let Some(stream) = s.current.as_mut() else {
            match open(&s.cluster, &s.api, &s.params, &s.version).await {
                Ok(stream) => {
                    s.current = Some(stream);
                    continue;
                }
                Err(error) => {
                    s.done = true;
                    return Some((Err(error), s));
                }
            }
        };
        match stream.next().await {
            // The server closed the watch (timeoutSeconds): reopen from where we are.
            None => {
                tracing::debug!(kind = %s.rt.kind, version = %s.version, "watch closed; resuming");
                s.current = None;
            }
            Some(Err(error)) => {
                let failure = Failure::from_kube(error);
                s.current = None;
                s.breaks += 1;
                if matches!(failure, Failure::Permanent(_)) || s.breaks > MAX_RETRIES {
                    s.done = true;
                    return Some((Err(failure.into_error(s.cluster.server())), s));
                }
                tracing::debug!(kind = %s.rt.kind, ?failure, "watch broke; resuming");
            }
            Some(Ok(event)) => {
                s.breaks = 0;
                let event = match event {
                    KubeEvent::Added(o) => from_dynamic(o, &s.rt).map(WatchEvent::Added),
                    KubeEvent::Modified(o) => from_dynamic(o, &s.rt).map(WatchEvent::Modified),
                    KubeEvent::Deleted(o) => from_dynamic(o, &s.rt).map(WatchEvent::Deleted),
                    KubeEvent::Bookmark(bookmark) => {
                        let mut object = Object::new(&s.rt.api_version(), &s.rt.kind, None, "");
                        object.metadata.name = None;
                        object.metadata.resource_version = Some(bookmark.metadata.resource_version);
                        if !bookmark.metadata.annotations.is_empty() {
                            object.metadata.annotations = Some(bookmark.metadata.annotations);
                        }
                        Ok(WatchEvent::Bookmark(object))
                    }
                    // 410 Gone → Expired: the caller lists again. Any error event ends the watch.
                    KubeEvent::Error(status) => {
                        s.done = true;
                        Err(error_from_status(&status))
                    }
                };
                if let Ok(event) = &event
                    && let Some(version) = event.resource_version()
                {
                    version.clone_into(&mut s.version);
                }
                if event.is_err() {
                    s.done = true;
                }
                return Some((event, s));
            }
        }
    }
}
