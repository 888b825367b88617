//! RBAC refusals (`403 Forbidden`): what a controller does when the API server refuses one of
//! its calls.
//!
//! A refusal is not transient: retrying it at once only floods the API server and the log. So
//! a controller reports it where its users look (the object's status and an Event, naming the
//! verb, the resource and the namespace refused), retries the object with [`FORBIDDEN_BACKOFF`]
//! (30 s doubling to 10 min: a fixed Role is picked up within minutes, a missing one costs a
//! request every 10 min), and logs a refusal it cannot report (the status write or the Event
//! itself forbidden) once per object, not once per pass. Other objects are not affected.
//!
//! - [`RefusalRecorder`] wraps a [`Cluster`] for one reconcile pass and remembers the first
//!   refused call, with its verb, resource and namespace (the pass's own error may be a
//!   string that lost them);
//! - [`Refusals`] is a controller's memory across passes: how many passes of an object were
//!   refused in a row (its backoff), and which log lines were already written.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, ListParams, Object, ObjectList, ObjectRef, Patch,
    ResourceType, Result, Subresource, WatchParams, WatchStream,
};

use crate::Backoff;

/// Retry delays of an object whose reconcile was refused: 30 s doubling to 10 min.
pub const FORBIDDEN_BACKOFF: Backoff =
    Backoff { base: Duration::from_secs(30), max: Duration::from_secs(600) };

/// The `reason` of the Event (and of the Rollout condition) reporting a refusal.
pub const FORBIDDEN_REASON: &str = "Forbidden";

/// One call the API server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The verb, as RBAC names it (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`).
    pub verb: String,
    /// The resource as RBAC names it: `plural[/status].group` (`rollouts/status.argoproj.io`,
    /// `replicasets.apps`, `pods` for the core group).
    pub resource: String,
    /// The namespace of the call; `None` for cluster-scoped objects or all namespaces.
    pub namespace: Option<String>,
    /// What the API server said.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "forbidden: cannot {} {}", self.verb, self.resource)?;
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns:?}")?,
            None => f.write_str(" (cluster scope)")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl Refusal {
    /// The refusal of `verb` on `rt` (its `subresource`) in `namespace`, with the server's
    /// `message`.
    pub fn new(
        verb: &str,
        rt: &ResourceType,
        subresource: Subresource,
        namespace: Option<&str>,
        message: &str,
    ) -> Self {
        let plural = match subresource {
            Subresource::Status => format!("{}/status", rt.plural),
            Subresource::Main => rt.plural.clone(),
        };
        let resource = if rt.group.is_empty() { plural } else { format!("{plural}.{}", rt.group) };
        Refusal {
            verb: verb.to_owned(),
            resource,
            namespace: namespace.map(str::to_owned),
            message: message.to_owned(),
        }
    }
}

/// A [`Cluster`] that passes every call through and remembers the first one refused with
/// [`Error::Forbidden`] (the error itself is returned unchanged). One per reconcile pass.
#[derive(Debug)]
pub struct RefusalRecorder<C> {
    inner: Arc<C>,
    first: Mutex<Option<Refusal>>,
}

impl<C: Cluster> RefusalRecorder<C> {
    /// Wraps `inner` with nothing refused yet.
    pub fn new(inner: Arc<C>) -> Self {
        RefusalRecorder { inner, first: Mutex::new(None) }
    }

    /// The first refused call, if any.
    pub fn refusal(&self) -> Option<Refusal> {
        self.first.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn note<T>(
        &self,
        result: Result<T>,
        verb: &str,
        rt: &ResourceType,
        subresource: Subresource,
        namespace: Option<&str>,
    ) -> Result<T> {
        if let Err(Error::Forbidden(message)) = &result {
            let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
            if first.is_none() {
                *first = Some(Refusal::new(verb, rt, subresource, namespace, message));
            }
        }
        result
    }
}

impl<C: Cluster> Cluster for RefusalRecorder<C> {
    async fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Object> {
        let result = self.inner.get(rt, ns, name).await;
        self.note(result, "get", rt, Subresource::Main, ns)
    }

