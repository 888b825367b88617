//! The Application controller against a real `weir_store::Store` and real git repositories
//! built in the test with the `git` CLI: auto-sync, a new commit, self-heal, prune on and off,
//! hostile paths and unreachable repositories. Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weir_app_controller::{AppControllerConfig, RefreshHandle, run_app_controller};
use weir_cluster::{Cluster, Object, Patch, Registry, ResourceType, Subresource, apply};
use weir_controller::Shutdown;
use weir_store::Store;

const WAIT: Duration = Duration::from_secs(30);

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=weir",
            "-c",
            "user.email=weir@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with `files` committed on `main`; returns its HEAD.
fn commit(repo: &Path, files: &[(&str, Option<&str>)], message: &str) -> String {
    for (path, content) in files {
        let full = repo.join(path);
        match content {
            Some(text) => {
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, text).expect("write");
            }
            None => {
                std::fs::remove_file(&full).expect("remove");
            }
        }
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

fn new_repo(root: &Path) -> PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "--quiet", "-b", "main"]);
    repo
}

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

const SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n";

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("builtin type").clone()
}

fn application(name: &str, repo: &str, path: &str, policy: Value) -> Object {
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

struct Harness {
    store: Arc<Store>,
    refresh: RefreshHandle,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start(root: &Path) -> Harness {
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
    let refresh = config.refresh.clone();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(run_app_controller(store.clone(), config, shutdown.clone()));
    Harness { store, refresh, shutdown, task, _dir: dir }
}

impl Harness {
    async fn app(&self, name: &str) -> Value {
        self.store
            .get(&rt("applications"), Some("argocd"), name)
            .await
            .expect("application exists")
            .to_value()
    }

    /// Polls the app until `done` holds (bounded).
    async fn wait_app(&self, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let app = self.app(name).await;
            if done(&app) {
                return app;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; status: {:#}",
                app["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn config_map(&self, name: &str) -> Option<Value> {
        self.store.get(&rt("configmaps"), Some("apps"), name).await.ok().map(|o| o.to_value())
    }

    async fn wait_config_map(&self, name: &str, what: &str, done: impl Fn(Option<&Value>) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let cm = self.config_map(name).await;
            if done(cm.as_ref()) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {cm:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(WAIT, self.task).await.expect("controller stops").expect("no panic");
    }
}

fn sync_status(app: &Value) -> (&str, &str, &str) {
    (
        app["status"]["sync"]["status"].as_str().unwrap_or(""),
        app["status"]["sync"]["revision"].as_str().unwrap_or(""),
        app["status"]["health"]["status"].as_str().unwrap_or(""),
    )
}

fn condition(app: &Value) -> String {
    app["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "ComparisonError")
        .map(|c| c["message"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_sync_follows_commits_heals_and_prunes_only_when_asked() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path());
    let first = commit(
        &repo,
        &[
            ("app/a.yaml", Some(&config_map("a", "1"))),
            ("app/b.yaml", Some(&config_map("b", "1"))),
            ("app/svc.yaml", Some(SERVICE)),
            ("README.md", Some("not rendered")),
        ],
        "first",
    );
    let url = format!("file://{}", repo.display());
    let h = start(root.path()).await;
    let policy = json!({"automated": {"selfHeal": true}});
    apply(&*h.store, &rt("applications"), &application("guestbook", &url, "app", policy))
        .await
        .expect("create app");

    // Given an automated app, the first refresh syncs it.
    let app = h
        .wait_app("guestbook", "initial sync", |a| sync_status(a) == ("Synced", &first, "Healthy"))
        .await;
    let resources = app["status"]["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 3, "{resources:#?}");
    assert_eq!(app["status"]["operationState"]["phase"], "Succeeded");
    assert_eq!(app["status"]["history"][0]["id"], 0);
    assert_eq!(app["status"]["history"][0]["revision"], first.as_str());
    assert!(app.get("operation").is_none());
    let a = h.config_map("a").await.expect("a applied");
    assert_eq!(a["metadata"]["labels"]["app.kubernetes.io/instance"], "guestbook");
    assert_eq!(
        a["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "guestbook:/ConfigMap:apps/a"
    );

    // When a new commit is pushed and GitHub's push webhook arrives, it is synced.
    let second = commit(&repo, &[("app/a.yaml", Some(&config_map("a", "2")))], "second");
    let payload =
        json!({"ref": "refs/heads/main", "repository": {"clone_url": format!("{url}.git")}});
    let body = serde_json::to_vec(&payload).expect("payload");
    let headers = |name: &str| (name == "X-GitHub-Event").then_some("push");
    let outcome = weir_app_controller::webhook::handle(&h.refresh, None, headers, &body);
    assert_eq!((outcome.status, outcome.message.as_str()), (200, "refreshed 1 application(s)"));
    h.wait_app("guestbook", "sync of the second commit", |a| {
        sync_status(a) == ("Synced", &second, "Healthy")
    })
    .await;
    h.wait_config_map("a", "a at 2", |cm| cm.is_some_and(|c| c["data"]["value"] == "2")).await;

    // A manual change to a managed object is healed back (selfHeal).
    let patch = Patch::Merge(json!({"data": {"value": "manual"}}));
    h.store
        .patch(&rt("configmaps"), Some("apps"), "a", &patch, Subresource::Main)
        .await
        .expect("manual edit");
    h.wait_config_map("a", "a healed", |cm| cm.is_some_and(|c| c["data"]["value"] == "2")).await;

    // A removed manifest is not pruned while auto-prune is off …
    let third = commit(&repo, &[("app/b.yaml", None)], "remove b");
    h.refresh.refresh_app("argocd", "guestbook");
    let app = h
        .wait_app("guestbook", "b requiring pruning", |a| {
            sync_status(a).0 == "OutOfSync" && sync_status(a).1 == third
        })
        .await;
    let b_status = app["status"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "b")
        .cloned()
        .expect("b listed");
    assert_eq!(b_status["requiresPruning"], true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(h.config_map("b").await.is_some(), "b must survive without auto-prune");

    // … and is pruned once it is on.
    let patch = Patch::Merge(json!({"spec": {"syncPolicy": {"automated": {"prune": true}}}}));
    h.store
        .patch(&rt("applications"), Some("argocd"), "guestbook", &patch, Subresource::Main)
        .await
        .expect("enable prune");
    h.wait_config_map("b", "b pruned", |cm| cm.is_none()).await;
    h.wait_app("guestbook", "synced after prune", |a| {
        sync_status(a) == ("Synced", &third, "Healthy")
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sources_and_unreachable_repositories_are_comparison_errors() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path());
    std::fs::create_dir_all(repo.join("evil")).expect("mkdir");
    std::os::unix::fs::symlink("/etc/passwd", repo.join("evil/passwd.yaml")).expect("symlink");
    commit(&repo, &[("app/a.yaml", Some(&config_map("a", "1")))], "first");
    let url = format!("file://{}", repo.display());
    let h = start(root.path()).await;
    let policy = json!({"automated": {"prune": true}});
    let apps = [
        ("outside", url.clone(), "../x", "../x: app path outside root"),
        (
            "symlink",
            url.clone(),
            "evil",
            "repository contains out-of-bounds symlinks. file: evil/passwd.yaml",
        ),
        (
            "unreachable",
            "http://127.0.0.1:9/nothing.git".to_string(),
            "app",
            "Failed to load target state: failed to list refs",
        ),
        (
            "missing-dir",
            format!("file://{}/does-not-exist", root.path().display()),
            "app",
            "Failed to load target state",
        ),
    ];
    for (name, repo_url, path, _) in &apps {
        apply(&*h.store, &rt("applications"), &application(name, repo_url, path, policy.clone()))
            .await
            .expect("create app");
    }
    for (name, _, _, message) in &apps {
        let app = h
            .wait_app(name, &format!("ComparisonError of {name}"), |a| !condition(a).is_empty())
            .await;
        assert!(condition(&app).contains(message), "{name}: {}", condition(&app));
        assert_eq!(sync_status(&app).0, "Unknown", "{name}");
        assert!(!condition(&app).contains("root:x:0"), "no file content leaks");
    }
    assert!(h.config_map("a").await.is_none(), "nothing applied");

    // A revision that names nothing.
    let mut app = application("no-branch", &url, "app", policy);
    app.data["spec"]["source"]["targetRevision"] = json!("no-such-branch");
    apply(&*h.store, &rt("applications"), &app).await.expect("create app");
    let app = h.wait_app("no-branch", "revision error", |a| !condition(a).is_empty()).await;
    assert!(
        condition(&app).contains("unable to resolve 'no-such-branch' to a commit SHA"),
        "{}",
        condition(&app)
    );
    h.stop().await;
}

/// Kills the `git daemon` this test started when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_daemon_repositories_resolve_tags_and_branches() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path());
    let tagged = commit(&repo, &[("app/a.yaml", Some(&config_map("tagged", "1")))], "tagged");
    git(&repo, &["tag", "-a", "v1", "-m", "v1"]);
    let latest = commit(&repo, &[("app/a.yaml", Some(&config_map("latest", "2")))], "latest");
    let served = root.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    git(root.path(), &["clone", "--quiet", "--bare", "repo", "served/guestbook.git"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let _daemon = Daemon(
        Command::new("git")
            .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", served.display()))
            .arg(&served)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts"),
    );
    let url = format!("git://127.0.0.1:{port}/guestbook.git");
    // Wait (bounded) until the daemon answers.
    let deadline = std::time::Instant::now() + WAIT;
    while !Command::new("git")
        .args(["ls-remote", "--", &url])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(std::time::Instant::now() < deadline, "git daemon did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    let h = start(root.path()).await;
    let policy = json!({"automated": {}});
    let mut at_tag = application("at-tag", &url, "app", policy.clone());
    at_tag.data["spec"]["source"]["targetRevision"] = json!("v1");
    at_tag.data["spec"]["destination"]["namespace"] = json!("tagged-ns");
    apply(&*h.store, &rt("applications"), &at_tag).await.expect("create app");
    let mut at_branch = application("at-branch", &url, "app", policy);
    at_branch.data["spec"]["source"]["targetRevision"] = json!("main");
    apply(&*h.store, &rt("applications"), &at_branch).await.expect("create app");
    h.wait_app("at-tag", "sync at the tag", |a| sync_status(a) == ("Synced", &tagged, "Healthy"))
        .await;
    h.wait_app("at-branch", "sync at the branch", |a| {
        sync_status(a) == ("Synced", &latest, "Healthy")
    })
    .await;
    assert!(h.config_map("latest").await.is_some());
    let tagged_cm = h.store.get(&rt("configmaps"), Some("tagged-ns"), "tagged").await;
    assert!(tagged_cm.is_ok(), "the tagged revision was applied");
    h.stop().await;
}
