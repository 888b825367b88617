//! The API alone, over a store someone else opened: what `weir up` serves on its port (the
//! same router, token check, TLS-or-plain listener and `DATA_DIR/kubeconfig`), without the
//! node agent, mesh, proxy, dashboard or controllers.
//!
//! For tests that drive a store directly (a manual clock, a stand-in kubelet) and want a
//! Kubernetes client — kube-rs through `weir-kube`, kubectl — to reach the same objects over
//! HTTP, as controllers reach a real API server.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use weir_controller::Shutdown;
use weir_store::Store;

use crate::tls::listener::{DualListener, ListenerLimits};
use crate::{DataDir, Resources, UpError, api, connections, tls};

/// An API server running in this process; it stops when [`ApiServer::stop`] is called or when
/// it is dropped.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    data_dir: DataDir,
    shutdown: Shutdown,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ApiServer {
    /// Where the API listens (127.0.0.1, HTTPS and plain HTTP on one port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig (context `weir`, `https://` with the CA and the bearer token), as
    /// `weir up` writes it.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.kubeconfig_path()
    }

    /// The file holding the bearer token.
    pub fn token_path(&self) -> PathBuf {
        self.data_dir.token_path()
    }

    /// Stops accepting connections and waits for requests in flight; connections still open
    /// (watches) are closed when their clients go or the runtime ends.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(crate::API_DRAIN, task).await;
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Serves weir's API for `store` on `127.0.0.1:0`, keeping its token, TLS files and
/// kubeconfig in `data_dir` (created if missing; an existing token and CA are reused, as by
/// `weir up`). Kinds learned from applied objects are kept in `data_dir` too.
pub async fn serve_store(store: Store, data_dir: &Path) -> Result<ApiServer, UpError> {
    serve_store_with_limits(store, data_dir, ListenerLimits::default()).await
}

/// [`serve_store`] with other listener limits (a short header-read timeout, a small
/// connection cap: what the tests of those limits use).
pub async fn serve_store_with_limits(
    store: Store,
    data_dir: &Path,
    limits: ListenerLimits,
) -> Result<ApiServer, UpError> {
    let data_dir = DataDir::create(data_dir.to_path_buf()).map_err(|source| UpError::Io {
        context: format!("preparing data directory {}", data_dir.display()),
        source,
    })?;
    let token = data_dir.ensure_token().map_err(|source| UpError::Io {
        context: format!("writing token file {}", data_dir.token_path().display()),
        source,
    })?;
    let resources = Resources::load(data_dir.resource_types_path(), &store).await;
    let (listener, addr) = listen(&data_dir, 0, &token, limits).await?;
    let state = Arc::new(
        api::ApiState::new(store.clone(), resources, token)
            .with_data_dir(data_dir.root().to_path_buf())
            .with_discovery(store),
    );
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let serve =
        connections::serve(listener, api::router(state), limits, async move { stop.wait().await });
    let task = tokio::spawn(serve);
    Ok(ApiServer { addr, data_dir, shutdown, task: Some(task) })
}

/// Binds the API's port on 127.0.0.1 (`0` picks one), prepares TLS and writes the kubeconfig
/// for the bound address: the listener `weir up` and [`serve_store`] serve on.
pub(crate) async fn listen(
    data_dir: &DataDir,
    port: u16,
    token: &str,
    limits: ListenerLimits,
) -> Result<(DualListener, SocketAddr), UpError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener =
        TcpListener::bind(addr).await.map_err(|source| UpError::Bind { addr, source })?;
    let api_addr = listener.local_addr().map_err(|source| UpError::Bind { addr, source })?;
    let tls = tls::ensure(&data_dir.tls_paths())?;
    data_dir.write_kubeconfig(api_addr, &tls.ca_pem, token)?;
    let listener = DualListener::new(listener, tokio_rustls::TlsAcceptor::from(tls.config), limits)
        .map_err(|source| UpError::Bind { addr, source })?;
    Ok((listener, api_addr))
}
