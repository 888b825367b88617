//! [`Store`]: opening the data directory, the connection set (one writer behind a mutex, a
//! small pool of readers), and the [`Cluster`] implementation of every call but `watch`.
//!
//! Every call runs its SQLite work in `tokio::task::spawn_blocking`; no lock is held across an
//! `.await`. Writes take the writer mutex and a `BEGIN IMMEDIATE` transaction, so every
//! precondition (resourceVersion, uid, existence) is checked under the write lock: there are
//! no lost updates. Reads use their own connections and see the last committed state.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use weir_cluster::selector::selectable_fields;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, Error, ListParams, Object, ObjectList, Patch,
    ResourceType, Result, Subresource, WatchParams, WatchStream,
};

use crate::error::{join, sql};
use crate::gc::{self, Work};
use crate::lock::DirLock;
use crate::object::{
    Key, MODIFIED, admit, conflict, invalid, normalize, not_found, random_suffix, same_spec,
    seconds, validate_name,
};
use crate::patching::{check_apply_identity, crd_name, needs_crd, patch_value};
use crate::tx::{self, Prev, Tx};
use crate::watch::Recent;
use crate::{StoreError, StoreOptions, schema};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "weir.db";

/// The embedded object store. Cheap to clone (an `Arc` inside); every clone is the same
/// store. The data directory stays locked until the last clone (and the last watch stream)
/// is dropped.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    pub(crate) opts: StoreOptions,
    /// The last committed revision; watchers wait on it.
    pub(crate) notify: tokio::sync::watch::Sender<u64>,
    /// The latest changes, decoded, so live watchers rarely read the database.
    pub(crate) recent: Mutex<Recent>,
    db_path: PathBuf,
    dir: PathBuf,
    // Last field: dropped after the connections are closed.
    _lock: DirLock,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.inner.db_path)
            .field("lock", &self.inner._lock.path())
            .field("revision", &*self.inner.notify.borrow())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in data directory `dir`: `dir/weir.db`, locked by
    /// `dir/weir.lock`. Checks the database's integrity, migrates its schema, and runs the
    /// garbage-collection sweep. Blocks the calling thread while it does so.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// [`Store::open`] with options (clock, event retention, …).
    pub fn open_with(dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            what: "creating data directory",
            path: dir.to_owned(),
            source,
        })?;
        let lock = DirLock::acquire(dir)?;
        let db_path = dir.join(DB_FILE);
        let writer = schema::open_writer(&db_path, opts.busy_timeout)?;
        let revision = tx::meta_get(&writer, "revision")
            .map_err(|e| StoreError::Corrupted { path: db_path.clone(), detail: e.to_string() })?;
        let (notify, _) = tokio::sync::watch::channel(revision);
        // Never more than the database retains, so the cache cannot hide an `Expired`.
        let recent_capacity =
            usize::try_from(opts.event_retention).unwrap_or(usize::MAX).min(opts.watch_window);
        let store = Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                opts,
                notify,
                recent: Mutex::new(Recent::new(revision, recent_capacity)),
                db_path: db_path.clone(),
                dir: dir.to_owned(),
                _lock: lock,
            }),
        };
        let writes = store
            .inner
            .write(gc::sweep)
            .map_err(|source| StoreError::Sweep { path: db_path.clone(), source })?;
        if writes > 0 {
            tracing::info!(path = %db_path.display(), writes, "store garbage collection on open");
        }
        Ok(store)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.opts
    }

    /// The current global resourceVersion (the last committed write's).
    pub fn revision(&self) -> u64 {
        *self.inner.notify.borrow()
    }

    /// The kinds stored in API group `group`, each with whether any object of it has a
    /// namespace: how the API server finds the type of a path it was never told about (a
    /// kind that a controller, not a client, first wrote).
    pub async fn kinds_in_group(&self, group: &str) -> Result<Vec<(String, bool)>> {
        let group = group.to_owned();
        self.blocking(move |inner| {
            inner.read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT kind, MAX(namespace != '') FROM objects WHERE grp = ?1 \
                         GROUP BY kind ORDER BY kind",
                    )
                    .map_err(sql)?;
                let rows =
                    stmt.query_map([&group], |row| Ok((row.get(0)?, row.get(1)?))).map_err(sql)?;
                rows.collect::<std::result::Result<Vec<_>, _>>().map_err(sql)
            })
        })
        .await
    }

    /// Runs `f` on a blocking thread with the store's internals.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await.map_err(join)?
    }
}

