//! The in-memory cache of one resource type that a reflector keeps up to date.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;
use weir_cluster::{LabelSelector, Object, ObjectRef};

/// A read-only view of the objects of one type, as last seen by its reflector.
///
/// Cheap to clone (shared). Reads never wait on the backend. The view may lag the backend by
/// a few events: reconcilers that must not act twice (creating pods) read the backend itself.
#[derive(Debug, Clone)]
pub struct Cache {
    objects: Arc<RwLock<BTreeMap<ObjectRef, Arc<Object>>>>,
    synced: Arc<watch::Sender<bool>>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache { objects: Arc::default(), synced: Arc::new(watch::channel(false).0) }
    }
}

impl Cache {
    /// The object with this kind, namespace and name.
    pub fn get(&self, key: &ObjectRef) -> Option<Arc<Object>> {
        self.read().get(key).cloned()
    }

    /// Every object, ordered by namespace then name.
    pub fn list(&self) -> Vec<Arc<Object>> {
        self.read().values().cloned().collect()
    }

    /// Objects in `namespace` (all if `None`) whose labels match `selector`.
    pub fn select(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<Object>> {
        self.read()
            .values()
            .filter(|o| namespace.is_none() || o.namespace() == namespace)
            .filter(|o| selector.matches(o.metadata.labels.as_ref()))
            .cloned()
            .collect()
    }

    /// Whether the first list has been loaded.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Resolves once the first list has been loaded.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ObjectRef, Arc<Object>>> {
        self.objects.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ObjectRef, Arc<Object>>> {
        self.objects.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the whole content (after a list); returns objects that changed, appeared or
    /// disappeared, so their triggers fire.
    pub(crate) fn replace(&self, items: Vec<Object>) -> Vec<Arc<Object>> {
        let mut fresh: BTreeMap<ObjectRef, Arc<Object>> =
            items.into_iter().map(|o| (o.object_ref(), Arc::new(o))).collect();
        let mut changed = Vec::new();
        {
            let mut map = self.write();
            for (key, old) in map.iter() {
                match fresh.get(key) {
                    Some(new) if new.resource_version() == old.resource_version() => {}
                    Some(new) => changed.push(new.clone()),
                    None => changed.push(old.clone()),
                }
            }
            for (key, new) in &fresh {
                if !map.contains_key(key) {
                    changed.push(new.clone());
                }
            }
            std::mem::swap(&mut *map, &mut fresh);
        }
        self.synced.send_replace(true);
        changed
    }

    pub(crate) fn insert(&self, object: Object) -> Arc<Object> {
        let object = Arc::new(object);
        self.write().insert(object.object_ref(), object.clone());
        object
    }

    pub(crate) fn remove(&self, object: &Object) {
        self.write().remove(&object.object_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, rv: &str) -> Object {
        let mut o = Object::new("v1", "Pod", Some("ns"), name);
        o.metadata.resource_version = Some(rv.to_owned());
        o
    }

    #[test]
    fn replace_reports_changes_and_removals() {
        let cache = Cache::default();
        assert!(!cache.is_synced());
        let first = cache.replace(vec![obj("a", "1"), obj("b", "1")]);
        assert_eq!(first.len(), 2);
        assert!(cache.is_synced());
        let second = cache.replace(vec![obj("a", "1"), obj("c", "3"), obj("b", "2")]);
        let names: Vec<&str> = second.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["b", "c"]);
        let third = cache.replace(vec![obj("a", "1")]);
        assert_eq!(third.len(), 2);
        assert_eq!(cache.list().len(), 1);
    }
}
