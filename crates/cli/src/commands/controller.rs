//! `weir controller`: the Rollout, AnalysisRun and Application controllers against a
//! Kubernetes cluster (kubeconfig or in-cluster service account), through `weir-kube`. Not the
//! node agent, mesh or proxy: kubelet, kube-controller-manager and Istio do those there.
//!
//! With `--leader-elect`, the controllers run only while this process holds a
//! `coordination.k8s.io/v1` Lease; a process that loses it stops them and stands by again.
//!
//! On `--bind`:`--port` it serves `GET /healthz` (200 once connected to the cluster, on a
//! standby too: it is alive and ready to take over) and the Git webhook receiver
//! `POST /api/webhook`, as `weir up` does.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use weir_analysis_controller::{BuiltinProvider, JobProvider, Providers};
use weir_app_controller::AppControllerConfig;
use weir_app_controller::webhook::WebhookTarget;
use weir_cluster::{Cluster, Registry, ResourceType};
use weir_controller::Shutdown;
use weir_controller::leader::{Ended, LeaderElector, LeaseConfig};
use weir_kube::{ConnectOptions, KubeCluster};
use weir_server::controllers::{NamespaceScoped, spawn_delivery_controllers};

use crate::args::Connection;
use crate::connect;

#[derive(Debug, Args)]
pub(crate) struct ControllerArgs {
    /// Manage one namespace only (Argo's `--namespaced`); default: all namespaces.
    #[arg(short, long)]
    pub(crate) namespace: Option<String>,
    /// Run the controllers only while holding a Lease, so that several replicas are safe.
    #[arg(long)]
    pub(crate) leader_elect: bool,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "weir-controller")]
    pub(crate) lease_name: String,
    /// Namespace of the Lease (default: --namespace, else the kubeconfig context's namespace).
    #[arg(long)]
    pub(crate) lease_namespace: Option<String>,
    /// Seconds a Lease stays held without renewal (client-go's default).
    #[arg(long, default_value_t = 15)]
    pub(crate) lease_duration: u64,
    /// Seconds the leader keeps trying to renew before it stops its controllers.
    #[arg(long, default_value_t = 10)]
    pub(crate) renew_deadline: u64,
    /// Seconds between attempts to acquire or renew the Lease.
    #[arg(long, default_value_t = 2)]
    pub(crate) retry_period: u64,
    /// Most requests per second to the API server (Argo Rollouts' default).
    #[arg(long, default_value_t = 40.0)]
    pub(crate) qps: f32,
    /// Requests allowed at once after an idle period (Argo Rollouts' default).
    #[arg(long, default_value_t = 80)]
    pub(crate) burst: u32,
    /// Seconds between comparisons of Applications with git.
    #[arg(long, default_value_t = 120)]
    pub(crate) app_resync: u64,
    /// Most seconds of random delay added to each comparison.
    #[arg(long, default_value_t = 60)]
    pub(crate) app_resync_jitter: u64,
    /// Port of `/healthz` and the Git webhook receiver `/api/webhook`; 0 picks one.
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Address to serve `--port` on (`0.0.0.0` in a pod, so that probes and webhooks reach it).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: IpAddr,
    /// The `/stats/window` URL of a weir proxy's admin listener (`proxyStats` in a `weir up`'s
    /// endpoints.json): the `weir/builtin` analysis provider reads traffic statistics there.
    /// Without it, metrics with that provider are Errors (use Prometheus with Istio).
    #[arg(long)]
    pub(crate) proxy_stats_url: Option<String>,
}

