//! The dashboard against the real `weir` binary: the browser scenario in headless Chromium
//! (`crates/dashboard/browser/test.mjs` through playwright-core), and the refusal of actions
//! without a session or with a bad CSRF token over plain HTTP.
//!
//! The browser test needs `node`, Debian's `chromium` and `npm ci` in the browser directory;
//! without them it fails when `CI` is set and is skipped with a loud message otherwise.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{WEIR, Weir};

/// The API token of a running weir.
fn token(weir: &Weir) -> String {
    std::fs::read_to_string(weir.data_dir().join("token")).unwrap().trim().to_owned()
}

/// One HTTP/1.1 request; returns the whole response (head and body).
fn http(api: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let addr = api.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn form_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

#[test]
fn actions_without_a_session_or_with_a_bad_csrf_token_are_refused() {
    let weir = Weir::start();
    let api = weir.api();
    let token = token(&weir);

    // No session: pages go to the login, actions and events are refused.
    let page = http(&api, "GET", "/ui/rollouts", &[], "");
    assert!(page.starts_with("HTTP/1.1 303"), "{page}");
    assert!(page.to_lowercase().contains("location: /ui/login"), "{page}");
    let action = http(&api, "POST", "/ui/rollouts/default/web/abort", &[FORM], "csrf=x");
    assert!(action.starts_with("HTTP/1.1 401"), "{action}");
    let events = http(&api, "GET", "/ui/events", &[], "");
    assert!(events.starts_with("HTTP/1.1 401"), "{events}");
    // The API token itself is not a session.
    let cookie = format!("weir_session={token}");
    let forged =
        http(&api, "POST", "/ui/applications/argocd/a/sync", &[FORM, ("Cookie", &cookie)], "");
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");

    // A wrong token opens no session.
    let wrong = http(&api, "POST", "/ui/login", &[FORM], "token=wrong");
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    assert!(!wrong.to_lowercase().contains("set-cookie"), "{wrong}");

    // The right token does; the cookie is not the token.
    let login = http(&api, "POST", "/ui/login", &[FORM], &format!("token={}", form_value(&token)));
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let set_cookie = login
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {login}"));
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    assert!(!set_cookie.contains(&token), "the cookie carries the token");
    let session =
        set_cookie.split_once(':').unwrap().1.trim().split(';').next().unwrap().to_owned();

    let page = http(&api, "GET", "/ui/rollouts", &[("Cookie", &session)], "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("content-security-policy"), "{page}");
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the page")
        .to_owned();

    let cookie_header = ("Cookie", session.as_str());
    for body in ["", "csrf=", "csrf=forged", &format!("csrf={}", &csrf[..csrf.len() - 1])] {
        let refused =
            http(&api, "POST", "/ui/rollouts/default/web/abort", &[FORM, cookie_header], body);
        assert!(refused.starts_with("HTTP/1.1 403"), "{body:?}: {refused}");
        let refused =
            http(&api, "POST", "/ui/applications/argocd/a/sync", &[FORM, cookie_header], body);
        assert!(refused.starts_with("HTTP/1.1 403"), "{body:?}: {refused}");
    }
    // With the right token the action runs (and reports that the rollout does not exist).
    let body = format!("csrf={csrf}");
    let done = http(&api, "POST", "/ui/rollouts/default/web/abort", &[FORM, cookie_header], &body);
    assert!(done.starts_with("HTTP/1.1 303"), "{done}");
    assert!(done.contains("flash=error"), "{done}");
    let header = ("X-CSRF-Token", csrf.as_str());
    let done =
        http(&api, "POST", "/ui/rollouts/default/web/abort", &[FORM, cookie_header, header], "");
    assert!(done.starts_with("HTTP/1.1 303"), "{done}");

    // After logging out the session is gone.
    let out = http(&api, "POST", "/ui/logout", &[FORM, cookie_header], &body);
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    let after = http(&api, "POST", "/ui/rollouts/default/web/abort", &[FORM, cookie_header], &body);
    assert!(after.starts_with("HTTP/1.1 401"), "{after}");
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboard/browser")
}

/// Whether node, chromium and the browser directory's node_modules are there; without them
/// the test fails under `CI` and is skipped otherwise.
fn browser_available() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let mut missing = Vec::new();
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        missing.push("node".to_owned());
    }
    if !Path::new(&chromium).exists() {
        missing.push(format!("chromium ({chromium}; apt-get install -y chromium)"));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        missing.push(format!("playwright-core (npm ci in {})", browser_dir().display()));
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!("the dashboard browser test needs {}", missing.join(", "));
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
    false
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=weir", "-c", "user.email=weir@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A git repository with a ConfigMap, a Deployment of the sample service and its Service.
fn app_repo(root: &Path) -> PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("guestbook")).unwrap();
    git(&repo, &["init", "--quiet", "-b", "main"]);
    let manifest = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: guestbook-config}}
