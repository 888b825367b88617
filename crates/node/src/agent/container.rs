//! One container's supervisor: resolve its command and environment, start it, follow its
//! probes, and on exit apply the restart policy with crash-loop backoff; on stop, SIGTERM to
//! its process group, then SIGKILL after the grace period.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, Probe};
use rustix::process::Signal;
use tokio::sync::watch;
use weir_cluster::Cluster;
use weir_controller::Shutdown;

use super::image::INVALID_IMAGE_NAME;
use super::probe::{Target, run_probe};
use super::process::{
    end_orphan_group, group_alive, is_same_process, signal_group, spawn, start_error_message,
};
use super::spec::{command_line, environment, expand};
use super::status::RunState;
use super::worker::Shared;
use crate::kube::now;

fn grace_period(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30)
        .max(0);
    Duration::from_secs(u64::try_from(secs).unwrap_or(30))
}

/// Why a running container stopped.
enum Stopped {
    Exited(std::process::ExitStatus),
    Unhealthy(std::process::ExitStatus),
    Shutdown(std::process::ExitStatus),
}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// How a container's supervision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// An init container exited 0.
    Completed,
    /// An init container failed and the pod's restart policy is `Never`.
    Failed,
    /// The pod is stopping, or an app container is done for good.
    Stopped,
}

