//! What a starting agent does with the processes a previous run left behind (weir killed with
//! SIGKILL, or stopped without stopping its pods): keep them, or end them.
//!
//! A process is **adopted** (supervised again without a restart, so a restart of weir costs
//! its pods no downtime) when all of these hold; otherwise it is **ended** — every such
//! process at the same time, each with a bounded grace period — and its pod, if it still
//! exists, is started afresh:
//! - it is still the process we started: same pid *and* same start time (`/proc/<pid>/stat`),
//!   so a reused pid is never mistaken for ours;
//! - its Pod still exists with the same uid, is not being deleted, and is bound to this node
//!   (or not bound yet);
//! - the Pod's `restartPolicy` is `Always`: a process that is not our child has an exit
//!   status we cannot read, and `OnFailure`/`Never` pods (Jobs, hooks, analysis
//!   measurements) need it; such pods are run afresh as before;
//! - it was given the same mesh URL (`HTTP_PROXY`) this run serves.
//!
//! [`fate`] is the pure decision; [`settle_leftovers`] applies it on start.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use weir_cluster::{Cluster, ListParams};

use super::NodeConfig;
use super::process::{PodState, end_orphan_group};
use crate::kube::pods;

/// The longest a process left by a previous run gets between SIGTERM and SIGKILL when it is
/// ended on start (its pod's own grace period applies when shorter).
pub(crate) const LEFTOVER_GRACE: Duration = Duration::from_secs(5);

/// What the store says about the pod a leftover process belongs to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PodFacts {
    /// `metadata.deletionTimestamp` is set.
    pub(crate) deleting: bool,
    /// `spec.nodeName` (empty when unbound).
    pub(crate) node_name: String,
    /// `spec.restartPolicy` (Kubernetes' default `Always` when unset).
    pub(crate) restart_policy: String,
    /// `spec.terminationGracePeriodSeconds` (Kubernetes' default 30 when unset).
    pub(crate) grace: Duration,
}

impl PodFacts {
    pub(crate) fn of(pod: &Pod) -> PodFacts {
        let spec = pod.spec.as_ref();
        let grace = spec.and_then(|s| s.termination_grace_period_seconds).unwrap_or(30).max(0);
        PodFacts {
            deleting: pod.metadata.deletion_timestamp.is_some(),
            node_name: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
            restart_policy: spec
                .and_then(|s| s.restart_policy.clone())
                .unwrap_or_else(|| "Always".into()),
            grace: Duration::from_secs(u64::try_from(grace).unwrap_or(30)),
        }
    }
}

/// The decision for one pod directory's live processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Keep them running; the pod's supervisor adopts them.
    Adopt,
    /// End them, for this reason (logged).
    End(&'static str),
}

/// Whether the live processes recorded in `state` are adopted, given their pod as the store
/// has it (`None`: no pod with the state's uid), this node's name and this run's mesh URL.
pub(crate) fn fate(
    state: &PodState,
    pod: Option<&PodFacts>,
    node_name: &str,
    mesh_url: Option<&str>,
) -> Fate {
    let Some(pod) = pod else {
        return Fate::End("its pod no longer exists");
    };
    if pod.deleting {
        return Fate::End("its pod is being deleted");
    }
    if !pod.node_name.is_empty() && pod.node_name != node_name {
        return Fate::End("its pod is bound to another node");
    }
    if pod.restart_policy != "Always" {
        return Fate::End("its pod runs to completion (restartPolicy is not Always)");
    }
    if state.mesh_url.as_deref() != mesh_url {
        return Fate::End("it was given another mesh URL");
    }
    Fate::Adopt
}