pub(crate) async fn run(connection: &Connection, args: ControllerArgs) -> Result<ExitCode> {
    let options = ConnectOptions {
        // The global --kubeconfig/--context (default: KUBECONFIG, else the pod's service
        // account, else ~/.kube/config).
        kubeconfig: connection.kubeconfig.clone(),
        context: connection.context.clone(),
        qps: args.qps,
        burst: args.burst,
        ..ConnectOptions::default()
    };
    let cluster = Arc::new(weir_kube::connect(&options).await?);
    report_missing_kinds(&cluster).await;
    report_older_crds(&cluster).await;
    let app_data = connect::data_dir(connection)?.join("controller");
    let app_config = AppControllerConfig {
        resync: Duration::from_secs(args.app_resync),
        jitter: Duration::from_secs(args.app_resync_jitter),
        ..AppControllerConfig::new(app_data)
    };
    let scope = match &args.namespace {
        Some(ns) => format!("namespace {ns}"),
        None => "all namespaces".to_owned(),
    };
    println!("weir controller: {} ({scope})", cluster.server());
    let providers = providers(args.proxy_stats_url.as_deref())?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--bind, --port)"))?;
    let local = listener.local_addr().with_context(|| format!("listening on {addr}"))?;
    println!("serving http://{local} (/healthz, /api/webhook)");

    let shutdown = Shutdown::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            super::up::shutdown_signal().await;
            shutdown.trigger();
        }
    });
    let webhook = weir_server::webhook::router(WebhookTarget::of(&app_config));
    let server = tokio::spawn(serve(listener, webhook, shutdown.clone()));
    let election = args.leader_elect.then(|| LeaseConfig {
        lease_duration: Duration::from_secs(args.lease_duration.max(1)),
        renew_deadline: Duration::from_secs(args.renew_deadline.max(1)),
        retry_period: Duration::from_secs(args.retry_period.max(1)),
        ..LeaseConfig::new(
            args.lease_name.clone(),
            args.lease_namespace
                .clone()
                .or_else(|| args.namespace.clone())
                .unwrap_or_else(|| cluster.default_namespace().to_owned()),
            identity(),
        )
    });
    match &args.namespace {
        Some(ns) => {
            let scoped = Arc::new(NamespaceScoped::new(cluster.clone(), ns.clone()));
            let providers = with_job_provider(providers, &scoped);
            run_controllers(cluster, scoped, providers, app_config, election, shutdown).await;
        }
        None => {
            let providers = with_job_provider(providers, &cluster);
            run_controllers(cluster.clone(), cluster, providers, app_config, election, shutdown)
                .await;
        }
    }
    if let Err(error) = server.await {
        tracing::warn!(%error, "the HTTP server ended abnormally");
    }
    println!("weir controller stopped");
    Ok(ExitCode::SUCCESS)
}

/// Runs the controllers on `managed` until shutdown, under a Lease on `cluster` when `election`
/// is set (standing by again after a lost leadership).
async fn run_controllers<C: Cluster>(
    cluster: Arc<KubeCluster>,
    managed: Arc<C>,
    providers: Providers,
    app_config: AppControllerConfig,
    election: Option<LeaseConfig>,
    shutdown: Shutdown,
) {
    let work = |stop: Shutdown| {
        let providers = providers.clone();
        let tasks =
            spawn_delivery_controllers(managed.clone(), providers, app_config.clone(), &stop);
        async move {
            futures::future::join_all(tasks).await;
        }
    };
    let Some(election) = election else {
        work(shutdown).await;
        return;
    };
    println!(
        "leader election: Lease {}/{} as {}",
        election.namespace, election.name, election.identity
    );
    let mut elector = LeaderElector::new(cluster, election);
    loop {
        match elector.run(&shutdown, work).await {
            Ended::Shutdown => return,
            Ended::LostLeadership => {
                tracing::warn!("leadership lost: controllers stopped; standing by");
            }
        }
    }
}

/// The metric providers that need no cluster, and the built-in one when a proxy's statistics
/// URL is given (the same windows `weir up`'s in-process provider reads).
fn providers(proxy_stats_url: Option<&str>) -> Result<Providers> {
    let mut providers = Providers::standard();
    if let Some(url) = proxy_stats_url {
        let builtin = BuiltinProvider::remote(url).map_err(|e| anyhow!(e))?;
        providers = providers.with(Arc::new(builtin));
    }
    Ok(providers)
}

/// `providers` and the job provider (`provider.job`) creating its Jobs on `cluster`.
fn with_job_provider<C: Cluster>(providers: Providers, cluster: &Arc<C>) -> Providers {
    providers.with(Arc::new(JobProvider::new(cluster.clone())))
}

