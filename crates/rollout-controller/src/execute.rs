//! Carrying out the engine's ReplicaSet and AnalysisRun commands against the cluster, each
//! one idempotent: creating what exists, scaling to the current count or deleting what is
//! gone changes nothing, so a pass cut short by a crash can simply run again.

use serde_json::{Value, json};
use weir_cluster::{Cluster, DeleteParams, Error, Patch, Registry, ResourceType, Subresource};
use weir_model::rollouts::Rollout;
use weir_rollout::{
    Command, DESIRED_REPLICAS_ANNOTATION, REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION,
};

use crate::replicaset::{desired_ephemeral, new_replica_set};

pub(crate) fn rt(plural: &str) -> ResourceType {
    Registry::builtin()
        .for_name(plural)
        .cloned()
        .unwrap_or_else(|| ResourceType::guess("v1", plural))
}

fn ignore_not_found<T>(result: Result<T, Error>) -> Result<(), Error> {
    match result {
        Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What executing the ReplicaSet commands found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executed {
    /// Everything is done (or was already).
    Done,
    /// The new ReplicaSet's name is taken by a ReplicaSet this Rollout does not control (a
    /// hash collision, §3.3): `status.collisionCount` must grow and the pass start again.
    Collision,
}

/// Executes the ReplicaSet and AnalysisRun-cancel commands (traffic and AnalysisRun creation
/// have their own modules). `ro` is the resolved Rollout with the status before this pass;
/// `uid` is the Rollout's.
pub(crate) async fn replica_sets<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    uid: &str,
    new_hash: &str,
    commands: &[Command],
) -> Result<Executed, String> {
    let ns = ro.metadata.namespace.as_deref();
    let rs_rt = rt("replicasets");
    let desired = ro.spec.replicas().to_string();
    for command in commands {
        let result = match command {
            Command::CreateReplicaSet { name, hash, revision, replicas } => {
                let ephemeral = desired_ephemeral(ro, hash, new_hash);
                let rs = new_replica_set(ro, name, hash, *revision, *replicas, ephemeral.as_ref())?;
                match cluster.create(&rs_rt, rs).await {
                    Ok(_) => Ok(()),
                    Err(Error::AlreadyExists { .. }) => {
                        let existing = cluster.get(&rs_rt, ns, name).await;
                        match existing {
                            Ok(existing) if !crate::observe::controlled_by(&existing, uid) => {
                                tracing::warn!(replica_set = %name, "hash collision: the name is taken by a ReplicaSet this Rollout does not control");
                                return Ok(Executed::Collision);
                            }
                            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            Command::ScaleReplicaSet { name, replicas } => {
                let patch = json!({
                    "metadata": {"annotations": {DESIRED_REPLICAS_ANNOTATION: desired}},
                    "spec": {"replicas": replicas},
                });
                let patch = Patch::Merge(patch);
                cluster.patch(&rs_rt, ns, name, &patch, Subresource::Main).await.map(|_| ())
            }
            Command::SetRevision { name, revision } => {
                let patch = Patch::Merge(json!({"metadata": {"annotations": {
                        REVISION_ANNOTATION: revision.to_string()}}}));
                ignore_not_found(cluster.patch(&rs_rt, ns, name, &patch, Subresource::Main).await)
            }
            Command::SetScaleDownDeadline { name, deadline } => {
                let value = deadline.map_or(Value::Null, |d| Value::String(d.to_string()));
                let patch = Patch::Merge(json!({"metadata": {"annotations": {
                        SCALE_DOWN_DEADLINE_ANNOTATION: value}}}));
                ignore_not_found(cluster.patch(&rs_rt, ns, name, &patch, Subresource::Main).await)
            }
            Command::DeleteReplicaSet { name } => {
                ignore_not_found(cluster.delete(&rs_rt, ns, name, &DeleteParams::default()).await)
            }
            Command::CancelAnalysisRun { name } => {
                let patch = Patch::Merge(json!({"spec": {"terminate": true}}));
                let ar = rt("analysisruns");
                ignore_not_found(cluster.patch(&ar, ns, name, &patch, Subresource::Main).await)
            }
            _ => Ok(()),
        };
        result.map_err(|e| format!("{command:?}: {e}"))?;
    }
    Ok(Executed::Done)
}
