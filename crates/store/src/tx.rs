//! Row-level primitives: reading objects from any connection, and [`Tx`], the write
//! transaction every change goes through. `Tx` assigns resourceVersions from the global
//! revision counter, keeps the owner-reference index in step with each row, and appends the
//! watch event of each change in the same transaction, so a committed write and its event are
//! never separated (not even by `kill -9`).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use weir_cluster::{Object, Result};

use crate::error::sql;
use crate::object::{Key, decode, encode};

/// Reads a counter from `meta`.
pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<u64> {
    let value: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0))
        .map_err(sql)?;
    Ok(u64::try_from(value).unwrap_or(0))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads one object.
pub(crate) fn get(conn: &Connection, key: &Key) -> Result<Option<Object>> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM objects WHERE grp = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![key.group, key.kind, key.namespace, key.name], |row| row.get(0))
                .optional()
        })
        .map_err(sql)?;
    body.map(|b| decode(&b, key)).transpose()
}

/// Reads every object of a type, in one namespace or all, ordered by namespace then name.
pub(crate) fn list(
    conn: &Connection,
    group: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Vec<Object>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT namespace, name, body FROM objects
             WHERE grp = ?1 AND kind = ?2 AND (?3 IS NULL OR namespace = ?3)
             ORDER BY namespace, name",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![group, kind, namespace], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
        })
        .map_err(sql)?;
    let mut items = Vec::new();
    for row in rows {
        let (namespace, name, body) = row.map_err(sql)?;
        let key = Key { group: group.to_owned(), kind: kind.to_owned(), namespace, name };
        items.push(decode(&body, &key)?);
    }
    Ok(items)
}

/// The objects of a type as they were at revision `at`, rebuilt from the current rows and the
/// events after `at`; `None` when the history needed was pruned. Callers check
/// `compacted <= at <= revision`.
pub(crate) fn list_at(
    conn: &Connection,
    group: &str,
    kind: &str,
    namespace: Option<&str>,
    at: u64,
) -> Result<Option<Vec<Object>>> {
    let mut objects: BTreeMap<(String, String), Object> = list(conn, group, kind, namespace)?
        .into_iter()
        .map(|o| ((o.namespace().unwrap_or_default().to_owned(), o.name().to_owned()), o))
        .collect();
    // Every key changed after `at`, with the type of its first change after it (SQLite takes
    // the bare `type` from the row with the minimum rv).
    let changed: Vec<(String, String, String)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT namespace, name, type, MIN(rv) FROM events
                 WHERE grp = ?1 AND kind = ?2 AND rv > ?3 AND (?4 IS NULL OR namespace = ?4)
                 GROUP BY namespace, name",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![group, kind, to_i64(at), namespace], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)?
    };
    let mut before = conn
        .prepare_cached(
            "SELECT type, body FROM events
             WHERE grp = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4 AND rv <= ?5
             ORDER BY rv DESC LIMIT 1",
        )
        .map_err(sql)?;
    for (ns, name, first_after) in changed {
        let entry = (ns.clone(), name.clone());
        objects.remove(&entry);
        let last: Option<(String, String)> = before
            .query_row(params![group, kind, ns, name, to_i64(at)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(sql)?;
        let key = Key { group: group.to_owned(), kind: kind.to_owned(), namespace: ns, name };
        match last {
            Some((ty, _)) if ty == EventType::Deleted.as_str() => {}
            Some((_, body)) => {
                objects.insert(entry, decode(&body, &key)?);
            }
            // Created after `at`: it did not exist then.
            None if first_after == EventType::Added.as_str() => {}
            // Its state at `at` was written before the retained history.
            None => return Ok(None),
        }
    }
    Ok(Some(objects.into_values().collect()))
}

/// Kind of a stored watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<EventType> {
        match s {
            "ADDED" => Some(EventType::Added),
            "MODIFIED" => Some(EventType::Modified),
            "DELETED" => Some(EventType::Deleted),
            _ => None,
        }
    }
}

/// One write transaction (`BEGIN IMMEDIATE`: the write lock is taken up front, so the
/// preconditions checked inside it hold until commit).
#[derive(Debug)]
pub(crate) struct Tx<'c> {
    tx: Transaction<'c>,
    start: u64,
    revision: u64,
    retention: u64,
    /// The time of this transaction, at second precision.
    pub(crate) now: Time,
    /// Last states of the objects removed in this transaction, by uid.
    pub(crate) removed: HashMap<String, Object>,
    /// Every change made, in resourceVersion order, for the watch cache after commit.
    pub(crate) changes: Vec<Change>,
}

/// One committed change, as the in-memory watch cache keeps it.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) key: Key,
    pub(crate) kind: EventType,
    pub(crate) obj: Object,
    /// For a MODIFIED change: what selectors see of the object before, where it changed.
    pub(crate) prev: Prev,
}

/// An object's labels (empty when it has none).
pub(crate) type Labels = BTreeMap<String, String>;

