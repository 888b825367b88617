//! The data directory lock: an exclusive `flock` on `weir.lock` holding the owner's pid, so a
//! second weir on the same directory fails fast with a clear message instead of two writers
//! sharing one database.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// File name of the lock, next to the database.
pub(crate) const LOCK_FILE: &str = "weir.lock";

/// A held lock; released when dropped (or when the process dies, even by `kill -9`).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let io = |what, source| StoreError::Io { what, path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("opening lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid =
                    file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                return Err(StoreError::InUse { dir: dir.to_owned(), pid });
            }
            Err(TryLockError::Error(e)) => return Err(io("locking", e)),
        }
        file.set_len(0).map_err(|e| io("writing lock file", e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| io("writing lock file", e))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| io("writing lock file", e))?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
