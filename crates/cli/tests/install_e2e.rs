//! `weir install` and `weir dashboard` against a real `weir up` (the test stand-in for a
//! cluster), through the real binary, plus the one-line errors of a bad kubeconfig.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use support::{WEIR, Weir};

/// Installing twice: the first run creates everything (CRDs that the server already serves
/// are `kept`), the second changes nothing; the Deployment is what was rendered.
#[test]
fn install_creates_then_keeps_everything() {
    let weir = Weir::start();
    let first = weir.ok(&["install"]);
    for line in [
        "namespace/weir-system created",
        "serviceaccount/weir-controller created",
        "clusterrole/weir-controller created",
        "clusterrolebinding/weir-controller created",
        "deployment/weir-controller created",
        "service/weir-controller created",
    ] {
        assert!(first.lines().any(|l| l == line), "{line:?} missing in:\n{first}");
    }
    let crd_lines: Vec<&str> =
        first.lines().filter(|l| l.starts_with("customresourcedefinition/")).collect();
    assert_eq!(crd_lines.len(), 7, "{first}");
    for line in &crd_lines {
        assert!(line.ends_with(" kept") || line.ends_with(" created"), "{line}");
    }

    let second = weir.ok(&["install"]);
    for line in second.lines() {
        let expected =
            if line.starts_with("customresourcedefinition/") { " kept" } else { " unchanged" };
        assert!(line.ends_with(expected), "second install changed something: {line}");
    }
    assert_eq!(second.lines().count(), first.lines().count());

    let json =
        weir.ok(&["get", "deployment", "weir-controller", "-n", "weir-system", "-o", "json"]);
    let deployment: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], format!("ghcr.io/weir-dev/weir:{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(container["args"][1], "--leader-elect");
}

/// `--dry-run -o yaml` talks to nobody: it works with no weir and no cluster at all.
#[test]
fn dry_run_needs_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(WEIR)
        .args(["install", "--namespaced", "--namespace", "team-a", "--dry-run", "-o", "yaml"])
        .arg("--kubeconfig")
        .arg(dir.path().join("absent"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("kind: Role\n") && text.contains("kind: RoleBinding\n"), "{text}");
    assert!(text.contains("- team-a\n"), "the controller is not limited to team-a:\n{text}");
}

/// A kubeconfig that is missing, or names a context it lacks, or points at a port nobody
/// listens on: one line on standard error each, exit code 1.
#[test]
fn bad_kubeconfigs_are_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "current-context: c\nclusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\n\
             contexts:\n- name: c\n  context: {{cluster: k}}\n"
        ),
    )
    .unwrap();
    let absent = dir.path().join("absent");
    let config_arg = config.to_str().unwrap();
    let absent_arg = absent.to_str().unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--kubeconfig", absent_arg], format!("kubeconfig {absent_arg} does not exist")),
        (
            vec!["--kubeconfig", config_arg, "--context", "prod"],
            "has no context \"prod\"".to_owned(),
        ),
        (
            vec!["--kubeconfig", config_arg],
            format!("cannot reach the cluster at https://127.0.0.1:{port}"),
        ),
    ];
    for (flags, expected) in cases {
        let output = Command::new(WEIR)
            .args(&flags)
            .args(["get", "rollouts"])
            .env_remove("KUBECONFIG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&expected), "{stderr:?} lacks {expected:?}");
    }
}

/// `weir dashboard` serves the UI on 127.0.0.1 with a login token of its own: the printed
/// token opens a session, the API token and a wrong one do not.
#[test]
fn dashboard_serves_the_ui_behind_its_own_token() {
    let weir = Weir::start();
    let mut child = Command::new(WEIR)
        .arg("--data-dir")
        .arg(weir.data_dir())
        .args(["dashboard", "--port", "0"])
        .env_remove("WEIR_SERVER")
        .env_remove("WEIR_TOKEN")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut address = String::new();
    let mut token = String::new();
    for line in lines.by_ref().take(3) {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", url, ..] => {
                address = url.trim_start_matches("http://").trim_end_matches("/ui/").to_owned()
            }
            ["token", value, ..] => token = (*value).to_owned(),
            _ => {}
        }
    }
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert_eq!(token.len(), 64);

    let api_token = std::fs::read_to_string(weir.data_dir().join("token")).unwrap();
    for wrong in ["nope", api_token.trim()] {
        let refused = http(&address, "POST", "/ui/login", &[], &format!("token={wrong}"));
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    }
    let login = http(&address, "POST", "/ui/login", &[], &format!("token={token}"));
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let page = http(&address, "GET", "/ui/rollouts", &[("Cookie", &cookie)], "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    support::stop_gracefully(&mut child);
    assert!(child.wait().unwrap().success());
}

