//! Deletion and garbage collection: finalizers, `ownerReferences`, and the three propagation
//! policies, run synchronously inside the write transaction of the call that triggered them.
//!
//! The work is a queue of [`Work`] items processed until empty, so deep ownership chains do
//! not recurse on the stack:
//! - `Delete(key, policy)`: what a delete call does to one object. An object with finalizers
//!   only gets a `deletionTimestamp`; one without is removed.
//!   *Background* removes the object, then its dependents are collected (`OwnerGone`).
//!   *Foreground* marks the object (`deletionTimestamp` + the `foregroundDeletion`
//!   finalizer), deletes its dependents the same way, and removes the object once no
//!   dependent with `blockOwnerDeletion: true` is left (`CheckForeground`).
//!   *Orphan* strips the object's reference from its dependents first.
//! - `OwnerGone(uid)`: an owner was removed. A dependent that still has a live owner only
//!   loses its dangling references; any other dependent is deleted in the background.
//! - `CheckForeground(uid)`: a dependent went away or dropped a reference; if `uid` is an
//!   owner waiting in a foreground deletion and nothing blocks it any more, finish it.
//! - Namespaces, as the namespace controller does them: deleting a Namespace marks it
//!   (`deletionTimestamp`, `status.phase: Terminating`) and deletes everything in it in the
//!   background; `CheckNamespace(ns)` removes the namespace once nothing is left in it (an
//!   object held by finalizers keeps it Terminating until the finalizers are gone).
//!
//! - Dangling owners at write time ([`collect_if_owners_gone`]): a write that stores an
//!   object naming owners none of which exists any more (a ReplicaSet controller that read
//!   its ReplicaSet just before a Rollout's deletion removed it, and creates a Pod for it)
//!   collects that object in the same transaction, as the Kubernetes garbage collector does
//!   once it sees a dependent whose owners are all absent. Owner removal and dependent
//!   creation are both writes, so collection is continuous: no window is left in which a
//!   dependent of a vanished owner exists (and no Pod process starts for one).
//!
//! Because everything happens in one transaction, a crash leaves either none or all of it.
//! [`sweep`] runs on open anyway, to converge whatever the database holds (dependents of
//! owners that vanished another way, foreground deletions left pending).

use std::collections::VecDeque;

use weir_cluster::{Object, PropagationPolicy, Result};

use crate::object::{FOREGROUND_FINALIZER, Key, has_finalizer};
use crate::tx::Tx;

/// One step of garbage collection.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    Delete(Key, PropagationPolicy),
    OwnerGone(String),
    CheckForeground(String),
    CheckNamespace(String),
}

/// Whether `key` names a Namespace.
fn is_namespace(key: &Key) -> bool {
    key.group.is_empty() && key.kind == "Namespace" && key.namespace.is_empty()
}

fn namespace_key(name: &str) -> Key {
    Key {
        group: String::new(),
        kind: "Namespace".to_owned(),
        namespace: String::new(),
        name: name.to_owned(),
    }
}

/// Processes work items until none is left.
pub(crate) fn run(tx: &mut Tx<'_>, mut queue: VecDeque<Work>) -> Result<()> {
    while let Some(work) = queue.pop_front() {
        match work {
            Work::Delete(key, policy) => {
                if let Some(obj) = tx.get(&key)? {
                    delete(tx, &key, obj, policy, &mut queue)?;
                }
            }
            Work::OwnerGone(uid) => owner_gone(tx, &uid, &mut queue)?,
            Work::CheckForeground(uid) => check_foreground(tx, &uid, &mut queue)?,
            Work::CheckNamespace(ns) => check_namespace(tx, &ns, &mut queue)?,
        }
    }
    Ok(())
}

