//! Just enough of a kubeconfig to say, in one line, why it cannot be used: the file is missing
//! or unreadable, is not a kubeconfig, names no current context, or names a context or cluster
//! it does not define. The Kubernetes backend (kube-rs) reads the file again for credentials.
//!
//! Several files (`KUBECONFIG=a:b`) merge as kubectl merges them: the first file that sets
//! `current-context` wins, and the first definition of a context or cluster name wins.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Why a kubeconfig cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum KubeconfigError {
    #[error("kubeconfig {0} does not exist")]
    Missing(PathBuf),
    #[error("kubeconfig {path} cannot be read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("kubeconfig {path} is not a kubeconfig: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("no kubeconfig file found (looked at {0})")]
    NoFiles(String),
    #[error("kubeconfig {files} has no current-context: pass --context")]
    NoContext { files: String },
    #[error("kubeconfig {files} has no context \"{context}\"")]
    UnknownContext { files: String, context: String },
    #[error(
        "kubeconfig {files}: context \"{context}\" names cluster \"{cluster}\", which is not defined"
    )]
    UnknownCluster { files: String, context: String, cluster: String },
    #[error("kubeconfig {files}: cluster \"{cluster}\" has no server address")]
    NoServer { files: String, cluster: String },
}

/// The cluster a kubeconfig and context point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterEndpoint {
    /// The files read, as the user would name them (`a:b`).
    pub(crate) files: String,
    pub(crate) context: String,
    pub(crate) cluster: String,
    /// The API server's URL, e.g. `https://10.0.0.1:6443`.
    pub(crate) server: String,
    /// The cluster's `proxy-url`, if it is reached through a proxy.
    pub(crate) proxy_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Vec<Named<ContextBody>>,
    #[serde(default)]
    clusters: Vec<Named<ClusterBody>>,
}

#[derive(Debug, Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster")]
    body: Option<T>,
}

#[derive(Debug, Deserialize)]
struct ContextBody {
    #[serde(default)]
    cluster: String,
}

#[derive(Debug, Deserialize)]
struct ClusterBody {
    #[serde(default)]
    server: String,
    #[serde(rename = "proxy-url", default)]
    proxy_url: Option<String>,
}

/// Reads the files (in order; missing files in a `KUBECONFIG` list are skipped as kubectl skips
/// them, unless `explicit`) and finds the cluster of `context` (or the current context).
pub(crate) fn locate(
    files: &[PathBuf],
    explicit: bool,
    context: Option<&str>,
) -> Result<ClusterEndpoint, KubeconfigError> {
    let names = files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
    let mut documents = Vec::new();
    for path in files {
        match std::fs::read_to_string(path) {
            Ok(text) => documents.push((path.clone(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KubeconfigError::Missing(path.clone()));
            }
            Err(e) => {
                return Err(KubeconfigError::Unreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    if documents.is_empty() {
        return Err(KubeconfigError::NoFiles(names));
    }
    let mut parsed = Vec::new();
    for (path, text) in &documents {
        parsed.push(parse(path, text)?);
    }
    find(&parsed, &names, context)
}

fn parse(path: &Path, text: &str) -> Result<Kubeconfig, KubeconfigError> {
    let malformed = |reason: String| KubeconfigError::Malformed { path: path.to_owned(), reason };
    if text.trim().is_empty() {
        return Ok(Kubeconfig::default());
    }
    let config: Kubeconfig = serde_yaml_ng::from_str(text).map_err(|e| malformed(e.to_string()))?;
    Ok(config)
}

/// The merge and lookup, apart from reading files.
fn find(
    configs: &[Kubeconfig],
    files: &str,
    context: Option<&str>,
) -> Result<ClusterEndpoint, KubeconfigError> {
    let files = files.to_owned();
    let context = match context {
        Some(context) => context.to_owned(),
        None => configs
            .iter()
            .find_map(|c| c.current_context.clone().filter(|s| !s.is_empty()))
            .ok_or_else(|| KubeconfigError::NoContext { files: files.clone() })?,
    };
    let Some(context_body) = configs
        .iter()
        .flat_map(|c| &c.contexts)
        .find(|named| named.name == context)
        .and_then(|named| named.body.as_ref())
    else {
        return Err(KubeconfigError::UnknownContext { files, context });
    };
    let cluster = context_body.cluster.clone();
    let Some(cluster_body) = configs
        .iter()
        .flat_map(|c| &c.clusters)
        .find(|named| named.name == cluster)
        .and_then(|named| named.body.as_ref())
    else {
        return Err(KubeconfigError::UnknownCluster { files, context, cluster });
    };
    if cluster_body.server.trim().is_empty() {
        return Err(KubeconfigError::NoServer { files, cluster });
    }
    Ok(ClusterEndpoint {
        files,
        context,
        cluster,
        server: cluster_body.server.clone(),
        proxy_url: cluster_body.proxy_url.clone().filter(|p| !p.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a kubeconfig as `kind`/`minikube`/`weir up` write it (clusters, contexts
    /// and users lists, current-context), trimmed to what is read here.
    const TWO_CLUSTERS: &str = "
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster: { server: 'https://127.0.0.1:6443', certificate-authority-data: AAAA }
- name: prod-cluster
  cluster: { server: 'https://prod.example:443' }
contexts:
- name: dev
  context: { cluster: dev-cluster, user: dev }
- name: prod
  context: { cluster: prod-cluster, user: admin, namespace: apps }
- name: broken
  context: { cluster: nowhere, user: dev }
users:
- name: dev
  user: { token: secret }
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn finds_the_current_or_the_named_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", TWO_CLUSTERS);
        let current = locate(std::slice::from_ref(&path), true, None).unwrap();
        assert_eq!(
            (current.context.as_str(), current.server.as_str()),
            ("dev", "https://127.0.0.1:6443")
        );
        let prod = locate(std::slice::from_ref(&path), true, Some("prod")).unwrap();
        assert_eq!(prod.server, "https://prod.example:443");
    }

    /// One line per problem, naming the file and what is wrong with it.
    #[test]
    fn every_problem_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "config", TWO_CLUSTERS);
        let missing = dir.path().join("absent");
        let cases: Vec<(Vec<PathBuf>, bool, Option<&str>, &str)> = vec![
            (vec![missing.clone()], true, None, "does not exist"),
            (vec![missing.clone()], false, None, "no kubeconfig file found"),
            (vec![write(dir.path(), "bad", "clusters: 7\n")], true, None, "is not a kubeconfig"),
            (vec![write(dir.path(), "empty", "")], true, None, "has no current-context"),
            (vec![good.clone()], true, Some("staging"), "has no context \"staging\""),
            (vec![good.clone()], true, Some("broken"), "cluster \"nowhere\", which is not defined"),
            (vec![dir.path().to_owned()], true, None, "cannot be read"),
        ];
        for (files, explicit, context, expected) in cases {
            let error = locate(&files, explicit, context).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
            assert!(!error.contains('\n'), "{error:?}");
            assert!(!error.contains("secret"), "{error:?}");
        }
    }

    /// `KUBECONFIG=a:b`: a missing file is skipped, the first current-context wins, names
    /// defined in later files are found.
    #[test]
    fn merges_several_files_like_kubectl() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "a", "current-context: prod\n");
        let second = write(dir.path(), "b", TWO_CLUSTERS);
        let files = vec![dir.path().join("absent"), first, second];
        let endpoint = locate(&files, false, None).unwrap();
        assert_eq!(endpoint.context, "prod");
        assert_eq!(endpoint.server, "https://prod.example:443");
    }
}
