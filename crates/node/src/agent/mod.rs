//! The node agent: runs every Pod as host processes (one process group per container) and
//! writes their status back, like a kubelet for one machine.
//!
//! A pod gets the finalizer [`FINALIZER`] before anything starts, so a deleted pod stays in the
//! store until its processes have ended (SIGTERM to the group, SIGKILL after the grace period).
//! Each pod has a directory `<data_dir>/pods/<ns>_<pod>_<uid>/` with one log per container and
//! a state file recording pids (with their start times), restart counts and host ports. On
//! start the agent adopts the processes a previous run left behind where their pod still
//! wants them (see [`adopt`]), so a restart of weir does not restart its pods; the others are
//! ended, all at once, and their pods started afresh, keeping their restart counts and ports —
//! never orphaning or duplicating a process.

mod adopt;
mod container;
mod image;
mod probe;
mod process;
mod spec;
mod status;
mod worker;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use weir_cluster::{Cluster, Error, ObjectRef};
use weir_controller::{Action, Backoff, Context, Controller, Reconciler, Shutdown, WorkQueue};

pub(crate) use process::pod_dir;
pub use worker::HOST_PORTS_ANNOTATION;

use crate::kube::{pods, typed};

/// The finalizer the agent puts on every pod it runs.
pub const FINALIZER: &str = "weir.dev/node-agent";

/// Configuration of the node agent.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// weir's data directory; pods live under `<data_dir>/pods/`.
    pub data_dir: PathBuf,
    /// This node's name: pods with another non-empty `spec.nodeName` are left alone.
    pub node_name: String,
    /// Image → command line, for containers that name only an image (`reviews:v2` or
    /// `reviews` without tag).
    pub image_map: BTreeMap<String, Vec<String>>,
    /// The mesh proxy URL given to processes as `HTTP_PROXY`.
    pub mesh_url: Option<String>,
    /// Crash-loop backoff: Kubernetes' 10 s doubling to 5 min by default.
    pub crash_backoff: Backoff,
    /// End every pod's processes when the agent shuts down (default `true`). When `false` they
    /// keep running and the next start ends and restarts them.
    pub stop_pods_on_shutdown: bool,
    /// How long a stopping container is reported not ready before it gets SIGTERM, so the
    /// proxy takes it out of rotation first (like a `preStop` sleep). Default: 1 s.
    pub drain_delay: Duration,
}

impl NodeConfig {
    /// A configuration with Kubernetes' defaults for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            node_name: "weir".into(),
            image_map: BTreeMap::new(),
            mesh_url: None,
            crash_backoff: Backoff::new(Duration::from_secs(10), Duration::from_secs(300)),
            stop_pods_on_shutdown: true,
            drain_delay: Duration::from_secs(1),
        }
    }
}

/// Runs the node agent until `shutdown`: first ends processes a previous run left behind, then
/// supervises every pod. Returns once every pod's processes have ended (if
/// [`NodeConfig::stop_pods_on_shutdown`]).
pub async fn run_node_agent<C: Cluster>(cluster: Arc<C>, config: NodeConfig, shutdown: Shutdown) {
    adopt::settle_leftovers(cluster.as_ref(), &config).await;
    let controller = Controller::new(cluster.clone(), pods());
    let agent = Arc::new(Agent {
        cluster,
        config: Arc::new(config),
        workers: Mutex::default(),
        stopping: Arc::default(),
        queue: controller.queue(),
        shutdown: shutdown.clone(),
    });
    controller.run(agent.clone(), 4, shutdown).await;
    let handles: Vec<PodHandle> = {
        let mut workers = agent.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        workers.drain().map(|(_, h)| h).collect()
    };
    for handle in handles {
        if agent.config.stop_pods_on_shutdown {
            handle.stop.trigger();
            let _ = handle.task.await;
        } else {
            // Stop supervising but leave the processes running; the next start adopts them.
            handle.task.abort();
        }
    }
}

