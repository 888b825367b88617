//! The reflector: list + watch one resource type into a [`Cache`], calling a trigger for every
//! object that changes.

use std::sync::Arc;

use futures::StreamExt;
use weir_cluster::{Cluster, Error, ListParams, Object, ResourceType, WatchEvent, WatchParams};

use crate::{Backoff, Cache, Shutdown};

/// How often a kind the server does not serve is looked for again.
const ABSENT_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps `cache` equal to the objects of `rt` (in `namespace`, or all) until shutdown.
///
/// Lists, then watches from the list's resourceVersion; a watch that ends is resumed from the
/// last version seen; [`Error::Expired`] (history pruned) relists; other errors are retried
/// with `backoff`; a kind the server does not serve (`NotFound` on the list) is an empty,
/// synced cache, listed again every 30 s. `on_change` is called with every object that was added, modified or
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
                // A kind the server does not serve (its CRD is not installed, Istio is not
                // there) has no objects: the cache is synced empty, so that the controller
                // works with the kinds that exist, and the list is tried again slowly until the
                // kind appears. One line per kind, not one per retry.
                let absent = matches!(error, Error::NotFound { .. });
                if absent && !cache.is_synced() {
                    for gone in cache.replace(Vec::new()) {
                        on_change(&gone);
                    }
                }
                if failures == 0 {
                    let plural = format!("{}.{}", rt.plural, rt.group);
                    if absent {
                        tracing::warn!(
                            "the server does not serve {plural}; going on without them and \
                             checking again every {ABSENT_RETRY:?}"
                        );
                    } else {
                        tracing::warn!(kind = %rt.kind, %error, "list failed; retrying");
                    }
                } else {
                    tracing::debug!(kind = %rt.kind, %error, failures, "list failed again");
                }
                let delay = if absent { ABSENT_RETRY } else { backoff.delay(failures) };
                if !shutdown.sleep(delay).await {
                    return;
                }
                failures = failures.saturating_add(1);
                continue;
            }
        };
        if failures > 0 {
            tracing::info!(kind = %rt.kind, "listed after {failures} failures");
        }
        failures = 0;
        for changed in cache.replace(list.items) {
            on_change(&changed);
        }
        let mut version = list.resource_version;
        loop {
            let params = WatchParams {
                resource_version: Some(version.clone()),
                bookmarks: true,
                ..WatchParams::default()
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::stream;
    use weir_cluster::{
        DeleteOutcome, DeleteParams, ObjectList, Patch, Registry, Result, Subresource, WatchStream,
    };

    use super::*;

    /// A backend whose list answers come from a script and whose first watches fail: once
    /// with a transient error, then with `Expired`; later watches stay open and quiet.
    #[derive(Default)]
    struct Scripted {
        lists: Mutex<Vec<Vec<Object>>>,
        list_calls: AtomicUsize,
        watch_calls: AtomicUsize,
        /// How many lists first answer `NotFound` (the kind is not served yet).
        absent_lists: AtomicUsize,
    }

    fn pod(name: &str, rv: &str) -> Object {
        let mut o = Object::new("v1", "Pod", Some("ns"), name);
        o.metadata.resource_version = Some(rv.into());
        o
    }

    fn unsupported<T>() -> Result<T> {
        Err(Error::BadRequest("not scripted".into()))
    }

    impl Cluster for Scripted {
        async fn get(&self, _: &ResourceType, _: Option<&str>, _: &str) -> Result<Object> {
            unsupported()
        }
        async fn list(
            &self,
            _: &ResourceType,
            _: Option<&str>,
            _: &ListParams,
        ) -> Result<ObjectList> {
            let n = self.list_calls.fetch_add(1, Ordering::SeqCst);
            if self.absent_lists.load(Ordering::SeqCst) > n {
                return Err(Error::NotFound { kind: "Pod".into(), name: String::new() });
            }
            let mut lists = self.lists.lock().expect("lock");
            let items = if lists.len() > 1 { lists.remove(0) } else { lists[0].clone() };
            Ok(ObjectList { items, resource_version: n.to_string() })
        }
        async fn create(&self, _: &ResourceType, _: Object) -> Result<Object> {
            unsupported()
        }
        async fn update(&self, _: &ResourceType, _: Object) -> Result<Object> {
            unsupported()
        }
        async fn update_status(&self, _: &ResourceType, _: Object) -> Result<Object> {
            unsupported()
        }
        async fn patch(
            &self,
            _: &ResourceType,
            _: Option<&str>,
            _: &str,
            _: &Patch,
            _: Subresource,
        ) -> Result<Object> {
            unsupported()
        }
        async fn delete(
            &self,
            _: &ResourceType,
            _: Option<&str>,
            _: &str,
            _: &DeleteParams,
        ) -> Result<DeleteOutcome> {
            unsupported()
        }
        async fn watch(
            &self,
            _: &ResourceType,
            _: Option<&str>,
            _: &WatchParams,
        ) -> Result<WatchStream> {
            match self.watch_calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::Unavailable("flaky".into())),
                1 => Ok(Box::pin(stream::iter(vec![
                    Ok(WatchEvent::Added(pod("c", "3"))),
                    Err(Error::Expired { requested: 3, oldest: 9 }),
                ]))),
                _ => Ok(Box::pin(stream::pending())),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn relists_after_expired_and_retries_transient_errors() {
        let cluster = Arc::new(Scripted::default());
        cluster
            .lists
            .lock()
            .expect("lock")
            .extend([vec![pod("a", "1"), pod("b", "1")], vec![pod("b", "7"), pod("d", "8")]]);
        let cache = Cache::default();
        let changed: Arc<Mutex<Vec<String>>> = Arc::default();
        let shutdown = Shutdown::new();
        let rt = Registry::builtin().for_name("pods").expect("pods").clone();
        let task = tokio::spawn(reflect(
            cluster.clone(),
            rt,
            None,
            cache.clone(),
            {
                let changed = changed.clone();
                move |o: &Object| {
                    changed.lock().expect("lock").push(format!(
                        "{}@{}",
                        o.name(),
                        o.resource_version()
                    ))
                }
            },
            Backoff::new(std::time::Duration::from_millis(10), std::time::Duration::from_secs(1)),
            shutdown.clone(),
        ));
        while cluster.watch_calls.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::task::yield_now().await;
        let names: Vec<String> = cache.list().iter().map(|o| o.name().to_owned()).collect();
        assert_eq!(names, ["b", "d"], "the relist replaced the cache");
        assert_eq!(cluster.list_calls.load(Ordering::SeqCst), 2);
        let seen = changed.lock().expect("lock").clone();
        // First list: a, b. Watch: c. Relist: a and c gone, b changed, d new.
        assert_eq!(seen[..3], ["a@1", "b@1", "c@3"]);
        let mut rest = seen[3..].to_vec();
        rest.sort();
        assert_eq!(rest, ["a@1", "b@7", "c@3", "d@8"]);
        shutdown.trigger();
        task.await.expect("reflector stops");
    }

    /// A kind the server does not serve: the cache is synced empty at once (a controller
    /// needing it is not held up), and the kind is found when it appears 30 s later.
    #[tokio::test(start_paused = true)]
    async fn an_unserved_kind_is_an_empty_synced_cache_until_it_appears() {
        let cluster = Arc::new(Scripted::default());
        cluster.absent_lists.store(2, Ordering::SeqCst);
        cluster.lists.lock().expect("lock").push(vec![pod("a", "1")]);
        cluster.watch_calls.store(2, Ordering::SeqCst);
        let cache = Cache::default();
        let shutdown = Shutdown::new();
        let rt = Registry::builtin().for_name("pods").expect("pods").clone();
        let task = tokio::spawn(reflect(
            cluster.clone(),
            rt,
            None,
            cache.clone(),
            |_: &Object| {},
            Backoff::new(std::time::Duration::from_millis(10), std::time::Duration::from_secs(1)),
            shutdown.clone(),
        ));
        cache.wait_synced().await;
        assert!(cache.list().is_empty());
        let started = tokio::time::Instant::now();
        while cache.list().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Two absent answers, each followed by ABSENT_RETRY, then the list that finds it.
        assert_eq!(cluster.list_calls.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() >= ABSENT_RETRY, "{:?}", started.elapsed());
        shutdown.trigger();
        task.await.expect("reflector stops");
    }
}
