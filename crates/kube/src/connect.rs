//! Finding the cluster: a kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`) or the
//! pod's service account, then one request to check that the server answers and accepts the
//! credentials, so that every problem is one clear line before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::KubeCluster;
use crate::errors::{Failure, chain};

/// How to reach a cluster.
///
/// Build it with `..ConnectOptions::default()` so that fields added later keep your code
/// compiling.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOptions {
    /// A kubeconfig file (`--kubeconfig`); `None`: `KUBECONFIG` (a `:`-separated list, merged
    /// as kubectl merges it), else the pod's service account when running in a pod, else
    /// `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (`--context`); `None`: its `current-context`.
    pub context: Option<String>,
    /// Requests per second this client sends at most (client-side throttling, Argo's `--qps`);
    /// `0` or less: no limit.
    pub qps: f32,
    /// Requests sent at once after an idle period (Argo's `--burst`).
    pub burst: u32,
    /// How long one request may take before it counts as failed (watches excepted).
    pub request_timeout: Duration,
}

impl Default for ConnectOptions {
    /// Argo Rollouts' defaults: `--qps 40 --burst 80`; a 30 s request timeout.
    fn default() -> Self {
        ConnectOptions {
            kubeconfig: None,
            context: None,
            qps: 40.0,
            burst: 80,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Why no connection to a cluster could be made; each displays as one line saying what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig named (or found) could not be read or parsed.
    #[error("cannot read kubeconfig {source_name}: {message}")]
    Kubeconfig {
        /// The file, or `KUBECONFIG=…`.
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The kubeconfig was read but does not describe a usable cluster (unknown context, bad
    /// server URL, unreadable certificate).
    #[error("invalid kubeconfig {source_name}: {message}")]
    InvalidConfig {
        /// The file, `KUBECONFIG=…`, or `in-cluster service account`.
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// No kubeconfig anywhere, and not running in a pod.
    #[error(
        "no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, create \
         ~/.kube/config, or run inside a pod with a service account"
    )]
    NoConfig,
    /// The server did not answer.
    #[error("cannot reach the Kubernetes API at {server}: {message}")]
    Unreachable {
        /// The server URL from the configuration.
        server: String,
        /// Why (connection refused, TLS failure, timeout).
        message: String,
    },
    /// The server answered 401: the credentials in the configuration were refused.
    #[error("the Kubernetes API at {server} refused the credentials (401 Unauthorized): {message}")]
    Unauthorized {
        /// The server URL.
        server: String,
        /// The server's message.
        message: String,
    },
}

/// Connects to the cluster `options` name and checks that it answers.
pub async fn connect(options: &ConnectOptions) -> Result<KubeCluster, ConnectError> {
    let (config, source_name) = load_config(options).await?;
    let server = config.cluster_url.to_string();
    let cluster = KubeCluster::from_config(config, options)
        .map_err(|message| ConnectError::InvalidConfig { source_name, message })?;
    match cluster.probe().await {
        Ok(()) => Ok(cluster),
        Err(Failure::Status(status)) if status.code == 401 => {
            Err(ConnectError::Unauthorized { server, message: status.message })
        }
        // Any other answer (even 403 or 404 for /version) proves the server is there.
        Err(Failure::Status(_)) => Ok(cluster),
        Err(
            Failure::Connect(message) | Failure::Ambiguous(message) | Failure::Permanent(message),
        ) => Err(ConnectError::Unreachable { server, message }),
    }
}

/// The kube-rs configuration and a name for where it came from (for messages).
async fn load_config(options: &ConnectOptions) -> Result<(kube::Config, String), ConnectError> {
    let kube_options =
        KubeConfigOptions { context: options.context.clone(), cluster: None, user: None };
    let (kubeconfig, source_name) = if let Some(path) = &options.kubeconfig {
        let source_name = path.display().to_string();
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| ConnectError::Kubeconfig {
            source_name: source_name.clone(),
            message: chain(&e),
        })?;
        (kubeconfig, source_name)
    } else if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let source_name = format!("KUBECONFIG={}", value.to_string_lossy());
        let kubeconfig = Kubeconfig::from_env()
            .map_err(|e| ConnectError::Kubeconfig {
                source_name: source_name.clone(),
                message: chain(&e),
            })?
            .ok_or(ConnectError::NoConfig)?;
        (kubeconfig, source_name)
    } else if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() && options.context.is_none() {
        let source_name = "in-cluster service account".to_owned();
        let config = kube::Config::incluster().map_err(|e| ConnectError::InvalidConfig {
            source_name: source_name.clone(),
            message: chain(&e),
        })?;
        return Ok((config, source_name));
    } else {
        let Some(path) = dirs_home().map(|home| home.join(".kube").join("config")) else {
            return Err(ConnectError::NoConfig);
        };
        if !path.exists() {
            return Err(ConnectError::NoConfig);
        }
        let source_name = path.display().to_string();
        let kubeconfig = Kubeconfig::read_from(&path).map_err(|e| ConnectError::Kubeconfig {
            source_name: source_name.clone(),
            message: chain(&e),
        })?;
        (kubeconfig, source_name)
    };
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options).await.map_err(|e| {
            ConnectError::InvalidConfig { source_name: source_name.clone(), message: chain(&e) }
        })?;
    Ok((config, source_name))
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}