impl Inner {
    /// Runs `f` in a read transaction on a pooled read connection.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.db_path, self.opts.busy_timeout).map_err(sql)?,
        };
        let result = {
            let tx = conn.transaction().map_err(sql)?;
            f(&tx)
        };
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < self.opts.read_connections {
            readers.push(conn);
        }
        result
    }

    /// Runs `f` in a write transaction and commits it ([`Mode::Commit`]) or rolls it back
    /// ([`Mode::DryRun`]: every rule ran, nothing is kept, no watcher hears of it).
    pub(crate) fn write_in<T>(
        &self,
        mode: Mode,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        match mode {
            Mode::Commit => self.write(f),
            Mode::DryRun => {
                let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
                let now = seconds(self.opts.clock.now());
                let mut tx = Tx::begin(&mut conn, now, self.opts.event_retention)?;
                // Dropping the transaction rolls it back.
                f(&mut tx)
            }
        }
    }

    /// Runs `f` in a write transaction and commits it; wakes watchers if anything changed.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        // A panic inside a transaction rolls it back when the `Tx` drops, so a poisoned
        // connection is still consistent.
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let now = seconds(self.opts.clock.now());
        let mut tx = Tx::begin(&mut conn, now, self.opts.event_retention)?;
        let start = tx.revision();
        let value = f(&mut tx)?;
        let (revision, changes) = tx.commit()?;
        if revision != start {
            // Still under the writer lock: the cache receives changes in commit order.
            self.recent.lock().unwrap_or_else(PoisonError::into_inner).push(changes);
            drop(conn);
            self.notify.send_replace(revision);
        }
        Ok(value)
    }
}

/// Whether a write is kept or only run (a dry run, see [`crate::DryRunStore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Commit the transaction and notify watchers.
    Commit,
    /// Run every rule, answer the result, roll back.
    DryRun,
}

/// The stored resourceVersion of `key` (a dry write answers with it: nothing new was stored).
fn stored_version(tx: &Tx<'_>, key: &Key) -> Result<Option<String>> {
    Ok(tx.get(key)?.and_then(|o| o.metadata.resource_version))
}

/// Sets the apiVersion a caller asked for.
fn as_requested(rt: &ResourceType, mut obj: Object) -> Object {
    obj.api_version = rt.api_version();
    obj
}

pub(crate) fn create(
    inner: &Inner,
    rt: &ResourceType,
    mut obj: Object,
    mode: Mode,
) -> Result<Object> {
    let mut key = admit(rt, &mut obj)?;
    if !inner.opts.keep_status_on_create {
        obj.data.remove("status");
    }
    normalize(&mut obj);
    weir_apimachinery::defaults::apply(&rt.group, &rt.kind, &mut obj.data);
    let generate = obj.metadata.generate_name.clone().filter(|_| key.name.is_empty());
    if generate.is_none() {
        validate_name(rt, &key.name)?;
    }
    crate::validation::validate_object(rt, &obj)?;
    inner.write_in(mode, |tx| {
        let meta = &mut obj.metadata;
        meta.uid = Some(uuid::Uuid::new_v4().to_string());
        meta.creation_timestamp = Some(tx.now.clone());
        meta.generation = Some(1);
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        if let Some(prefix) = &generate {
            let mut tries = 0;
            loop {
                key.name = format!("{prefix}{}", random_suffix());
                validate_name(rt, &key.name)?;
                if tx.get(&key)?.is_none() {
                    break;
                }
                tries += 1;
                if tries == 8 {
                    return Err(Error::AlreadyExists {
                        kind: crate::object::resource_name(rt),
                        name: key.name.clone(),
                    });
                }
            }
            obj.metadata.name = Some(key.name.clone());
        } else if tx.get(&key)?.is_some() {
            return Err(Error::AlreadyExists {
                kind: crate::object::resource_name(rt),
                name: key.name.clone(),
            });
        }
        tx.insert(&key, &mut obj)?;
        collect_created_without_owners(tx, &key, &obj)?;
        if mode == Mode::DryRun {
            // As the API server answers a dry-run create: no resourceVersion was consumed.
            obj.metadata.resource_version = None;
        }
        Ok(obj)
    })
}

