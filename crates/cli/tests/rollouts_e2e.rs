//! Progressive delivery end to end, with real processes and real traffic: the `weir` binary
//! (`weir up`), pods running `weir demo service` (which answers with its version), the mesh
//! listener in front of them, and `weir rollouts` to steer. Requests are counted by the
//! version that answered:
//! - a canary at 10 % → 20 % → 50 % serves each share within ±5 points (≥ 400 requests per
//!   check), then promotes to 100 %; an abort under continuous load puts every request back
//!   on stable with none failing;
//! - a blue-green switch under load fails no request;
//! - `weir up` killed with SIGKILL mid-rollout and started again finishes the rollout;
//! - the restart soak ([`restart_soak`]): weir killed three times during a canary under load
//!   through the gateway, printing the failed-request window of each restart.

#[path = "rollouts_e2e/restart_soak.rs"]
mod restart_soak;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{WEIR, Weir};

/// What these tests ask of a running weir, on top of the shared harness.
trait RolloutsHarness {
    fn apply(&self, dir: &Path, name: &str, yaml: &str);
    fn get(&self, kind: &str, name: &str) -> Value;
    fn rollout_status(&self, name: &str) -> Value;
}

impl RolloutsHarness for Weir {
    fn apply(&self, dir: &Path, name: &str, yaml: &str) {
        let file = dir.join(name);
        std::fs::write(&file, yaml).expect("write manifest");
        self.ok(&["apply", "-f", file.to_str().expect("path")]);
    }

    fn get(&self, kind: &str, name: &str) -> Value {
        let yaml = self.ok(&["get", kind, name, "-o", "yaml"]);
        serde_yaml_ng::from_str(&yaml).expect("yaml")
    }

    fn rollout_status(&self, name: &str) -> Value {
        self.get("rollouts", name)["status"].clone()
    }
}

/// One request through the mesh listener (as a pod sends it): `(status line, version)`.
fn request(mesh: &str, host: &str) -> Seen {
    let addr = mesh.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return ("connect failed".into(), None);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let head = format!("GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return ("write failed".into(), None);
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.lines().next().unwrap_or("no response").to_owned();
    let version = response
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|b| b["version"].as_str().map(str::to_owned));
    (status, version)
}

/// The share (percent) of `version` among `n` successful requests; fails on any error.
fn share(mesh: &str, host: &str, version: &str, n: usize) -> f64 {
    let mut hits = 0;
    for _ in 0..n {
        let (status, got) = request(mesh, host);
        assert!(status.starts_with("HTTP/1.1 200"), "request failed: {status}");
        hits += usize::from(got.as_deref() == Some(version));
    }
    hits as f64 * 100.0 / n as f64
}

/// Waits (≤ 90 s) for `check`, printing `what` on timeout.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What one request saw: its status line and the version that answered.
type Seen = (String, Option<String>);

/// Load from two clients until stopped: every status line and version seen.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<std::thread::JoinHandle<Vec<Seen>>>,
}

impl Load {
    fn start(mesh: &str, host: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..2)
            .map(|_| {
                let (mesh, host, stop) = (mesh.to_owned(), host.to_owned(), stop.clone());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(180);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        seen.push(request(&mesh, &host));
                    }
                    seen
                })
            })
            .collect();
        Load { stop, clients }
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.clients.into_iter().flat_map(|c| c.join().expect("client")).collect()
    }
}

fn assert_none_failed(seen: &[Seen]) {
    let failed: Vec<&String> =
        seen.iter().map(|(s, _)| s).filter(|s| !s.starts_with("HTTP/1.1 200")).collect();
    assert!(seen.len() > 50, "too few requests under load: {}", seen.len());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        seen.len(),
        &failed[..failed.len().min(5)]
    );
}

/// The demo service as a pod template at `version`.
fn pod_template(version: &str) -> String {
    format!(
        r#"    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: weir-demo-web:{version}
        command: ["{WEIR}", demo, service, --name, web, --version, {version}]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
"#
    )
}

