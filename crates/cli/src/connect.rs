//! Finding what the user wants to talk to: weir's own API (`--server`/`WEIR_SERVER` with
//! `--token`/`WEIR_TOKEN`, or the data directory's `endpoints.json`) or a Kubernetes cluster
//! (`--kubeconfig`, `--context`, `KUBECONFIG`). [`resolve`] decides, purely; [`connect`] does it.
//!
//! Precedence: an explicit `--kubeconfig`/`--context` wins over everything; then an explicit
//! `--server`/`--data-dir` (or their `WEIR_*` variables) over `KUBECONFIG`; then `KUBECONFIG`;
//! then the default data directory.

mod backend;
mod kubeconfig;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use weir_client::Client;
use weir_server::DataDir;

pub(crate) use backend::Backend;
pub(crate) use kubeconfig::ClusterEndpoint;

use crate::args::Connection;

/// How long [`connect`] waits for a cluster's API server to accept a TCP connection.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the user means to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// weir's own API, found through `--server` or the data directory.
    Weir,
    /// A Kubernetes cluster through a kubeconfig.
    Kube(KubeTarget),
}

/// A kubeconfig (one or several files) and the context to use in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KubeTarget {
    pub(crate) files: Vec<PathBuf>,
    /// Whether the user named the file (`--kubeconfig`): then it must exist. Files from
    /// `KUBECONFIG` or the default location may be missing, as kubectl allows.
    pub(crate) explicit: bool,
    pub(crate) context: Option<String>,
}

/// Decides the target from the flags (`connection`, whose `server`/`data_dir` include their
/// `WEIR_*` variables), the `KUBECONFIG` variable and the home directory.
pub(crate) fn resolve(
    connection: &Connection,
    kubeconfig_env: Option<&OsString>,
    home: Option<&std::path::Path>,
) -> Target {
    let env_files = kubeconfig_env
        .filter(|value| !value.is_empty())
        .map(|value| std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect());
    let default_files = || home.map(|h| vec![h.join(".kube").join("config")]).unwrap_or_default();
    if let Some(file) = &connection.kubeconfig {
        return Target::Kube(KubeTarget {
            files: vec![file.clone()],
            explicit: true,
            context: connection.context.clone(),
        });
    }
    if connection.context.is_some() {
        return Target::Kube(KubeTarget {
            files: env_files.unwrap_or_else(default_files),
            explicit: false,
            context: connection.context.clone(),
        });
    }
    if connection.server.is_some() || connection.data_dir.is_some() {
        return Target::Weir;
    }
    match env_files {
        Some(files) => Target::Kube(KubeTarget { files, explicit: false, context: None }),
        None => Target::Weir,
    }
}

/// [`resolve`] with this process's environment.
pub(crate) fn target(connection: &Connection) -> Target {
    resolve(connection, std::env::var_os("KUBECONFIG").as_ref(), dirs::home_dir().as_deref())
}

/// A connected backend: weir's own API, or a Kubernetes cluster.
#[derive(Debug)]
pub(crate) enum Connected {
    Weir(Client),
    Kube(weir_kube::KubeCluster),
}

/// Connects to what the user means; every problem is one line.
pub(crate) async fn connect(connection: &Connection) -> Result<Connected> {
    match target(connection) {
        Target::Weir => Ok(Connected::Weir(client(connection)?)),
        Target::Kube(kube) => {
            let endpoint = cluster_endpoint(&kube).await?;
            let options = weir_kube::ConnectOptions {
                // `None` lets kube-rs read KUBECONFIG (a list) or ~/.kube/config itself.
                kubeconfig: kube.explicit.then(|| kube.files[0].clone()),
                context: Some(endpoint.context.clone()),
                ..weir_kube::ConnectOptions::default()
            };
            Ok(Connected::Kube(weir_kube::connect(&options).await?))
        }
    }
}

