//! `weir controller` as a second process: `weir up --controllers none` is the cluster, and
//! `weir controller --kubeconfig …` reaches it only through kube-rs.
//! - bad configuration: one clear line and exit code 1;
//! - two controllers with `--leader-elect`: one leads and rolls a canary Rollout to its pause;
//!   it is killed with SIGKILL; the standby takes the Lease and, after `weir rollouts promote`,
//!   completes the rollout;
//! - faults between the controller and the API: a TCP proxy in between drops connections
//!   (watches mid-body), delays requests and answers 429 and 503 in turns while a canary with
//!   Istio routing and an analysis step progresses: the rollout completes without a controller
//!   restart, nothing is created twice, no step is skipped or repeated, and status and
//!   VirtualService agree at every pause.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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

// ---------------------------------------------------------------------------------------------
// Faults between `weir controller` and the API (issue 13, "Faults between controller and API").

/// How the fault proxy treats connections during one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Everything passes through.
    Heal,
    /// Every connection is cut after a short, varying lifetime (watches mid-body, requests
    /// mid-flight: a write may land without its answer); live connections are cut at once.
    Drop,
    /// Every chunk, either way (requests, responses, watch events), is held for [`DELAY`]
    /// before it goes on.
    Delay,
    /// Every new connection's request is answered with this code (429 or 503) and a
    /// `Retry-After`; live connections are cut at once so that pooled ones cannot slip past.
    Refuse(u16),
}

/// How long [`Fault::Delay`] holds each chunk.
const DELAY: Duration = Duration::from_millis(2500);

/// What the proxy did, per fault (the test checks that every fault really happened).
#[derive(Debug, Default)]
struct FaultCounts {
    connections: AtomicUsize,
    cut: AtomicUsize,
    delayed: AtomicUsize,
    refused_429: AtomicUsize,
    refused_503: AtomicUsize,
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    fault: Mutex<Fault>,
    /// Both sockets of every live connection, by connection number.
    live: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
    next: AtomicU64,
    counts: FaultCounts,
    stop: AtomicBool,
}

impl ProxyState {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cut(&self, id: u64) {
        let taken = self.live.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        if let Some((client, upstream)) = taken {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            self.counts.cut.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn cut_all(&self) {
        let ids: Vec<u64> =
            self.live.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
        for id in ids {
            self.cut(id);
        }
    }
}

/// A TCP proxy between `weir controller` and weir's API (plain HTTP), whose behaviour the test
/// switches between the [`Fault`]s. Threads only: the test is synchronous, and a TCP proxy is
/// what sits between a controller and a real API server (a load balancer).
struct FaultProxy {
    addr: String,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            fault: Mutex::new(Fault::Heal),
            live: Mutex::default(),
            next: AtomicU64::new(0),
            counts: FaultCounts::default(),
            stop: AtomicBool::new(false),
        });
        std::thread::spawn({
            let state = state.clone();
            move || {
                while !state.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let state = state.clone();
                            std::thread::spawn(move || serve_connection(&state, client));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        });
        FaultProxy { addr, state }
    }

    fn set(&self, fault: Fault) {
        *self.state.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
        if matches!(fault, Fault::Drop | Fault::Refuse(_)) {
            self.state.cut_all();
        }
    }

    fn counts(&self) -> &FaultCounts {
        &self.state.counts
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.state.cut_all();
    }
}

fn serve_connection(state: &Arc<ProxyState>, client: TcpStream) {
    let _ = client.set_nonblocking(false);
    let id = state.next.fetch_add(1, Ordering::SeqCst);
    state.counts.connections.fetch_add(1, Ordering::SeqCst);
    let fault = state.fault();
    if let Fault::Refuse(code) = fault {
        refuse(state, client, code);
        return;
    }
    let Ok(upstream) = TcpStream::connect(&state.upstream) else {
        return; // the client sees its connection closed, as with an unreachable server
    };
    let (Ok(client_out), Ok(upstream_in), Ok(client_reg), Ok(upstream_reg)) =
        (client.try_clone(), upstream.try_clone(), client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    state
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, (client_reg, upstream_reg));
    if fault == Fault::Drop {
        // A lifetime between 20 and 800 ms, varying from one connection to the next.
        let lifetime = Duration::from_millis(20 + (id * 7919) % 780);
        let state = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(lifetime);
            state.cut(id);
        });
    }
    let downstream = std::thread::spawn({
        let state = state.clone();
        move || pipe(upstream_in, client_out, &state)
    });
    pipe(client, upstream, state);
    let _ = downstream.join();
    state.live.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
}