/// Service, DestinationRule (subsets stable/canary) and VirtualService for `web`.
const MESH: &str = r#"apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: stable, labels: {app: web}}
  - {name: canary, labels: {app: web}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - name: primary
    route:
    - {destination: {host: web, subset: stable}, weight: 100}
    - {destination: {host: web, subset: canary}, weight: 0}
"#;

fn canary_rollout(version: &str) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  strategy:
    canary:
      abortScaleDownDelaySeconds: 2
      scaleDownDelaySeconds: 2
      trafficRouting:
        istio:
          virtualService: {{name: web, routes: [primary]}}
          destinationRule: {{name: web, canarySubsetName: canary, stableSubsetName: stable}}
      steps:
      - setWeight: 10
      - pause: {{}}
      - setWeight: 20
      - pause: {{}}
      - setWeight: 50
      - pause: {{}}
  template:
{}"#,
        pod_template(version)
    )
}

fn paused_at(weir: &Weir, index: i64) -> bool {
    let st = weir.rollout_status("web");
    st["phase"] == "Paused" && st["currentStepIndex"] == index
}

fn healthy_on(weir: &Weir, version_hash: Option<&str>) -> bool {
    let st = weir.rollout_status("web");
    st["phase"] == "Healthy"
        && st["stableRS"].is_string()
        && version_hash.is_none_or(|h| st["stableRS"] == h)
        && st["stableRS"] == st["currentPodHash"]
}

/// Measures the canary share until it is within ±5 of `weight` (the proxy may still be
/// installing the new table during the first batch); three batches of 400 at most.
fn assert_split(mesh: &str, version: &str, weight: f64) {
    let mut shares = Vec::new();
    for _ in 0..3 {
        let got = share(mesh, "web.default:8080", version, 400);
        shares.push(got);
        if (got - weight).abs() <= 5.0 {
            return;
        }
    }
    panic!("{version} should get {weight} % of requests, got {shares:?}");
}

#[test]
fn canary_split_follows_the_steps_then_abort_under_load_fails_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let weir = Weir::start_in(&dir.path().join("data"), &[]);
    let mesh = weir.endpoint("mesh");
    weir.apply(dir.path(), "mesh.yaml", MESH);
    weir.apply(dir.path(), "rollout.yaml", &canary_rollout("v1"));
    wait_for("v1 Healthy", || healthy_on(&weir, None));
    wait_for("v1 serving", || share(&mesh, "web.default:8080", "v1", 20) == 100.0);

    // v2: 10 %, 20 %, 50 % at the pauses, then 100 %.
    weir.apply(dir.path(), "rollout.yaml", &canary_rollout("v2"));
    for (index, weight) in [(1, 10.0), (3, 20.0), (5, 50.0)] {
        wait_for(&format!("paused at {weight} %"), || paused_at(&weir, index));
        assert_split(&mesh, "v2", weight);
        weir.ok(&["rollouts", "promote", "web"]);
    }
    wait_for("v2 Healthy", || healthy_on(&weir, None));
    assert_split(&mesh, "v2", 100.0);

    // v3 under continuous load: 10 %, promote to 20 %, abort: every request back on v2.
    let load = Load::start(&mesh, "web.default:8080");
    weir.apply(dir.path(), "rollout.yaml", &canary_rollout("v3"));
    wait_for("v3 paused at 10 %", || paused_at(&weir, 1));
    weir.ok(&["rollouts", "promote", "web"]);
    wait_for("v3 paused at 20 %", || paused_at(&weir, 3));
    weir.ok(&["rollouts", "abort", "web"]);
    wait_for("aborted, canary scaled down", || {
        let st = weir.rollout_status("web");
        let weights = &st["canary"]["weights"];
        let rss = weir.ok(&["get", "replicasets", "-o", "yaml"]);
        let list: Value = serde_yaml_ng::from_str(&rss).expect("yaml");
        let canary_pods: i64 = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["metadata"]["labels"]["rollouts-pod-template-hash"] == st["currentPodHash"]
            })
            .filter_map(|r| r["status"]["replicas"].as_i64())
            .sum();
        st["phase"] == "Degraded" && weights["canary"]["weight"] == 0 && canary_pods == 0
    });
    std::thread::sleep(Duration::from_secs(1));
    let seen = load.finish();
    assert_none_failed(&seen);
    assert!(seen.iter().any(|(_, v)| v.as_deref() == Some("v3")), "v3 served during the canary");
    assert_eq!(share(&mesh, "web.default:8080", "v2", 100), 100.0, "all traffic on stable");
}