/// Supervises container `index` (init containers first, then app containers) until the
/// restart policy says it is done or `stop`. An init container returns once it has
/// completed (or failed for good); failed init containers are restarted unless the policy is
/// `Never`.
pub(super) async fn supervise<C: Cluster>(
    shared: Arc<Shared<C>>,
    index: usize,
    stop: Shutdown,
    adopted: Option<Adopted>,
) -> Outcome {
    let pod = &shared.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let init = index < shared.init_count;
    let mut all = spec.init_containers.clone().unwrap_or_default();
    all.extend(spec.containers.iter().cloned());
    let Some(container) = all.get(index).cloned() else {
        return Outcome::Stopped;
    };
    let policy = match spec.restart_policy.clone().unwrap_or_else(|| "Always".into()) {
        p if init && p != "Never" => "OnFailure".to_owned(),
        p => p,
    };
    let mut crashes = 0u32;
    let mut restarting = false;
    if !is_dns_label(&container.name) {
        // The name becomes a file name under the pod's directory: never let it leave it.
        shared.update(index, |c| {
            c.state = RunState::Waiting {
                reason: "InvalidContainerName".into(),
                message: Some(format!(
                    "container name {:?} is not a DNS label (lower-case letters, digits and \
                     '-', at most 63 characters)",
                    container.name
                )),
            };
        });
        stop.wait().await;
        return Outcome::Stopped;
    }
    // As the kubelet does before anything runs, whatever runs the container (a `command` or
    // weir's image map): an image reference that does not parse never starts.
    if let Some(image) = container.image.as_deref().filter(|i| !i.is_empty())
        && let Err(message) = super::image::validate(image)
    {
        shared.update(index, |c| {
            c.state =
                RunState::Waiting { reason: INVALID_IMAGE_NAME.into(), message: Some(message) };
        });
        stop.wait().await;
        return Outcome::Stopped;
    }
    if let Some(adopted) = adopted {
        if !follow_adopted(&shared, index, &container, adopted, &stop).await {
            return Outcome::Stopped;
        }
        // It exited while adopted: counted as a restart, started again at once (only
        // `restartPolicy: Always` pods are adopted).
        restarting = true;
        crashes = 1;
    }
    loop {
        if stop.is_triggered() {
            return Outcome::Stopped;
        }
        let Some(argv) = command_line(&container, &shared.config.image_map) else {
            let image = container.image.clone().unwrap_or_default();
            shared.update(index, |c| {
                c.state = RunState::Waiting {
                    reason: "ImageNotMapped".into(),
                    message: Some(format!(
                        "container {:?} has no command and image {image:?} has no entry in \
                         weir's image map",
                        container.name
                    )),
                };
            });
            stop.wait().await;
            return Outcome::Stopped;
        };
        let ports = match shared.ports(&container).await {
            Ok(ports) => ports,
            Err(blocked) => {
                shared.update(index, |c| {
                    c.state = RunState::Waiting {
                        reason: blocked.reason.into(),
                        message: Some(blocked.message.clone()),
                    };
                });
                if !stop.sleep(Duration::from_secs(2)).await {
                    return Outcome::Stopped;
                }
                continue;
            }
        };
        let env = match environment(
            shared.cluster.as_ref(),
            pod,
            &container,
            &ports,
            shared.config.mesh_url.as_deref(),
        )
        .await
        {
            Ok(env) => env,
            Err(blocked) => {
                shared.update(index, |c| {
                    c.state = RunState::Waiting {
                        reason: blocked.reason.into(),
                        message: Some(blocked.message.clone()),
                    };
                });
                if !stop.sleep(Duration::from_secs(2)).await {
                    return Outcome::Stopped;
                }
                continue;
            }
        };
        let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let argv: Vec<String> = argv.iter().map(|a| expand(a, &lookup)).collect();
        let working_dir = container.working_dir.as_ref().map(PathBuf::from);
        let log = shared.dir.join(format!("{}.log", container.name));
        if restarting {
            shared.record(&container.name, |s| s.restart_count += 1);
            shared.update(index, |c| c.restart_count += 1);
        }
        restarting = true;
        let started_at = now();
        let ran_for;
        let terminated = match spawn(&argv, &env, working_dir.as_deref(), &log) {
            Err(error) => {
                ran_for = Duration::ZERO;
                RunState::Terminated {
                    exit_code: 128,
                    reason: "StartError".into(),
                    message: Some(start_error_message(&argv[0], &error)),
                    started_at: None,
                    finished_at: now(),
                }
            }
            Ok(mut spawned) => {
                let pid = spawned.pid;
                let ticks = super::process::start_ticks(pid);
                shared.record(&container.name, |s| {
                    s.pid = Some(pid);
                    s.start_ticks = ticks;
                });
                shared.update(index, |c| {
                    c.state = RunState::Running { started_at };
                    c.pid = Some(pid);
                    c.started = container.startup_probe.is_none();
                    c.ready =
                        container.startup_probe.is_none() && container.readiness_probe.is_none();
                });
                let target = Target {
                    ports: ports.clone(),
                    named: named_ports(&container),
                    env: env.clone(),
                    working_dir: working_dir.clone(),
                };
                let begun = tokio::time::Instant::now();
                let stopped =
                    watch_running(&shared, index, &container, &mut spawned, target, &stop).await;
                ran_for = begun.elapsed();
                // Whatever the main process left behind in its group goes with it.
                signal_group(pid, Signal::KILL);
                shared.record(&container.name, |s| {
                    s.pid = None;
                    s.start_ticks = None;
                });
                let (status, shutdown) = match stopped {
                    Stopped::Exited(s) | Stopped::Unhealthy(s) => (s, false),
                    Stopped::Shutdown(s) => (s, true),
                };
                let code = exit_code(&status);
                let state = RunState::Terminated {
                    exit_code: code,
                    reason: if code == 0 { "Completed" } else { "Error" }.into(),
                    message: None,
                    started_at: Some(started_at),
                    finished_at: now(),
                };
                if shutdown {
                    shared.update(index, |c| {
                        c.state = state;
                        c.ready = false;
                        c.pid = None;
                    });
                    return Outcome::Stopped;
                }
                state
            }
        };
        let failed =
            matches!(&terminated, RunState::Terminated { exit_code, .. } if *exit_code != 0);
        let restart = match policy.as_str() {
            "Never" => false,
            "OnFailure" => failed,
            _ => true,
        };
        if !restart {
            shared.update(index, |c| {
                c.state = terminated;
                c.ready = false;
                c.pid = None;
            });
            if init {
                return if failed { Outcome::Failed } else { Outcome::Completed };
            }
            stop.wait().await;
            return Outcome::Stopped;
        }
        // Kubernetes forgets the backoff after a container ran for twice the maximum delay.
        if ran_for > shared.config.crash_backoff.max * 2 {
            crashes = 0;
        }
        let delay = if crashes == 0 {
            Duration::ZERO
        } else {
            shared.config.crash_backoff.delay(crashes - 1)
        };
        crashes = crashes.saturating_add(1);
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        shared.update(index, |c| {
            c.last_state = Some(terminated.clone());
            c.ready = false;
            c.started = false;
            c.pid = None;
            c.state = if delay.is_zero() {
                terminated
            } else {
                RunState::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: Some(format!(
                        "back-off {}s restarting failed container={} pod={pod_name}",
                        delay.as_secs(),
                        container.name
                    )),
                }
            };
        });
        if !stop.sleep(delay).await {
            return Outcome::Stopped;
        }
    }
}

