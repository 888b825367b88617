//! The rules an Application's source directory must obey before anything is rendered, with
//! Argo CD's error texts: the app path stays inside the repository ([`check_app_path`]), no
//! symlink leaves it ([`check_out_of_bounds_symlinks`]), and the manifest files of a directory
//! source are chosen by extension, include/exclude globs and a combined size limit
//! ([`find_manifest_files`]); a manifest's YAML aliases may not expand beyond what its size
//! explains ([`check_alias_expansion`]). A directory made for Helm or Kustomize is recognised
//! ([`tool_of_directory`]) so that it is never read as plain manifests.
//!
//! This is the only module that reads the file system, and only below the paths it is given.

mod app_path;
mod glob;
mod manifests;
mod symlinks;
mod tool;
mod yaml_aliases;

pub use app_path::check_app_path;
pub use glob::{Glob, GlobError, glob_match};
pub use manifests::{
    DirectoryOptions, FileVerdict, ManifestFiles, check_manifest_file, find_manifest_files,
};
pub use symlinks::{OutOfBoundsSymlink, check_out_of_bounds_symlinks};
pub use tool::{ToolDirectory, tool_of_directory, tool_of_names};
pub use yaml_aliases::{AliasBomb, check_alias_expansion};

use std::path::{Component, Path, PathBuf};

/// Why a source directory was refused. Messages are Argo CD's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// `<path>: app path is absolute`.
    #[error("{0}: app path is absolute")]
    AppPathAbsolute(String),
    /// `<path>: app path outside root`.
    #[error("{0}: app path outside root")]
    AppPathOutsideRoot(String),
    /// `<path>: app path does not exist`.
    #[error("{0}: app path does not exist")]
    AppPathMissing(String),
    /// `<path>: app path is not a directory`.
    #[error("{0}: app path is not a directory")]
    AppPathNotDirectory(String),
    /// A symlink resolves outside the repository.
    #[error("illegal filepath in symlink at {0:?}")]
    IllegalSymlink(String),
    /// A symlink could not be resolved (loop, permission).
    #[error("failed to evaluate symlink at {path:?}: {reason}")]
    BadSymlink {
        /// The link, relative to the app directory.
        path: String,
        /// What went wrong ("EvalSymlinks: too many links" for loops).
        reason: String,
    },
    /// The combined size of the manifest files is over the limit. The message opens with
    /// Argo CD's (`ErrExceededMaxCombinedManifestFileSize`) and then names the file that
    /// crossed the limit, the total reached and the limit.
    #[error(
        "exceeded max combined manifest file size: {file:?} brings the total to {total} bytes, over the limit of {limit} bytes"
    )]
    TooLarge {
        /// The manifest file that crossed the limit, relative to the app directory.
        file: String,
        /// The combined size with that file, in bytes.
        total: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// An include/exclude pattern does not compile.
    #[error("invalid glob {pattern:?}: {error}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        error: GlobError,
    },
    /// A file or directory name that is not UTF-8 (lossily shown, relative to the app path):
    /// manifests name their files in the ComparisonError, so such names are refused.
    #[error("{0}: file name is not valid UTF-8")]
    NonUtf8Name(String),
    /// Any other I/O failure, with the path.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The error text.
        message: String,
    },
}

pub(crate) fn io_error(path: &Path, err: &std::io::Error) -> SourceError {
    SourceError::Io { path: path.display().to_string(), message: err.to_string() }
}

/// Lexically cleans a path (like Go's `filepath.Clean`): removes `.`, folds `..` into the
/// preceding component. A leading `..` that cannot be folded is kept.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// True when `path` is `root` or below it (both already absolute and clean).
pub(crate) fn inbound(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}
