//! The running weir: the authenticated HTTP API over the cluster API, and the composition of
//! `weir up` (data directory, store, token, TLS and kubeconfig, listener, shutdown).
//!
//! What it is not: it holds no business logic. Controllers are composed here as they land;
//! each one is written against [`weir_cluster::Cluster`] and knows nothing of HTTP.
//!
//! Read [`up`] first, then [`api::router`]. [`serve_store`] serves the API alone over a store
//! the caller opened (tests that act on the store and reach it through a Kubernetes client).

pub mod api;
mod auth;
mod browser;
mod connections;
pub mod controllers;
mod data_dir;
mod fd_limit;
mod resources;
mod serve;
mod tls;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use weir_cluster::{Object, apply};
use weir_controller::Shutdown;
use weir_node::NodeConfig;
use weir_proxy::{ListenerConfig, Proxy, ProxyConfig, Role, RouteTable};
use weir_store::Store;

pub use data_dir::{DataDir, Endpoints};
pub use resources::Resources;
pub use serve::{ApiServer, serve_store, serve_store_with_limits};
pub use tls::TlsError;
pub use tls::listener::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ListenerLimits};

/// How `weir up` runs.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// Where the store, token, endpoints file and logs live.
    pub data_dir: PathBuf,
    /// API port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Gateway listener port on 127.0.0.1 (Gateway-bound VirtualServices); 0 picks one.
    pub gateway_port: u16,
    /// Mesh listener port on 127.0.0.1 (what pods get as `HTTP_PROXY`); 0 picks one.
    pub mesh_port: u16,
    /// Port of the proxy's Prometheus metrics on 127.0.0.1; 0 picks one.
    pub metrics_port: u16,
    /// How often Applications are compared with git (plus up to `app_resync_jitter`); Argo CD's
    /// default is 120 s.
    pub app_resync: Duration,
    /// The most random delay added to each comparison (Argo CD's default: 60 s).
    pub app_resync_jitter: Duration,
    /// Config management plugins for Applications (Argo CD's CMP).
    pub plugins: Vec<weir_app_controller::plugin::ConfigManagementPlugin>,
    /// Image → command line, for containers that name only an image.
    pub image_map: BTreeMap<String, Vec<String>>,
    /// Objects applied on start (the demo), with their namespaces already set.
    pub seed: Vec<Object>,
    /// Whether the Rollout, AnalysisRun and Application controllers run here (`--controllers`);
    /// the store, API, node agent, mesh and proxy always do.
    pub controllers: ControllerSet,
}

/// Which delivery controllers `weir up` runs (`--controllers all|none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControllerSet {
    /// Rollout, AnalysisRun and Application controllers run in `weir up`.
    #[default]
    All,
    /// None of them: `weir controller` runs them elsewhere, against this weir's API.
    None,
}

/// How long open API connections (watches) may stay after a stop is asked for.
const API_DRAIN: Duration = Duration::from_secs(5);

/// The namespaces `weir up` makes on start: a cluster's own four and Argo CD's.
const BUILTIN_NAMESPACES: [&str; 5] =
    ["default", "kube-system", "kube-public", "kube-node-lease", "argocd"];

/// How long pods get to stop after the API has stopped (their own grace periods apply within).
const STOP_GRACE: Duration = Duration::from_secs(40);