#[derive(Debug)]
struct PodHandle {
    uid: String,
    stop: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

struct Agent<C> {
    cluster: Arc<C>,
    config: Arc<NodeConfig>,
    workers: Mutex<HashMap<ObjectRef, PodHandle>>,
    /// Pods whose processes are being ended; the key is queued again once they are gone.
    stopping: Arc<Mutex<HashSet<ObjectRef>>>,
    queue: WorkQueue<ObjectRef>,
    shutdown: Shutdown,
}

impl<C: Cluster> Agent<C> {
    fn take_worker(&self, key: &ObjectRef) -> Option<PodHandle> {
        self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key)
    }

    async fn stop_worker(&self, key: &ObjectRef) {
        if let Some(handle) = self.take_worker(key) {
            handle.stop.trigger();
            let _ = handle.task.await;
        }
    }

    /// Starts ending a pod's processes without waiting (a grace period can be long); the key
    /// is queued again when they are gone. Returns whether the pod still has processes.
    fn begin_stop(&self, key: &ObjectRef) -> bool {
        let lock = |m: &Mutex<HashSet<ObjectRef>>| {
            m.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(key)
        };
        if lock(&self.stopping) {
            return true;
        }
        let Some(handle) = self.take_worker(key) else {
            return false;
        };
        handle.stop.trigger();
        self.stopping.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.clone());
        let (stopping, queue, key) = (self.stopping.clone(), self.queue.clone(), key.clone());
        tokio::spawn(async move {
            let _ = handle.task.await;
            stopping.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
            queue.add(key);
        });
        true
    }

    async fn remove_finalizer(&self, key: &ObjectRef) -> Result<(), Error> {
        let ns = key.namespace.as_deref();
        let mut object = match self.cluster.get(&pods(), ns, &key.name).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(finalizers) = object.metadata.finalizers.as_mut() else {
            return Ok(());
        };
        if !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(());
        }
        finalizers.retain(|f| f != FINALIZER);
        match self.cluster.update(&pods(), object).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl<C: Cluster> Reconciler for Agent<C> {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectRef, _ctx: &Context) -> Result<Action, Error> {
        let ns = key.namespace.as_deref();
        let object = match self.cluster.get(&pods(), ns, &key.name).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => {
                self.stop_worker(key).await;
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e),
        };
        let pod: Pod = typed(&object)?;
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("");
        if !node.is_empty() && node != self.config.node_name {
            return Ok(Action::await_change());
        }
        if object.metadata.deletion_timestamp.is_some() {
            if !self.begin_stop(key) {
                // Processes a previous run left and no supervisor adopted yet go first.
                let dir =
                    pod_dir(&self.config.data_dir, ns.unwrap_or_default(), &key.name, object.uid());
                let grace = adopt::PodFacts::of(&pod).grace.min(adopt::LEFTOVER_GRACE);
                adopt::end_recorded(dir, grace).await;
                self.remove_finalizer(key).await?;
            }
            return Ok(Action::await_change());
        }
        let has_finalizer = object.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER);
        if !has_finalizer || node.is_empty() {
            // Bind the pod to this node and hold it until its processes are gone.
            let mut updated = object.clone();
            if !has_finalizer {
                updated.metadata.finalizers.get_or_insert_default().push(FINALIZER.to_owned());
            }
            if node.is_empty() {
                let spec = updated.data.entry("spec").or_insert_with(|| serde_json::json!({}));
                spec["nodeName"] = serde_json::json!(self.config.node_name);
            }
            // The update's event brings us back here with the finalizer in place.
            self.cluster.update(&pods(), updated).await?;
            return Ok(Action::await_change());
        }
        let running_uid = {
            let workers = self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            workers.get(key).map(|h| h.uid.clone())
        };
        match running_uid {
            Some(uid) if uid == object.uid() => return Ok(Action::await_change()),
            Some(_) => self.stop_worker(key).await,
            None => {}
        }
        let stop =
            if self.config.stop_pods_on_shutdown { self.shutdown.child() } else { Shutdown::new() };
        let task = tokio::spawn(worker::run_pod(
            self.cluster.clone(),
            self.config.clone(),
            pod,
            stop.clone(),
        ));
        let handle = PodHandle { uid: object.uid().to_owned(), stop, task };
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), handle);
        Ok(Action::await_change())
    }
}
