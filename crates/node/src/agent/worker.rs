//! One pod's supervisor: allocates its ports, records them, runs one
//! [`container`](super::container) supervisor per container and writes the pod's status
//! whenever a container changes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodStatus};
use serde_json::json;
use tokio::sync::Notify;
use weir_cluster::{Cluster, Error, Patch, Subresource};
use weir_controller::Shutdown;

use super::NodeConfig;
use super::adopt::{Fate, LEFTOVER_GRACE, PodFacts, fate};
use super::container::{Adopted, Outcome, supervise};
use super::process::{ContainerState, PodState, end_orphan_group, free_port};
use super::spec::Blocked;
use super::status::{ContainerRuntime, RunState, pod_status};
use crate::kube::{now, pods};

pub use weir_cluster::HOST_PORTS_ANNOTATION;

/// Runs one pod until `stop`; processes are ended (gracefully) before it returns.
pub(crate) async fn run_pod<C: Cluster>(
    cluster: Arc<C>,
    config: Arc<NodeConfig>,
    pod: Pod,
    stop: Shutdown,
) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let dir = super::process::pod_dir(&config.data_dir, &ns, &name, &uid);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        tracing::error!(pod = %name, %error, "cannot create pod directory");
        return;
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let mut state = PodState::load(&dir).filter(|s| s.uid == uid).unwrap_or_default();
    state.uid.clone_from(&uid);
    let adopted = adoptions(&pod, &state, &config).await;
    state.mesh_url.clone_from(&config.mesh_url);
    let previous = pod.status.clone().unwrap_or_default();
    let mut runtimes = Vec::new();
    let init_containers = spec.init_containers.clone().unwrap_or_default();
    let init_count = init_containers.len();
    // A pod whose app containers are adopted has been initialized already.
    let initialized_before = !adopted.is_empty();
    for (i, container) in init_containers.iter().chain(&spec.containers).enumerate() {
        let entry = state.containers.entry(container.name.clone()).or_default();
        // An adopted process holds its ports: they stay as recorded. Otherwise a port that
        // cannot be had now is reported when the container starts.
        if !adopted.contains_key(&container.name) {
            let _ = assign_ports(container, &mut entry.ports);
        }
        let mut runtime = ContainerRuntime::new(
            &container.name,
            container.image.as_deref().unwrap_or(""),
            entry.restart_count,
        );
        if i < init_count && initialized_before {
            runtime.state = RunState::Terminated {
                exit_code: 0,
                reason: "Completed".into(),
                message: None,
                started_at: None,
                finished_at: now(),
            };
        } else if init_count > 0 && i >= init_count && !initialized_before {
            runtime.state = RunState::Waiting { reason: "PodInitializing".into(), message: None };
        }
        runtimes.push(runtime);
    }
    let start_time =
        previous.start_time.as_ref().filter(|_| initialized_before).map_or_else(now, |t| t.0);
    let _ = state.save(&dir);
    let shared = Arc::new(Shared {
        cluster,
        config,
        pod,
        dir,
        containers: Mutex::new(runtimes),
        state: Mutex::new(state),
        changed: Notify::new(),
        start_time,
        init_count,
    });
    shared.publish_ports().await;
    let writer_stop = Shutdown::new();
    let writer = tokio::spawn(status_writer(shared.clone(), writer_stop.clone()));
    // Init containers run one after the other, each to completion, before the app containers.
    let mut initialized = true;
    for index in (0..init_count).filter(|_| !initialized_before) {
        if supervise(shared.clone(), index, stop.clone(), None).await != Outcome::Completed {
            initialized = false;
            break;
        }
    }
    let mut supervisors = tokio::task::JoinSet::new();
    if initialized {
        for (index, container) in spec.containers.iter().enumerate() {
            let adopt = adopted.get(&container.name).cloned();
            supervisors.spawn(supervise(shared.clone(), init_count + index, stop.clone(), adopt));
        }
    }
    while supervisors.join_next().await.is_some() {}
    stop.wait().await;
    writer_stop.trigger();
    let _ = writer.await;
    shared.write_status().await;
}

