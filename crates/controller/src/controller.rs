//! The controller: reflectors for a primary type and its related types, a work queue, workers
//! calling a [`Reconciler`], and the error policy.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir_cluster::{Cluster, Object, ObjectRef, ResourceType};

use crate::{Backoff, Cache, Shutdown, WorkQueue, reflect};

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Nothing until the object (or something that triggers it) changes.
    pub fn await_change() -> Self {
        Action { requeue_after: None }
    }

    /// Reconcile again after `delay` even if nothing changes (e.g. a deadline or a timer).
    pub fn requeue(delay: Duration) -> Self {
        Action { requeue_after: Some(delay) }
    }

    /// The requeue delay, if any.
    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }

    /// The earlier of two actions' requeues (for reconcilers that combine several steps).
    pub fn min(self, other: Action) -> Action {
        match (self.requeue_after, other.requeue_after) {
            (Some(a), Some(b)) => Action::requeue(a.min(b)),
            (a, b) => Action { requeue_after: a.or(b) },
        }
    }
}

/// What a reconcile sees besides its key: the caches of the types the controller watches.
#[derive(Debug, Clone)]
pub struct Context {
    primary: Cache,
    related: Arc<HashMap<(String, String), Cache>>,
    retries: u32,
}

impl Context {
    /// The cache of the primary type.
    pub fn primary(&self) -> &Cache {
        &self.primary
    }

    /// The cache of an owned or watched type (by group and kind).
    pub fn cache(&self, rt: &ResourceType) -> Option<&Cache> {
        self.related.get(&(rt.group.clone(), rt.kind.clone()))
    }

    /// How many consecutive times this key failed before this call.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// The logic of one controller: make the world match one primary object.
///
/// Must be level-triggered and idempotent: called with a key whenever the object or anything
/// related changed (possibly several changes folded into one call, possibly for an object that
/// no longer exists), it reads the current state and acts; calling it twice changes nothing.
pub trait Reconciler: Send + Sync + 'static {
    /// Why a reconcile failed; logged, then the key is retried with [`Reconciler::backoff`].
    type Error: std::fmt::Display + Send;

    /// Reconciles one object (`key.kind` is the primary kind).
    fn reconcile(
        &self,
        key: &ObjectRef,
        ctx: &Context,
    ) -> impl Future<Output = Result<Action, Self::Error>> + Send;

    /// The error policy: retry delays after consecutive failures. Default: 100 ms doubling to
    /// 60 s.
    fn backoff(&self) -> Backoff {
        Backoff::default()
    }

    /// Whether `error` is a refusal (`403 Forbidden`, RBAC): such a failure is retried with
    /// [`crate::refusal::FORBIDDEN_BACKOFF`] instead of [`Reconciler::backoff`], and logged
    /// once per streak of failures of the key rather than at every retry. Default: never.
    fn is_refusal(&self, _error: &Self::Error) -> bool {
        false
    }
}

/// Maps a changed object of a watched type to the primary keys it affects.
pub type Mapper = Arc<dyn Fn(&Object) -> Vec<ObjectRef> + Send + Sync>;

struct Source {
    rt: ResourceType,
    cache: Cache,
    mapper: Mapper,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("kind", &self.rt.kind).finish_non_exhaustive()
    }
}

/// A controller under construction: a primary type plus owned and watched types.
#[derive(Debug)]
pub struct Controller<C> {
    cluster: Arc<C>,
    primary: ResourceType,
    primary_cache: Cache,
    namespace: Option<String>,
    sources: Vec<Source>,
    queue: WorkQueue<ObjectRef>,
    watch_backoff: Backoff,
}

/// The keys of `object`'s controller owner (the `ownerReferences` entry with `controller: true`)
/// when it is of kind `owner_kind` and group `owner_group`.
pub fn owner_refs(object: &Object, owner_group: &str, owner_kind: &str) -> Vec<ObjectRef> {
    object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.controller == Some(true) && r.kind == owner_kind)
        .filter(|r| r.api_version.rsplit_once('/').map_or("", |(g, _)| g) == owner_group)
        .map(|r| ObjectRef {
            kind: owner_kind.to_owned(),
            namespace: object.metadata.namespace.clone(),
            name: r.name.clone(),
        })
        .collect()
}

impl<C: Cluster> Controller<C> {
    /// A controller of `primary` objects in every namespace.
    pub fn new(cluster: Arc<C>, primary: ResourceType) -> Self {
        Controller {
            cluster,
            primary,
            primary_cache: Cache::default(),
            namespace: None,
            sources: Vec::new(),
            queue: WorkQueue::new(),
            watch_backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
        }
    }

    /// Watches only one namespace (primary and related types).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Also watches `child`: a change to a child enqueues its controller owner of the primary
    /// kind.
    pub fn owns(self, child: ResourceType) -> Self {
        let group = self.primary.group.clone();
        let kind = self.primary.kind.clone();
        self.watches(child, Arc::new(move |o: &Object| owner_refs(o, &group, &kind)))
    }

