//! What the Application controller tests share: real git repositories made with the `git` CLI
//! (and served by `git daemon`), a real `weir_store::Store`, the controller (and, when asked,
//! the node agent running Pods as processes), and bounded polling.
//!
//! The controller runs on one of two backends ([`Backend`], [`both_backends!`]): the store
//! itself, or a `weir_kube::KubeCluster` that reaches the same store only through weir's API
//! server (TLS, the kubeconfig `weir up` writes). The test's own steps and the node agent (the
//! kubelet and Job controller a cluster has) act on the store directly either way.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weir_app_controller::{AppControllerConfig, RefreshHandle, run_app_controller};
use weir_cluster::{Cluster, Object, Patch, Registry, ResourceType, Subresource, apply};
use weir_controller::Shutdown;
use weir_kube::{ConnectOptions, KubeCluster};
use weir_server::ApiServer;
use weir_store::Store;

/// The bound of every wait (generous: the machine may be loaded).
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=weir", "-c", "user.email=weir@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes (`Some`) or removes (`None`) `files` in `repo`, commits them and returns HEAD.
pub(crate) fn commit(repo: &Path, files: &[(&str, Option<&str>)], message: &str) -> String {
    for (path, content) in files {
        let full = repo.join(path);
        match content {
            Some(text) => {
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, text).expect("write");
            }
            None => std::fs::remove_file(&full).expect("remove"),
        }
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "--allow-empty", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

/// A new repository `root/<name>` on branch `main`.
pub(crate) fn new_repo(root: &Path, name: &str) -> PathBuf {
    let repo = root.join(name);
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "--quiet", "-b", "main"]);
    repo
}

pub(crate) fn file_url(repo: &Path) -> String {
    format!("file://{}", repo.display())
}

pub(crate) fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// A ConfigMap with annotations (`key: value` lines, indented by the caller's text).
pub(crate) fn annotated_config_map(name: &str, annotations: &[(&str, &str)]) -> String {
    let mut text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    text.push_str("  annotations:\n");
    for (k, v) in annotations {
        text.push_str(&format!("    {k}: \"{v}\"\n"));
    }
    text.push_str("data:\n  value: \"1\"\n");
    text
}

/// A hook Pod (restartPolicy Never) running `script` with `sh -c`.
pub(crate) fn hook_pod(name: &str, annotations: &[(&str, &str)], script: &str) -> String {
    hook("v1", "Pod", name, annotations, hook_pod_spec(script))
}

/// A hook written as Argo CD users usually write it: a Job whose pod runs `script`.
pub(crate) fn hook_job(name: &str, annotations: &[(&str, &str)], script: &str) -> String {
    let spec = json!({"backoffLimit": 0, "template": {"spec": hook_pod_spec(script)}});
    hook("batch/v1", "Job", name, annotations, spec)
}

fn hook_pod_spec(script: &str) -> Value {
    json!({"restartPolicy": "Never", "containers": [
        {"name": "main", "image": "hook", "command": ["sh", "-c", script]},
    ]})
}

/// A manifest (JSON, which is YAML too) of `kind` with `annotations` and `spec`.
fn hook(
    api_version: &str,
    kind: &str,
    name: &str,
    annotations: &[(&str, &str)],
    spec: Value,
) -> String {
    let annotations: serde_json::Map<String, Value> =
        annotations.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let manifest = json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    });
    serde_json::to_string_pretty(&manifest).expect("a manifest serializes")
}

pub(crate) fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("builtin type").clone()
}

pub(crate) fn application(name: &str, repo: &str, path: &str, policy: Value) -> Object {
    Object::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo, "path": path, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
            "syncPolicy": policy,
        }
    }))
    .expect("application")
}

/// Which cluster API the Application controller is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The store itself, as in `weir up`.
    Embedded,
    /// kube-rs through weir's API server over the same store, as `weir controller` runs.
    Kube,
}

/// Generates, for each `async fn name(backend: Backend)`, a module `name` with two tests on a
/// two-worker runtime, `embedded` and `kube`, that run it on each backend. One body per
/// scenario, two runs.
#[allow(unused_macros, reason = "not every test binary that shares this module uses it")]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::common::Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn kube() {
                super::$name($crate::common::Backend::Kube).await;
            }
        }
    )+};
}
#[allow(unused_imports, reason = "not every test binary that shares this module uses it")]
pub(crate) use both_backends;

pub(crate) struct Harness {
    pub(crate) store: Arc<Store>,
    pub(crate) refresh: RefreshHandle,
    pub(crate) dir: tempfile::TempDir,
    shutdown: Shutdown,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The API server the Kube backend's controller talks to (stopped after the controller).
    api: Option<ApiServer>,
}

/// Starts the store and the controller (resync one hour: only commits seen through refresh
/// requests or error retries happen during a test); `node_agent` also runs Pods.
pub(crate) async fn start(root: &Path, node_agent: bool) -> Harness {
    start_configured(root, node_agent, |_| {}).await
}

/// [`start`] with changes to the controller's configuration.
pub(crate) async fn start_configured(
    root: &Path,
    node_agent: bool,
    configure: impl FnOnce(&mut AppControllerConfig),
) -> Harness {
    start_configured_on(Backend::Embedded, root, node_agent, configure).await
}

/// [`start`] with the controller on `backend`.
pub(crate) async fn start_on(backend: Backend, root: &Path, node_agent: bool) -> Harness {
    start_configured_on(backend, root, node_agent, |_| {}).await
}

