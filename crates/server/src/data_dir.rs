//! The data directory: store, API token (mode 0600), the endpoints file the CLI reads, the TLS
//! files (see [`crate::tls`]) and the kubeconfig Kubernetes clients read.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A data directory of a weir, created if missing.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// What `DIR/endpoints.json` says: where the running weir listens and where its token is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// Base URL of the API, e.g. `http://127.0.0.1:7171`.
    pub api: String,
    /// Path of the file holding the bearer token.
    pub token_file: PathBuf,
    /// Process id of the weir that wrote the file.
    pub pid: u32,
    /// The proxy's gateway listener (Gateway-bound VirtualServices), e.g. `http://127.0.0.1:7180`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The proxy's mesh listener: the `HTTP_PROXY` URL pods get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    /// The proxy's Prometheus metrics (Istio names), e.g. `http://127.0.0.1:7182/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// The proxy's sliding-window statistics, for the built-in analysis provider of a
    /// controller in another process (`weir controller --proxy-stats-url`), e.g.
    /// `http://127.0.0.1:7182/stats/window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_stats: Option<String>,
}

impl Endpoints {
    /// The endpoints of a weir listening on `api_addr` with its token in `data_dir`.
    pub fn new(api_addr: SocketAddr, data_dir: &DataDir) -> Self {
        Endpoints {
            api: format!("http://{api_addr}"),
            token_file: data_dir.token_path(),
            pid: std::process::id(),
            gateway: None,
            mesh: None,
            metrics: None,
            proxy_stats: None,
        }
    }
}

impl DataDir {
    /// Opens (creating with mode 0700 if needed) a data directory.
    pub fn create(root: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&root)?;
        let mut permissions = fs::metadata(&root)?.permissions();
        if permissions.mode() & 0o077 != 0 {
            permissions.set_mode(0o700);
            fs::set_permissions(&root, permissions)?;
        }
        Ok(DataDir { root })
    }

    /// A data directory that may not exist yet (for reading endpoints).
    pub fn at(root: PathBuf) -> Self {
        DataDir { root }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bearer token.
    pub fn token_path(&self) -> PathBuf {
        self.root.join("token")
    }

    /// Where the running weir's address is published.
    pub fn endpoints_path(&self) -> PathBuf {
        self.root.join("endpoints.json")
    }

    /// The kubeconfig for kubectl and other Kubernetes clients (rewritten on every start).
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    /// The CA and serving certificate of the API's TLS.
    pub(crate) fn tls_paths(&self) -> crate::tls::TlsPaths {
        crate::tls::TlsPaths::in_dir(&self.root)
    }

    /// Writes the kubeconfig (mode 0600: it carries the token) for an API at `api_addr`.
    pub(crate) fn write_kubeconfig(
        &self,
        api_addr: SocketAddr,
        ca_pem: &str,
        token: &str,
    ) -> Result<(), crate::tls::TlsError> {
        let text = kubeconfig(&format!("https://{api_addr}"), ca_pem, token);
        crate::tls::write_file(&self.kubeconfig_path(), &text, 0o600)
    }

    /// Resource types learned from applied objects of kinds weir does not know.
    pub fn resource_types_path(&self) -> PathBuf {
        self.root.join("resource-types.json")
    }

    /// Reads the token, generating one (256 random bits, hex) on first start.
    /// The file is created with mode 0600; a token file readable by others is tightened.
    pub fn ensure_token(&self) -> io::Result<String> {
        let path = self.token_path();
        match fs::read_to_string(&path) {
            Ok(token) if !token.trim().is_empty() => {
                let mut permissions = fs::metadata(&path)?.permissions();
                if permissions.mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "token file was readable by others; setting mode 0600");
                    permissions.set_mode(0o600);
                    fs::set_permissions(&path, permissions)?;
                }
                return Ok(token.trim().to_owned());
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let token = hex::encode(rand::random::<[u8; 32]>());
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        Ok(token)
    }

    /// Publishes the endpoints file atomically (write to a temporary file, then rename).
    pub fn write_endpoints(&self, endpoints: &Endpoints) -> io::Result<()> {
        let path = self.endpoints_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(endpoints).map_err(io::Error::other)?;
        fs::write(&tmp, text)?;
        fs::rename(tmp, path)
    }

    /// Reads the endpoints file of a running weir.
    pub fn read_endpoints(&self) -> io::Result<Endpoints> {
        let text = fs::read_to_string(self.endpoints_path())?;
        serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Removes the endpoints file on shutdown, if it is still ours.
    pub fn remove_endpoints(&self) {
        if self.read_endpoints().is_ok_and(|e| e.pid == std::process::id()) {
            let _ = fs::remove_file(self.endpoints_path());
        }
    }
}

/// The name of the cluster, user and context in the kubeconfig.
pub(crate) const KUBECONFIG_CONTEXT: &str = "weir";

/// A kubeconfig (YAML) with one cluster, one user with the bearer token and one current
/// context, all named [`KUBECONFIG_CONTEXT`].
pub(crate) fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    use base64::Engine as _;
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": KUBECONFIG_CONTEXT,
            "cluster": { "server": server, "certificate-authority-data": ca_data },
        }],
        "users": [{ "name": KUBECONFIG_CONTEXT, "user": { "token": token } }],
        "contexts": [{
            "name": KUBECONFIG_CONTEXT,
            "context": { "cluster": KUBECONFIG_CONTEXT, "user": KUBECONFIG_CONTEXT, "namespace": "default" },
        }],
        "current-context": KUBECONFIG_CONTEXT,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).unwrap_or_else(|_| config.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::create(dir.path().join("d")).unwrap();
        let first = data_dir.ensure_token().unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(data_dir.ensure_token().unwrap(), first);
        let mode = fs::metadata(data_dir.token_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn kubeconfig_names_server_ca_and_token() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::create(dir.path().join("d")).unwrap();
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        data_dir.write_kubeconfig(addr, "CA PEM", "secret").unwrap();
        let path = data_dir.kubeconfig_path();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // The layout is client-go's (k8s.io/client-go/tools/clientcmd/api/v1 `Config`).
        let config: serde_json::Value =
            serde_yaml_ng::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["current-context"], "weir");
        let cluster = &config["clusters"][0];
        assert_eq!(cluster["name"], "weir");
        assert_eq!(cluster["cluster"]["server"], "https://127.0.0.1:4321");
        let ca = cluster["cluster"]["certificate-authority-data"].as_str().unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(ca).unwrap(), b"CA PEM");
        assert_eq!(config["users"][0]["user"]["token"], "secret");
        assert_eq!(config["contexts"][0]["context"]["cluster"], "weir");
        assert_eq!(config["contexts"][0]["context"]["user"], "weir");
    }
}
