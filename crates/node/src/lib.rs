//! weir-node: the controllers a real Kubernetes cluster already has, for weir's embedded mode —
//! Deployment → ReplicaSet → Pod, Job → Pod, and the node agent that runs pods as local
//! processes.
//!
//! What it is: four level-triggered controllers written against the
//! [`weir_cluster::Cluster`] port on the [`weir_controller`] runtime, each with a `run_*`
//! entry point that runs until its [`Shutdown`] is triggered, plus [`run`] for all three.
//! Decisions (replica math, rollout steps, status) are pure functions with table tests.
//!
//! What it is not: a scheduler (every pod runs on this one node), a container runtime (no
//! images, no isolation: a container is a host process group), or part of Kubernetes mode.
//!
//! Read [`NodeConfig`] and [`run`] first; then `agent` (pods as processes), `replicaset`,
//! `deployment`, `job`.

mod agent;
mod deployment;
mod job;
mod kube;
mod replicaset;

use std::sync::Arc;

pub use agent::{FINALIZER, HOST_PORTS_ANNOTATION, NodeConfig, run_node_agent};
pub use deployment::{REVISION_ANNOTATION, pod_template_hash, run_deployment_controller};
pub use job::run_job_controller;
pub use kube::POD_TEMPLATE_HASH_LABEL;
pub use replicaset::run_replicaset_controller;
use weir_cluster::Cluster;
pub use weir_controller::Shutdown;

/// Where the node agent writes a container's output (stdout and stderr interleaved, appended
/// across restarts): `<data_dir>/pods/<namespace>_<pod>_<uid>/<container>.log`.
pub fn pod_log_path(
    data_dir: &std::path::Path,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
) -> std::path::PathBuf {
    agent::pod_dir(data_dir, namespace, pod, uid).join(format!("{container}.log"))
}

/// Runs the Deployment, ReplicaSet and Job controllers and the node agent until `shutdown`; returns
/// when all have stopped (with every pod's processes ended unless
/// [`NodeConfig::stop_pods_on_shutdown`] is `false`).
pub async fn run<C: Cluster>(cluster: Arc<C>, config: NodeConfig, shutdown: Shutdown) {
    tokio::join!(
        run_deployment_controller(cluster.clone(), shutdown.clone()),
        run_replicaset_controller(cluster.clone(), shutdown.clone()),
        run_job_controller(cluster.clone(), shutdown.clone()),
        run_node_agent(cluster, config, shutdown),
    );
}
