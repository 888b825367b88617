//! The test world: a store in a tempdir, the controller on it, run helpers and bounded waits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::task::JoinHandle;
use weir_analysis_controller::{Providers, run_analysis_controller};
use weir_cluster::{Cluster, Error, Object, Registry, ResourceType};
use weir_controller::Shutdown;
use weir_model::rollouts::{AnalysisRun, Measurement, MetricResult};
use weir_store::Store;

pub(crate) const NS: &str = "default";

pub(crate) fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("built-in type").clone()
}

/// A store and a running controller.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    pub(crate) shutdown: Shutdown,
    controller: Option<JoinHandle<()>>,
}

impl World {
    pub(crate) async fn start(providers: Providers) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let ns = Object::new("v1", "Namespace", None, NS);
        store.create(&rt("namespaces"), ns).await.expect("namespace");
        let mut world = World { dir, store, shutdown: Shutdown::new(), controller: None };
        world.start_controller(providers);
        world
    }

    pub(crate) fn start_controller(&mut self, providers: Providers) {
        self.shutdown = Shutdown::new();
        let task = run_analysis_controller(self.store.clone(), providers, self.shutdown.clone());
        self.controller = Some(tokio::spawn(task));
    }

    pub(crate) async fn stop_controller(&mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.controller.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("controller stops")
                .expect("controller task");
        }
    }

    /// Creates a run from YAML (`metadata.name` is filled in when missing).
    pub(crate) async fn create_run(&self, yaml: &str) -> String {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let mut value: Json = serde_yaml_ng::from_str(yaml).expect("yaml");
        value["apiVersion"] = "argoproj.io/v1alpha1".into();
        value["kind"] = "AnalysisRun".into();
        value["metadata"]["namespace"] = NS.into();
        if value["metadata"]["name"].is_null() {
            value["metadata"]["name"] =
                format!("run-{}", SEQ.fetch_add(1, Ordering::Relaxed)).into();
        }
        let object = Object::from_value(value).expect("object");
        let created = self.store.create(&rt("analysisruns"), object).await.expect("create run");
        created.name().to_owned()
    }

    pub(crate) async fn get_run(&self, name: &str) -> Result<AnalysisRun, Error> {
        let object = self.store.get(&rt("analysisruns"), Some(NS), name).await?;
        Ok(object.to_typed().expect("typed run"))
    }

    /// Waits (at most `secs`) until `done` holds for the run; panics with its last state.
    pub(crate) async fn wait_run(
        &self,
        name: &str,
        secs: u64,
        done: impl Fn(&AnalysisRun) -> bool,
    ) -> AnalysisRun {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let run = self.get_run(name).await.expect("run exists");
            if done(&run) {
                return run;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "run {name} did not reach the expected state in {secs}s: {}",
                    serde_json::to_string_pretty(&run.status).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the run is completed.
    pub(crate) async fn completed(&self, name: &str, secs: u64) -> AnalysisRun {
        self.wait_run(name, secs, |r| {
            matches!(phase(r), "Successful" | "Failed" | "Error" | "Inconclusive")
        })
        .await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub(crate) fn phase(run: &AnalysisRun) -> &str {
    run.status.as_ref().map_or("", |s| s.phase.as_str())
}

pub(crate) fn message(run: &AnalysisRun) -> &str {
    run.status.as_ref().and_then(|s| s.message.as_deref()).unwrap_or("")
}

pub(crate) fn result<'a>(run: &'a AnalysisRun, metric: &str) -> &'a MetricResult {
    run.status
        .as_ref()
        .and_then(|s| s.metric_results.as_ref())
        .and_then(|r| r.iter().find(|r| r.name == metric))
        .unwrap_or_else(|| panic!("no result for metric {metric}: {:?}", run.status))
}

pub(crate) fn measurements<'a>(run: &'a AnalysisRun, metric: &str) -> &'a [Measurement] {
    result(run, metric).measurements.as_deref().unwrap_or_default()
}

/// The only (or last) measurement of a metric.
pub(crate) fn last<'a>(run: &'a AnalysisRun, metric: &str) -> &'a Measurement {
    measurements(run, metric).last().expect("a measurement")
}

/// Serves `app` on a free 127.0.0.1 port until the test ends.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A port nothing listens on.
pub(crate) async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Polls `check` every 200 ms for at most `secs`.
pub(crate) async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
