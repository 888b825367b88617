//! `weir controller` as a second process: `weir up --controllers none` is the cluster, and
//! `weir controller --kubeconfig …` reaches it only through kube-rs.
//! - bad configuration: one clear line and exit code 1;
//! - two controllers with `--leader-elect`: one leads and rolls a canary Rollout to its pause;
//!   it is killed with SIGKILL; the standby takes the Lease and, after `weir rollouts promote`,
//!   completes the rollout.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{WEIR, Weir, stop_gracefully};

/// A kubeconfig for the plain-HTTP API with weir's bearer token (weir's own
/// `DATA_DIR/kubeconfig` is used when it writes one).
fn kubeconfig(weir: &Weir) -> PathBuf {
    let written = weir.data_dir().join("kubeconfig");
    if written.exists() {
        return written;
    }
    let token = std::fs::read_to_string(weir.data_dir().join("token")).expect("token");
    let path = weir.data_dir().join("test-kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: weir\n\
         clusters:\n- name: weir\n  cluster:\n    server: {}\n\
         contexts:\n- name: weir\n  context:\n    cluster: weir\n    user: weir\n    namespace: default\n\
         users:\n- name: weir\n  user:\n    token: {}\n",
        weir.api(),
        token.trim()
    );
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

/// A `weir controller` process named `name` (its Lease identity starts with it).
struct Controller {
    child: Child,
}

impl Controller {
    fn start(kubeconfig: &Path, data_dir: &Path, name: &str) -> Controller {
        let child = Command::new(WEIR)
            .args(["controller", "--kubeconfig"])
            .arg(kubeconfig)
            .arg("--data-dir")
            .arg(data_dir.join(name))
            .args(["--leader-elect", "--lease-namespace", "default", "--port", "0"])
            .args(["--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "1"])
            .env("HOSTNAME", name)
            .env("WEIR_LOG", "warn")
            .env_remove("KUBECONFIG")
            .stdout(Stdio::null())
            .spawn()
            .expect("start weir controller");
        Controller { child }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        stop_gracefully(&mut self.child);
    }
}

fn get(weir: &Weir, kind: &str, name: &str, ns: &str) -> Value {
    let output = weir.run(&["get", kind, name, "-n", ns, "-o", "json"]);
    if !output.status.success() {
        return Value::Null;
    }
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_missing_kubeconfig_is_one_line_and_exit_code_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let output = Command::new(WEIR)
        .args(["controller", "--kubeconfig"])
        .arg(&missing)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: cannot read kubeconfig"), "{stderr}");
    assert!(lines[0].contains("nope"), "{stderr}");
}

const ROLLOUT: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: ctl
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: app
  namespace: ctl
spec:
  replicas: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: example/app:1
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {}
      - setWeight: 100
";

const CONFIG: &str = "\
images:
  example/app:1: [/bin/sh, -c, exec sleep 600]
  example/app:2: [/bin/sh, -c, exec sleep 600]
";

#[test]
fn the_standby_controller_finishes_a_rollout_after_the_leader_is_killed() {
    let weir = Weir::start_configured(Some(CONFIG), &["--controllers", "none"]);
    let kubeconfig = kubeconfig(&weir);
    let work = tempfile::tempdir().expect("tempdir");
    let manifest = work.path().join("rollout.yaml");
    std::fs::write(&manifest, ROLLOUT).expect("manifest");
    weir.ok(&["apply", "-f", manifest.to_str().expect("path")]);

    let mut a = Controller::start(&kubeconfig, work.path(), "ctl-a");
    let mut b = Controller::start(&kubeconfig, work.path(), "ctl-b");
    let holder = || {
        get(&weir, "leases", "weir-controller", "default")["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    wait_for("a leader", Duration::from_secs(60), || !holder().is_empty());
    let status = || get(&weir, "rollouts", "app", "ctl")["status"].clone();
    let stable =
        |s: &Value| s["currentPodHash"].as_str().is_some() && s["currentPodHash"] == s["stableRS"];
    wait_for("the first version to be stable", Duration::from_secs(90), || stable(&status()));
    let first = status()["stableRS"].clone();

    weir.ok(&["rollouts", "set", "image", "app", "app=example/app:2", "-n", "ctl"]);
    wait_for("the pause after 50 %", Duration::from_secs(90), || {
        let s = status();
        s["currentStepIndex"] == 1 && s["pauseConditions"].as_array().is_some_and(|p| !p.is_empty())
    });

    // Kill the leader as kill -9 would: no release, the standby waits out the lease.
    let leader = holder();
    let (dead, standby) =
        if leader.starts_with("ctl-a") { (&mut a, "ctl-b") } else { (&mut b, "ctl-a") };
    dead.child.kill().expect("kill the leader");
    let _ = dead.child.wait();
    wait_for("the standby to lead", Duration::from_secs(60), || holder().starts_with(standby));

    weir.ok(&["rollouts", "promote", "app", "-n", "ctl"]);
    wait_for("the second version to be stable", Duration::from_secs(90), || {
        let s = status();
        stable(&s) && s["stableRS"] != first && s["currentStepIndex"] == 3
    });
    let lease = get(&weir, "leases", "weir-controller", "default");
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "one hand-over: {lease}");
}