/// Copies `from` to `to` until either ends; chunks are held while the fault is
/// [`Fault::Delay`].
fn pipe(mut from: TcpStream, mut to: TcpStream, state: &ProxyState) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state.fault() == Fault::Delay {
            state.counts.delayed.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(DELAY);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Reads one request (head and `Content-Length` body) and answers it with `code`, as an API
/// server under API priority and fairness (429) or an unavailable one behind a load balancer
/// (503) does: a `Status` body with `retryAfterSeconds`, and the `Retry-After` header.
fn refuse(state: &ProxyState, mut client: TcpStream, code: u16) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let (reason, counter) = if code == 429 {
        ("TooManyRequests", &state.counts.refused_429)
    } else {
        ("ServiceUnavailable", &state.counts.refused_503)
    };
    counter.fetch_add(1, Ordering::SeqCst);
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"injected {code}","reason":"{reason}","details":{{"retryAfterSeconds":1}},"code":{code}}}"#
    );
    let response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nRetry-After: 1\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes());
    let _ = client.shutdown(Shutdown::Both);
}

/// Cycles the proxy through drop, delay, 429 and 503 phases (2 to 4 s each, 1 s healed in
/// between) until `stop`, then heals it.
fn cycle_faults(proxy: &FaultProxy, stop: &AtomicBool) {
    let phases = [
        (Fault::Drop, 2),
        (Fault::Heal, 1),
        (Fault::Delay, 4),
        (Fault::Heal, 1),
        (Fault::Refuse(429), 2),
        (Fault::Heal, 1),
        (Fault::Refuse(503), 2),
        (Fault::Heal, 1),
    ];
    'cycle: loop {
        for (fault, seconds) in phases {
            proxy.set(fault);
            let until = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < until {
                if stop.load(Ordering::SeqCst) {
                    break 'cycle;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    proxy.set(Fault::Heal);
}

/// Every version of the Rollouts of `ns`, read from a watch straight on weir's API (not
/// through the proxy): the status history the step checks are made on.
fn record_rollouts(api: &str, token: &str, ns: &str, seen: &Mutex<Vec<Value>>, stop: &AtomicBool) {
    let addr = api.trim_start_matches("http://");
    let mut version = String::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let from =
            if version.is_empty() { String::new() } else { format!("&resourceVersion={version}") };
        let head = format!(
            "GET /apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts?watch=true{from} HTTP/1.1\r\n\
             Host: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).is_err() {
            continue;
        }
        // The body is chunked (HTTP/1.1 streaming); its data is newline-delimited events.
        let mut raw = Vec::new();
        let mut decoded = Vec::new();
        let mut buf = [0u8; 8192];
        let mut body_start = None;
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(_) => break,
            }
            if body_start.is_none() {
                body_start = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
            }
            let Some(start) = body_start else { continue };
            // Decode every complete chunk; an incomplete one waits for the next read.
            let mut at = start;
            while let Some(line_end) = raw[at..].windows(2).position(|w| w == b"\r\n") {
                let size_text = String::from_utf8_lossy(&raw[at..at + line_end]).to_string();
                let Ok(size) = usize::from_str_radix(size_text.trim(), 16) else { break };
                let chunk_start = at + line_end + 2;
                if raw.len() < chunk_start + size + 2 {
                    break;
                }
                decoded.extend_from_slice(&raw[chunk_start..chunk_start + size]);
                at = chunk_start + size + 2;
            }
            raw.drain(start..at);
            complete_events(&mut decoded, seen, &mut version);
        }
    }
}

/// Moves the complete lines of `data` (watch events) into `seen`, leaving an incomplete tail.
fn complete_events(data: &mut Vec<u8>, seen: &Mutex<Vec<Value>>, version: &mut String) {
    while let Some(end) = data.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = data.drain(..=end).collect();
        let Ok(event) = serde_json::from_slice::<Value>(&line) else { continue };
        let object = &event["object"];
        if let Some(v) = object["metadata"]["resourceVersion"].as_str() {
            v.clone_into(version);
        }
        if event["type"] != "BOOKMARK" {
            seen.lock().unwrap_or_else(PoisonError::into_inner).push(object.clone());
        }
    }
}

/// A canary with Istio subset routing, two manual pauses, an analysis step and a timed pause.
/// The weights the status must report at each manual pause follow from the steps: 20 at
/// step index 1, 60 at step index 4.
const FAULTS_MANIFESTS: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: faults}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: faults}
spec: {selector: {app: app}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: app, namespace: faults}
spec:
  host: app
  subsets:
  - {name: stable, labels: {app: app}}
  - {name: canary, labels: {app: app}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: app, namespace: faults}
spec:
  hosts: [app]
  http:
  - name: primary
    route:
    - {destination: {host: app, subset: stable}, weight: 100}
    - {destination: {host: app, subset: canary}, weight: 0}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate, namespace: faults}
