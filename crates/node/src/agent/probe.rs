//! Probes (httpGet, tcpSocket, exec) and their schedule: initial delay, period, timeout, and
//! success/failure thresholds, reduced to a verdict on a watch channel.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// Where a probe reaches the container: its port map and environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    /// containerPort → host port.
    pub(crate) ports: BTreeMap<i32, u16>,
    /// Port name → containerPort.
    pub(crate) named: BTreeMap<String, i32>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) working_dir: Option<PathBuf>,
}

impl Target {
    /// The host port a probe's `port` reaches: a named or numbered containerPort is mapped; a
    /// number that is no containerPort is used as is.
    fn host_port(&self, port: &IntOrString) -> Result<u16, String> {
        let container_port = match port {
            IntOrString::Int(n) => *n,
            IntOrString::String(name) => match self.named.get(name) {
                Some(n) => *n,
                None => name.parse().map_err(|_| format!("unknown port name {name:?}"))?,
            },
        };
        match self.ports.get(&container_port) {
            Some(host) => Ok(*host),
            None => u16::try_from(container_port).map_err(|_| format!("bad port {container_port}")),
        }
    }
}

/// Runs `probe` once; `Err` carries the failure message the kubelet would log.
pub(crate) async fn probe_once(probe: &Probe, target: &Target) -> Result<(), String> {
    let timeout =
        Duration::from_secs(u64::try_from(probe.timeout_seconds.unwrap_or(1).max(1)).unwrap_or(1));
    let attempt = async {
        if let Some(http) = &probe.http_get {
            let port = target.host_port(&http.port)?;
            let path = http.path.as_deref().unwrap_or("/");
            let headers: String = http
                .http_headers
                .iter()
                .flatten()
                .map(|h| format!("{}: {}\r\n", h.name, h.value))
                .collect();
            http_get(port, path, &headers).await
        } else if let Some(tcp) = &probe.tcp_socket {
            let port = target.host_port(&tcp.port)?;
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map(drop)
                .map_err(|e| format!("dial tcp 127.0.0.1:{port}: {e}"))
        } else if let Some(exec) = &probe.exec {
            exec_probe(exec.command.as_deref().unwrap_or_default(), target).await
        } else {
            Ok(())
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("probe timed out after {}s", timeout.as_secs())),
    }
}

async fn http_get(port: u16, path: &str, headers: &str) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("Get \"http://127.0.0.1:{port}{path}\": {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kube-probe/weir\r\n\
         Accept: */*\r\n{headers}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "malformed HTTP response".to_owned())?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

async fn exec_probe(command: &[String], target: &Target) -> Result<(), String> {
    let (program, args) = command.split_first().ok_or("exec probe without a command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(target.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = &target.working_dir {
        cmd.current_dir(dir);
    }
    let status = cmd.status().await.map_err(|e| format!("exec {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("command {program:?} exited with {status}")) }
}

/// Probes forever on the probe's schedule, publishing `Some(true)` after `successThreshold`
/// consecutive successes and `Some(false)` after `failureThreshold` consecutive failures.
pub(crate) async fn run_probe(probe: Probe, target: Target, verdict: watch::Sender<Option<bool>>) {
    let secs = |v: Option<i32>, default: i32| {
        Duration::from_secs(u64::try_from(v.unwrap_or(default).max(0)).unwrap_or(0))
    };
    let period = secs(probe.period_seconds, 10).max(Duration::from_secs(1));
    let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
    let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
    tokio::time::sleep(secs(probe.initial_delay_seconds, 0)).await;
    let (mut successes, mut failures) = (0, 0);
    loop {
        match probe_once(&probe, &target).await {
            Ok(()) => {
                successes += 1;
                failures = 0;
                if successes >= success_threshold {
                    verdict.send_replace(Some(true));
                }
            }
            Err(message) => {
                tracing::debug!(%message, "probe failed");
                failures += 1;
                successes = 0;
                if failures >= failure_threshold {
                    verdict.send_replace(Some(false));
                }
            }
        }
        if verdict.is_closed() {
            return;
        }
        tokio::time::sleep(period).await;
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ExecAction, TCPSocketAction};

    use super::*;

    #[tokio::test]
    async fn tcp_and_exec_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let target = Target {
            ports: BTreeMap::from([(80, port)]),
            named: BTreeMap::from([("http".to_owned(), 80)]),
            ..Target::default()
        };
        let tcp = Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("http".into()),
                host: None,
            }),
            ..Probe::default()
        };
        assert_eq!(probe_once(&tcp, &target).await, Ok(()));
        drop(listener);
        assert!(probe_once(&tcp, &target).await.is_err());
        let exec = |cmd: &str| Probe {
            exec: Some(ExecAction {
                command: Some(vec!["/bin/sh".into(), "-c".into(), cmd.into()]),
            }),
            ..Probe::default()
        };
        assert_eq!(probe_once(&exec("exit 0"), &target).await, Ok(()));
        assert!(probe_once(&exec("exit 3"), &target).await.is_err());
    }
}
