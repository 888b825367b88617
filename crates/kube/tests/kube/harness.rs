//! A `weir up` in a temp directory and a `KubeCluster` connected to it through a kubeconfig.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;
use weir_cluster::{Cluster, Object, Registry, ResourceType};
use weir_kube::{ConnectOptions, KubeCluster};
use weir_server::{ControllerSet, UpConfig};

/// A running weir; stops when dropped.
pub(crate) struct Weir {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) api: String,
    pub(crate) kubeconfig: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub(crate) fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).cloned().unwrap_or_else(|| panic!("no type {name}"))
}

pub(crate) fn up_config(data_dir: &Path) -> UpConfig {
    UpConfig {
        data_dir: data_dir.to_path_buf(),
        port: 0,
        gateway_port: 0,
        mesh_port: 0,
        metrics_port: 0,
        app_resync: Duration::from_secs(120),
        app_resync_jitter: Duration::from_secs(1),
        plugins: Vec::new(),
        image_map: Default::default(),
        seed: Vec::new(),
        controllers: ControllerSet::None,
    }
}

impl Weir {
    /// Starts `weir up --controllers none` in a new temp directory.
    pub(crate) async fn start() -> Weir {
        let dir = tempfile::tempdir().expect("tempdir");
        Weir::start_in(dir, |c| c).await
    }

    /// Starts `weir up` in `dir` with a config adjusted by `adjust`.
    pub(crate) async fn start_in(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(UpConfig) -> UpConfig,
    ) -> Weir {
        let config = adjust(up_config(&dir.path().join("data")));
        let data_dir = config.data_dir.clone();
        let (started_tx, started_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = weir_server::up(
                config,
                move |started| {
                    let _ = started_tx.send(started.api_addr);
                },
                async move {
                    let _ = stop_rx.await;
                },
            )
            .await;
            if let Err(e) = result {
                panic!("weir up failed: {e}");
            }
        });
        let addr = started_rx.await.expect("weir up started");
        let api = format!("http://{addr}");
        let kubeconfig = kubeconfig_for(&data_dir, &api, &dir.path().join("kubeconfig"));
        Weir { dir, api, kubeconfig, stop: Some(stop_tx), task: Some(task) }
    }

    /// Stops weir and waits until it has stopped its pods.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        }
    }

    /// A backend connected through the kubeconfig.
    pub(crate) async fn cluster(&self) -> KubeCluster {
        weir_kube::connect(&ConnectOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            ..ConnectOptions::default()
        })
        .await
        .expect("connect")
    }

    /// The bearer token.
    pub(crate) fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data").join("token"))
            .expect("token")
            .trim()
            .to_owned()
    }
}

/// `DATA_DIR/kubeconfig` when weir writes one (TLS), else a kubeconfig written
/// here for the plain-HTTP API with the bearer token.
fn kubeconfig_for(data_dir: &Path, api: &str, path: &Path) -> PathBuf {
    let written = data_dir.join("kubeconfig");
    if written.exists() {
        return written;
    }
    let token = std::fs::read_to_string(data_dir.join("token")).expect("weir up writes its token");
    write_kubeconfig(path, api, token.trim());
    path.to_path_buf()
}

/// A kubeconfig with one cluster/context/user `weir`.
pub(crate) fn write_kubeconfig(path: &Path, server: &str, token: &str) {
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: weir\n\
         clusters:\n- name: weir\n  cluster:\n    server: {server}\n\
         contexts:\n- name: weir\n  context:\n    cluster: weir\n    user: weir\n    namespace: default\n\
         users:\n- name: weir\n  user:\n    token: {token}\n"
    );
    std::fs::write(path, text).expect("write kubeconfig");
}

/// Creates a namespace (ignoring "already exists").
pub(crate) async fn namespace(cluster: &KubeCluster, name: &str) {
    match cluster.create(&rt("namespaces"), Object::new("v1", "Namespace", None, name)).await {
        Ok(_) | Err(weir_cluster::Error::AlreadyExists { .. }) => {}
        Err(e) => panic!("namespace {name}: {e}"),
    }
}

/// A ConfigMap with one data key.
pub(crate) fn config_map(ns: &str, name: &str, value: &str) -> Object {
    let mut object = Object::new("v1", "ConfigMap", Some(ns), name);
    object.data.insert("data".to_owned(), serde_json::json!({ "k": value }));
    object
}

/// Polls `check` until it is true (about 15 s at most).
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