/// The shared core of update, update_status and patch: replaces the main resource or the
/// status of the stored object under `key` with `new`'s, honouring its resourceVersion and
/// uid as preconditions.
fn replace(
    tx: &mut Tx<'_>,
    rt: &ResourceType,
    key: &Key,
    new: Object,
    subresource: Subresource,
) -> Result<Object> {
    let stored = tx.get(key)?.ok_or_else(|| not_found(rt, &key.name))?;
    let (new_rv, new_uid) = (new.resource_version(), new.uid());
    if !new_rv.is_empty() && new_rv != stored.resource_version() {
        return Err(conflict(rt, &key.name, MODIFIED));
    }
    if !new_uid.is_empty() && new_uid != stored.uid() {
        return Err(conflict(
            rt,
            &key.name,
            format!(
                "Precondition failed: UID in precondition: {new_uid}, UID in object meta: {}",
                stored.uid()
            ),
        ));
    }
    let mut next = match subresource {
        Subresource::Main => {
            let mut next = new;
            next.data.shift_remove("status");
            if let Some(status) = stored.data.get("status") {
                next.data.insert("status".to_owned(), status.clone());
            }
            let (meta, old) = (&mut next.metadata, &stored.metadata);
            meta.uid.clone_from(&old.uid);
            meta.creation_timestamp.clone_from(&old.creation_timestamp);
            meta.generation = old.generation;
            meta.deletion_timestamp.clone_from(&old.deletion_timestamp);
            meta.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
            meta.name = Some(key.name.clone());
            meta.namespace = key.namespace().map(str::to_owned);
            next
        }
        Subresource::Status => {
            let mut next = stored.clone();
            next.data.shift_remove("status");
            if let Some(status) = new.data.get("status") {
                next.data.insert("status".to_owned(), status.clone());
            }
            next
        }
    };
    next.api_version = rt.api_version();
    next.metadata.resource_version = stored.metadata.resource_version.clone();
    normalize(&mut next);
    weir_apimachinery::defaults::apply(&rt.group, &rt.kind, &mut next.data);
    if matches!(subresource, Subresource::Main) {
        crate::validation::validate_object(rt, &next)?;
    }
    if stored.metadata.deletion_timestamp.is_some() {
        let old: Vec<&String> = stored.metadata.finalizers.iter().flatten().collect();
        if let Some(added) = next.metadata.finalizers.iter().flatten().find(|f| !old.contains(f)) {
            return Err(invalid(
                rt,
                &key.name,
                "metadata.finalizers",
                format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, \
                     found new finalizers [{added:?}]"
                ),
            ));
        }
    }
    if subresource == Subresource::Main {
        crate::immutable::check_update(rt, &stored, &next)?;
    }
    if !same_spec(&stored, &next) {
        next.metadata.generation = Some(stored.metadata.generation.unwrap_or(0) + 1);
    }
    // Compare with the stored apiVersion ignored: it is not part of the object's identity.
    let mut stored_cmp = stored.clone();
    stored_cmp.api_version = next.api_version.clone();
    if next == stored_cmp {
        return Ok(stored);
    }
    let mut queue = VecDeque::new();
    let uid = next.uid().to_owned();
    let namespace = key.group.is_empty() && key.kind == "Namespace";
    if next.metadata.deletion_timestamp.is_some()
        && next.metadata.finalizers.iter().flatten().next().is_none()
        && !namespace
    {
        gc::remove(tx, key, next, &mut queue)?;
        gc::run(tx, queue)?;
        return tx
            .removed
            .remove(&uid)
            .ok_or_else(|| Error::Internal(format!("{key} was removed but not recorded")));
    }
    let prev_labels = (next.metadata.labels != stored.metadata.labels)
        .then(|| stored.metadata.labels.clone().unwrap_or_default());
    let before = selectable_fields(&key.group, &key.kind, &stored);
    let prev_fields = (before != selectable_fields(&key.group, &key.kind, &next)).then_some(before);
    tx.replace_selected(key, &mut next, Prev { labels: prev_labels, fields: prev_fields })?;
    let kept: Vec<&str> =
        next.metadata.owner_references.iter().flatten().map(|o| o.uid.as_str()).collect();
    for owner in stored.metadata.owner_references.iter().flatten() {
        if !kept.contains(&owner.uid.as_str()) {
            queue.push_back(Work::CheckForeground(owner.uid.clone()));
        }
    }
    let before: Vec<&str> =
        stored.metadata.owner_references.iter().flatten().map(|o| o.uid.as_str()).collect();
    if kept.iter().any(|uid| !before.contains(uid)) {
        // A new owner reference: the object goes if none of its owners is alive.
        gc::collect_if_owners_gone(tx, key, &next, &mut queue)?;
    }
    if namespace && next.metadata.deletion_timestamp.is_some() {
        // A Terminating namespace goes once it is empty and has no finalizer left.
        queue.push_back(Work::CheckNamespace(key.name.clone()));
    }
    gc::run(tx, queue)?;
    if let Some(last) = tx.removed.remove(&uid) {
        return Ok(last);
    }
    Ok(next)
}