fn delete(
    tx: &mut Tx<'_>,
    key: &Key,
    mut obj: Object,
    policy: PropagationPolicy,
    queue: &mut VecDeque<Work>,
) -> Result<()> {
    if obj.metadata.deletion_timestamp.is_some() {
        // Already being deleted: its finalizers (or its dependents, or its contents) decide
        // when it goes.
        if is_namespace(key) {
            queue.push_back(Work::CheckNamespace(key.name.clone()));
        } else if obj.metadata.finalizers.iter().flatten().next().is_none() {
            remove(tx, key, obj, queue)?;
        }
        return Ok(());
    }
    if is_namespace(key) {
        return terminate_namespace(tx, key, obj, queue);
    }
    let uid = obj.uid().to_owned();
    match policy {
        PropagationPolicy::Orphan => {
            for (dep_key, dep) in tx.dependents(&uid)? {
                strip_refs(tx, &dep_key, dep, |owner| owner != uid)?;
            }
            finalize_or_remove(tx, key, obj, queue)
        }
        PropagationPolicy::Background => finalize_or_remove(tx, key, obj, queue),
        PropagationPolicy::Foreground => {
            if tx.dependents(&uid)?.is_empty() {
                return finalize_or_remove(tx, key, obj, queue);
            }
            obj.metadata.deletion_timestamp = Some(tx.now.clone());
            obj.metadata.finalizers.get_or_insert_default().push(FOREGROUND_FINALIZER.to_owned());
            tx.replace(key, &mut obj)?;
            delete_dependents(tx, &uid, queue)?;
            queue.push_back(Work::CheckForeground(uid));
            Ok(())
        }
    }
}

/// Foreground: every dependent of `uid` is deleted in the foreground too, except those that
/// have another live owner, which only lose their reference to `uid`.
fn delete_dependents(tx: &mut Tx<'_>, uid: &str, queue: &mut VecDeque<Work>) -> Result<()> {
    for (dep_key, dep) in tx.dependents(uid)? {
        let mut other_live = false;
        for owner in dep.metadata.owner_references.iter().flatten() {
            if owner.uid != uid && tx.uid_exists(&owner.uid)? {
                other_live = true;
            }
        }
        if other_live {
            strip_refs(tx, &dep_key, dep, |owner| owner != uid)?;
        } else {
            queue.push_back(Work::Delete(dep_key, PropagationPolicy::Foreground));
        }
    }
    Ok(())
}

fn finalize_or_remove(
    tx: &mut Tx<'_>,
    key: &Key,
    mut obj: Object,
    queue: &mut VecDeque<Work>,
) -> Result<()> {
    if obj.metadata.finalizers.iter().flatten().next().is_some() {
        obj.metadata.deletion_timestamp = Some(tx.now.clone());
        tx.replace(key, &mut obj)
    } else {
        remove(tx, key, obj, queue)
    }
}

/// Removes the object now and queues the collection of its dependents and the check of its
/// owners' foreground deletions.
pub(crate) fn remove(
    tx: &mut Tx<'_>,
    key: &Key,
    mut obj: Object,
    queue: &mut VecDeque<Work>,
) -> Result<()> {
    let owners: Vec<String> =
        obj.metadata.owner_references.iter().flatten().map(|o| o.uid.clone()).collect();
    tx.remove(key, &mut obj)?;
    queue.push_back(Work::OwnerGone(obj.uid().to_owned()));
    queue.extend(owners.into_iter().map(Work::CheckForeground));
    if !key.namespace.is_empty() {
        queue.push_back(Work::CheckNamespace(key.namespace.clone()));
    }
    Ok(())
}

/// Marks a namespace Terminating and deletes what is in it.
fn terminate_namespace(
    tx: &mut Tx<'_>,
    key: &Key,
    mut obj: Object,
    queue: &mut VecDeque<Work>,
) -> Result<()> {
    obj.metadata.deletion_timestamp = Some(tx.now.clone());
    let status = obj.data.entry("status").or_insert_with(|| serde_json::json!({}));
    if let Some(status) = status.as_object_mut() {
        status.insert("phase".to_owned(), serde_json::json!("Terminating"));
    }
    tx.replace(key, &mut obj)?;
    for content in tx.keys_in_namespace(&key.name)? {
        queue.push_back(Work::Delete(content, PropagationPolicy::Background));
    }
    queue.push_back(Work::CheckNamespace(key.name.clone()));
    Ok(())
}

/// Removes a Terminating namespace once it is empty and has no finalizer left.
fn check_namespace(tx: &mut Tx<'_>, ns: &str, queue: &mut VecDeque<Work>) -> Result<()> {
    let key = namespace_key(ns);
    let Some(obj) = tx.get(&key)? else { return Ok(()) };
    if obj.metadata.deletion_timestamp.is_none()
        || obj.metadata.finalizers.iter().flatten().next().is_some()
        || !tx.keys_in_namespace(ns)?.is_empty()
    {
        return Ok(());
    }
    remove(tx, &key, obj, queue)
}

