//! What the end-to-end tests share: a `weir up` in a temporary data directory, driven by the
//! real binary's commands as a user would, with the delivery controllers either inside it or in
//! a second process reaching it only through kube-rs ([`Backend`]).
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const WEIR: &str = env!("CARGO_BIN_EXE_weir");

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The `WEIR_LOG` filter for the processes a test starts: `warn`, or `WEIR_TEST_LOG` when set
/// (e.g. `WEIR_TEST_LOG=weir_rollout_controller=info,weir_mesh=debug` to see what led to a
/// failure; their standard error is the test's).
pub(crate) fn log_filter() -> String {
    std::env::var("WEIR_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// Where the Rollout, AnalysisRun and Application controllers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Inside `weir up`, on its store.
    Embedded,
    /// In `weir controller --kubeconfig DATA_DIR/kubeconfig`, a second process that reaches
    /// `weir up --controllers none` (store, API, node agent, mesh, proxy) through kube-rs, and
    /// reads the proxy's statistics from its admin listener (`proxyStats` in endpoints.json).
    Kube,
}

/// A `weir up` running in its own temporary data directory, stopped with SIGTERM on drop.
pub(crate) struct Weir {
    pub(crate) child: Child,
    /// `weir controller`, with [`Backend::Kube`]; stopped before `weir up`.
    controller: Option<Child>,
    data_dir: PathBuf,
    /// The temporary data directory, removed on drop (none when the test owns the directory).
    _temp: Option<tempfile::TempDir>,
}

impl Weir {
    pub(crate) fn start() -> Weir {
        Self::start_with(&[])
    }

    pub(crate) fn start_with(extra: &[&str]) -> Weir {
        Self::start_configured(None, extra)
    }

    /// `weir up` with `config` as its `config.yaml` (image map, plugins) and `extra` flags.
    pub(crate) fn start_configured(config: Option<&str>, extra: &[&str]) -> Weir {
        let temp = tempfile::tempdir().unwrap();
        if let Some(config) = config {
            std::fs::write(temp.path().join("config.yaml"), config).unwrap();
        }
        let mut weir = Self::start_in(temp.path(), extra);
        weir._temp = Some(temp);
        weir
    }

    /// `weir up` on the data directory `data_dir`, which the test keeps (to start weir again
    /// on the same store).
    pub(crate) fn start_in(data_dir: &Path, extra: &[&str]) -> Weir {
        Self::spawn_in(data_dir, extra, Stdio::null())
    }

    /// `weir up` with `extra` flags whose start-up banner is read: returns it with the
    /// banner's lines (up to its `ui` line); the rest of its output is drained.
    pub(crate) fn start_reading_banner(extra: &[&str]) -> (Weir, Vec<String>) {
        use std::io::BufRead;
        let temp = tempfile::tempdir().unwrap();
        let mut weir = Self::spawn_in(temp.path(), extra, Stdio::piped());
        weir._temp = Some(temp);
        let stdout = weir.child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = Some(Vec::new());
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let last = line.starts_with("  ui ");
                if let Some(lines) = banner.as_mut() {
                    lines.push(line);
                }
                if last && let Some(lines) = banner.take() {
                    let _ = tx.send(lines);
                }
            }
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("weir up did not print its banner's ui line");
        (weir, banner)
    }

    fn spawn_in(data_dir: &Path, extra: &[&str], stdout: Stdio) -> Weir {
        let _ = std::fs::remove_file(data_dir.join("endpoints.json"));
        // Every port is 0 (any free one) unless `extra` names it (a test that restarts weir
        // and keeps its clients keeps the gateway's and mesh's ports).
        let ports = ["--port", "--gateway-port", "--mesh-port", "--metrics-port"]
            .into_iter()
            .filter(|flag| !extra.contains(flag))
            .flat_map(|flag| [flag, "0"]);
        let child = Command::new(WEIR)
            .arg("up")
            .args(ports)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("WEIR_LOG", log_filter())
            .env_remove("WEIR_WEBHOOK_SECRET")
            .stdout(stdout)
            .spawn()
            .unwrap();
        let weir = Weir { child, controller: None, data_dir: data_dir.to_owned(), _temp: None };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !weir.endpoints_path().exists() {
            assert!(Instant::now() < deadline, "weir up did not write endpoints.json in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        weir
    }

    /// `weir up` with `extra` flags and the delivery controllers where `backend` says. With
    /// [`Backend::Kube`], `app_resync` is the `weir controller`'s `--app-resync` (`weir up
    /// --demo` compares every 5 s; give the same).
    pub(crate) fn start_backend(backend: Backend, extra: &[&str], app_resync: u64) -> Weir {
        match backend {
            Backend::Embedded => Self::start_with(extra),
            Backend::Kube => {
                let mut flags = extra.to_vec();
                flags.extend(["--controllers", "none"]);
                let mut weir = Self::start_with(&flags);
                weir.start_controller(app_resync);
                weir
            }
        }
    }

    /// Starts `weir controller` against this `weir up`'s kubeconfig and checks its `/healthz`.
    fn start_controller(&mut self, app_resync: u64) {
        let kubeconfig = self.data_dir.join("kubeconfig");
        let mut child = Command::new(WEIR)
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--port", "0", "--proxy-stats-url", &self.endpoint("proxyStats")])
            .args(["--app-resync", &app_resync.to_string(), "--app-resync-jitter", "1"])
            .env("WEIR_LOG", log_filter())
            .env_remove("KUBECONFIG")
            .env_remove("WEIR_WEBHOOK_SECRET")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.controller = Some(child);
        // "serving http://ADDR (…)" comes once connected to the cluster; the rest of the
        // output is drained so that the controller never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("serving http://") {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("weir controller did not report its HTTP address");
        let health = raw_http(&addr, "GET /healthz HTTP/1.1");
        assert!(health.starts_with("HTTP/1.1 200"), "weir controller /healthz: {health}");
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn endpoints_path(&self) -> PathBuf {
        self.data_dir.join("endpoints.json")
    }

    pub(crate) fn api(&self) -> String {
        self.endpoint("api")
    }

    pub(crate) fn endpoint(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.endpoints_path()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value[name].as_str().unwrap().to_owned()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new(WEIR)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .env_remove("WEIR_SERVER")
            .env_remove("WEIR_TOKEN")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed and returns its standard output.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "weir {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command that must fail and returns its standard error.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "weir {args:?} should have failed");
        String::from_utf8(output.stderr).unwrap()
    }

    /// Kills weir with SIGKILL, as a crash would: its pods' processes outlive it until a new
    /// `weir up` on the same data directory ends them.
    pub(crate) fn kill(mut self) {
        if let Some(controller) = &mut self.controller {
            let _ = controller.kill();
            let _ = controller.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops `weir controller` (if any: it must stop cleanly too) and then `weir up`, as
    /// Ctrl-C would, and returns `weir up`'s exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        if let Some(mut controller) = self.controller.take() {
            let pid = controller.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let status = controller.wait().unwrap();
            assert!(status.success(), "weir controller did not stop cleanly: {status}");
        }
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Some(controller) = &mut self.controller {
            stop_gracefully(controller);
        }
        stop_gracefully(&mut self.child);
    }
}

/// Stops a `weir up` as Ctrl-C would (SIGTERM: its pods' processes end with it), and kills it
/// only if it has not stopped within 30 s, so a test that ends, or fails, leaves no process.
pub(crate) fn stop_gracefully(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return; // stopped already (and its pid may belong to another process by now)
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) fn raw_http(api: &str, request_head: &str) -> String {
    let addr = api.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("{request_head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