/// The app containers whose recorded process is adopted (by name), from the pod's state file
/// and its status as the previous run wrote it. Live processes that are not adopted are ended
/// first (all at once), so a container never runs twice.
async fn adoptions(pod: &Pod, state: &PodState, config: &NodeConfig) -> HashMap<String, Adopted> {
    let facts = PodFacts::of(pod);
    let pod_wants_them =
        fate(state, Some(&facts), &config.node_name, config.mesh_url.as_deref()) == Fate::Adopt;
    let statuses: Vec<ContainerStatus> =
        pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
    let app: Vec<&str> =
        pod.spec.iter().flat_map(|s| s.containers.iter().map(|c| c.name.as_str())).collect();
    let mut adopted = HashMap::new();
    let mut ending = tokio::task::JoinSet::new();
    for (name, recorded) in &state.containers {
        let Some(pid) = recorded.live_process() else {
            continue;
        };
        let status = statuses.iter().find(|s| &s.name == name);
        if pod_wants_them && app.contains(&name.as_str()) {
            let started_at = status
                .and_then(|s| s.state.as_ref())
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.as_ref())
                .map_or_else(now, |t| t.0);
            adopted.insert(
                name.clone(),
                Adopted {
                    pid,
                    start_ticks: recorded.start_ticks,
                    started_at,
                    ready: status.is_some_and(|s| s.ready),
                    started: status.and_then(|s| s.started).unwrap_or(false),
                },
            );
        } else {
            tracing::info!(pid, container = %name, "ending a process left by a previous run");
            let grace = facts.grace.min(LEFTOVER_GRACE);
            ending.spawn(end_orphan_group(pid, recorded.start_ticks, grace));
        }
    }
    while ending.join_next().await.is_some() {}
    adopted
}

/// What a pod's container supervisors share: the pod, its directory, the containers' states
/// (for the status) and the state file.
pub(super) struct Shared<C> {
    pub(super) cluster: Arc<C>,
    pub(super) config: Arc<NodeConfig>,
    pub(super) pod: Pod,
    pub(super) dir: PathBuf,
    containers: Mutex<Vec<ContainerRuntime>>,
    state: Mutex<PodState>,
    changed: Notify,
    start_time: k8s_openapi::jiff::Timestamp,
    /// How many of `containers` are init containers (they come first).
    pub(super) init_count: usize,
}

impl<C: Cluster> Shared<C> {
    pub(super) fn update(&self, index: usize, f: impl FnOnce(&mut ContainerRuntime)) {
        {
            let mut containers =
                self.containers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = containers.get_mut(index) {
                f(c);
            }
        }
        self.changed.notify_one();
    }

