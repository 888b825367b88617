//! Git repositories through the system `git` binary: resolving a revision (branch, tag, commit
//! SHA, `HEAD`) with `ls-remote`, and one cached clone per repository URL under
//! `<data_dir>/repos/`, fetched on demand and checked out under a per-repository lock.
//!
//! Why the binary and not `gix`: `gix` with network transports adds minutes to a clean build on
//! a 2-core CI, while `git` is present wherever weir's users keep repositories. Every call uses
//! a fixed argv (no shell), `--` before the user's URL, `GIT_TERMINAL_PROMPT=0`, an allow-list
//! of transports (`GIT_ALLOW_PROTOCOL`), and credentials only through environment config
//! (`http.extraHeader`), never on the command line and never in logs or messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::creds::{Credentials, redact_url};

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a repository could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    /// The URL is empty or looks like an option.
    #[error("invalid repository URL {0:?}")]
    InvalidUrl(String),
    /// ls-remote or fetch failed (unreachable, not a repository, authentication).
    #[error("failed to list refs: {0}")]
    Unreachable(String),
    /// The revision names no branch, tag or commit.
    #[error("unable to resolve '{0}' to a commit SHA")]
    RevisionNotFound(String),
    /// The clone is larger than weir keeps (it was removed).
    #[error(
        "repository {url} is {size_mib} MiB, over the limit of {limit_mib} MiB (WEIR_MAX_REPO_SIZE_MIB)"
    )]
    TooLarge {
        /// The repository (credentials redacted).
        url: String,
        /// Its size after the fetch, in MiB (rounded up).
        size_mib: u64,
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// A local git command failed.
    #[error("git {command} failed: {message}")]
    Command {
        /// The git subcommand.
        command: String,
        /// Its stderr (credentials redacted).
        message: String,
    },
}

/// The largest clone kept by default (objects on disk after a fetch), in MiB: large enough for
/// real monorepos, small enough that a repository holding a stray binary cannot fill the disk
/// of a small machine. `WEIR_MAX_REPO_SIZE_MIB` overrides it (0: no limit).
pub const DEFAULT_MAX_REPO_SIZE_MIB: u64 = 1024;

/// Rendered directory sources kept at most (the cache is emptied when full).
const MAX_RENDERED: usize = 256;

/// A directory source rendered at one revision (before tracking metadata), or Argo's error.
pub type Rendered = Arc<Result<Vec<serde_json::Value>, String>>;

/// The shared cache of clones, keyed by repository URL, and of rendered directory sources,
/// keyed by repository, commit, path and directory options: apps of one repository share a
/// clone and, when they render the same directory, one checkout and parse.
#[derive(Debug)]
pub struct Repos {
    root: PathBuf,
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    rendered: Mutex<HashMap<String, Rendered>>,
    /// The largest clone kept, in MiB (0: no limit).
    max_size_mib: u64,
    /// Commits whose fetch made a clone too large: asked again, they fail without a download.
    too_large: Mutex<HashMap<String, GitError>>,
}

