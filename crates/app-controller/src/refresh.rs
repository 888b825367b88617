//! Refresh requests from outside the controller's own timer: a webhook push for a repository
//! URL, or a user asking for one app. A [`RefreshHandle`] is created by whoever composes weir,
//! given to the controller in its config, and kept to call [`RefreshHandle::refresh_repo`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use weir_cluster::ObjectRef;
use weir_controller::WorkQueue;

use crate::git::normalize_url;

#[derive(Debug, Default)]
struct Inner {
    queue: Option<WorkQueue<ObjectRef>>,
    repos: HashMap<ObjectRef, String>,
    forced: HashSet<ObjectRef>,
}

/// A cloneable handle to ask the Application controller for a refresh (git re-resolved).
#[derive(Debug, Clone, Default)]
pub struct RefreshHandle {
    inner: Arc<Mutex<Inner>>,
}

impl RefreshHandle {
    /// A handle not yet attached to a running controller.
    pub fn new() -> Self {
        RefreshHandle::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Refreshes every Application whose `repoURL` names `url` (case, trailing `/` and `.git`
    /// ignored); returns how many.
    pub fn refresh_repo(&self, url: &str) -> usize {
        let want = normalize_url(url);
        self.with(|inner| {
            let keys: Vec<ObjectRef> = inner
                .repos
                .iter()
                .filter(|(_, repo)| **repo == want)
                .map(|(k, _)| k.clone())
                .collect();
            for key in &keys {
                inner.forced.insert(key.clone());
                if let Some(queue) = &inner.queue {
                    queue.add(key.clone());
                }
            }
            keys.len()
        })
    }

    /// Refreshes one Application.
    pub fn refresh_app(&self, namespace: &str, name: &str) {
        let key = ObjectRef {
            kind: "Application".into(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        };
        self.with(|inner| {
            if let Some(queue) = &inner.queue {
                queue.add(key.clone());
            }
            inner.forced.insert(key);
        });
    }

    pub(crate) fn attach(&self, queue: WorkQueue<ObjectRef>) {
        self.with(|inner| inner.queue = Some(queue));
    }

    pub(crate) fn track(&self, key: &ObjectRef, repo_url: &str) {
        let repo = normalize_url(repo_url);
        self.with(|inner| {
            inner.repos.insert(key.clone(), repo);
        });
    }

    pub(crate) fn forget(&self, key: &ObjectRef) {
        self.with(|inner| {
            inner.repos.remove(key);
            inner.forced.remove(key);
        });
    }

    /// The Application named `name` whatever its namespace (tracking labels carry the name).
    pub(crate) fn app_named(&self, name: &str) -> Vec<ObjectRef> {
        self.with(|inner| inner.repos.keys().filter(|k| k.name == name).cloned().collect())
    }

    /// True once per request for `key`.
    pub(crate) fn take_forced(&self, key: &ObjectRef) -> bool {
        self.with(|inner| inner.forced.remove(key))
    }
}