/// Serves `/healthz` and `/api/webhook` on `listener` until `shutdown`.
async fn serve(listener: tokio::net::TcpListener, webhook: axum::Router, shutdown: Shutdown) {
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .merge(webhook);
    let stopped = async move { shutdown.wait().await };
    if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
        tracing::warn!(%error, "the HTTP server stopped");
    }
}

/// The CRDs `weir install` creates that the controllers watch.
const WEIR_CRDS: &[&str] =
    &["rollouts", "analysisruns", "analysistemplates", "applications", "appprojects"];

/// Istio's kinds the Rollout controller routes traffic with (Istio installs them, not weir).
const ISTIO_KINDS: &[&str] = &["virtualservices", "destinationrules"];

/// Warns (once, one line each) about the kinds weir manages that the cluster does not serve:
/// the CRDs `weir install` would create, and Istio's. The controllers still start: a kind the
/// server does not serve has no objects to them, and is looked for again every 30 s.
async fn report_missing_kinds(cluster: &KubeCluster) {
    // A server without discovery (a weir older than its Kubernetes API work) cannot tell:
    // every API server serves core/v1 Namespaces.
    if cluster.discover("v1", "Namespace").await.is_err() {
        tracing::debug!("the server has no discovery; not checking for CRDs");
        return;
    }
    for (kinds, advice) in [
        (
            WEIR_CRDS,
            "run `weir install` to create these CRDs; until then the controllers of the kinds \
             that exist run without them",
        ),
        (
            ISTIO_KINDS,
            "Rollouts with Istio traffic routing cannot progress until Istio is installed",
        ),
    ] {
        match missing_kinds(cluster, kinds).await {
            Ok(names) if names.is_empty() => {}
            Ok(names) => {
                tracing::warn!("the cluster does not serve {}: {advice}", names.join(", "));
            }
            Err(error) => tracing::warn!(%error, "cannot check which CRDs the cluster serves"),
        }
    }
}

/// Warns (one line per CRD) about the managed CRDs in the cluster that are older than weir's:
/// their schema lacks fields the controllers write, which the API server prunes from every
/// write (e.g. a Rollouts CRD from before `status.canary.weights`). The controllers keep
/// running: what they record there is lost and recomputed on the next pass. A role that may not
/// read CRDs (a namespaced install) skips the check.
async fn report_older_crds(cluster: &KubeCluster) {
    let Some(crds) = Registry::builtin().for_name("customresourcedefinitions").cloned() else {
        return;
    };
    for name in crate::install::crds::MANAGED_CRDS {
        let installed = match cluster.get(&crds, None, name).await {
            Ok(crd) => crd.to_value(),
            Err(weir_cluster::Error::NotFound { .. }) => continue,
            Err(error) => {
                tracing::debug!(%error, "cannot read CRD {name}; not checking its schema");
                continue;
            }
        };
        let Some(ours) = crate::install::crds::managed_crd(name) else { continue };
        let missing = crate::install::crds::missing_fields(&installed, &ours);
        if missing.is_empty() {
            continue;
        }
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        let more = missing.len().saturating_sub(shown.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        tracing::warn!(
            "the cluster's CRD {name} is older than weir's: its schema lacks {}{more}; the API              server drops these fields from what the controllers write. Apply the newer CRD              (`weir install --dry-run -o yaml` prints it) to keep them",
            shown.join(", ")
        );
    }
}

/// The CRD names (`plural.group`) of the registry's `kinds` that the cluster does not serve.
async fn missing_kinds(
    cluster: &KubeCluster,
    kinds: &[&str],
) -> Result<Vec<String>, weir_cluster::Error> {
    let registry = Registry::builtin();
    let wanted: Vec<ResourceType> =
        kinds.iter().filter_map(|name| registry.for_name(name).cloned()).collect();
    let missing = cluster.missing(&wanted).await?;
    Ok(missing.iter().map(|rt| format!("{}.{}", rt.plural, rt.group)).collect())
}

/// This process's identity for the Lease: the host (the pod's name in a cluster) and a random
/// suffix, as client-go's examples build it.
fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "weir".to_owned());
    format!("{host}_{:08x}", rand::random::<u32>())
}
