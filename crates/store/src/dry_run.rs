//! [`DryRunStore`]: the store's dry view ([`weir_cluster::DryRun`]). Reads are the store's;
//! every write runs in a real write transaction (so every rule the store applies runs: name
//! validation, preconditions, finalizers, garbage collection, size limits) and is rolled back.
//! No watch event is sent and no resourceVersion is consumed.

use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, DryRun, ListParams, Object, ObjectList, Patch,
    ResourceType, Result, Subresource, WatchParams, WatchStream,
};

use crate::Store;
use crate::object::Key;
use crate::store::{Mode, create, delete, patch, update};

/// The store, with writes that are answered but never kept. See [`Store::dry_run`].
#[derive(Debug, Clone)]
pub struct DryRunStore {
    store: Store,
}

impl DryRun for Store {
    type Dry = DryRunStore;

    fn dry_run(&self) -> DryRunStore {
        DryRunStore { store: self.clone() }
    }
}

impl Cluster for DryRunStore {
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        self.store.get(rt, namespace, name).await
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        self.store.list(rt, namespace, params).await
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.store.blocking(move |inner| create(inner, &rt, object, Mode::DryRun)).await
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.store
            .blocking(move |inner| update(inner, &rt, object, Subresource::Main, Mode::DryRun))
            .await
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.store
            .blocking(move |inner| update(inner, &rt, object, Subresource::Status, Mode::DryRun))
            .await
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch_body: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        let key = Key::new(rt, namespace, name)?;
        let (rt, patch_body) = (rt.clone(), patch_body.clone());
        self.store
            .blocking(move |inner| patch(inner, &rt, &key, &patch_body, subresource, Mode::DryRun))
            .await
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        let key = Key::new(rt, namespace, name)?;
        let (rt, params) = (rt.clone(), params.clone());
        self.store.blocking(move |inner| delete(inner, &rt, &key, &params, Mode::DryRun)).await
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        self.store.watch(rt, namespace, params).await
    }
}