spec:
  metrics:
  - name: success-rate
    count: 3
    interval: 2s
    successCondition: isNaN(result) || result >= 99
    provider:
      plugin:
        weir/builtin: {metric: request-success-rate, service: app, namespace: faults, window: 30s}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: app, namespace: faults}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - {name: app, image: example/app:1}
  strategy:
    canary:
      scaleDownDelaySeconds: 2
      trafficRouting:
        istio:
          virtualService: {name: app, routes: [primary]}
          destinationRule: {name: app, canarySubsetName: canary, stableSubsetName: stable}
      steps:
      - setWeight: 20
      - pause: {}
      - analysis: {templates: [{templateName: success-rate}]}
      - setWeight: 60
      - pause: {}
      - setWeight: 80
      - pause: {duration: 5}
";

/// The canary subset's weight in the VirtualService `app` of `faults`.
fn virtual_service_canary_weight(weir: &Weir) -> Value {
    let vs = get(weir, "virtualservices", "app", "faults");
    let routes = vs["spec"]["http"][0]["route"].as_array().cloned().unwrap_or_default();
    routes
        .iter()
        .find(|r| r["destination"]["subset"] == "canary")
        .map_or(Value::Null, |r| r["weight"].clone())
}

/// `weir controller` with `kubeconfig`, no leader election; its stdout is drained.
fn start_plain_controller(kubeconfig: &Path, data_dir: &Path, stats: &str) -> Child {
    let mut child = Command::new(WEIR)
        .args(["controller", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--port", "0", "--proxy-stats-url", stats])
        .env("WEIR_LOG", "warn")
        .env_remove("KUBECONFIG")
        .env_remove("WEIR_WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start weir controller");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("serving http://") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("weir controller connected and serving");
    child
}

#[test]
fn the_controller_rides_out_dropped_delayed_and_refused_requests() {
    let weir = Weir::start_configured(Some(CONFIG), &["--controllers", "none"]);
    let token = std::fs::read_to_string(weir.data_dir().join("token")).expect("token");
    let token = token.trim().to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let manifest = work.path().join("faults.yaml");
    std::fs::write(&manifest, FAULTS_MANIFESTS).expect("manifest");
    weir.ok(&["apply", "-f", manifest.to_str().expect("path")]);

    let proxy = FaultProxy::start(&weir.api());
    let kubeconfig = work.path().join("faulty-kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: weir\n\
         clusters:\n- name: weir\n  cluster:\n    server: {}\n\
         contexts:\n- name: weir\n  context:\n    cluster: weir\n    user: weir\n    namespace: default\n\
         users:\n- name: weir\n  user:\n    token: {token}\n",
        proxy.addr
    );
    std::fs::write(&kubeconfig, text).expect("kubeconfig");
    let stats = weir.endpoint("proxyStats");
    let mut controller =
        Controller { child: start_plain_controller(&kubeconfig, &work.path().join("ctl"), &stats) };
    let controller_pid = controller.child.id();

    let status = || get(&weir, "rollouts", "app", "faults")["status"].clone();
    let healthy = |s: &Value| {
        s["phase"] == "Healthy"
            && s["currentPodHash"].as_str().is_some()
            && s["currentPodHash"] == s["stableRS"]
    };
    wait_for("the first version to be Healthy", Duration::from_secs(120), || healthy(&status()));
    let first = status()["stableRS"].clone();

    let stop = Arc::new(AtomicBool::new(false));
    let history: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorder = std::thread::spawn({
        let (api, token, history, stop) =
            (weir.api(), token.clone(), history.clone(), stop.clone());
        move || record_rollouts(&api, &token, "faults", &history, &stop)
    });
    let proxy = Arc::new(proxy);
    let faults = std::thread::spawn({
        let (proxy, stop) = (proxy.clone(), stop.clone());
        move || cycle_faults(&proxy, &stop)
    });

    weir.ok(&["rollouts", "set", "image", "app", "app=example/app:2", "-n", "faults"]);
    // At each manual pause (while the faults go on): status and VirtualService agree, on the
    // weight the step set; some seconds later they still do, and the rollout has not moved.
    for (index, weight) in [(1, 20), (4, 60)] {
        wait_for(&format!("the pause at step {index}"), Duration::from_secs(240), || {
            let s = status();
            s["currentStepIndex"] == index
                && s["phase"] == "Paused"
                && s["currentPodHash"] != first
                && s["canary"]["weights"]["canary"]["weight"] == weight
        });
        wait_for(&format!("the VirtualService at {weight} %"), Duration::from_secs(60), || {
            virtual_service_canary_weight(&weir) == weight
        });
        std::thread::sleep(Duration::from_secs(8));
        let s = status();
        assert_eq!(s["currentStepIndex"], index, "still at the pause: {s}");
        assert_eq!(s["canary"]["weights"]["canary"]["weight"], weight, "{s}");
        assert_eq!(virtual_service_canary_weight(&weir), weight, "the VirtualService agrees");
        weir.ok(&["rollouts", "promote", "app", "-n", "faults"]);
    }
    wait_for("the second version to be Healthy", Duration::from_secs(240), || {
        let s = status();
        healthy(&s) && s["stableRS"] != first && s["currentStepIndex"] == 7
    });
    // Completed: status and VirtualService both come to say that all traffic is on stable
    // (the pass that promotes still reports the last step's weights, which the
    // VirtualService then has; the next pass moves both).
    wait_for("status and VirtualService back on stable", Duration::from_secs(60), || {
        status()["canary"]["weights"]["canary"]["weight"] == 0
            && virtual_service_canary_weight(&weir) == 0
    });
    stop.store(true, Ordering::SeqCst);
    faults.join().expect("fault cycle");
    recorder.join().expect("recorder");

    // Every fault happened, and the controller rode them out without a restart.
    let counts = proxy.counts();
    let seen = |n: &AtomicUsize| n.load(Ordering::SeqCst);
    eprintln!("fault proxy: {counts:?}");
    assert!(seen(&counts.cut) > 0 && seen(&counts.delayed) > 0, "{counts:?}");
    assert!(seen(&counts.refused_429) > 0 && seen(&counts.refused_503) > 0, "{counts:?}");
    let exited = controller.child.try_wait().expect("try_wait");
    assert!(exited.is_none(), "the controller is still running: {exited:?}");
    assert_eq!(controller.child.id(), controller_pid, "the same process");

    // Nothing applied twice: one ReplicaSet per pod-template hash, one AnalysisRun per step.
    let list = |kind: &str| {
        let output = weir.ok(&["get", kind, "-n", "faults", "-o", "json"]);
        let value: Value = serde_json::from_str(&output).expect("json");
        value["items"].as_array().cloned().unwrap_or_default()
    };
    let label =
        |o: &Value, key: &str| o["metadata"]["labels"][key].as_str().unwrap_or("").to_owned();
    let mut hashes: Vec<String> =
        list("replicasets").iter().map(|rs| label(rs, "rollouts-pod-template-hash")).collect();
    hashes.sort();
    let second = status()["stableRS"].as_str().unwrap_or_default().to_owned();
    let mut expected = vec![first.as_str().unwrap_or_default().to_owned(), second.clone()];
    expected.sort();
    assert_eq!(hashes, expected, "one ReplicaSet per pod-template hash");
    let runs: Vec<(String, String, String)> = list("analysisruns")
        .iter()
        .map(|r| {
            let phase = r["status"]["phase"].as_str().unwrap_or("").to_owned();
            (label(r, "rollouts-pod-template-hash"), label(r, "step-index"), phase)
        })
        .collect();
    assert_eq!(runs, [(second.clone(), "2".to_owned(), "Successful".to_owned())], "one run");

    // No step skipped or repeated: from the first status of the new version on, the step index
    // only grows, one step per status write, from the first step to the last.
    let history = history.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let steps: Vec<i64> = history
        .iter()
        .map(|ro| &ro["status"])
        .filter(|s| s["currentPodHash"] == second.as_str())
        .filter_map(|s| s["currentStepIndex"].as_i64())
        .collect();
    assert!(!steps.is_empty(), "the watch saw the rollout: {history:?}");
    assert!(steps[0] <= 1, "starts at the first step: {steps:?}");
    assert!(steps.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1), "{steps:?}");
    assert_eq!(steps.last(), Some(&7), "{steps:?}");

    // The events tell the same story: each step completed once.
    let mut completed: Vec<String> = list("events")
        .iter()
        .filter(|e| e["reason"] == "RolloutStepCompleted" && e["involvedObject"]["name"] == "app")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    completed.sort();
    let counts: Vec<i64> = list("events")
        .iter()
        .filter(|e| e["reason"] == "RolloutStepCompleted")
        .map(|e| e["count"].as_i64().unwrap_or(1))
        .collect();
    eprintln!("step events: {completed:#?} counts {counts:?}");
    let expected: Vec<String> = (1..=7).map(|n| format!("Rollout step {n}/7 completed")).collect();
    let prefixes: Vec<String> =
        completed.iter().map(|m| m.split(" (").next().unwrap_or_default().to_owned()).collect();
    assert_eq!(prefixes, expected, "{completed:?}");
    drop(controller);
    weir.stop();
}
