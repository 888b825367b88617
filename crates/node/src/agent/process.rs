//! Host processes: spawning a container in its own process group, signalling the group, and
//! the per-pod state file that lets a restarted weir find the processes it started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

/// What a pod's directory remembers about each container across weir restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PodState {
    pub(crate) uid: String,
    pub(crate) containers: BTreeMap<String, ContainerState>,
    /// The mesh URL the processes were given as `HTTP_PROXY`: a process started with another
    /// one is not adopted by a later run (it would send its calls to a listener that is gone).
    #[serde(default)]
    pub(crate) mesh_url: Option<String>,
}

/// One container's process and counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContainerState {
    /// The running process (its pid is also its process group id).
    pub(crate) pid: Option<u32>,
    /// The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), so a
    /// reused pid is never mistaken for ours.
    pub(crate) start_ticks: Option<u64>,
    pub(crate) restart_count: i32,
    /// containerPort → host port.
    pub(crate) ports: BTreeMap<i32, u16>,
}

pub(crate) const STATE_FILE: &str = "state.json";

impl PodState {
    pub(crate) fn load(dir: &Path) -> Option<PodState> {
        let text = std::fs::read(dir.join(STATE_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the state atomically (temp file + rename).
    pub(crate) fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).unwrap_or_default())?;
        std::fs::rename(tmp, dir.join(STATE_FILE))
    }
}

/// `/proc/<pid>/stat` start time, or `None` if the process is gone (or a zombie).
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: field 3 (state) is index 0, field 22 (starttime) is index 19.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process `pid` started at `ticks` is still alive.
pub(crate) fn is_same_process(pid: u32, ticks: Option<u64>) -> bool {
    start_ticks(pid).is_some_and(|t| ticks.is_none_or(|want| want == t))
}

impl ContainerState {
    /// The recorded process if it is still the one we started (same pid *and* start time; a
    /// record without a start time is never adopted, since a reused pid cannot be told apart).
    pub(crate) fn live_process(&self) -> Option<u32> {
        let pid = self.pid?;
        let ticks = self.start_ticks?;
        is_same_process(pid, Some(ticks)).then_some(pid)
    }
}

/// Sends `signal` to the process group `pgid`; a group that is gone is not an error.
pub(crate) fn signal_group(pgid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return;
    };
    if let Err(error) = rustix::process::kill_process_group(pid, signal)
        && error != rustix::io::Errno::SRCH
    {
        tracing::warn!(pgid, %error, "cannot signal process group");
    }
}

/// Whether any process of group `pgid` is alive.
pub(crate) fn group_alive(pgid: u32) -> bool {
    i32::try_from(pgid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
}

/// Ends a group we no longer supervise (found in a state file after a restart): SIGTERM, up to
/// `grace` to exit, then SIGKILL.
pub(crate) async fn end_orphan_group(pid: u32, ticks: Option<u64>, grace: std::time::Duration) {
    if !is_same_process(pid, ticks) {
        return;
    }
    signal_group(pid, Signal::TERM);
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    signal_group(pid, Signal::KILL);
}

/// A started container process.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
}

/// Starts `argv` in its own process group with exactly `env` (plus the host's `PATH`),
/// `working_dir`, and stdout/stderr appended to `log`.
pub(crate) fn spawn(
    argv: &[String],
    env: &[(String, String)],
    working_dir: Option<&Path>,
    log: &Path,
) -> std::io::Result<Spawned> {
    let (program, args) = argv.split_first().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line")
    })?;
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(false);
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    if let Some(dir) = working_dir {
        command.current_dir(dir);
    }
    let child = command.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("process exited before its pid was read"))?;
    Ok(Spawned { child, pid })
}

/// The message the kubelet gives for a container that could not be started.
pub(crate) fn start_error_message(program: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("exec: \"{program}\": executable file not found in $PATH")
    } else {
        format!("failed to start \"{program}\": {error}")
    }
}

/// `<data_dir>/pods/<ns>_<pod>_<uid>`.
pub(crate) fn pod_dir(data_dir: &Path, ns: &str, name: &str, uid: &str) -> PathBuf {
    data_dir.join("pods").join(format!("{ns}_{name}_{uid}"))
}

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed at once).
pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_of_self_and_missing_process() {
        assert!(start_ticks(std::process::id()).is_some());
        assert!(start_ticks(u32::MAX - 1).is_none());
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = PodState { uid: "u".into(), ..PodState::default() };
        state.containers.insert(
            "app".into(),
            ContainerState {
                pid: Some(7),
                start_ticks: Some(9),
                restart_count: 2,
                ports: BTreeMap::from([(8080, 40000)]),
            },
        );
        state.save(dir.path()).expect("save");
        assert_eq!(PodState::load(dir.path()), Some(state));
    }
}