const BLUE_GREEN_SERVICES: &str = r#"apiVersion: v1
kind: Service
metadata: {name: web-active, namespace: default}
spec: {selector: {app: web}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-preview, namespace: default}
spec: {selector: {app: web}, ports: [{port: 8080, targetPort: 8080}]}
"#;

fn blue_green_rollout(version: &str) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  strategy:
    blueGreen:
      activeService: web-active
      previewService: web-preview
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 3
  template:
{}"#,
        pod_template(version)
    )
}

#[test]
fn a_blue_green_switch_under_load_fails_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let weir = Weir::start_in(&dir.path().join("data"), &[]);
    let mesh = weir.endpoint("mesh");
    weir.apply(dir.path(), "services.yaml", BLUE_GREEN_SERVICES);
    weir.apply(dir.path(), "rollout.yaml", &blue_green_rollout("v1"));
    wait_for("blue Healthy", || healthy_on(&weir, None));
    wait_for("blue serving", || share(&mesh, "web-active.default:8080", "v1", 20) == 100.0);

    let load = Load::start(&mesh, "web-active.default:8080");
    weir.apply(dir.path(), "rollout.yaml", &blue_green_rollout("v2"));
    wait_for("green previewed, paused", || weir.rollout_status("web")["phase"] == "Paused");
    assert_eq!(share(&mesh, "web-preview.default:8080", "v2", 20), 100.0, "preview is green");
    assert_eq!(share(&mesh, "web-active.default:8080", "v1", 20), 100.0, "active still blue");
    weir.ok(&["rollouts", "promote", "web"]);
    wait_for("green active, blue scaled down", || {
        let st = weir.rollout_status("web");
        st["phase"] == "Healthy" && st["stableRS"] == st["currentPodHash"] && st["replicas"] == 2
    });
    std::thread::sleep(Duration::from_secs(1));
    let seen = load.finish();
    assert_none_failed(&seen);
    let versions: std::collections::BTreeSet<_> =
        seen.iter().filter_map(|(_, v)| v.clone()).collect();
    assert_eq!(versions.len(), 2, "both versions answered on the active service: {versions:?}");
    assert_eq!(share(&mesh, "web-active.default:8080", "v2", 50), 100.0);
}

#[test]
fn weir_killed_mid_rollout_finishes_it_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let weir = Weir::start_in(&data, &[]);
    weir.apply(dir.path(), "mesh.yaml", MESH);
    weir.apply(dir.path(), "rollout.yaml", &canary_rollout("v1"));
    wait_for("v1 Healthy", || healthy_on(&weir, None));
    weir.apply(dir.path(), "rollout.yaml", &canary_rollout("v2"));
    wait_for("paused at 10 %", || paused_at(&weir, 1));
    let v2 = weir.rollout_status("web")["currentPodHash"].as_str().expect("hash").to_owned();
    weir.ok(&["rollouts", "promote", "web"]);
    // SIGKILL right after the promotion: the next steps run in the next life.
    weir.kill();
    let weir = Weir::start_in(&data, &[]);
    wait_for("paused at 20 % after the restart", || paused_at(&weir, 3));
    weir.ok(&["rollouts", "promote", "web"]);
    wait_for("paused at 50 %", || paused_at(&weir, 5));
    weir.kill();
    let weir = Weir::start_in(&data, &[]);
    weir.ok(&["rollouts", "promote", "web"]);
    wait_for("v2 Healthy", || healthy_on(&weir, Some(&v2)));
    let vs = weir.get("virtualservices", "web");
    let route = &vs["spec"]["http"][0]["route"];
    assert_eq!(route[0]["weight"], 100, "{route}");
    assert_eq!(route[1]["weight"], 0, "{route}");
    let mesh = weir.endpoint("mesh");
    wait_for("v2 serving everything", || share(&mesh, "web.default:8080", "v2", 50) == 100.0);
}