pub(crate) fn update(
    inner: &Inner,
    rt: &ResourceType,
    mut obj: Object,
    sub: Subresource,
    mode: Mode,
) -> Result<Object> {
    let key = admit(rt, &mut obj)?;
    if key.name.is_empty() {
        return Err(invalid(rt, "", "metadata.name", "name is required".to_owned()));
    }
    inner
        .write_in(mode, |tx| {
            let before = if mode == Mode::DryRun { stored_version(tx, &key)? } else { None };
            let mut out = replace(tx, rt, &key, obj, sub)?;
            if mode == Mode::DryRun {
                out.metadata.resource_version = before;
            }
            Ok(out)
        })
        .map(|o| as_requested(rt, o))
}

pub(crate) fn patch(
    inner: &Inner,
    rt: &ResourceType,
    key: &Key,
    patch: &Patch,
    sub: Subresource,
    mode: Mode,
) -> Result<Object> {
    check_apply_identity(patch, rt, &key.name, key.namespace())?;
    inner
        .write_in(mode, |tx| {
            let now = serde_json::to_value(&tx.now)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let crd = if needs_crd(rt, patch) {
                let crd_key = Key {
                    group: "apiextensions.k8s.io".to_owned(),
                    kind: "CustomResourceDefinition".to_owned(),
                    namespace: String::new(),
                    name: crd_name(rt),
                };
                tx.get(&crd_key)?.map(|o| o.to_value())
            } else {
                None
            };
            let Some(stored) = tx.get(key)? else {
                if !matches!(patch, Patch::Apply { .. }) || sub != Subresource::Main {
                    return Err(not_found(rt, &key.name));
                }
                // Server-side apply creates the object it does not find.
                let value = patch_value(None, patch, rt, crd.as_ref(), &now)?;
                let mut created = Object::from_value(value)?;
                if created.namespace().is_none() {
                    created.metadata.namespace = key.namespace().map(str::to_owned);
                }
                admit(rt, &mut created)?;
                if !inner.opts.keep_status_on_create {
                    created.data.remove("status");
                }
                normalize(&mut created);
                weir_apimachinery::defaults::apply(&rt.group, &rt.kind, &mut created.data);
                validate_name(rt, &key.name)?;
                crate::validation::validate_object(rt, &created)?;
                let mut out = insert_new(tx, key, created)?;
                collect_created_without_owners(tx, key, &out)?;
                if mode == Mode::DryRun {
                    // As the API server answers a dry-run create: no resourceVersion was consumed.
                    out.metadata.resource_version = None;
                }
                return Ok(out);
            };
            let live = as_requested(rt, stored.clone()).to_value();
            let value = patch_value(Some(&live), patch, rt, crd.as_ref(), &now)?;
            let mut patched = Object::from_value(value)?;
            let namespace = patched.namespace().filter(|ns| !ns.is_empty());
            if patched.name() != key.name
                || (rt.namespaced() && namespace != key.namespace())
                || patched.uid() != stored.uid()
            {
                return Err(Error::BadRequest(format!(
                    "a patch cannot change metadata.name, metadata.namespace or metadata.uid of {} \
                 {:?}",
                    crate::object::resource_name(rt),
                    key.name
                )));
            }
            admit(rt, &mut patched)?;
            let mut out = replace(tx, rt, key, patched, sub)?;
            if mode == Mode::DryRun {
                out.metadata.resource_version.clone_from(&stored.metadata.resource_version);
            }
            Ok(out)
        })
        .map(|o| as_requested(rt, o))
}

