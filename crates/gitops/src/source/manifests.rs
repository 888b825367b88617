//! Choosing the manifest files of a directory source (`findManifests` /
//! `getPotentiallyValidManifests`): extension filter, exclude then include globs on the path
//! relative to the app directory, symlinks resolved and kept inside the repository, and a
//! limit on the combined size of the chosen files.

use std::path::{Path, PathBuf};

use super::glob::Glob;
use super::{SourceError, clean, inbound, io_error};

/// Options of a directory source (`spec.source.directory`) plus the size limit.
#[derive(Debug, Clone, Default)]
pub struct DirectoryOptions {
    /// Walk subdirectories.
    pub recurse: bool,
    /// Include glob ("" = everything).
    pub include: String,
    /// Exclude glob ("" = nothing).
    pub exclude: String,
    /// Read every file, not only `.yaml/.yml/.json/.jsonnet`.
    pub disable_extension_filter: bool,
    /// Maximum combined size in bytes; 0 = unlimited (Argo CD's default is 10 MiB).
    pub max_combined_size: u64,
}

/// Verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileVerdict {
    /// Read it; `real` is the file after resolving symlinks, `size` its size.
    Manifest {
        /// The resolved path.
        real: PathBuf,
        /// Bytes.
        size: u64,
    },
    /// Not a manifest; the message is empty for silent skips, else a warning to show.
    Ignored(String),
}

/// The chosen files and the warnings met on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestFiles {
    /// Path (as found under the app directory) and resolved path of each manifest, in walk order.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Warnings (ignored symlinks, an unfiltered directory).
    pub warnings: Vec<String>,
}

const MANIFEST_EXTENSIONS: &[&str] = &["yaml", "yml", "json", "jsonnet"];

struct Filters {
    include: Option<Glob>,
    exclude: Option<Glob>,
}

fn compile(pattern: &str) -> Result<Option<Glob>, SourceError> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Glob::new(pattern)
        .map(Some)
        .map_err(|error| SourceError::Glob { pattern: pattern.to_string(), error })
}

impl Filters {
    fn new(opts: &DirectoryOptions) -> Result<Self, SourceError> {
        Ok(Filters { include: compile(&opts.include)?, exclude: compile(&opts.exclude)? })
    }
}

/// Judges one file found under `app_dir` (`getPotentiallyValidManifestFile`).
pub fn check_manifest_file(
    path: &Path,
    app_dir: &Path,
    repo_root: &Path,
    opts: &DirectoryOptions,
) -> Result<FileVerdict, SourceError> {
    check_file(path, app_dir, repo_root, opts, &Filters::new(opts)?)
}

fn check_file(
    path: &Path,
    app_dir: &Path,
    repo_root: &Path,
    opts: &DirectoryOptions,
    filters: &Filters,
) -> Result<FileVerdict, SourceError> {
    let skip = || Ok(FileVerdict::Ignored(String::new()));
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_error(path, &e))?;
    let symlink = meta.file_type().is_symlink();
    if !symlink && !meta.is_file() {
        return skip();
    }
    let rel = path.strip_prefix(app_dir).unwrap_or(path).to_string_lossy().to_string();
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if !opts.disable_extension_filter
        && !name.rsplit_once('.').is_some_and(|(_, ext)| MANIFEST_EXTENSIONS.contains(&ext))
    {
        return skip();
    }
    if filters.exclude.as_ref().is_some_and(|g| g.is_match(&rel)) {
        return skip();
    }
    if filters.include.as_ref().is_some_and(|g| !g.is_match(&rel)) {
        return skip();
    }
    if !symlink {
        return Ok(FileVerdict::Manifest { real: path.to_path_buf(), size: meta.len() });
    }
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // weir is stricter than Argo CD here: a dangling link that points out of the
            // repository is refused, not ignored.
            let target = std::fs::read_link(path).map_err(|e| io_error(path, &e))?;
            let dir = path.parent().unwrap_or(app_dir);
            if !inbound(&clean(&dir.join(target)), &clean(repo_root)) {
                return Err(SourceError::IllegalSymlink(rel));
            }
            return Ok(FileVerdict::Ignored(format!("destination of symlink {rel:?} is missing")));
        }
        Err(e) => {
            let reason = if e.raw_os_error() == Some(40) {
                "EvalSymlinks: too many links".to_string()
            } else {
                e.to_string()
            };
            return Err(SourceError::BadSymlink { path: rel, reason });
        }
    };
    let root = std::fs::canonicalize(repo_root).map_err(|e| io_error(repo_root, &e))?;
    if !inbound(&clean(&real), &root) {
        return Err(SourceError::IllegalSymlink(rel));
    }
    let real_meta = std::fs::metadata(&real).map_err(|e| io_error(&real, &e))?;
    if !real_meta.is_file() {
        let real_rel = real.strip_prefix(&root).unwrap_or(&real).display().to_string();
        return Ok(FileVerdict::Ignored(format!(
            "ignoring symlink at {rel:?} to non-regular file {real_rel:?}"
        )));
    }
    Ok(FileVerdict::Manifest { real, size: real_meta.len() })
}

/// Walks `app_dir` and returns its manifest files (`getPotentiallyValidManifests`). Refuses
/// escaping symlinks, symlink loops, names that are not UTF-8 and a combined size over the
/// limit.
pub fn find_manifest_files(
    app_dir: &Path,
    repo_root: &Path,
    opts: &DirectoryOptions,
) -> Result<ManifestFiles, SourceError> {
    let filters = Filters::new(opts)?;
    let mut out = ManifestFiles::default();
    if opts.disable_extension_filter && opts.include.is_empty() && opts.exclude.is_empty() {
        out.warnings.push(
            "disableExtensionFilter is set without include or exclude: all files in the directory will be read"
                .to_string(),
        );
    }
    let mut total: u64 = 0;
    let mut stack = vec![app_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io_error(&dir, &e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        let mut subdirs = Vec::new();
        for path in entries {
            if path.file_name().is_some_and(|n| n.to_str().is_none()) {
                let rel = path.strip_prefix(app_dir).unwrap_or(&path);
                return Err(SourceError::NonUtf8Name(rel.to_string_lossy().to_string()));
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io_error(&path, &e))?;
            if meta.is_dir() {
                if opts.recurse {
                    subdirs.push(path);
                }
                continue;
            }
            match check_file(&path, app_dir, repo_root, opts, &filters)? {
                FileVerdict::Ignored(message) => {
                    if !message.is_empty() {
                        out.warnings.push(message);
                    }
                }
                FileVerdict::Manifest { real, size } => {
                    total = total.saturating_add(size);
                    if opts.max_combined_size > 0 && total > opts.max_combined_size {
                        let file = path.strip_prefix(app_dir).unwrap_or(&path);
                        return Err(SourceError::TooLarge {
                            file: file.to_string_lossy().into_owned(),
                            total,
                            limit: opts.max_combined_size,
                        });
                    }
                    out.files.push((path, real));
                }
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}