    /// Also watches `rt`: a change to one of its objects enqueues the keys `mapper` returns.
    pub fn watches(mut self, rt: ResourceType, mapper: Mapper) -> Self {
        self.sources.push(Source { rt, cache: Cache::default(), mapper });
        self
    }

    /// The cache of the primary type (shared with the running controller).
    pub fn primary_cache(&self) -> Cache {
        self.primary_cache.clone()
    }

    /// The queue (to enqueue keys from outside, e.g. a timer or another task).
    pub fn queue(&self) -> WorkQueue<ObjectRef> {
        self.queue.clone()
    }

    /// Runs reflectors and `workers` workers until `shutdown`; returns when all have stopped.
    pub async fn run<R: Reconciler>(self, reconciler: Arc<R>, workers: usize, shutdown: Shutdown) {
        let mut tasks = tokio::task::JoinSet::new();
        let related: HashMap<(String, String), Cache> = self
            .sources
            .iter()
            .map(|s| ((s.rt.group.clone(), s.rt.kind.clone()), s.cache.clone()))
            .collect();
        let related = Arc::new(related);
        {
            let queue = self.queue.clone();
            tasks.spawn(reflect(
                self.cluster.clone(),
                self.primary.clone(),
                self.namespace.clone(),
                self.primary_cache.clone(),
                move |o: &Object| queue.add(o.object_ref()),
                self.watch_backoff,
                shutdown.clone(),
            ));
        }
        for source in self.sources {
            let queue = self.queue.clone();
            let mapper = source.mapper;
            tasks.spawn(reflect(
                self.cluster.clone(),
                source.rt,
                self.namespace.clone(),
                source.cache,
                move |o: &Object| {
                    for key in mapper(o) {
                        queue.add(key);
                    }
                },
                self.watch_backoff,
                shutdown.clone(),
            ));
        }
        // Reconcile only once every cache has its first list, so no decision is made on a
        // partial view.
        let mut caches: Vec<Cache> = related.values().cloned().collect();
        caches.push(self.primary_cache.clone());
        for cache in &caches {
            tokio::select! {
                () = shutdown.wait() => {}
                () = cache.wait_synced() => {}
            }
        }
        let failures: Arc<Mutex<HashMap<ObjectRef, u32>>> = Arc::default();
        for _ in 0..workers.max(1) {
            let worker = Worker {
                queue: self.queue.clone(),
                reconciler: reconciler.clone(),
                primary: self.primary_cache.clone(),
                related: related.clone(),
                failures: failures.clone(),
            };
            tasks.spawn(worker.run(shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }
}

struct Worker<R> {
    queue: WorkQueue<ObjectRef>,
    reconciler: Arc<R>,
    primary: Cache,
    related: Arc<HashMap<(String, String), Cache>>,
    failures: Arc<Mutex<HashMap<ObjectRef, u32>>>,
}

impl<R: Reconciler> Worker<R> {
    async fn run(self, shutdown: Shutdown) {
        while let Some(key) = self.queue.next(&shutdown).await {
            let retries = self.failure_count(&key);
            let ctx =
                Context { primary: self.primary.clone(), related: self.related.clone(), retries };
            let result = tokio::select! {
                () = shutdown.wait() => {
                    self.queue.done(&key);
                    return;
                }
                result = self.reconciler.reconcile(&key, &ctx) => result,
            };
            match result {
                Ok(action) => {
                    self.set_failures(&key, None);
                    if let Some(delay) = action.requeue_after() {
                        self.queue.add_after(key.clone(), delay);
                    }
                }
                Err(error) if self.reconciler.is_refusal(&error) => {
                    let delay = crate::refusal::FORBIDDEN_BACKOFF.delay(retries);
                    if retries == 0 {
                        tracing::warn!(%key, %error, ?delay, "reconcile refused; retrying slowly");
                    } else {
                        tracing::debug!(%key, %error, retries, ?delay, "reconcile refused");
                    }
                    self.set_failures(&key, Some(retries.saturating_add(1)));
                    self.queue.add_after(key.clone(), delay);
                }
                Err(error) => {
                    let delay = self.reconciler.backoff().delay(retries);
                    // A first failure is usually a write conflict with another writer, which
                    // the retry resolves; only failures that persist deserve an operator's eye.
                    if retries < 3 {
                        tracing::debug!(%key, %error, retries, ?delay, "reconcile failed; retrying");
                    } else {
                        tracing::warn!(%key, %error, retries, ?delay, "reconcile failed");
                    }
                    self.set_failures(&key, Some(retries.saturating_add(1)));
                    self.queue.add_after(key.clone(), delay);
                }
            }
            self.queue.done(&key);
        }
    }

    fn failure_count(&self, key: &ObjectRef) -> u32 {
        let map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).copied().unwrap_or(0)
    }

    fn set_failures(&self, key: &ObjectRef, count: Option<u32>) {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match count {
            Some(n) => {
                map.insert(key.clone(), n);
            }
            None => {
                map.remove(key);
            }
        }
    }
}