/// On start: reads every pod directory's state file and ends, all at once, the live
/// processes that are not to be adopted ([`fate`]). Adoptable ones are left running for
/// their pod's supervisor. Pods that cannot be listed make every process be ended (as
/// before adoption existed: never a process without a supervisor).
pub(crate) async fn settle_leftovers<C: Cluster>(cluster: &C, config: &NodeConfig) {
    let Ok(entries) = std::fs::read_dir(config.data_dir.join("pods")) else {
        return;
    };
    let facts: HashMap<String, PodFacts> =
        match cluster.list(&pods(), None, &ListParams::default()).await {
            Ok(list) => list
                .items
                .iter()
                .filter_map(|o| {
                    let pod: Pod = o.to_typed().ok()?;
                    Some((o.uid().to_owned(), PodFacts::of(&pod)))
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot list pods; ending every process left behind");
                HashMap::new()
            }
        };
    let mut ending = tokio::task::JoinSet::new();
    let mut adopted = 0usize;
    for entry in entries.flatten() {
        let dir = entry.path();
        let Some(state) = PodState::load(&dir) else {
            continue;
        };
        if state.containers.values().all(|c| c.pid.is_none()) {
            continue;
        }
        let pod = facts.get(&state.uid);
        match fate(&state, pod, &config.node_name, config.mesh_url.as_deref()) {
            Fate::Adopt => adopted += 1,
            Fate::End(reason) => {
                let grace = pod.map_or(LEFTOVER_GRACE, |p| p.grace.min(LEFTOVER_GRACE));
                tracing::info!(dir = %dir.display(), reason, "ending processes left by a previous run");
                ending.spawn(end_recorded(dir, grace));
            }
        }
    }
    if adopted > 0 {
        tracing::info!(pods = adopted, "adopting pods left running by a previous run");
    }
    while ending.join_next().await.is_some() {}
}

/// Ends every live process recorded in the state file of pod directory `dir` (all of its
/// containers at once: SIGTERM, up to `grace`, SIGKILL) and clears them from the file.
pub(crate) async fn end_recorded(dir: impl AsRef<Path>, grace: Duration) {
    let dir = dir.as_ref();
    let Some(mut state) = PodState::load(dir) else {
        return;
    };
    let mut groups = tokio::task::JoinSet::new();
    for container in state.containers.values_mut() {
        if let Some(pid) = container.pid.take() {
            groups.spawn(end_orphan_group(pid, container.start_ticks.take(), grace));
        }
    }
    if groups.is_empty() {
        return;
    }
    while groups.join_next().await.is_some() {}
    if let Err(error) = state.save(dir) {
        tracing::warn!(dir = %dir.display(), %error, "cannot save pod state");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(deleting: bool, node: &str, policy: &str) -> PodFacts {
        PodFacts {
            deleting,
            node_name: node.into(),
            restart_policy: policy.into(),
            grace: Duration::from_secs(1),
        }
    }

    /// Each row is one rule of the module documentation (the Kubernetes facts: an unbound pod
    /// has an empty nodeName; `Always` is the default restartPolicy).
    #[test]
    fn adopt_only_live_pods_of_this_node_that_restart_always_with_the_same_mesh() {
        let mesh = Some("http://127.0.0.1:7181");
        let state = PodState { mesh_url: mesh.map(str::to_owned), ..PodState::default() };
        let other_mesh =
            PodState { mesh_url: Some("http://127.0.0.1:40000".into()), ..PodState::default() };
        let cases: [(&PodState, Option<PodFacts>, Fate); 8] = [
            (&state, Some(facts(false, "weir", "Always")), Fate::Adopt),
            (&state, Some(facts(false, "", "Always")), Fate::Adopt),
            (&state, None, Fate::End("its pod no longer exists")),
            (&state, Some(facts(true, "weir", "Always")), Fate::End("its pod is being deleted")),
            (
                &state,
                Some(facts(false, "elsewhere", "Always")),
                Fate::End("its pod is bound to another node"),
            ),
            (
                &state,
                Some(facts(false, "weir", "OnFailure")),
                Fate::End("its pod runs to completion (restartPolicy is not Always)"),
            ),
            (
                &state,
                Some(facts(false, "weir", "Never")),
                Fate::End("its pod runs to completion (restartPolicy is not Always)"),
            ),
            (
                &other_mesh,
                Some(facts(false, "weir", "Always")),
                Fate::End("it was given another mesh URL"),
            ),
        ];
        for (state, pod, want) in cases {
            assert_eq!(fate(state, pod.as_ref(), "weir", mesh), want, "{pod:?}");
        }
    }

    #[test]
    fn facts_default_as_kubernetes_does() {
        let pod = Pod::default();
        let f = PodFacts::of(&pod);
        assert_eq!(f.restart_policy, "Always");
        assert_eq!(f.grace, Duration::from_secs(30));
        assert!(!f.deleting);
        assert_eq!(f.node_name, "");
    }

    #[tokio::test]
    async fn end_recorded_ends_every_group_at_once_and_clears_the_file() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = PodState { uid: "u".into(), ..PodState::default() };
        let mut children = Vec::new();
        for name in ["a", "b"] {
            // `sleep` ends on SIGTERM.
            let child = std::process::Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .expect("spawn sleep");
            let pid = child.id();
            state.containers.insert(
                name.into(),
                super::super::process::ContainerState {
                    pid: Some(pid),
                    start_ticks: super::super::process::start_ticks(pid),
                    ..Default::default()
                },
            );
            children.push(child);
        }
        state.save(dir.path()).expect("save");
        // Our own children stay zombies (still "alive") until waited for: the grace runs out.
        end_recorded(dir.path(), Duration::from_millis(300)).await;
        for mut child in children {
            let status = child.wait().expect("wait");
            assert!(!status.success(), "ended by a signal: {status}");
        }
        let after = PodState::load(dir.path()).expect("state");
        assert!(after.containers.values().all(|c| c.pid.is_none() && c.start_ticks.is_none()));
    }
}
