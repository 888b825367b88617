//! Helpers shared by the test modules.

use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use tempfile::TempDir;
use weir_cluster::{Object, OwnerReference, Registry, ResourceType};
use weir_store::{Store, StoreOptions};

/// A built-in type by name (`pods`, `rs`, `vs`, …).
pub(crate) fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).unwrap_or_else(|| panic!("no type {name}")).clone()
}

/// A type served in another version.
pub(crate) fn rt_version(name: &str, version: &str) -> ResourceType {
    let mut rt = rt(name);
    rt.version = version.to_owned();
    rt
}

/// A fresh store in a temporary directory.
pub(crate) fn store() -> (TempDir, Store) {
    store_with(StoreOptions::default())
}

pub(crate) fn store_with(opts: StoreOptions) -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), opts).unwrap();
    (dir, store)
}

/// An object of type `rt` with a spec.
pub(crate) fn obj(rt: &ResourceType, namespace: Option<&str>, name: &str, spec: Value) -> Object {
    let mut o = Object::new(&rt.api_version(), &rt.kind, namespace, name);
    o.data.insert("spec".to_owned(), spec);
    o
}

pub(crate) fn with_labels(mut o: Object, labels: &[(&str, &str)]) -> Object {
    o.metadata.labels =
        Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    o
}

/// Makes `owner` an owner of `o`.
pub(crate) fn owned_by(mut o: Object, owner: &Object, block: bool) -> Object {
    o.metadata.owner_references.get_or_insert_default().push(OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name().to_owned(),
        uid: owner.uid().to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(block),
    });
    o
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub(crate) struct ManualClock(pub(crate) Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub(crate) fn at(ts: &str) -> Self {
        ManualClock(Arc::new(Mutex::new(ts.parse().unwrap())))
    }

    pub(crate) fn set(&self, ts: &str) {
        *self.0.lock().unwrap() = ts.parse().unwrap();
    }

    pub(crate) fn options(&self) -> StoreOptions {
        let me = self.clone();
        StoreOptions::default().with_clock(move || *me.0.lock().unwrap())
    }
}

pub(crate) fn spec(o: &Object) -> Value {
    o.field("spec").cloned().unwrap_or(json!(null))
}

pub(crate) fn rv(o: &Object) -> u64 {
    o.resource_version().parse().unwrap()
}
