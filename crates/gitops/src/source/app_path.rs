//! The app path check (`util/app/path.Path`): relative, inside the repository root, an
//! existing directory. weir also refuses an app path whose symlinks resolve outside the root.

use std::path::{Path, PathBuf};

use super::{SourceError, clean, inbound, io_error};

/// Resolves `app_path` under `root`, or says why it is refused (Argo CD's messages).
pub fn check_app_path(root: &Path, app_path: &str) -> Result<PathBuf, SourceError> {
    if Path::new(app_path).is_absolute() {
        return Err(SourceError::AppPathAbsolute(app_path.to_string()));
    }
    let root = clean(root);
    let joined = clean(&root.join(app_path));
    if !inbound(&joined, &root) {
        return Err(SourceError::AppPathOutsideRoot(app_path.to_string()));
    }
    let meta = match std::fs::metadata(&joined) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::AppPathMissing(app_path.to_string()));
        }
        Err(e) => return Err(io_error(&joined, &e)),
    };
    if !meta.is_dir() {
        return Err(SourceError::AppPathNotDirectory(app_path.to_string()));
    }
    // Symlinked directories on the way must not lead out of the repository either.
    let real_root = std::fs::canonicalize(&root).map_err(|e| io_error(&root, &e))?;
    let real = std::fs::canonicalize(&joined).map_err(|e| io_error(&joined, &e))?;
    if !inbound(&real, &real_root) {
        return Err(SourceError::AppPathOutsideRoot(app_path.to_string()));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinked_app_dir_leaving_the_root_is_outside() {
        let outside = tempfile::tempdir().expect("tempdir");
        let repo = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), repo.path().join("app")).expect("symlink");
        assert_eq!(
            check_app_path(repo.path(), "app"),
            Err(SourceError::AppPathOutsideRoot("app".into()))
        );
    }
}
