//! The whole-directory symlink check (`CheckOutOfBoundsSymlinks`): every symlink below a base
//! directory must stay inside it, judged one path segment at a time, so a link that leaves and
//! re-enters the base is refused too. Absolute targets are always out of bounds.

use std::path::{Component, Path, PathBuf};

use super::{SourceError, io_error};

/// A symlink that points outside the base directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("out of bounds symlink found")]
pub struct OutOfBoundsSymlink {
    /// The link's path relative to the base directory.
    pub file: String,
}

/// Walks `base` (not following symlinks) and returns the first out-of-bounds symlink; `skip`
/// names paths relative to `base` that are not walked. Outer `Err` is an I/O failure.
pub fn check_out_of_bounds_symlinks(
    base: &Path,
    skip: &[&str],
) -> Result<Result<(), OutOfBoundsSymlink>, SourceError> {
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = base.join(&rel_dir);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io_error(&dir, &e))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = rel_dir.join(entry.file_name());
            if skip.iter().any(|s| Path::new(s) == rel) {
                continue;
            }
            let kind = entry.file_type().map_err(|e| io_error(&entry.path(), &e))?;
            if kind.is_dir() {
                stack.push(rel);
            } else if kind.is_symlink() {
                let target =
                    std::fs::read_link(entry.path()).map_err(|e| io_error(&entry.path(), &e))?;
                if !stays_inside(&rel_dir, &target) {
                    return Ok(Err(OutOfBoundsSymlink { file: rel.display().to_string() }));
                }
            }
        }
    }
    Ok(Ok(()))
}

/// Follows `target` from `dir` (relative to the base) segment by segment.
fn stays_inside(dir: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: Vec<&std::ffi::OsStr> = dir
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    for c in target.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::Normal(n) => depth.push(n),
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}
