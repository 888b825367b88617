//! The restart soak (issue 16 item 2), from the user's side: a canary Rollout with a
//! background analysis on weir's own proxy statistics, paused at 50 %, with steady traffic
//! (about 20 requests a second) through the gateway; `weir up` is killed with SIGKILL three
//! times and started again on the same data directory and ports.
//!
//! Printed (never asserted: timings depend on the machine): each restart's failed requests
//! and failed window. Asserted: the canary was never aborted and its analysis never failed
//! because of weir's restarts, the Rollout completes after the promotion, no pod process was
//! duplicated while weir restarted, and none is left once weir stops.
//!
//! `bench/restart.sh` runs the same scenario ten times over with a release build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::support::{WEIR, Weir};
use super::{RolloutsHarness, healthy_on, paused_at, wait_for};

/// The Host the gateway routes to the `web` service.
const HOST: &str = "web.example";

/// Service, DestinationRule, Gateway, a gateway-bound VirtualService and the analysis.
const OBJECTS: &str = r#"apiVersion: v1
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
kind: Gateway
metadata: {name: web-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [web.example]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example]
  gateways: [web-gateway]
  http:
  - name: primary
    route:
    - {destination: {host: web, subset: stable}, weight: 100}
    - {destination: {host: web, subset: canary}, weight: 0}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate, namespace: default}
spec:
  args:
  - name: canary-hash
  metrics:
  - name: success-rate
    interval: 2s
    failureLimit: 1
    successCondition: isNaN(result) || result >= 95
    provider:
      plugin:
        weir/builtin:
          metric: request-success-rate
          service: web
          namespace: default
          podTemplateHash: "{{args.canary-hash}}"
          window: 6s
"#;

/// The Rollout at `version`; `marker` is in every pod's command line (to count processes).
fn rollout(version: &str, marker: &str) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  strategy:
    canary:
      scaleDownDelaySeconds: 2
      analysis:
        templates: [{{templateName: success-rate}}]
        startingStep: 1
        args:
        - name: canary-hash
          valueFrom: {{podTemplateHashValue: Latest}}
      trafficRouting:
        istio:
          virtualService: {{name: web, routes: [primary]}}
          destinationRule: {{name: web, canarySubsetName: canary, stableSubsetName: stable}}
      steps:
      - setWeight: 50
      - pause: {{}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: weir-demo-web:{version}
        command: ["{WEIR}", demo, service, --name, {marker}, --version, {version}]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
"#
    )
}

/// One request through the gateway: whether it was answered 200.
fn through_gateway(gateway: &str) -> bool {
    let addr = gateway.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let head = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// Requests at about 20 a second until stopped: when each was sent and whether it succeeded.
struct SteadyLoad {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, bool)>>>,
    client: std::thread::JoinHandle<()>,
}

impl SteadyLoad {
    fn start(gateway: &str) -> SteadyLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (gateway, flag, log) = (gateway.to_owned(), stop.clone(), seen.clone());
        let client = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(600);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let sent = Instant::now();
                let ok = through_gateway(&gateway);
                log.lock().expect("log").push((sent, ok));
                std::thread::sleep(Duration::from_millis(50).saturating_sub(sent.elapsed()));
            }
        });
        SteadyLoad { stop, seen, client }
    }

    /// Failed requests sent in `[from, to)` and the window from the first to the last of them.
    fn failures_between(&self, from: Instant, to: Instant) -> (usize, usize, Duration) {
        let seen = self.seen.lock().expect("log");
        let slice: Vec<&(Instant, bool)> =
            seen.iter().filter(|(t, _)| *t >= from && *t < to).collect();
        let failed: Vec<Instant> = slice.iter().filter(|(_, ok)| !ok).map(|(t, _)| *t).collect();
        let window = match (failed.first(), failed.last()) {
            (Some(first), Some(last)) => *last - *first + Duration::from_millis(50),
            _ => Duration::ZERO,
        };
        (failed.len(), slice.len(), window)
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.client.join().expect("client");
    }
}

/// Processes whose command line holds `marker` (the soak's pods; other tests' pods differ).
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            });
            !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == marker.as_bytes())
        })
        .collect()
}

/// Pods of the Rollout that are Running with their container's pid.
fn running_pods(weir: &Weir) -> usize {
    let yaml = weir.ok(&["get", "pods", "-o", "yaml"]);
    let list: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("yaml");
    list["items"]
        .as_array()
        .map(|pods| {
            pods.iter()
                .filter(|p| {
                    p["metadata"]["deletionTimestamp"].is_null()
                        && p["status"]["phase"] == "Running"
                        && p["status"]["containerStatuses"][0]["containerID"].is_string()
                })
                .count()
        })
        .unwrap_or(0)
}

/// A port the OS says is free now (so that weir keeps it across restarts).
fn free_port() -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    listener.local_addr().expect("addr").port().to_string()
}

fn start(data: &Path, gateway_port: &str, mesh_port: &str) -> Weir {
    Weir::start_in(data, &["--gateway-port", gateway_port, "--mesh-port", mesh_port])
}

#[test]
fn three_kill_9_during_a_canary_under_load_neither_abort_it_nor_leave_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let marker = format!("soak-{}", std::process::id());
    let (gateway_port, mesh_port) = (free_port(), free_port());
    let mut weir = start(&data, &gateway_port, &mesh_port);
    weir.apply(dir.path(), "objects.yaml", OBJECTS);
    weir.apply(dir.path(), "rollout.yaml", &rollout("v1", &marker));
    wait_for("v1 Healthy", || healthy_on(&weir, None));
    weir.apply(dir.path(), "rollout.yaml", &rollout("v2", &marker));
    wait_for("paused at 50 %", || paused_at(&weir, 1));
    let v2 = weir.rollout_status("web")["currentPodHash"].as_str().expect("hash").to_owned();
    let gateway = weir.endpoint("gateway");
    wait_for("the gateway serving", || through_gateway(&gateway));

    let load = SteadyLoad::start(&gateway);
    std::thread::sleep(Duration::from_secs(4));
    let mut kills = Vec::new();
    for _ in 0..3 {
        kills.push(Instant::now());
        weir.kill();
        weir = start(&data, &gateway_port, &mesh_port);
        // Never two processes for one pod, whatever weir adopted or restarted.
        wait_for("one process per running pod", || {
            processes_with(&marker).len() == running_pods(&weir)
        });
        std::thread::sleep(Duration::from_secs(8));
    }
    kills.push(Instant::now());
    for (n, pair) in kills.windows(2).enumerate() {
        let (failed, sent, window) = load.failures_between(pair[0], pair[1]);
        eprintln!(
            "restart {}: {failed} of {sent} requests failed through the gateway, failed window {} ms",
            n + 1,
            window.as_millis()
        );
    }

    let status = weir.rollout_status("web");
    assert_ne!(status["abort"], true, "weir's restarts aborted the canary: {status}");
    assert_eq!(status["phase"], "Paused", "{status}");
    let run = &status["canary"]["currentBackgroundAnalysisRunStatus"];
    assert!(
        !matches!(run["status"].as_str(), Some("Failed" | "Error")),
        "the background analysis failed across weir's restarts: {run}"
    );
    weir.ok(&["rollouts", "promote", "web"]);
    wait_for("v2 Healthy", || healthy_on(&weir, Some(&v2)));
    load.finish();
    let status = weir.stop();
    assert!(status.success(), "weir up did not stop cleanly: {status}");
    let left = processes_with(&marker);
    assert!(left.is_empty(), "pod processes outlived weir: {left:?}");
}