    pub(super) fn record(&self, name: &str, f: impl FnOnce(&mut ContainerState)) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(state.containers.entry(name.to_owned()).or_default());
        if let Err(error) = state.save(&self.dir) {
            tracing::warn!(%error, "cannot save pod state");
        }
    }

    /// The host ports recorded for container `name` (an adopted process holds them).
    pub(super) fn recorded_ports(&self, name: &str) -> BTreeMap<i32, u16> {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.containers.get(name).map(|c| c.ports.clone()).unwrap_or_default()
    }

    /// The container's host ports, re-checked before each start: a `hostPort` must be free;
    /// an assigned port that was taken meanwhile is replaced (and the annotation updated).
    pub(super) async fn ports(&self, container: &Container) -> Result<BTreeMap<i32, u16>, Blocked> {
        let (ports, changed) = {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = state.containers.entry(container.name.clone()).or_default();
            let changed = assign_ports(container, &mut entry.ports)?;
            let ports = entry.ports.clone();
            if changed && let Err(error) = state.save(&self.dir) {
                tracing::warn!(%error, "cannot save pod state");
            }
            (ports, changed)
        };
        if changed {
            self.publish_ports().await;
        }
        Ok(ports)
    }

    /// Writes the port map annotation ([`HOST_PORTS_ANNOTATION`]).
    async fn publish_ports(&self) {
        let map: BTreeMap<String, BTreeMap<String, u16>> = {
            let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state
                .containers
                .iter()
                .map(|(c, s)| {
                    (c.clone(), s.ports.iter().map(|(k, v)| (k.to_string(), *v)).collect())
                })
                .collect()
        };
        let patch = Patch::Merge(json!({"metadata": {"annotations": {
            HOST_PORTS_ANNOTATION: serde_json::to_string(&map).unwrap_or_default()
        }}}));
        let ns = self.pod.metadata.namespace.as_deref();
        let name = self.pod.metadata.name.as_deref().unwrap_or("");
        if let Err(error) = self.cluster.patch(&pods(), ns, name, &patch, Subresource::Main).await {
            tracing::warn!(pod = %name, %error, "cannot record host ports");
        }
    }

    /// Writes the pod's status if it changed; re-reads and retries on conflicts.
    async fn write_status(&self) {
        let ns = self.pod.metadata.namespace.as_deref();
        let name = self.pod.metadata.name.as_deref().unwrap_or("");
        let policy = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into());
        for _ in 0..5 {
            let Ok(mut object) = self.cluster.get(&pods(), ns, name).await else {
                return;
            };
            if object.uid() != self.pod.metadata.uid.as_deref().unwrap_or("") {
                return;
            }
            let previous: Option<PodStatus> =
                object.field("status").and_then(|s| serde_json::from_value(s.clone()).ok());
            let containers =
                self.containers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            let (init, app) = containers.split_at(self.init_count.min(containers.len()));
            let status = pod_status(init, app, &policy, self.start_time, previous.as_ref(), now());
            if previous.as_ref() == Some(&status) {
                return;
            }
            object.data.insert("status".into(), serde_json::to_value(&status).unwrap_or_default());
            match self.cluster.update_status(&pods(), object).await {
                Ok(_) | Err(Error::NotFound { .. }) => return,
                Err(Error::Conflict { .. }) => continue,
                Err(error) => {
                    tracing::warn!(pod = %name, %error, "cannot write pod status");
                    return;
                }
            }
        }
    }
}

/// Gives every containerPort a host port: its `hostPort` if set (which must be free), else the
/// port assigned before if it is still free, else a new free one. Returns whether the map
/// changed.
fn assign_ports(container: &Container, ports: &mut BTreeMap<i32, u16>) -> Result<bool, Blocked> {
    let mut changed = false;
    for port in container.ports.iter().flatten() {
        let current = ports.get(&port.container_port).copied();
        let wanted = match port.host_port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) {
            Some(fixed) if is_free(fixed) => fixed,
            Some(fixed) => {
                return Err(Blocked {
                    reason: "PortInUse",
                    message: format!(
                        "hostPort {fixed} of containerPort {} is already in use on 127.0.0.1",
                        port.container_port
                    ),
                });
            }
            None => match current.filter(|p| is_free(*p)) {
                Some(p) => p,
                None => free_port().map_err(|e| Blocked {
                    reason: "PortInUse",
                    message: format!("no free port for containerPort {}: {e}", port.container_port),
                })?,
            },
        };
        if current != Some(wanted) {
            ports.insert(port.container_port, wanted);
            changed = true;
        }
    }
    Ok(changed)
}

fn is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

async fn status_writer<C: Cluster>(shared: Arc<Shared<C>>, stop: Shutdown) {
    loop {
        tokio::select! {
            () = stop.wait() => return,
            () = shared.changed.notified() => {}
        }
        // Fold bursts of changes into one write.
        tokio::time::sleep(Duration::from_millis(20)).await;
        shared.write_status().await;
    }
}