/// Checks the kubeconfig and that its server accepts connections: a missing or unreadable
/// file, an unknown context and an address nobody listens on each give one clear line. (The
/// connection check is skipped when the cluster is reached through a proxy.)
pub(crate) async fn cluster_endpoint(kube: &KubeTarget) -> Result<ClusterEndpoint> {
    checked_endpoint(kube, &|name| std::env::var_os(name)).await
}

/// [`cluster_endpoint`] with the environment as a function (for tests).
async fn checked_endpoint(
    kube: &KubeTarget,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<ClusterEndpoint> {
    let endpoint = kubeconfig::locate(&kube.files, kube.explicit, kube.context.as_deref())?;
    // Through a proxy, a direct connection proves nothing: the backend reports what it finds.
    let proxied = endpoint.proxy_url.is_some()
        || ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|name| env(name).is_some_and(|v| !v.is_empty()));
    if proxied {
        return Ok(endpoint);
    }
    let authority = authority(&endpoint.server).with_context(|| {
        format!(
            "kubeconfig {}: cluster \"{}\" has server \"{}\", which is not a URL",
            endpoint.files, endpoint.cluster, endpoint.server
        )
    })?;
    match tokio::time::timeout(REACH_TIMEOUT, tokio::net::TcpStream::connect(&authority)).await {
        Ok(Ok(_)) => Ok(endpoint),
        Ok(Err(e)) => bail!(
            "cannot reach the cluster at {} (context \"{}\" in {}): {e}",
            endpoint.server,
            endpoint.context,
            endpoint.files
        ),
        Err(_) => bail!(
            "cannot reach the cluster at {} (context \"{}\" in {}): no answer within {}s",
            endpoint.server,
            endpoint.context,
            endpoint.files,
            REACH_TIMEOUT.as_secs()
        ),
    }
}

/// `host:port` of an `https://host[:port][/path]` (or `http://`) URL, with the scheme's port.
fn authority(server: &str) -> Option<String> {
    let (scheme, rest) = server.split_once("://")?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let host_port = rest.split('/').next().filter(|h| !h.is_empty())?;
    let has_port = match host_port.rsplit_once(':') {
        // `[::1]:6443` has a port, `[::1]` has none.
        Some((host, port)) => {
            !host.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty()
        }
        None => false,
    };
    Some(if has_port { host_port.to_owned() } else { format!("{host_port}:{default_port}") })
}

/// The data directory: `--data-dir`/`WEIR_DATA_DIR`, or `<user data dir>/weir`.
pub(crate) fn data_dir(connection: &Connection) -> Result<PathBuf> {
    if let Some(dir) = &connection.data_dir {
        return Ok(dir.clone());
    }
    let base = dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .context("no data directory: set --data-dir or WEIR_DATA_DIR")?;
    Ok(base.join("weir"))
}

