//! The reflector: list + watch one resource type into a [`Cache`], calling a trigger for every
//! object that changes.

use std::sync::Arc;

use futures::StreamExt;
use weir_cluster::{Cluster, Error, ListParams, Object, ResourceType, WatchEvent, WatchParams};

use crate::{Backoff, Cache, Shutdown};

/// Keeps `cache` equal to the objects of `rt` (in `namespace`, or all) until shutdown.
///
/// Lists, then watches from the list's resourceVersion; a watch that ends is resumed from the
/// last version seen; [`Error::Expired`] (history pruned) relists; other errors are retried
/// with `backoff`. `on_change` is called with every object that was added, modified or
/// deleted (for a deletion, its last state), including the differences a relist finds.
pub async fn reflect<C: Cluster>(
    cluster: Arc<C>,
    rt: ResourceType,
    namespace: Option<String>,
    cache: Cache,
    on_change: impl Fn(&Object) + Send + Sync,
    backoff: Backoff,
    shutdown: Shutdown,
) {
    let mut failures = 0u32;
    let ns = namespace.as_deref();
    let all = ListParams::default();
    'relist: while !shutdown.is_triggered() {
        let list = tokio::select! {
            () = shutdown.wait() => return,
            list = cluster.list(&rt, ns, &all) => list,
        };
        let list = match list {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(kind = %rt.kind, %error, "list failed; retrying");
                if !shutdown.sleep(backoff.delay(failures)).await {
                    return;
                }
                failures = failures.saturating_add(1);
                continue;
            }
        };
        for changed in cache.replace(list.items) {
            on_change(&changed);
        }
        let mut version = list.resource_version;
        loop {
            let params = WatchParams {
                resource_version: Some(version.clone()),
                label_selector: None,
                bookmarks: true,
            };
            let stream = tokio::select! {
                () = shutdown.wait() => return,
                stream = cluster.watch(&rt, ns, &params) => stream,
            };
            let mut stream = match stream {
                Ok(stream) => stream,
                Err(Error::Expired { .. }) => continue 'relist,
                Err(error) => {
                    tracing::warn!(kind = %rt.kind, %error, "watch failed; retrying");
                    if !shutdown.sleep(backoff.delay(failures)).await {
                        return;
                    }
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            loop {
                let event = tokio::select! {
                    () = shutdown.wait() => return,
                    event = stream.next() => event,
                };
                match event {
                    None => break,
                    Some(Err(Error::Expired { .. })) => continue 'relist,
                    Some(Err(error)) => {
                        tracing::warn!(kind = %rt.kind, %error, "watch stream error; resuming");
                        if !shutdown.sleep(backoff.delay(failures)).await {
                            return;
                        }
                        failures = failures.saturating_add(1);
                        break;
                    }
                    Some(Ok(event)) => {
                        failures = 0;
                        if let Some(v) = event.resource_version() {
                            v.clone_into(&mut version);
                        }
                        match event {
                            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                                let o = cache.insert(o);
                                on_change(&o);
                            }
                            WatchEvent::Deleted(o) => {
                                cache.remove(&o);
                                on_change(&o);
                            }
                            WatchEvent::Bookmark(_) => {}
                        }
                    }
                }
            }
        }
    }
}