data: {{greeting: hello}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: guestbook}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: guestbook}}}}
  template:
    metadata: {{labels: {{app: guestbook}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: guestbook
        image: example.com/guestbook:1
        command: ["{WEIR}", demo, service, --name, guestbook]
        ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: guestbook}}
spec: {{selector: {{app: guestbook}}, ports: [{{port: 8080, targetPort: 8080}}]}}
"#
    );
    std::fs::write(repo.join("guestbook/all.yaml"), manifest).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "guestbook"]);
    repo
}

fn application(repo: &Path) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: argocd}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: guestbook, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "file://{}", path: guestbook, targetRevision: HEAD}}
  destination: {{server: "https://kubernetes.default.svc", namespace: default}}
  syncPolicy: {{automated: {{prune: true}}}}
"#,
        repo.display()
    )
}

/// A canary Rollout of the sample service: set weight 50, then pause until promoted.
fn rollout(version: &str) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {{}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: example.com/web:{version}
        command: ["{WEIR}", demo, service, --name, web, --version, {version}]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
"#
    )
}

fn screenshots_dir() -> PathBuf {
    match std::env::var_os("WEIR_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap_or(Path::new(env!("CARGO_TARGET_TMPDIR")))
            .join("dashboard-screenshots"),
    }
}

#[test]
fn the_dashboard_scenario_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let weir = Weir::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = app_repo(dir.path());
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let app_file = write("application.yaml", &application(&repo));
    let (v1, v2, v3) = (
        write("v1.yaml", &rollout("v1")),
        write("v2.yaml", &rollout("v2")),
        write("v3.yaml", &rollout("v3")),
    );
    weir.ok(&["apply", "-f", &app_file]);
    weir.ok(&["apply", "-f", &v1]);
    weir.ok(&["rollouts", "status", "web", "--timeout", "180s"]);

    let screenshots = screenshots_dir();
    let output = Command::new("node")
        .arg(browser_dir().join("test.mjs"))
        .env("WEIR_URL", weir.api())
        .env("WEIR_TOKEN", token(&weir))
        .env("WEIR_BIN", WEIR)
        .env("WEIR_DATA_DIR", weir.data_dir())
        .env("ROLLOUT_V2", &v2)
        .env("ROLLOUT_V3", &v3)
        .env("SCREENSHOTS", &screenshots)
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{stdout}{stderr}\nscreenshots in {}", screenshots.display());
    assert!(output.status.success(), "the browser scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("dashboard scenario passed"), "{stdout}");
    for shot in ["04-rollout-paused", "05-rollout-promoted", "06-rollout-aborted"] {
        assert!(screenshots.join(format!("{shot}.png")).exists(), "no screenshot {shot}");
    }
}