fn owner_gone(tx: &mut Tx<'_>, uid: &str, queue: &mut VecDeque<Work>) -> Result<()> {
    for (dep_key, dep) in tx.dependents(uid)? {
        let mut live = Vec::new();
        for owner in dep.metadata.owner_references.iter().flatten() {
            if owner.uid != uid && tx.uid_exists(&owner.uid)? {
                live.push(owner.uid.clone());
            }
        }
        if live.is_empty() {
            queue.push_back(Work::Delete(dep_key, PropagationPolicy::Background));
        } else {
            strip_refs(tx, &dep_key, dep, |owner| live.iter().any(|l| l == owner))?;
        }
    }
    Ok(())
}

fn check_foreground(tx: &mut Tx<'_>, uid: &str, queue: &mut VecDeque<Work>) -> Result<()> {
    let Some((key, mut obj)) = tx.get_by_uid(uid)? else {
        return Ok(());
    };
    if obj.metadata.deletion_timestamp.is_none()
        || !has_finalizer(&obj, FOREGROUND_FINALIZER)
        || tx.has_blocking_dependents(uid)?
    {
        return Ok(());
    }
    if let Some(finalizers) = obj.metadata.finalizers.as_mut() {
        finalizers.retain(|f| f != FOREGROUND_FINALIZER);
    }
    if obj.metadata.finalizers.iter().flatten().next().is_none() {
        obj.metadata.finalizers = None;
        remove(tx, &key, obj, queue)
    } else {
        tx.replace(&key, &mut obj)
    }
}

/// Queues the collection of the object just stored under `key` when it names owners and
/// none of them is alive: each is absent, or waiting in a foreground deletion (whose new
/// dependents are deleted in the foreground too, as `delete_dependents` does). An object with
/// at least one live owner is kept (a dangling reference beside a live one is dropped by the
/// sweep on open, as before).
pub(crate) fn collect_if_owners_gone(
    tx: &Tx<'_>,
    key: &Key,
    obj: &Object,
    queue: &mut VecDeque<Work>,
) -> Result<()> {
    let mut owners = obj.metadata.owner_references.iter().flatten().peekable();
    if owners.peek().is_none() {
        return Ok(());
    }
    let mut owner_in_foreground_deletion = false;
    for owner in owners {
        match tx.get_by_uid(&owner.uid)? {
            None => {}
            Some((_, o))
                if o.metadata.deletion_timestamp.is_some()
                    && has_finalizer(&o, FOREGROUND_FINALIZER) =>
            {
                owner_in_foreground_deletion = true;
            }
            Some(_) => return Ok(()),
        }
    }
    let policy = if owner_in_foreground_deletion {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    queue.push_back(Work::Delete(key.clone(), policy));
    Ok(())
}

/// Keeps only the owner references whose uid passes `keep`.
fn strip_refs(
    tx: &mut Tx<'_>,
    key: &Key,
    mut obj: Object,
    keep: impl Fn(&str) -> bool,
) -> Result<()> {
    if let Some(refs) = obj.metadata.owner_references.as_mut() {
        refs.retain(|r| keep(&r.uid));
        if refs.is_empty() {
            obj.metadata.owner_references = None;
        }
    }
    tx.replace(key, &mut obj)
}

/// The startup sweep: collects dependents of owners that no longer exist, finishes pending
/// foreground deletions, and removes objects marked for deletion with no finalizer left.
/// Returns how many writes it made.
pub(crate) fn sweep(tx: &mut Tx<'_>) -> Result<u64> {
    let before = tx.revision();
    let mut queue: VecDeque<Work> =
        tx.dangling_owners()?.into_iter().map(Work::OwnerGone).collect();
    for key in tx.deleting()? {
        let Some(obj) = tx.get(&key)? else { continue };
        if obj.metadata.deletion_timestamp.is_none() {
            continue;
        }
        if is_namespace(&key) {
            queue.push_back(Work::CheckNamespace(key.name.clone()));
        } else if has_finalizer(&obj, FOREGROUND_FINALIZER) {
            let uid = obj.uid().to_owned();
            delete_dependents(tx, &uid, &mut queue)?;
            queue.push_back(Work::CheckForeground(uid));
        } else if obj.metadata.finalizers.iter().flatten().next().is_none() {
            remove(tx, &key, obj, &mut queue)?;
        }
    }
    run(tx, queue)?;
    Ok(tx.revision() - before)
}