impl Repos {
    /// A cache rooted at `root` (usually `<data_dir>/repos`); created on first use.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Repos {
            root: root.into(),
            locks: Mutex::new(HashMap::new()),
            rendered: Mutex::new(HashMap::new()),
            max_size_mib: std::env::var("WEIR_MAX_REPO_SIZE_MIB")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(DEFAULT_MAX_REPO_SIZE_MIB),
            too_large: Mutex::new(HashMap::new()),
        }
    }

    /// The same cache keeping clones of at most `mib` MiB (0: no limit).
    pub fn with_max_size_mib(mut self, mib: u64) -> Self {
        self.max_size_mib = mib;
        self
    }

    /// A directory source rendered before under `key`.
    pub fn rendered(&self, key: &str) -> Option<Rendered> {
        self.rendered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }

    /// Remembers a rendered directory source (a commit's content never changes).
    pub fn remember_rendered(&self, key: String, rendered: Rendered) {
        let mut map = self.rendered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_RENDERED {
            map.clear();
        }
        map.insert(key, rendered);
    }

    /// The commit SHA `revision` names in `url` right now.
    pub async fn resolve(
        &self,
        url: &str,
        revision: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, GitError> {
        check_url(url)?;
        let revision = revision.trim();
        if is_full_sha(revision) {
            return Ok(revision.to_ascii_lowercase());
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|e| GitError::Command { command: "init".into(), message: e.to_string() })?;
        let out = git(&self.root, &["ls-remote", "--", url], creds)
            .await
            .map_err(|e| GitError::Unreachable(e.message(url)))?;
        let refs = parse_ls_remote(&out);
        if let Some(sha) = pick_ref(&refs, revision) {
            return Ok(sha);
        }
        if revision.len() >= 4 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
            let dir = self.fetch(url, None, creds).await?;
            let spec = format!("{revision}^{{commit}}");
            if let Ok(sha) = git(&dir, &["rev-parse", "--verify", "--quiet", &spec], None).await {
                return Ok(sha.trim().to_string());
            }
        }
        Err(GitError::RevisionNotFound(revision.to_string()))
    }

    /// Makes sure `sha` is in the clone of `url` (fetching when missing), checks it out and
    /// calls `read` with the work tree while holding the repository's lock.
    pub async fn with_checkout<T>(
        &self,
        url: &str,
        sha: &str,
        creds: Option<&Credentials>,
        read: impl FnOnce(&Path) -> T,
    ) -> Result<T, GitError> {
        check_url(url)?;
        let dir = self.dir_for(url);
        let lock = self.lock_for(&dir);
        let _guard = lock.lock().await;
        let dir = self.fetch_locked(url, Some(sha), creds).await?;
        run_local(&dir, &["checkout", "--quiet", "--force", "--detach", sha]).await?;
        run_local(&dir, &["clean", "-ffdxq"]).await?;
        Ok(read(&dir))
    }

    async fn fetch(
        &self,
        url: &str,
        sha: Option<&str>,
        creds: Option<&Credentials>,
    ) -> Result<PathBuf, GitError> {
        let dir = self.dir_for(url);
        let lock = self.lock_for(&dir);
        let _guard = lock.lock().await;
        self.fetch_locked(url, sha, creds).await
    }

    async fn fetch_locked(
        &self,
        url: &str,
        sha: Option<&str>,
        creds: Option<&Credentials>,
    ) -> Result<PathBuf, GitError> {
        let memo_key = format!("{}@{}", normalize_url(url), sha.unwrap_or(""));
        if let Some(error) = self.lock_too_large().get(&memo_key) {
            return Err(error.clone());
        }
        let dir = self.dir_for(url);
        if !dir.join(".git").is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| GitError::Command {
                command: "init".into(),
                message: e.to_string(),
            })?;
            run_local(&dir, &["init", "--quiet"]).await?;
        }
        if let Some(sha) = sha
            && has_commit(&dir, sha).await
        {
            return Ok(dir);
        }
        // Branches and tags only: asking for `HEAD` would fail the whole fetch when the remote
        // HEAD is dangling (a bare repository whose default branch was never pushed), which
        // would break apps that target a branch. A revision of `HEAD` was resolved to a commit
        // by `ls-remote` already; when no branch holds it, it is fetched by id below.
        let args = [
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--tags",
            "--",
            url,
            "+refs/heads/*:refs/remotes/origin/*",
        ];
        git(&dir, &args, creds).await.map_err(|e| GitError::Unreachable(e.message(url)))?;
        if let Some(sha) = sha
            && !has_commit(&dir, sha).await
        {
            // An unadvertised commit: ask for it by id (servers may refuse).
            git(&dir, &["fetch", "--quiet", "--", url, sha], creds)
                .await
                .map_err(|_| GitError::RevisionNotFound(sha.to_string()))?;
        }
        if self.max_size_mib > 0 {
            let size_mib = clone_size_kib(&dir).await.div_ceil(1024);
            if size_mib > self.max_size_mib {
                // Not kept: the next fetch of this commit fails at once instead of downloading.
                let _ = std::fs::remove_dir_all(&dir);
                let error = GitError::TooLarge {
                    url: redact_url(url),
                    size_mib,
                    limit_mib: self.max_size_mib,
                };
                self.lock_too_large().insert(memo_key, error.clone());
                return Err(error);
            }
        }
        Ok(dir)
    }

    fn lock_too_large(&self) -> std::sync::MutexGuard<'_, HashMap<String, GitError>> {
        self.too_large.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dir_for(&self, url: &str) -> PathBuf {
        let key = normalize_url(url);
        let tail: String = key
            .rsplit('/')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(40)
            .collect();
        self.root.join(format!("{:016x}-{tail}", weir_gocompat::fnv::fnv1a64(key.as_bytes())))
    }

    fn lock_for(&self, dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(dir.to_path_buf()).or_default().clone()
    }
}