/// Logs in over HTTP; returns the `Cookie` header value and the session's CSRF token.
fn login(weir: &Weir) -> (String, String) {
    let api = weir.api();
    let body = format!("token={}", form_value(&token(weir)));
    let login = http(&api, "POST", "/ui/login", &[FORM], &body);
    let set_cookie = login
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {login}"));
    let session =
        set_cookie.split_once(':').unwrap().1.trim().split(';').next().unwrap().to_owned();
    let page = http(&api, "GET", "/ui/applications", &[("Cookie", &session)], "");
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the page")
        .to_owned();
    (session, csrf)
}

/// `weir app sync/diff/history/rollback` and the dashboard's diff page and Sync/Rollback
/// buttons go through the same `weir_app_controller::ops`.
#[test]
fn app_sync_diff_and_rollback_from_the_cli_and_the_dashboard() {
    let weir = Weir::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("config")).unwrap();
    git(&repo, &["init", "--quiet", "-b", "main"]);
    let config_map = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{colour: {value}}}\n"
        )
    };
    let commit = |value: &str| {
        std::fs::write(repo.join("config/settings.yaml"), config_map(value)).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "--quiet", "-m", value]);
    };
    commit("blue");
    let manifest = dir.path().join("namespace.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n")
        .unwrap();
    weir.ok(&["apply", "-f", manifest.to_str().unwrap()]);
    let url = format!("file://{}", repo.display());
    weir.ok(&[
        "app",
        "create",
        "settings",
        "--repo",
        &url,
        "--path",
        "config",
        "--dest-namespace",
        "default",
    ]);

    let synced = weir.ok(&["app", "sync", "settings", "--timeout", "120"]);
    assert!(synced.contains("Phase:              Succeeded"), "{synced}");
    assert!(weir.ok(&["get", "cm", "settings", "-o", "yaml"]).contains("colour: blue"));

    // A new commit: the diff shows it, in the CLI and on the dashboard.
    commit("green");
    let (session, csrf) = login(&weir);
    let api = weir.api();
    let cookie = ("Cookie", session.as_str());
    let refreshed = http(
        &api,
        "POST",
        "/ui/applications/argocd/settings/refresh",
        &[FORM, cookie],
        &format!("csrf={csrf}"),
    );
    assert!(refreshed.contains("flash=refresh%20requested"), "{refreshed}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = Command::new(WEIR)
            .arg("--data-dir")
            .arg(weir.data_dir())
            .args(["app", "diff", "settings"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        if output.status.code() == Some(1) && text.contains("green") {
            break;
        }
        assert!(Instant::now() < deadline, "weir app diff never showed the change: {text}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let page = http(&api, "GET", "/ui/applications/argocd/settings/diff", &[cookie], "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.lines().any(|l| l.starts_with(r#"<span class="add">+"#) && l.contains("green")),
        "{page}"
    );

    // Sync from the dashboard, then roll back from the CLI to the first deployment.
    let sync = http(
        &api,
        "POST",
        "/ui/applications/argocd/settings/sync",
        &[FORM, cookie],
        &format!("csrf={csrf}"),
    );
    assert!(sync.contains("flash=sync%20started"), "{sync}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !weir.ok(&["get", "cm", "settings", "-o", "yaml"]).contains("colour: green") {
        assert!(Instant::now() < deadline, "the dashboard's sync did not apply green");
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while weir.ok(&["app", "history", "settings"]).lines().count() < 4 {
        assert!(Instant::now() < deadline, "history never had two deployments");
        std::thread::sleep(Duration::from_millis(300));
    }
    let rolled = weir.ok(&["app", "rollback", "settings", "--timeout", "120"]);
    assert!(rolled.contains("Succeeded"), "{rolled}");
    assert!(weir.ok(&["get", "cm", "settings", "-o", "yaml"]).contains("colour: blue"));

    // The dashboard's Rollback button takes a history id; a bad one is reported, not run.
    let bad = http(
        &api,
        "POST",
        "/ui/applications/argocd/settings/rollback",
        &[FORM, cookie],
        &format!("csrf={csrf}&id=99"),
    );
    assert!(bad.contains("flash=error"), "{bad}");
}