/// A process a previous run of weir started and this one supervises again (see
/// [`super::adopt`]): it is not our child, so its exit is seen by polling and its exit status
/// cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Adopted {
    pub(super) pid: u32,
    pub(super) start_ticks: Option<u64>,
    /// When it started (the previous run's status), kept in the status.
    pub(super) started_at: k8s_openapi::jiff::Timestamp,
    /// Readiness and startup as the previous run last reported them: kept until a probe says
    /// otherwise, so the mesh does not take a healthy endpoint out of rotation because weir
    /// restarted (the kubelet keeps a ready container ready across its own restarts too).
    pub(super) ready: bool,
    pub(super) started: bool,
}

/// How often an adopted process is checked for having exited.
const ADOPTED_POLL: Duration = Duration::from_millis(100);

/// Supervises an adopted process until it exits (`true`: the caller starts the container
/// again) or `stop` (`false`: it has been ended). Probes run as for a started container.
async fn follow_adopted<C: Cluster>(
    shared: &Shared<C>,
    index: usize,
    container: &Container,
    adopted: Adopted,
    stop: &Shutdown,
) -> bool {
    let pid = adopted.pid;
    let ports = shared.recorded_ports(&container.name);
    let env = environment(
        shared.cluster.as_ref(),
        &shared.pod,
        container,
        &ports,
        shared.config.mesh_url.as_deref(),
    )
    .await
    .unwrap_or_default();
    let target = Target {
        ports,
        named: named_ports(container),
        env,
        working_dir: container.working_dir.as_ref().map(PathBuf::from),
    };
    tracing::info!(pid, container = %container.name, "adopted a process left by a previous run");
    shared.update(index, |c| {
        c.state = RunState::Running { started_at: adopted.started_at };
        c.pid = Some(pid);
        c.started = adopted.started || container.startup_probe.is_none();
        c.ready = adopted.ready;
    });
    let mut tasks = Vec::new();
    if !adopted.started && container.startup_probe.is_some() {
        // Not started yet when weir went down: its startup probe decides, then the others.
        let mut startup = start_probe(container.startup_probe.as_ref(), &target, &mut tasks);
        loop {
            tokio::select! {
                verdict = changed(&mut startup) => match verdict {
                    Some(true) => break,
                    Some(false) => return end_adopted(shared, index, container, &adopted, false, tasks).await,
                    None => {}
                },
                () = stop.wait() => return end_adopted(shared, index, container, &adopted, true, tasks).await,
                () = tokio::time::sleep(ADOPTED_POLL) => {
                    if !is_same_process(pid, adopted.start_ticks) {
                        return exited_adopted(shared, index, container, &adopted, tasks);
                    }
                }
            }
        }
        shared.update(index, |c| {
            c.started = true;
            c.ready = container.readiness_probe.is_none();
        });
    } else if container.readiness_probe.is_none() {
        shared.update(index, |c| c.ready = true);
    }
    let mut liveness = start_probe(container.liveness_probe.as_ref(), &target, &mut tasks);
    let mut readiness = start_probe(container.readiness_probe.as_ref(), &target, &mut tasks);
    loop {
        tokio::select! {
            () = stop.wait() => return end_adopted(shared, index, container, &adopted, true, tasks).await,
            verdict = changed(&mut liveness) => {
                if verdict == Some(false) {
                    tracing::info!(container = %container.name, "liveness probe failed; restarting");
                    return end_adopted(shared, index, container, &adopted, false, tasks).await;
                }
            }
            verdict = changed(&mut readiness) => {
                let ready = verdict == Some(true);
                shared.update(index, |c| c.ready = ready);
            }
            () = tokio::time::sleep(ADOPTED_POLL) => {
                if !is_same_process(pid, adopted.start_ticks) {
                    return exited_adopted(shared, index, container, &adopted, tasks);
                }
            }
        }
    }
}