/// A repository URL in the form used to compare URLs (webhooks, credentials, the cache key):
/// lower case, without a trailing `/` or `.git`.
pub fn normalize_url(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url).to_string()
}

fn check_url(url: &str) -> Result<(), GitError> {
    if url.trim().is_empty() || url.starts_with('-') || url.contains('\n') {
        return Err(GitError::InvalidUrl(redact_url(url)));
    }
    Ok(())
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn parse_ls_remote(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, name)| (sha.trim().to_string(), name.trim().to_string()))
        .collect()
}

/// Argo's order: exact ref, branch, peeled tag, tag.
fn pick_ref(refs: &[(String, String)], revision: &str) -> Option<String> {
    let revision = if revision.is_empty() { "HEAD" } else { revision };
    let candidates = [
        revision.to_string(),
        format!("refs/heads/{revision}"),
        format!("refs/tags/{revision}^{{}}"),
        format!("refs/tags/{revision}"),
    ];
    candidates
        .iter()
        .find_map(|c| refs.iter().find(|(_, name)| name == c).map(|(sha, _)| sha.clone()))
}

/// The clone's objects on disk in KiB (`git count-objects`: loose plus packed; 0 when unknown).
async fn clone_size_kib(dir: &Path) -> u64 {
    let Ok(out) = git(dir, &["count-objects", "-v"], None).await else { return 0 };
    out.lines()
        .filter_map(|line| line.split_once(": "))
        .filter(|(key, _)| matches!(*key, "size" | "size-pack" | "size-garbage"))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}

async fn has_commit(dir: &Path, sha: &str) -> bool {
    let spec = format!("{sha}^{{commit}}");
    git(dir, &["cat-file", "-e", &spec], None).await.is_ok()
}

async fn run_local(dir: &Path, args: &[&str]) -> Result<(), GitError> {
    git(dir, args, None).await.map(|_| ()).map_err(|e| GitError::Command {
        command: args.first().copied().unwrap_or("").to_string(),
        message: e.stderr,
    })
}

#[derive(Debug)]
struct Failure {
    stderr: String,
}

impl Failure {
    fn message(&self, url: &str) -> String {
        let text = self.stderr.replace(url, &redact_url(url));
        let text = text.trim();
        if text.is_empty() { "git failed".to_string() } else { text.to_string() }
    }
}

/// Runs `git args` in `dir` with a hardened environment; stdout on success.
async fn git(dir: &Path, args: &[&str], creds: Option<&Credentials>) -> Result<String, Failure> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .env("GCM_INTERACTIVE", "never")
        .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    match creds.and_then(Credentials::basic_header) {
        Some(header) => {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", header);
        }
        None => {
            cmd.env_remove("GIT_CONFIG_COUNT");
        }
    }
    let output = match tokio::time::timeout(GIT_TIMEOUT, cmd.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(Failure { stderr: format!("cannot run git: {e}") }),
        Err(_) => return Err(Failure { stderr: format!("timed out after {GIT_TIMEOUT:?}") }),
    };
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Failure { stderr: String::from_utf8_lossy(&output.stderr).into_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_picked_in_argo_order() {
        let refs = parse_ls_remote(
            "aaa\tHEAD\nbbb\trefs/heads/main\nccc\trefs/tags/v1\nddd\trefs/tags/v1^{}\n",
        );
        assert_eq!(pick_ref(&refs, "HEAD").as_deref(), Some("aaa"));
        assert_eq!(pick_ref(&refs, "").as_deref(), Some("aaa"));
        assert_eq!(pick_ref(&refs, "main").as_deref(), Some("bbb"));
        assert_eq!(pick_ref(&refs, "v1").as_deref(), Some("ddd"));
        assert_eq!(pick_ref(&refs, "nope"), None);
    }

    #[test]
    fn urls_compare_without_case_slash_or_dot_git() {
        assert_eq!(normalize_url("https://GitHub.com/a/B.git/"), "https://github.com/a/b");
        assert!(check_url("--upload-pack=x").is_err());
    }
}