/// Why `weir up` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// The data directory could not be prepared.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened (locked, corrupted, unreadable).
    #[error(transparent)]
    Store(#[from] weir_store::StoreError),
    /// The proxy's listeners could not be started.
    #[error("cannot start the proxy: {0}")]
    Proxy(#[from] weir_proxy::StartError),
    /// The CA, serving certificate or kubeconfig could not be prepared.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A started weir: where it listens. Dropping it does not stop it; the `shutdown` future does.
#[derive(Debug, Clone)]
pub struct Started {
    /// The API's address.
    pub api_addr: SocketAddr,
    /// What the running weir publishes in `endpoints.json`.
    pub endpoints: Endpoints,
    /// The data directory in use.
    pub data_dir: DataDir,
}

/// Runs the embedded control plane until `shutdown` completes. `on_started` is called once the
/// API accepts connections (the CLI prints the address there).
pub async fn up(
    config: UpConfig,
    on_started: impl FnOnce(&Started),
    shutdown_signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), UpError> {
    fd_limit::raise_to_hard_limit();
    let data_dir = DataDir::create(config.data_dir.clone()).map_err(|source| UpError::Io {
        context: format!("preparing data directory {}", config.data_dir.display()),
        source,
    })?;
    let store = Store::open(data_dir.root())?;
    let token = data_dir.ensure_token().map_err(|source| UpError::Io {
        context: format!("writing token file {}", data_dir.token_path().display()),
        source,
    })?;
    let resources = Resources::load(data_dir.resource_types_path(), &store).await;
    // The namespaces every cluster has, and `argocd`, where Applications and AppProjects live
    // in an Argo CD installation (weir plays that installation).
    let namespaces: Vec<Object> =
        BUILTIN_NAMESPACES.iter().map(|name| Object::new("v1", "Namespace", None, name)).collect();
    for object in namespaces.iter().chain(&config.seed) {
        seed(&store, &resources, object).await;
    }

    let (listener, api_addr) =
        serve::listen(&data_dir, config.port, &token, ListenerLimits::default()).await?;

    let local = |port: u16| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let proxy_config = ProxyConfig {
        listeners: vec![
            ListenerConfig::gateway(local(config.gateway_port)),
            ListenerConfig::mesh(local(config.mesh_port)),
        ],
        admin: Some(local(config.metrics_port)),
        ..ProxyConfig::default()
    };
    let proxy = Arc::new(Proxy::start(proxy_config, &RouteTable::default()).await?);
    let bound = |role| proxy.addr(role).map(|a| format!("http://{a}"));
    let mut endpoints = Endpoints::new(api_addr, &data_dir);
    endpoints.gateway = bound(Role::Gateway);
    endpoints.mesh = bound(Role::Mesh);
    endpoints.metrics = proxy.admin_addr().map(|a| format!("http://{a}/metrics"));
    endpoints.proxy_stats = proxy.admin_addr().map(|a| format!("http://{a}/stats/window"));

    let shutdown = Shutdown::new();
    let mut node_config = NodeConfig::new(data_dir.root());
    node_config.image_map = config.image_map.clone();
    node_config.mesh_url = endpoints.mesh.clone();
    let mut controllers = vec![
        tokio::spawn(weir_mesh::run_mesh_controller(
            store.clone(),
            proxy.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(weir_node::run(Arc::new(store.clone()), node_config, shutdown.clone())),
    ];
    let app_config = weir_app_controller::AppControllerConfig {
        resync: config.app_resync,
        jitter: config.app_resync_jitter,
        plugins: config.plugins.clone(),
        ..weir_app_controller::AppControllerConfig::new(data_dir.root())
    };
    let webhook = webhook::router(weir_app_controller::webhook::WebhookTarget::of(&app_config));
    if config.controllers == ControllerSet::All {
        controllers.extend(controllers::spawn_delivery_controllers(
            Arc::new(store.clone()),
            weir_analysis_controller::Providers::embedded(
                Arc::new(store.clone()),
                Some(proxy.clone()),
            ),
            app_config,
            &shutdown,
        ));
    }

    data_dir.write_endpoints(&endpoints).map_err(|source| UpError::Io {
        context: format!("writing {}", data_dir.endpoints_path().display()),
        source,
    })?;

    let dashboard = weir_dashboard::router(
        store.clone(),
        weir_dashboard::DashboardConfig {
            token: token.clone(),
            data_dir: Some(data_dir.root().to_path_buf()),
            shutdown: shutdown.clone(),
        },
    );
    let state = Arc::new(
        api::ApiState::new(store.clone(), resources, token)
            .with_data_dir(data_dir.root().to_path_buf())
            .with_discovery(store),
    );
    let app = api::router(state)
        .merge(webhook)
        .merge(dashboard)
        .layer(axum::middleware::from_fn(browser::redirect_root_to_dashboard));
    tracing::info!(api = %api_addr, data_dir = %data_dir.root().display(), "weir is up");
    on_started(&Started { api_addr, endpoints, data_dir: data_dir.clone() });

    let stop = shutdown.clone();
    let graceful = connections::serve(listener, app, ListenerLimits::default(), async move {
        tokio::select! {
            () = shutdown_signal => {}
            () = stop.wait() => {}
        }
        stop.trigger();
    });
    // Requests in flight finish; a watch a client keeps open (`kubectl get -w`) would hold the
    // stop forever, so open connections get API_DRAIN and are then closed, as an API server
    // closes its watches when it stops.
    let drained = shutdown.clone();
    let served = tokio::select! {
        served = graceful => served,
        () = async move {
            drained.wait().await;
            tokio::time::sleep(API_DRAIN).await;
        } => {
            tracing::info!("closing API connections still open after {API_DRAIN:?} (watches)");
            Ok(())
        }
    };
    shutdown.trigger();
    let stopped = futures::future::join_all(controllers);
    if tokio::time::timeout(STOP_GRACE, stopped).await.is_err() {
        tracing::warn!("controllers did not stop within {STOP_GRACE:?}");
    }
    data_dir.remove_endpoints();
    served.map_err(|source| UpError::Io { context: "serving the API".to_owned(), source })
}

/// Applies one start-up object; a failure is logged and does not stop the start.
async fn seed(store: &Store, resources: &Resources, object: &Object) {
    let Some(rt) = resources.for_object(&object.api_version, &object.kind) else {
        tracing::warn!(kind = %object.kind, api_version = %object.api_version, "no resource type for seed object");
        return;
    };
    if resources.for_path(&rt.group, &rt.version, &rt.plural).is_none() {
        resources.learn_from_object(&rt.group, &rt.version, &rt.plural, object);
    }
    match apply(store, &rt, object).await {
        Ok((outcome, _)) => {
            tracing::info!(object = %object.object_ref(), outcome = outcome.as_str(), "applied")
        }
        Err(e) => {
            tracing::warn!(object = %object.object_ref(), error = %e, "cannot apply seed object")
        }
    }
}
