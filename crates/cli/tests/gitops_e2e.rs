//! GitOps end to end with the real `weir` binary: `weir up` in a temporary data directory (with
//! an image map so the bookinfo Deployments run as local processes), `weir app create` against
//! the seed demo's `application/` directory committed into a local git repository, and new
//! commits picked up by polling (`--app-resync`) or, at once, by a push webhook.

mod support;

#[path = "gitops_e2e/app_commands.rs"]
mod app_commands;
#[path = "gitops_e2e/first_steps.rs"]
mod first_steps;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{WEIR, Weir};
/// The bound of every wait: generous, the machine may be loaded.
const WAIT: Duration = Duration::from_secs(120);

fn seed_application_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/seed-demo/application")
}

fn git(dir: &Path, args: &[&str]) -> String {
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

/// A repository holding the seed demo's `application/` directory; returns its path and HEAD.
fn demo_repo(root: &Path) -> (PathBuf, String) {
    let repo = root.join("bookinfo-gitops");
    std::fs::create_dir_all(repo.join("application")).expect("mkdir");
    git(&repo, &["init", "--quiet", "-b", "main"]);
    for entry in std::fs::read_dir(seed_application_dir()).expect("seed demo") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name");
        std::fs::copy(&path, repo.join("application").join(name)).expect("copy");
    }
    (repo.clone(), commit_all(&repo, "the seed demo"))
}

fn commit_all(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

/// Adds a ConfigMap to the app's directory and commits it.
fn commit_config_map(repo: &Path, name: &str) -> String {
    let text =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n");
    std::fs::write(repo.join("application").join(format!("{name}.yaml")), text).expect("write");
    commit_all(repo, &format!("add {name}"))
}

/// The bookinfo images, each run as weir's sample service.
fn image_map_config() -> String {
    let mut text = String::from("images:\n");
    for (name, version) in
        [("details", "v1"), ("ratings", "v1"), ("reviews", "v1"), ("productpage", "v1")]
    {
        text.push_str(&format!(
            "  \"docker.io/istio/examples-bookinfo-{name}-{version}:1.16.4\": [\"{WEIR}\", demo, service, --name, {name}, --version, {version}]\n"
        ));
    }
    text
}

/// `weir up` with the image map, polling git every `app_resync_seconds`.
fn start(app_resync_seconds: u64) -> Weir {
    let resync = app_resync_seconds.to_string();
    Weir::start_configured(Some(&image_map_config()), &["--app-resync", &resync])
}

fn application(weir: &Weir, name: &str) -> serde_json::Value {
    let text = weir.ok(&["get", "applications", "-n", "argocd", name, "-o", "json"]);
    serde_json::from_str(&text).expect("application json")
}

/// Polls until the app is Synced at `revision` and Healthy (bounded by [`WAIT`]).
fn wait_synced(weir: &Weir, name: &str, revision: &str, what: &str) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let app = application(weir, name);
        let status = &app["status"];
        if status["sync"]["status"] == "Synced"
            && status["sync"]["revision"] == revision
            && status["health"]["status"] == "Healthy"
        {
            return app;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {status:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `weir app create` with the demo's words.
fn create_app(weir: &Weir, repo: &Path) {
    let url = format!("file://{}", repo.display());
    weir.ok(&[
        "app",
        "create",
        "bookinfo-app",
        "--repo",
        &url,
        "--path",
        "application",
        "--dest-namespace",
        "bookinfo",
        "--sync-policy",
        "automated",
        "--self-heal",
        "--auto-prune",
    ]);
}

/// POSTs a GitHub push event for `repo_url` to the API's webhook; returns the response.
fn github_push(api: &str, repo_url: &str) -> String {
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"clone_url": repo_url, "html_url": repo_url},
    })
    .to_string();
    let addr = api.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: push\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn the_seed_demo_is_synced_from_git_and_new_commits_are_picked_up_by_polling() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, first) = demo_repo(root.path());
    // Given weir up polling git every 2 s (plus at most 1 s of jitter).
    let weir = start(2);
    // When the demo's app is created, then it is synced and healthy.
    create_app(&weir, &repo);
    let app = wait_synced(&weir, "bookinfo-app", &first, "the first sync");
    let resources = app["status"]["resources"].as_array().expect("resources");
    assert!(resources.iter().any(|r| r["kind"] == "Deployment" && r["name"] == "productpage-v1"));
    let get = weir.ok(&["app", "get", "bookinfo-app"]);
    assert!(get.contains("Synced") && get.contains("Healthy"), "{get}");
    let pods = weir.ok(&["get", "pods", "-n", "bookinfo"]);
    assert!(pods.lines().skip(1).filter(|l| l.contains("Running")).count() >= 4, "{pods}");
    // When a change is committed, then the next poll syncs it with no other trigger.
    let second = commit_config_map(&repo, "release-notes");
    wait_synced(&weir, "bookinfo-app", &second, "the sync of the new commit by polling");
    weir.ok(&["get", "configmaps", "-n", "bookinfo", "release-notes"]);
}

#[test]
fn a_push_webhook_syncs_a_new_commit_at_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, first) = demo_repo(root.path());
    // Given weir up whose polling period (an hour) is far longer than this test.
    let weir = start(3600);
    create_app(&weir, &repo);
    wait_synced(&weir, "bookinfo-app", &first, "the first sync");
    // When a change is committed and GitHub's push webhook arrives.
    let second = commit_config_map(&repo, "release-notes");
    let response = github_push(&weir.api(), &format!("file://{}.git", repo.display()));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("refreshed 1 application(s)"), "{response}");
    // Then it is synced: only the webhook can explain it, as no poll is due.
    wait_synced(&weir, "bookinfo-app", &second, "the sync after the webhook");
    weir.ok(&["get", "configmaps", "-n", "bookinfo", "release-notes"]);
}