/// A client for the weir the user means.
pub(crate) fn client(connection: &Connection) -> Result<Client> {
    if let Some(server) = &connection.server {
        let Some(token) = &connection.token else {
            bail!("--server/WEIR_SERVER is set but no token: set --token or WEIR_TOKEN");
        };
        return Ok(Client::new(server, token));
    }
    let data_dir = DataDir::at(data_dir(connection)?);
    let endpoints = data_dir.read_endpoints().with_context(|| {
        format!(
            "no running weir found ({} is missing or unreadable): start one with `weir up`, \
             or set WEIR_SERVER and WEIR_TOKEN",
            data_dir.endpoints_path().display()
        )
    })?;
    let token = match &connection.token {
        Some(token) => token.clone(),
        None => std::fs::read_to_string(&endpoints.token_file).with_context(|| {
            format!("reading the token file {}", endpoints.token_file.display())
        })?,
    };
    Ok(Client::new(&endpoints.api, &token))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn connection(
        server: Option<&str>,
        data_dir: Option<&str>,
        kubeconfig: Option<&str>,
        context: Option<&str>,
    ) -> Connection {
        Connection {
            server: server.map(str::to_owned),
            token: None,
            data_dir: data_dir.map(PathBuf::from),
            kubeconfig: kubeconfig.map(PathBuf::from),
            context: context.map(str::to_owned),
        }
    }

    fn kube(files: &[&str], explicit: bool, context: Option<&str>) -> Target {
        Target::Kube(KubeTarget {
            files: files.iter().map(PathBuf::from).collect(),
            explicit,
            context: context.map(str::to_owned),
        })
    }

    /// The precedence table (see the module docs): explicit kube flags win over the
    /// data directory and `--server`; `KUBECONFIG` alone never overrides an explicit
    /// `--server`/`--data-dir`; with nothing given, `KUBECONFIG` selects the cluster, and
    /// without it the default data directory is used.
    #[test]
    fn precedence() {
        let home = Path::new("/home/u");
        let env = OsString::from("/k/a:/k/b");
        let empty = OsString::new();
        let cases: Vec<(Connection, Option<&OsString>, Target)> = vec![
            (connection(None, None, None, None), None, Target::Weir),
            (connection(None, None, None, None), Some(&env), kube(&["/k/a", "/k/b"], false, None)),
            (connection(Some("http://x"), None, None, None), Some(&env), Target::Weir),
            (connection(None, Some("/d"), None, None), Some(&env), Target::Weir),
            (
                connection(None, Some("/d"), Some("/kc"), None),
                Some(&env),
                kube(&["/kc"], true, None),
            ),
            (
                connection(Some("http://x"), None, Some("/kc"), Some("c")),
                None,
                kube(&["/kc"], true, Some("c")),
            ),
            (
                connection(None, Some("/d"), None, Some("c")),
                Some(&env),
                kube(&["/k/a", "/k/b"], false, Some("c")),
            ),
            (
                connection(None, None, None, Some("c")),
                None,
                kube(&["/home/u/.kube/config"], false, Some("c")),
            ),
            (connection(None, None, None, None), Some(&empty), Target::Weir),
        ];
        for (i, (connection, env, expected)) in cases.into_iter().enumerate() {
            assert_eq!(resolve(&connection, env, Some(home)), expected, "case {i}");
        }
    }

    #[test]
    fn authority_of_server_urls() {
        let cases = [
            ("https://10.0.0.1:6443", Some("10.0.0.1:6443")),
            ("https://kube.example", Some("kube.example:443")),
            ("http://127.0.0.1:7171/prefix", Some("127.0.0.1:7171")),
            ("https://[::1]:6443", Some("[::1]:6443")),
            ("https://[::1]", Some("[::1]:443")),
            ("unix:///var/run/k.sock", None),
            ("kube.example:6443", None),
        ];
        for (server, expected) in cases {
            assert_eq!(authority(server).as_deref(), expected, "{server}");
        }
    }

    /// A kubeconfig whose server nobody listens on is one line naming the server and context.
    #[tokio::test]
    async fn a_server_nobody_listens_on_is_one_line() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let config = format!(
            "current-context: c\nclusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\ncontexts:\n- name: c\n  context: {{cluster: k}}\n"
        );
        std::fs::write(&path, config).unwrap();
        let target = KubeTarget { files: vec![path.clone()], explicit: true, context: None };
        let no_env = |_: &str| None;
        let error = format!("{:#}", checked_endpoint(&target, &no_env).await.unwrap_err());
        assert!(
            error.starts_with(&format!(
                "cannot reach the cluster at https://127.0.0.1:{port} (context \"c\""
            )),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");

        // Behind a proxy a direct connection proves nothing: no verdict is given.
        let proxied = std::fs::read_to_string(&path)
            .unwrap()
            .replace("cluster: {server:", "cluster: {proxy-url: 'http://127.0.0.1:3128', server:");
        std::fs::write(&path, proxied).unwrap();
        let endpoint = checked_endpoint(&target, &no_env).await.unwrap();
        assert_eq!(endpoint.proxy_url.as_deref(), Some("http://127.0.0.1:3128"));
    }
}