/// An adopted process that exited by itself: its status says its exit status is unknown
/// (as the kubelet's `ContainerStatusUnknown`, exit code 137), and it is started again.
fn exited_adopted<C: Cluster>(
    shared: &Shared<C>,
    index: usize,
    container: &Container,
    adopted: &Adopted,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> bool {
    for task in tasks {
        task.abort();
    }
    signal_group(adopted.pid, Signal::KILL);
    shared.record(&container.name, |s| {
        s.pid = None;
        s.start_ticks = None;
    });
    let terminated = RunState::Terminated {
        exit_code: 137,
        reason: "ContainerStatusUnknown".into(),
        message: Some(
            "the process exited while supervised after a restart of weir; its exit status \
             cannot be read"
                .into(),
        ),
        started_at: Some(adopted.started_at),
        finished_at: now(),
    };
    shared.update(index, |c| {
        c.last_state = Some(terminated.clone());
        c.state = terminated;
        c.ready = false;
        c.started = false;
        c.pid = None;
    });
    true
}

/// Ends an adopted process: on `shutdown`, out of rotation first (drain delay) and its
/// `preStop` hook; then SIGTERM to its group, up to the grace period, SIGKILL. Returns
/// whether the container is to be started again (not on shutdown).
async fn end_adopted<C: Cluster>(
    shared: &Shared<C>,
    index: usize,
    container: &Container,
    adopted: &Adopted,
    shutdown: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> bool {
    for task in tasks {
        task.abort();
    }
    let pid = adopted.pid;
    let grace = grace_period(&shared.pod);
    let started = tokio::time::Instant::now();
    if shutdown {
        shared.update(index, |c| c.ready = false);
        tokio::time::sleep(shared.config.drain_delay.min(grace)).await;
        if let Some(hook) = container.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
            let target = Target {
                ports: shared.recorded_ports(&container.name),
                named: named_ports(container),
                env: Vec::new(),
                working_dir: container.working_dir.as_ref().map(PathBuf::from),
            };
            let _ = tokio::time::timeout(grace, pre_stop(hook, &target)).await;
        }
    }
    let left = grace.saturating_sub(started.elapsed());
    end_orphan_group(pid, adopted.start_ticks, left).await;
    // SIGKILL reaches the group at once; its members disappear when init reaps them.
    for _ in 0..50 {
        if !group_alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.record(&container.name, |s| {
        s.pid = None;
        s.start_ticks = None;
    });
    let terminated = RunState::Terminated {
        exit_code: 143,
        reason: "Error".into(),
        message: None,
        started_at: Some(adopted.started_at),
        finished_at: now(),
    };
    shared.update(index, |c| {
        if !shutdown {
            c.last_state = Some(terminated.clone());
        }
        c.state = terminated;
        c.ready = false;
        c.started = false;
        c.pid = None;
    });
    !shutdown
}

fn named_ports(container: &Container) -> BTreeMap<String, i32> {
    container
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.clone().map(|n| (n, p.container_port)))
        .collect()
}

fn start_probe(
    probe: Option<&Probe>,
    target: &Target,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Option<watch::Receiver<Option<bool>>> {
    let probe = probe?.clone();
    let (tx, rx) = watch::channel(None);
    tasks.push(tokio::spawn(run_probe(probe, target.clone(), tx)));
    Some(rx)
}

async fn changed(rx: &mut Option<watch::Receiver<Option<bool>>>) -> Option<bool> {
    match rx {
        Some(rx) => match rx.changed().await {
            Ok(()) => *rx.borrow_and_update(),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Waits for the running process to exit, a liveness or startup failure, or `stop`; keeps
/// `started`/`ready` up to date from the probes.
async fn watch_running<C: Cluster>(
    shared: &Shared<C>,
    index: usize,
    container: &Container,
    spawned: &mut super::process::Spawned,
    target: Target,
    stop: &Shutdown,
) -> Stopped {
    let mut tasks = Vec::new();
    let mut startup = start_probe(container.startup_probe.as_ref(), &target, &mut tasks);
    let (mut liveness, mut readiness) = (None, None);
    if startup.is_none() {
        liveness = start_probe(container.liveness_probe.as_ref(), &target, &mut tasks);
        readiness = start_probe(container.readiness_probe.as_ref(), &target, &mut tasks);
    }
    let grace = grace_period(&shared.pod);
    let result = loop {
        tokio::select! {
            status = spawned.child.wait() => {
                break match status {
                    Ok(s) => Stopped::Exited(s),
                    Err(_) => Stopped::Exited(std::process::ExitStatus::from_raw(1 << 8)),
                };
            }
            () = stop.wait() => {
                // Out of rotation first, then the signal.
                shared.update(index, |c| c.ready = false);
                let drain = shared.config.drain_delay.min(grace);
                let _ = tokio::time::timeout(drain, spawned.child.wait()).await;
                let started = tokio::time::Instant::now();
                if let Some(hook) = container.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
                    let _ = tokio::time::timeout(grace, pre_stop(hook, &target)).await;
                }
                let left = grace.saturating_sub(started.elapsed());
                break Stopped::Shutdown(terminate(spawned, left).await);
            }
            verdict = changed(&mut startup) => match verdict {
                Some(true) => {
                    startup = None;
                    shared.update(index, |c| {
                        c.started = true;
                        c.ready = container.readiness_probe.is_none();
                    });
                    liveness = start_probe(container.liveness_probe.as_ref(), &target, &mut tasks);
                    readiness =
                        start_probe(container.readiness_probe.as_ref(), &target, &mut tasks);
                }
                Some(false) => break Stopped::Unhealthy(terminate(spawned, grace).await),
                None => {}
            },
            verdict = changed(&mut liveness) => {
                if verdict == Some(false) {
                    tracing::info!(container = %container.name, "liveness probe failed; restarting");
                    break Stopped::Unhealthy(terminate(spawned, grace).await);
                }
            }
            verdict = changed(&mut readiness) => {
                let ready = verdict == Some(true);
                shared.update(index, |c| c.ready = ready);
            }
        }
    };
    for task in tasks {
        task.abort();
    }
    result
}

/// Runs a `preStop` hook (exec, httpGet, tcpSocket or sleep); its failure does not stop the
/// termination, as in Kubernetes.
async fn pre_stop(hook: &LifecycleHandler, target: &Target) {
    if let Some(sleep) = &hook.sleep {
        let secs = u64::try_from(sleep.seconds.max(0)).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        return;
    }
    let as_probe = Probe {
        exec: hook.exec.clone(),
        http_get: hook.http_get.clone(),
        tcp_socket: hook.tcp_socket.clone(),
        // The caller bounds the hook by the grace period.
        timeout_seconds: Some(i32::MAX),
        ..Probe::default()
    };
    if let Err(message) = super::probe::probe_once(&as_probe, target).await {
        tracing::warn!(%message, "preStop hook failed");
    }
}

/// SIGTERM to the process group, up to `grace` for the main process to exit, then SIGKILL.
async fn terminate(
    spawned: &mut super::process::Spawned,
    grace: Duration,
) -> std::process::ExitStatus {
    signal_group(spawned.pid, Signal::TERM);
    let status = match tokio::time::timeout(grace, spawned.child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => None,
    };
    signal_group(spawned.pid, Signal::KILL);
    let status = match status {
        Some(s) => s,
        None => {
            spawned.child.wait().await.unwrap_or_else(|_| std::process::ExitStatus::from_raw(9))
        }
    };
    // Give the group's other members a moment to be reaped by their parent.
    for _ in 0..20 {
        if !group_alive(spawned.pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    status
}

/// Kubernetes' RFC 1123 label rule for container names.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod name_tests {
    use super::is_dns_label;

    #[test]
    fn container_names_that_could_leave_the_pod_directory_are_refused() {
        assert!(is_dns_label("reviews"));
        assert!(is_dns_label("app-2"));
        for bad in ["", "../x", "a/b", ".hidden", "-a", "a-", "Upper", &"x".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }
}
