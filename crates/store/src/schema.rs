//! The SQLite schema, its migrations (tracked in `PRAGMA user_version`), and how connections
//! are opened (WAL, `synchronous=FULL`, busy timeout, integrity check).
//!
//! Tables:
//! - `meta(key, value)`: `revision` (the global resourceVersion counter, like etcd's revision)
//!   and `compacted` (every event with `rv <= compacted` has been pruned).
//! - `objects`: one row per object, keyed by `(grp, kind, namespace, name)`; `namespace` is `''`
//!   for cluster-scoped objects; `body` is the object's JSON as last written.
//! - `owner_refs(owner_uid, uid, block)`: the owner-reference index GC walks, one row per
//!   `ownerReferences` entry of a stored object (`block` = `blockOwnerDeletion`).
//! - `events`: one row per change (`rv` is its resourceVersion), written in the same
//!   transaction as the change; watches replay from it. `prev_labels` holds the labels an
//!   object had before a MODIFIED event that changed them, so label-filtered watches can turn
//!   "started matching" into ADDED and "stopped matching" into DELETED, as Kubernetes does;
//!   `prev_fields` (schema 2) does the same for the selectable fields field selectors read
//!   (`status.phase` of a Pod, …).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use crate::error::is_corruption;

/// The newest schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// Migrations, index `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);

CREATE TABLE objects (
    grp       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    uid       TEXT NOT NULL UNIQUE,
    rv        INTEGER NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (grp, kind, namespace, name)
);

CREATE TABLE owner_refs (
    owner_uid TEXT NOT NULL,
    uid       TEXT NOT NULL,
    block     INTEGER NOT NULL,
    PRIMARY KEY (owner_uid, uid)
) WITHOUT ROWID;
CREATE INDEX owner_refs_by_dependent ON owner_refs (uid);

CREATE TABLE events (
    rv        INTEGER PRIMARY KEY,
    grp       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    type      TEXT NOT NULL,
    body      TEXT NOT NULL,
    -- MODIFIED events whose labels changed: the labels before (a JSON object), else NULL.
    prev_labels TEXT
);
CREATE INDEX events_by_kind ON events (grp, kind, rv);
",
    r"
-- MODIFIED events whose selectable fields changed: those fields before (a JSON object).
ALTER TABLE events ADD COLUMN prev_fields TEXT;
-- What a namespace holds (deleting a namespace deletes its contents).
CREATE INDEX objects_by_namespace ON objects (namespace);
",
];

/// Opens the database file, checks it, and brings its schema up to date.
pub(crate) fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let fail = |source: rusqlite::Error| {
        if is_corruption(&source) {
            StoreError::Corrupted { path: path.to_owned(), detail: source.to_string() }
        } else {
            StoreError::Sqlite { path: path.to_owned(), source }
        }
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    conn.busy_timeout(busy_timeout).map_err(fail)?;
    // The first statement that reads the file: garbage shows up here as NOTADB.
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(fail)?;
    if check != "ok" {
        return Err(StoreError::Corrupted { path: path.to_owned(), detail: check });
    }
    let mode: String =
        conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0)).map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "store could not switch to WAL mode");
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;").map_err(fail)?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// Opens one more connection for reads (WAL lets readers run beside the writer).
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch("PRAGMA query_only=ON;")?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |source| StoreError::Sqlite { path: path.to_owned(), source };
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(fail)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, ddl) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        let to = from + 1;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {ddl}; PRAGMA user_version = {to}; COMMIT;"))
            .map_err(|source| {
                let _ = conn.execute_batch("ROLLBACK");
                fail(source)
            })?;
        tracing::info!(path = %path.display(), version = to, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_reach_the_current_version_and_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.db");
        drop(open_writer(&path, Duration::from_secs(1)).unwrap());
        let conn = open_writer(&path, Duration::from_secs(1)).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