/// A `KubeCluster` connected through the kubeconfig of a new API server over `store`.
async fn kube_backend(store: &Store, data_dir: &Path) -> (KubeCluster, ApiServer) {
    let server = weir_server::serve_store(store.clone(), data_dir).await.expect("serve the API");
    let options = ConnectOptions {
        kubeconfig: Some(server.kubeconfig_path()),
        // No client-side throttling: a test's waits are bounded by wall time.
        qps: 0.0,
        ..ConnectOptions::default()
    };
    let cluster = weir_kube::connect(&options).await.expect("connect through kube-rs");
    (cluster, server)
}

/// [`start_configured`] with the controller on `backend`.
pub(crate) async fn start_configured_on(
    backend: Backend,
    root: &Path,
    node_agent: bool,
    configure: impl FnOnce(&mut AppControllerConfig),
) -> Harness {
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
    for ns in ["argocd", "apps"] {
        apply(&*store, &rt("namespaces"), &Object::new("v1", "Namespace", None, ns))
            .await
            .expect("namespace");
    }
    let mut config = AppControllerConfig::new(dir.path());
    config.resync = Duration::from_secs(3600);
    config.jitter = Duration::ZERO;
    config.self_heal_timeout = Duration::from_millis(200);
    configure(&mut config);
    let refresh = config.refresh.clone();
    let shutdown = Shutdown::new();
    let (controller, api) = match backend {
        Backend::Embedded => {
            (tokio::spawn(run_app_controller(store.clone(), config, shutdown.clone())), None)
        }
        Backend::Kube => {
            let (cluster, server) = kube_backend(&store, &dir.path().join("api")).await;
            let task = run_app_controller(Arc::new(cluster), config, shutdown.clone());
            (tokio::spawn(task), Some(server))
        }
    };
    let mut tasks = vec![controller];
    if node_agent {
        let mut node = weir_node::NodeConfig::new(dir.path());
        node.image_map = BTreeMap::new();
        node.drain_delay = Duration::ZERO;
        tasks.push(tokio::spawn(weir_node::run_node_agent(store.clone(), node, shutdown.clone())));
        tasks.push(tokio::spawn(weir_node::run_job_controller(store.clone(), shutdown.clone())));
    }
    Harness { store, refresh, dir, shutdown, tasks, api }
}

impl Harness {
    /// Creates a namespace, as a person does before pointing an app at it (an API server
    /// refuses objects in a namespace that does not exist).
    pub(crate) async fn namespace(&self, name: &str) {
        apply(&*self.store, &rt("namespaces"), &Object::new("v1", "Namespace", None, name))
            .await
            .expect("namespace");
    }

    pub(crate) async fn create(&self, app: &Object) {
        apply(&*self.store, &rt("applications"), app).await.expect("create app");
    }

    pub(crate) async fn app(&self, name: &str) -> Value {
        self.store
            .get(&rt("applications"), Some("argocd"), name)
            .await
            .expect("application exists")
            .to_value()
    }

    pub(crate) async fn patch_app(&self, name: &str, patch: Value) {
        self.store
            .patch(
                &rt("applications"),
                Some("argocd"),
                name,
                &Patch::Merge(patch),
                Subresource::Main,
            )
            .await
            .expect("patch app");
    }

    /// Asks for a manual sync (what `weir app sync` writes).
    pub(crate) async fn sync(&self, name: &str, sync: Value) {
        self.patch_app(
            name,
            json!({"operation": {"sync": sync, "initiatedBy": {"username": "test"}}}),
        )
        .await;
    }

    /// Polls the app until `done` holds (bounded).
    pub(crate) async fn wait_app(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let app = self.app(name).await;
            if done(&app) {
                return app;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; app: {:#}",
                app
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn get(&self, kind: &str, ns: Option<&str>, name: &str) -> Option<Value> {
        self.store.get(&rt(kind), ns, name).await.ok().map(|o| o.to_value())
    }

    /// Polls an object until `done` holds (bounded).
    pub(crate) async fn wait_object(
        &self,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        what: &str,
        done: impl Fn(Option<&Value>) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let obj = self.get(kind, ns, name).await;
            if done(obj.as_ref()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {obj:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.trigger();
        for task in self.tasks {
            tokio::time::timeout(WAIT, task).await.expect("stops").expect("no panic");
        }
        if let Some(api) = self.api {
            api.stop().await;
        }
    }
}

pub(crate) fn op_phase(app: &Value) -> &str {
    app["status"]["operationState"]["phase"].as_str().unwrap_or("")
}

pub(crate) fn op_message(app: &Value) -> String {
    app["status"]["operationState"]["message"].as_str().unwrap_or("").to_string()
}

/// `(name, status)` of the operation's resource results, in execution order.
pub(crate) fn results(app: &Value) -> Vec<(String, String)> {
    app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub(crate) fn sync_status(app: &Value) -> (&str, &str, &str) {
    (
        app["status"]["sync"]["status"].as_str().unwrap_or(""),
        app["status"]["sync"]["revision"].as_str().unwrap_or(""),
        app["status"]["health"]["status"].as_str().unwrap_or(""),
    )
}

pub(crate) fn comparison_error(app: &Value) -> String {
    app["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "ComparisonError")
        .map(|c| c["message"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Lines of a log file the hooks append to (empty when absent).
pub(crate) fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Kills the `git daemon` a test started when dropped.
pub(crate) struct Daemon(pub(crate) std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves the bare repositories under `base` with `git daemon` on a free 127.0.0.1 port;
/// returns the daemon and the `git://` URL prefix.
pub(crate) fn git_daemon(base: &Path) -> (Daemon, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let daemon = Daemon(
        Command::new("git")
            .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts"),
    );
    (daemon, format!("git://127.0.0.1:{port}"))
}

/// Waits (bounded) until `url` answers `git ls-remote`.
pub(crate) fn wait_git(url: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while !Command::new("git")
        .args(["ls-remote", "--", url])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(std::time::Instant::now() < deadline, "{url} did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
}
