//! What the end-to-end tests share: a `weir up` in a temporary data directory, driven by the
//! real binary's commands as a user would.
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

/// A `weir up` running in its own temporary data directory, stopped with SIGTERM on drop.
pub(crate) struct Weir {
    pub(crate) child: Child,
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
        let _ = std::fs::remove_file(data_dir.join("endpoints.json"));
        let child = Command::new(WEIR)
            .args([
                "up",
                "--port",
                "0",
                "--gateway-port",
                "0",
                "--mesh-port",
                "0",
                "--metrics-port",
                "0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .env("WEIR_LOG", "warn")
            .env_remove("WEIR_WEBHOOK_SECRET")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let weir = Weir { child, data_dir: data_dir.to_owned(), _temp: None };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !weir.endpoints_path().exists() {
            assert!(Instant::now() < deadline, "weir up did not write endpoints.json in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        weir
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
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
