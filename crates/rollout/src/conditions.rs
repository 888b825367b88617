//! Rollout conditions as Argo writes them (`utils/conditions`): types, reasons, messages,
//! set/remove semantics, and the progress, health, completion and deadline checks.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_model::rollouts::{Rollout, RolloutCondition, RolloutStatus};

use crate::steps;

/// Condition type `Available`.
pub const AVAILABLE: &str = "Available";
/// Condition type `Progressing`.
pub const PROGRESSING: &str = "Progressing";
/// Condition type `Paused`.
pub const PAUSED: &str = "Paused";
/// Condition type `Completed`.
pub const COMPLETED: &str = "Completed";
/// Condition type `Healthy`.
pub const HEALTHY: &str = "Healthy";
/// Condition type `InvalidSpec`.
pub const INVALID_SPEC: &str = "InvalidSpec";

/// Reasons Argo writes on conditions.
pub mod reason {
    /// A new ReplicaSet was created.
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    /// The new ReplicaSet already existed.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// Progress was seen.
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    /// The update finished.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// No progress within `progressDeadlineSeconds`.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// The update was aborted.
    pub const ABORTED: &str = "RolloutAborted";
    /// The rollout is paused.
    pub const PAUSED: &str = "RolloutPaused";
    /// The rollout was resumed.
    pub const RESUMED: &str = "RolloutResumed";
    /// The user retried an aborted update.
    pub const RETRY: &str = "RolloutRetry";
    /// `Available`: enough pods are available.
    pub const AVAILABLE: &str = "AvailableReason";
    /// `Available`: not enough pods are available.
    pub const NOT_AVAILABLE: &str = "AvailableReason";
    /// `Completed`: the update finished.
    pub const COMPLETED: &str = "RolloutCompleted";
    /// `Healthy`: the rollout is healthy.
    pub const HEALTHY: &str = "RolloutHealthy";
    /// `InvalidSpec`.
    pub const INVALID_SPEC: &str = "InvalidSpec";
}

/// `RolloutAbortedMessage`.
pub fn aborted_message(revision: i64, detail: &str) -> String {
    if detail.is_empty() {
        format!("Rollout aborted update to revision {revision}")
    } else {
        format!("Rollout aborted update to revision {revision}: {detail}")
    }
}

/// `ReplicaSet "x" is progressing.`
pub fn progressing_message(rs: &str) -> String {
    format!("ReplicaSet \"{rs}\" is progressing.")
}

/// `Rollout "x" is progressing.`: Argo's message when there is no new ReplicaSet to name.
pub fn rollout_progressing_message(rollout: &str) -> String {
    format!("Rollout \"{rollout}\" is progressing.")
}

/// `Rollout "x" has timed out progressing.`: the deadline message without a new ReplicaSet.
pub fn rollout_timed_out_message(rollout: &str) -> String {
    format!("Rollout \"{rollout}\" has timed out progressing.")
}

/// `ReplicaSet "x" has successfully progressed.`
pub fn available_message(rs: &str) -> String {
    format!("ReplicaSet \"{rs}\" has successfully progressed.")
}

/// `ReplicaSet "x" has timed out progressing.`
pub fn timed_out_message(rs: &str) -> String {
    format!("ReplicaSet \"{rs}\" has timed out progressing.")
}

/// A condition stamped at `now`.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    now: Timestamp,
) -> RolloutCondition {
    RolloutCondition {
        last_transition_time: Time(now),
        last_update_time: Time(now),
        message: message.into(),
        reason: reason.to_owned(),
        status: status.to_owned(),
        type_: type_.to_owned(),
    }
}

/// The condition of `type_`, if any.
pub fn get_condition<'a>(status: &'a RolloutStatus, type_: &str) -> Option<&'a RolloutCondition> {
    status.conditions.as_deref().unwrap_or(&[]).iter().find(|c| c.type_ == type_)
}