/// An object's selectable fields (`weir_cluster::selector::selectable_fields`).
pub(crate) type Fields = BTreeMap<String, String>;

/// What label and field selectors saw of an object before a MODIFIED change, kept only for
/// what the change altered, so filtered watches can tell "started matching" (sent as ADDED)
/// and "stopped matching" (sent as DELETED) from a plain change.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Prev {
    /// The labels before, if the change altered them.
    pub(crate) labels: Option<Labels>,
    /// The selectable fields before, if the change altered any.
    pub(crate) fields: Option<Fields>,
}

impl<'c> Tx<'c> {
    pub(crate) fn begin(conn: &'c mut Connection, now: Time, retention: u64) -> Result<Self> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let revision = meta_get(&tx, "revision")?;
        Ok(Tx {
            tx,
            start: revision,
            revision,
            retention,
            now,
            removed: HashMap::new(),
            changes: Vec::new(),
        })
    }

    /// The last resourceVersion assigned (or the store's, when nothing was written yet).
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    pub(crate) fn get(&self, key: &Key) -> Result<Option<Object>> {
        get(&self.tx, key)
    }

    /// The object with this uid, if it exists.
    pub(crate) fn get_by_uid(&self, uid: &str) -> Result<Option<(Key, Object)>> {
        let row = self
            .tx
            .prepare_cached("SELECT grp, kind, namespace, name, body FROM objects WHERE uid = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([uid], |row| {
                    Ok((
                        Key {
                            group: row.get(0)?,
                            kind: row.get(1)?,
                            namespace: row.get(2)?,
                            name: row.get(3)?,
                        },
                        row.get::<_, String>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(sql)?;
        match row {
            Some((key, body)) => {
                let obj = decode(&body, &key)?;
                Ok(Some((key, obj)))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn uid_exists(&self, uid: &str) -> Result<bool> {
        self.tx
            .prepare_cached("SELECT 1 FROM objects WHERE uid = ?1")
            .and_then(|mut stmt| stmt.exists([uid]))
            .map_err(sql)
    }

    /// Objects whose `ownerReferences` name `owner_uid`.
    pub(crate) fn dependents(&self, owner_uid: &str) -> Result<Vec<(Key, Object)>> {
        let uids: Vec<String> = {
            let mut stmt = self
                .tx
                .prepare_cached("SELECT uid FROM owner_refs WHERE owner_uid = ?1 ORDER BY uid")
                .map_err(sql)?;
            let rows = stmt.query_map([owner_uid], |row| row.get(0)).map_err(sql)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sql)?
        };
        let mut out = Vec::with_capacity(uids.len());
        for uid in uids {
            if let Some(found) = self.get_by_uid(&uid)? {
                out.push(found);
            }
        }
        Ok(out)
    }

    /// Whether a dependent with `blockOwnerDeletion: true` still names `owner_uid`.
    pub(crate) fn has_blocking_dependents(&self, owner_uid: &str) -> Result<bool> {
        self.tx
            .prepare_cached("SELECT 1 FROM owner_refs WHERE owner_uid = ?1 AND block = 1")
            .and_then(|mut stmt| stmt.exists([owner_uid]))
            .map_err(sql)
    }

    /// Owner uids that no longer exist but still have dependents (the GC sweep's work).
    pub(crate) fn dangling_owners(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT DISTINCT owner_uid FROM owner_refs
                 WHERE owner_uid NOT IN (SELECT uid FROM objects) ORDER BY owner_uid",
            )
            .map_err(sql)?;
        let rows = stmt.query_map([], |row| row.get(0)).map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)
    }

    /// Keys of every object in namespace `ns`, of any kind.
    pub(crate) fn keys_in_namespace(&self, ns: &str) -> Result<Vec<Key>> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT grp, kind, namespace, name FROM objects WHERE namespace = ?1
                 ORDER BY grp, kind, name",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([ns], |row| {
                Ok(Key {
                    group: row.get(0)?,
                    kind: row.get(1)?,
                    namespace: row.get(2)?,
                    name: row.get(3)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)
    }

    /// Keys of objects that carry a `deletionTimestamp` (candidates for the sweep).
    pub(crate) fn deleting(&self) -> Result<Vec<Key>> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT grp, kind, namespace, name FROM objects
                 WHERE body LIKE '%\"deletionTimestamp\"%'",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Key {
                    group: row.get(0)?,
                    kind: row.get(1)?,
                    namespace: row.get(2)?,
                    name: row.get(3)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql)
    }

    fn next_rv(&mut self, obj: &mut Object) -> u64 {
        self.revision += 1;
        obj.metadata.resource_version = Some(self.revision.to_string());
        self.revision
    }

    /// Stores a new object under a fresh resourceVersion (`ADDED`).
    pub(crate) fn insert(&mut self, key: &Key, obj: &mut Object) -> Result<()> {
        let rv = self.next_rv(obj);
        let body = encode(obj)?;
        self.tx
            .prepare_cached(
                "INSERT INTO objects (grp, kind, namespace, name, uid, rv, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key.group,
                    key.kind,
                    key.namespace,
                    key.name,
                    obj.uid(),
                    to_i64(rv),
                    body
                ])
            })
            .map_err(sql)?;
        self.index_owners(obj)?;
        self.event(rv, key, EventType::Added, &body, obj, Prev::default())
    }

    /// Replaces a stored object under a fresh resourceVersion (`MODIFIED`), labels and
    /// selectable fields unchanged.
    pub(crate) fn replace(&mut self, key: &Key, obj: &mut Object) -> Result<()> {
        self.replace_selected(key, obj, Prev::default())
    }

    /// Replaces a stored object; `prev` is what selectors saw of it before, where it changed.
    pub(crate) fn replace_selected(
        &mut self,
        key: &Key,
        obj: &mut Object,
        prev: Prev,
    ) -> Result<()> {
        let rv = self.next_rv(obj);
        let body = encode(obj)?;
        self.tx
            .prepare_cached(
                "UPDATE objects SET rv = ?5, body = ?6
                 WHERE grp = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key.group,
                    key.kind,
                    key.namespace,
                    key.name,
                    to_i64(rv),
                    body
                ])
            })
            .map_err(sql)?;
        self.unindex_owners(obj.uid())?;
        self.index_owners(obj)?;
        self.event(rv, key, EventType::Modified, &body, obj, prev)
    }

    /// Removes an object; its last state gets a fresh resourceVersion (`DELETED`).
    pub(crate) fn remove(&mut self, key: &Key, obj: &mut Object) -> Result<()> {
        let rv = self.next_rv(obj);
        let body = serde_json::to_string(&*obj)
            .map_err(|e| weir_cluster::Error::Internal(format!("cannot encode {key}: {e}")))?;
        self.tx
            .prepare_cached(
                "DELETE FROM objects WHERE grp = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![key.group, key.kind, key.namespace, key.name])
            })
            .map_err(sql)?;
        self.unindex_owners(obj.uid())?;
        self.event(rv, key, EventType::Deleted, &body, obj, Prev::default())?;
        self.removed.insert(obj.uid().to_owned(), obj.clone());
        Ok(())
    }

    fn index_owners(&mut self, obj: &Object) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO owner_refs (owner_uid, uid, block) VALUES (?1, ?2, ?3)
                 ON CONFLICT (owner_uid, uid) DO UPDATE SET block = max(block, excluded.block)",
            )
            .map_err(sql)?;
        for owner in obj.metadata.owner_references.iter().flatten() {
            let block = owner.block_owner_deletion.unwrap_or(false);
            stmt.execute(params![owner.uid, obj.uid(), block]).map_err(sql)?;
        }
        Ok(())
    }

    fn unindex_owners(&mut self, uid: &str) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM owner_refs WHERE uid = ?1")
            .and_then(|mut stmt| stmt.execute([uid]))
            .map_err(sql)?;
        Ok(())
    }

    fn event(
        &mut self,
        rv: u64,
        key: &Key,
        kind: EventType,
        body: &str,
        obj: &Object,
        prev: Prev,
    ) -> Result<()> {
        let encode = |map: &Option<BTreeMap<String, String>>| -> Result<Option<String>> {
            map.as_ref()
                .map(|m| {
                    serde_json::to_string(m).map_err(|e| {
                        weir_cluster::Error::Internal(format!(
                            "cannot encode the event of {key}: {e}"
                        ))
                    })
                })
                .transpose()
        };
        let (prev_labels, prev_fields) = (encode(&prev.labels)?, encode(&prev.fields)?);
        self.tx
            .prepare_cached(
                "INSERT INTO events (rv, grp, kind, namespace, name, type, body, prev_labels, prev_fields)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to_i64(rv),
                    key.group,
                    key.kind,
                    key.namespace,
                    key.name,
                    kind.as_str(),
                    body,
                    prev_labels,
                    prev_fields
                ])
            })
            .map_err(sql)?;
        self.changes.push(Change { rv, key: key.clone(), kind, obj: obj.clone(), prev });
        Ok(())
    }

    /// Commits: stores the new revision and prunes old events. Returns the revision and the
    /// changes made.
    pub(crate) fn commit(self) -> Result<(u64, Vec<Change>)> {
        if self.revision != self.start {
            self.tx
                .execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'revision'",
                    [to_i64(self.revision)],
                )
                .map_err(sql)?;
            let floor = self.revision.saturating_sub(self.retention);
            let compacted = meta_get(&self.tx, "compacted")?;
            if floor > compacted && floor - compacted >= (self.retention / 64).max(1) {
                self.tx
                    .execute("DELETE FROM events WHERE rv <= ?1", [to_i64(floor)])
                    .map_err(sql)?;
                self.tx
                    .execute("UPDATE meta SET value = ?1 WHERE key = 'compacted'", [to_i64(floor)])
                    .map_err(sql)?;
            }
        }
        self.tx.commit().map_err(sql)?;
        Ok((self.revision, self.changes))
    }
}