fn http(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The client commands through a kubeconfig (the Kubernetes backend, weir-kube over kube-rs),
/// with weir's own API as the cluster: what `apply`, `get`, `logs` and `delete` do there is
/// read back through weir's own client.
#[test]
fn client_commands_work_through_a_kubeconfig() {
    let weir = Weir::start();
    let kubeconfig = weir.data_dir().join("kubeconfig");
    let kubeconfig = kubeconfig.to_str().unwrap();
    let through_kube = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig];
        all.extend_from_slice(args);
        weir.ok(&all)
    };
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("app.yaml");
    std::fs::write(
        &manifests,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: kube-cli}\n\
         data: {colour: blue}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: talker, namespace: kube-cli}\n\
         spec:\n  replicas: 1\n  selector: {matchLabels: {app: talker}}\n  template:\n    \
         metadata: {labels: {app: talker}}\n    spec:\n      containers:\n      - name: main\n        \
         image: busybox\n        command: [sh, -c, 'echo hello-through-kube; sleep 3600']\n\
         ---\napiVersion: v1\nkind: Namespace\nmetadata: {name: kube-cli}\n",
    )
    .unwrap();

    assert!(through_kube(&["version"]).contains("the cluster at https://127.0.0.1"));
    let applied = through_kube(&["apply", "-f", manifests.to_str().unwrap()]);
    assert!(applied.contains("namespace/kube-cli created"), "{applied}");
    assert!(applied.contains("configmap/settings created"), "{applied}");
    let stored = weir.ok(&["get", "configmap", "settings", "-n", "kube-cli", "-o", "json"]);
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["data"]["colour"], "blue");
    let listed = through_kube(&["get", "deployments", "-n", "kube-cli"]);
    assert!(listed.contains("talker"), "{listed}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let logged = loop {
        let pods = weir.ok(&["get", "pods", "-n", "kube-cli", "-o", "json"]);
        let pods: serde_json::Value = serde_json::from_str(&pods).unwrap();
        let name = pods["items"][0]["metadata"]["name"].as_str().map(str::to_owned);
        if let Some(name) = name {
            let output = weir.run(&["--kubeconfig", kubeconfig, "logs", &name, "-n", "kube-cli"]);
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            if text.contains("hello-through-kube") {
                break text;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no log line through the kubeconfig");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(logged.contains("hello-through-kube"));

    through_kube(&["delete", "configmap", "settings", "-n", "kube-cli"]);
    weir.fails(&["get", "configmap", "settings", "-n", "kube-cli"]);
}

/// A TCP server on 127.0.0.1 that answers every connection with a plain-text HTTP reply, so
/// that a TLS client fails its handshake; it stops by itself after `connections` or 30 s.
fn plain_text_server(connections: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut served = 0;
        while served < connections && std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    served += 1;
                    let _ =
                        stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    });
    port
}

/// Part 5 "Bad input": `weir controller` with a kubeconfig that cannot be read (a directory,
/// not YAML) or points nowhere (nobody listens; a server that does not speak TLS): one line on
/// standard error naming the file or the server and what is wrong, exit code 1.
#[test]
fn the_controller_rejects_bad_kubeconfigs_in_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let refused_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tls_port = plain_text_server(8);
    let write_config = |name: &str, server: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
                 clusters:\n- name: k\n  cluster: {{server: '{server}', insecure-skip-tls-verify: true}}\n\
                 contexts:\n- name: c\n  context: {{cluster: k, user: u}}\n\
                 users:\n- name: u\n  user: {{token: t}}\n"
            ),
        )
        .unwrap();
        path
    };
    let refused = write_config("refused", &format!("https://127.0.0.1:{refused_port}"));
    let not_tls = write_config("not-tls", &format!("https://127.0.0.1:{tls_port}"));
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "clusters: [this is: not: a kubeconfig\n").unwrap();
    let directory = dir.path().join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    let cases = [
        (directory.clone(), format!("cannot read kubeconfig {}", directory.display())),
        (garbage.clone(), format!("cannot read kubeconfig {}", garbage.display())),
        (
            refused.clone(),
            format!("cannot reach the Kubernetes API at https://127.0.0.1:{refused_port}"),
        ),
        (
            not_tls.clone(),
            format!("cannot reach the Kubernetes API at https://127.0.0.1:{tls_port}"),
        ),
    ];
    for (kubeconfig, expected) in cases {
        let output = Command::new(WEIR)
            .args(["controller", "--port", "0", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("KUBECONFIG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{kubeconfig:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{kubeconfig:?}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{stderr}");
        assert!(lines[0].contains(&expected), "{stderr:?} lacks {expected:?}");
    }
}

/// Part 5 "Bad input": a cluster whose Rollouts CRD comes from an older Argo release (its
/// schema lacks `status.canary.weights`, which the API server then prunes from every write).
/// `weir controller` names the CRD and the fields in one warning line and keeps running.
#[test]
fn the_controller_names_an_older_crd_and_the_fields_it_lacks() {
    let weir = Weir::start_with(&["--controllers", "none"]);
    let crds_json = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../apimachinery/data/crds.json"),
    )
    .unwrap();
    let crds: Vec<serde_json::Value> = serde_json::from_str(&crds_json).unwrap();
    let mut older =
        crds.into_iter().find(|c| c["metadata"]["name"] == "rollouts.argoproj.io").unwrap();
    let canary = older
        .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/canary/properties")
        .unwrap();
    canary.as_object_mut().unwrap().remove("weights").unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&older).unwrap()).unwrap();
    weir.ok(&["apply", "-f", file.path().to_str().unwrap()]);

    let mut controller = Command::new(WEIR)
        .args(["controller", "--port", "0", "--kubeconfig"])
        .arg(weir.data_dir().join("kubeconfig"))
        .arg("--data-dir")
        .arg(weir.data_dir())
        .env("WEIR_LOG", "warn")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = controller.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    let warning = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("is older than weir's") => break line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no warning about the older CRD; the controller said: {seen:?}"),
        }
    };
    assert!(warning.contains("rollouts.argoproj.io"), "{warning}");
    assert!(warning.contains("status.canary.weights"), "{warning}");
    assert!(controller.try_wait().unwrap().is_none(), "the controller must keep running");
    let _ = controller.kill();
    let _ = controller.wait();
}