/// `SetRolloutCondition`: same status and reason → unchanged; same status → replaced keeping
/// the old transition time; otherwise every condition of the type is replaced by one appended.
pub fn set_condition(status: &mut RolloutStatus, mut condition: RolloutCondition) {
    if let Some(current) = get_condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != condition.type_);
    conditions.push(condition);
}

/// `RemoveRolloutCondition`.
pub fn remove_condition(status: &mut RolloutStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

/// `RolloutProgressing`: did anything move between `old` and `new`?
pub fn rollout_progressing(ro: &Rollout, old: &RolloutStatus, new: &RolloutStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    let replicas_moved = n(new.updated_replicas) != n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas);
    if replicas_moved {
        return true;
    }
    if ro.spec.blue_green().is_some() {
        let sel = |s: &RolloutStatus| {
            let bg = s.blue_green.clone().unwrap_or_default();
            (bg.active_selector.unwrap_or_default(), bg.preview_selector.unwrap_or_default())
        };
        return sel(old) != sel(new);
    }
    if ro.spec.canary().is_some() {
        let stable_changed = old.stable_rs != new.stable_rs;
        let index_changed = matches!((old.current_step_index, new.current_step_index), (Some(a), Some(b)) if a != b);
        let hash_changed = old.current_step_hash != new.current_step_hash;
        return stable_changed || index_changed || hash_changed;
    }
    false
}

/// `RolloutHealthy`: finished, observed and fully available.
pub fn rollout_healthy(ro: &Rollout, new: &RolloutStatus) -> bool {
    let replicas = ro.spec.replicas();
    let generation = ro.metadata.generation.unwrap_or(0).to_string();
    if new.updated_replicas.unwrap_or(0) != replicas
        || new.available_replicas.unwrap_or(0) != replicas
        || new.observed_generation.as_deref() != Some(generation.as_str())
    {
        return false;
    }
    let current = new.current_pod_hash.as_deref().unwrap_or("");
    if let Some(bg) = ro.spec.blue_green() {
        let status = new.blue_green.clone().unwrap_or_default();
        let active_ok = status.active_selector.as_deref() == Some(current);
        let preview_ok =
            bg.preview_service().is_empty() || status.preview_selector.as_deref() == Some(current);
        return active_ok && preview_ok;
    }
    if let Some(canary) = ro.spec.canary() {
        let steps = canary.steps();
        let steps_done = steps.is_empty()
            || new.current_step_index.is_none_or(|i| usize::try_from(i).ok() == Some(steps.len()));
        let stable = new.stable_rs.as_deref().unwrap_or("");
        return steps_done
            && !stable.is_empty()
            && stable == current
            && new.replicas.unwrap_or(0) == replicas;
    }
    false
}

/// `RolloutCompleted`: `stableRS` is set and equals `currentPodHash`.
pub fn rollout_completed(status: &RolloutStatus) -> bool {
    let stable = status.stable_rs.as_deref().unwrap_or("");
    !stable.is_empty() && Some(stable) == status.current_pod_hash.as_deref()
}

/// `RolloutTimedOut`: the `Progressing` condition has not been refreshed for
/// `progressDeadlineSeconds` (never while paused or aborted, nor once the update has
/// finished: a `NewReplicaSetAvailable` condition is not a base to estimate progress from).
pub fn rollout_timed_out(ro: &Rollout, new: &RolloutStatus, now: Timestamp) -> bool {
    let Some(cond) = get_condition(new, PROGRESSING) else {
        return false;
    };
    match cond.reason.as_str() {
        reason::ABORTED | reason::PAUSED | reason::NEW_RS_AVAILABLE => false,
        reason::TIMED_OUT => true,
        _ => {
            let deadline = i64::from(ro.spec.progress_deadline_seconds());
            cond.last_update_time.0.as_second() + deadline < now.as_second()
        }
    }
}

/// Whether the rollout is fully promoted (`stableRS == currentPodHash`).
pub fn is_fully_promoted(ro: &Rollout) -> bool {
    steps::stable_rs(ro) == steps::current_pod_hash(ro)
}