/// After a create: collects the new object at once if every owner it names is gone (see
/// [`gc::collect_if_owners_gone`]). The caller still answers with the object as created, as
/// the API server answers a create that its garbage collector undoes a moment later.
fn collect_created_without_owners(tx: &mut Tx<'_>, key: &Key, obj: &Object) -> Result<()> {
    let mut queue = VecDeque::new();
    gc::collect_if_owners_gone(tx, key, obj, &mut queue)?;
    if queue.is_empty() {
        return Ok(());
    }
    tracing::debug!(object = %key, "created with owners that are all gone: collected");
    gc::run(tx, queue)?;
    tx.removed.remove(obj.uid());
    Ok(())
}

/// Stamps a new object (uid, creationTimestamp, generation 1) and inserts it under `key`.
fn insert_new(tx: &mut Tx<'_>, key: &Key, mut obj: Object) -> Result<Object> {
    let meta = &mut obj.metadata;
    meta.uid = Some(uuid::Uuid::new_v4().to_string());
    meta.creation_timestamp = Some(tx.now.clone());
    meta.generation = Some(1);
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.resource_version = None;
    tx.insert(key, &mut obj)?;
    Ok(obj)
}

pub(crate) fn delete(
    inner: &Inner,
    rt: &ResourceType,
    key: &Key,
    params: &DeleteParams,
    mode: Mode,
) -> Result<DeleteOutcome> {
    inner.write_in(mode, |tx| {
        let stored = tx.get(key)?.ok_or_else(|| not_found(rt, &key.name))?;
        if let Some(uid) = params.precondition_uid.as_deref()
            && uid != stored.uid()
        {
            return Err(conflict(
                rt,
                &key.name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    stored.uid()
                ),
            ));
        }
        if let Some(rv) = params.precondition_resource_version.as_deref()
            && rv != stored.resource_version()
        {
            return Err(conflict(
                rt,
                &key.name,
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, \
                     ResourceVersion in meta: {}",
                    stored.resource_version()
                ),
            ));
        }
        let uid = stored.uid().to_owned();
        gc::run(tx, VecDeque::from([Work::Delete(key.clone(), params.propagation_policy)]))?;
        let dry_version = |mut obj: Object| {
            if mode == Mode::DryRun {
                obj.metadata.resource_version.clone_from(&stored.metadata.resource_version);
            }
            as_requested(rt, obj)
        };
        if let Some(last) = tx.removed.remove(&uid) {
            return Ok(DeleteOutcome::Deleted(dry_version(last)));
        }
        match tx.get(key)? {
            Some(obj) => Ok(DeleteOutcome::Pending(dry_version(obj))),
            None => Err(Error::Internal(format!("{key} vanished during its deletion"))),
        }
    })
}

impl Cluster for Store {
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        let key = Key::new(rt, namespace, name)?;
        let rt = rt.clone();
        self.blocking(move |inner| {
            let obj = inner.read(|conn| tx::get(conn, &key))?;
            obj.map(|o| as_requested(&rt, o)).ok_or_else(|| not_found(&rt, &key.name))
        })
        .await
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        let namespace = namespace.filter(|ns| rt.namespaced() && !ns.is_empty()).map(str::to_owned);
        let (rt, params) = (rt.clone(), params.clone());
        self.blocking(move |inner| crate::list::list(inner, &rt, namespace.as_deref(), &params))
            .await
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.blocking(move |inner| create(inner, &rt, object, Mode::Commit)).await
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.blocking(move |inner| update(inner, &rt, object, Subresource::Main, Mode::Commit))
            .await
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        let rt = rt.clone();
        self.blocking(move |inner| update(inner, &rt, object, Subresource::Status, Mode::Commit))
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
        self.blocking(move |inner| patch(inner, &rt, &key, &patch_body, subresource, Mode::Commit))
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
        self.blocking(move |inner| delete(inner, &rt, &key, &params, Mode::Commit)).await
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        crate::watch::watch(self, rt, namespace, params).await
    }
}
