//! Errors of opening a store ([`StoreError`]) and the mapping of SQLite failures onto the
//! cluster API's [`weir_cluster::Error`] for every call after that.

use std::path::PathBuf;

use weir_cluster::Error;

/// Why [`crate::Store::open`] failed. Every message names the file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another `Store` in this process) holds the data directory's lock.
    #[error("data directory {} is in use by another weir{}", dir.display(), pid_suffix(*pid))]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// The pid written in the lock file by its holder, when readable.
        pid: Option<u32>,
    },
    /// The database file exists but is not a healthy SQLite database. It is left untouched.
    #[error("store {} is corrupted: {detail}", path.display())]
    Corrupted {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// The database was written by a newer weir with a schema this one does not know.
    #[error("store {} has schema version {found}, newer than this weir supports ({supported}); upgrade weir", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A file system operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating data directory`, …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while opening or preparing the database.
    #[error("store {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The startup garbage-collection sweep failed.
    #[error("store {}: garbage collection on open failed: {source}", path.display())]
    Sweep {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Error,
    },
}

fn pid_suffix(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Whether a SQLite error says the file is not a database or is damaged.
pub(crate) fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Maps a SQLite error met during a call onto the cluster API's error.
/// Lock contention is [`Error::Unavailable`] (retry later); anything else is [`Error::Internal`].
pub(crate) fn sql(err: rusqlite::Error) -> Error {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Unavailable(format!("store is busy: {err}"))
        }
        Some(rusqlite::ErrorCode::DiskFull) => {
            Error::Internal(format!("store disk is full: {err}"))
        }
        _ => Error::Internal(format!("store: {err}")),
    }
}

/// The error for a blocking task that panicked or was cancelled.
pub(crate) fn join(err: tokio::task::JoinError) -> Error {
    Error::Internal(format!("store task failed: {err}"))
}