    async fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        let result = self.inner.list(rt, ns, params).await;
        self.note(result, "list", rt, Subresource::Main, ns)
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let ns = object.metadata.namespace.clone();
        let result = self.inner.create(rt, object).await;
        self.note(result, "create", rt, Subresource::Main, ns.as_deref())
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let ns = object.metadata.namespace.clone();
        let result = self.inner.update(rt, object).await;
        self.note(result, "update", rt, Subresource::Main, ns.as_deref())
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let ns = object.metadata.namespace.clone();
        let result = self.inner.update_status(rt, object).await;
        self.note(result, "update", rt, Subresource::Status, ns.as_deref())
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        let result = self.inner.patch(rt, ns, name, patch, subresource).await;
        self.note(result, "patch", rt, subresource, ns)
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        let result = self.inner.delete(rt, ns, name, params).await;
        self.note(result, "delete", rt, Subresource::Main, ns)
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let result = self.inner.watch(rt, ns, params).await;
        self.note(result, "watch", rt, Subresource::Main, ns)
    }
}

/// A controller's memory of refused objects: consecutive refused passes per object (their
/// backoff) and the log lines already written (each at most once per object).
#[derive(Debug, Default)]
pub struct Refusals {
    state: Mutex<RefusalState>,
}

#[derive(Debug, Default)]
struct RefusalState {
    passes: HashMap<ObjectRef, u32>,
    logged: HashSet<(ObjectRef, String)>,
}

impl Refusals {
    /// Nothing refused yet.
    pub fn new() -> Self {
        Refusals::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RefusalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes one more refused pass of `key`; returns how long to wait before the next
    /// ([`FORBIDDEN_BACKOFF`] after that many refused passes in a row).
    pub fn refused(&self, key: &ObjectRef) -> Duration {
        let mut state = self.lock();
        let passes = state.passes.entry(key.clone()).or_insert(0);
        let delay = FORBIDDEN_BACKOFF.delay(*passes);
        *passes = passes.saturating_add(1);
        delay
    }

    /// `key` reconciled without a refusal: its backoff starts again and a later refusal is
    /// logged again.
    pub fn allowed(&self, key: &ObjectRef) {
        let mut state = self.lock();
        if state.passes.remove(key).is_some() {
            state.logged.retain(|(k, _)| k != key);
        }
    }

    /// Whether the line `what` about `key` is still to be logged (true the first time only,
    /// until [`Refusals::allowed`]).
    pub fn first_time(&self, key: &ObjectRef, what: &str) -> bool {
        self.lock().logged.insert((key.clone(), what.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(group: &str, plural: &str) -> ResourceType {
        let mut rt = ResourceType::guess(
            &if group.is_empty() { "v1".to_owned() } else { format!("{group}/v1") },
            "Thing",
        );
        rt.plural = plural.to_owned();
        rt
    }

    #[test]
    fn a_refusal_names_verb_resource_and_namespace_as_rbac_does() {
        // RBAC names a subresource `resource/sub` and a core-group resource without a group
        // (`kubectl auth can-i update rollouts/status.argoproj.io -n demo`).
        let cases = [
            (
                Refusal::new(
                    "update",
                    &rt("argoproj.io", "rollouts"),
                    Subresource::Status,
                    Some("demo"),
                    "no",
                ),
                "forbidden: cannot update rollouts/status.argoproj.io in namespace \"demo\": no",
            ),
            (
                Refusal::new("list", &rt("", "pods"), Subresource::Main, None, ""),
                "forbidden: cannot list pods (cluster scope)",
            ),
        ];
        for (refusal, text) in cases {
            assert_eq!(refusal.to_string(), text);
        }
    }

    #[test]
    fn refused_passes_back_off_per_object_and_log_once() {
        let refusals = Refusals::new();
        let a = ObjectRef { kind: "Rollout".into(), namespace: Some("a".into()), name: "x".into() };
        let b = ObjectRef { kind: "Rollout".into(), namespace: Some("b".into()), name: "x".into() };
        let delays: Vec<u64> = (0..6).map(|_| refusals.refused(&a).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600]);
        // Another object's backoff is its own.
        assert_eq!(refusals.refused(&b).as_secs(), 30);
        assert!(refusals.first_time(&a, "status"));
        assert!(!refusals.first_time(&a, "status"));
        assert!(refusals.first_time(&b, "status"));
        refusals.allowed(&a);
        assert_eq!(refusals.refused(&a).as_secs(), 30);
        assert!(refusals.first_time(&a, "status"));
    }
}
