//! `status.phase` and `status.message` (`CalculateRolloutPhase`), and the client-side
//! `GetRolloutPhase` the CLI shows, which also waits for the spec to be observed.

use weir_model::rollouts::{Rollout, RolloutSpec, RolloutStatus};

use crate::conditions::{INVALID_SPEC, reason};

/// A Rollout's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutPhase {
    /// Finished and fully available.
    Healthy,
    /// An update is under way.
    Progressing,
    /// Paused by a user or a pause condition.
    Paused,
    /// Invalid, aborted or past its progress deadline.
    Degraded,
}

impl RolloutPhase {
    /// The phase as Argo writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutPhase::Healthy => "Healthy",
            RolloutPhase::Progressing => "Progressing",
            RolloutPhase::Paused => "Paused",
            RolloutPhase::Degraded => "Degraded",
        }
    }

    /// Parses Argo's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Healthy" => RolloutPhase::Healthy,
            "Progressing" => RolloutPhase::Progressing,
            "Paused" => RolloutPhase::Paused,
            "Degraded" => RolloutPhase::Degraded,
            _ => return None,
        })
    }
}

/// Annotation on a Rollout with `workloadRef`: the referenced workload's generation.
pub const WORKLOAD_GENERATION_ANNOTATION: &str = "rollout.argoproj.io/workload-generation";

/// `CalculateRolloutPhase`: the first matching rule of spec §3.6.
pub fn calculate_rollout_phase(
    spec: &RolloutSpec,
    status: &RolloutStatus,
) -> (RolloutPhase, String) {
    for c in status.conditions.as_deref().unwrap_or(&[]) {
        if c.type_ == INVALID_SPEC {
            return (RolloutPhase::Degraded, format!("{}: {}", INVALID_SPEC, c.message));
        }
        if c.reason == reason::ABORTED || c.reason == reason::TIMED_OUT {
            return (RolloutPhase::Degraded, format!("{}: {}", c.reason, c.message));
        }
    }
    if spec.is_paused() {
        return (RolloutPhase::Paused, "manually paused".to_owned());
    }
    if let Some(p) = status.pause_conditions.as_deref().and_then(<[_]>::first) {
        return (RolloutPhase::Paused, p.reason.clone());
    }
    if let Some(restart_at) = &spec.restart_at
        && status.restarted_at.as_ref() != Some(restart_at)
    {
        return (RolloutPhase::Progressing, "rollout is restarting".to_owned());
    }
    let n = |v: Option<i32>| v.unwrap_or(0);
    if n(status.updated_replicas) < spec.replicas() {
        return (RolloutPhase::Progressing, "more replicas need to be updated".to_owned());
    }
    if n(status.available_replicas) < n(status.updated_replicas) {
        return (
            RolloutPhase::Progressing,
            "updated replicas are still becoming available".to_owned(),
        );
    }
    let current = status.current_pod_hash.as_deref().unwrap_or("");
    let stable = status.stable_rs.as_deref().unwrap_or("");
    if let Some(bg) = spec.blue_green() {
        let bg_status = status.blue_green.clone().unwrap_or_default();
        let active = bg_status.active_selector.as_deref().unwrap_or("");
        if active.is_empty() || active != current {
            return (RolloutPhase::Progressing, "active service cutover pending".to_owned());
        }
        if stable.is_empty() || stable != current {
            let post_pending = bg.post_promotion_analysis.is_some()
                && bg_status
                    .post_promotion_analysis_run_status
                    .as_ref()
                    .is_none_or(|s| !is_completed_phase(&s.status));
            let message = if post_pending {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            };
            return (RolloutPhase::Progressing, message.to_owned());
        }
    } else if let Some(canary) = spec.canary() {
        if canary.traffic_routing.is_none() && n(status.replicas) > n(status.updated_replicas) {
            return (RolloutPhase::Progressing, "old replicas are pending termination".to_owned());
        }
        if stable.is_empty() || stable != current {
            return (RolloutPhase::Progressing, "waiting for all steps to complete".to_owned());
        }
    }
    (RolloutPhase::Healthy, String::new())
}

fn is_completed_phase(phase: &str) -> bool {
    matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive")
}

/// `isGenerationObserved`: an unparseable or newer observed generation counts as observed.
pub fn is_generation_observed(generation: i64, observed: &str) -> bool {
    match observed.parse::<i64>() {
        Ok(o) => o >= generation,
        Err(_) => true,
    }
}

/// `isWorkloadGenerationObserved`: the referenced workload's generation was seen.
pub fn is_workload_generation_observed(ro: &Rollout) -> bool {
    let Some(annotation) =
        ro.metadata.annotations.as_ref().and_then(|a| a.get(WORKLOAD_GENERATION_ANNOTATION))
    else {
        return true;
    };
    let Ok(wanted) = annotation.parse::<i32>() else {
        return true;
    };
    let observed =
        ro.status.as_ref().and_then(|s| s.workload_observed_generation.as_deref()).unwrap_or("");
    match observed.parse::<i32>() {
        Ok(o) => o >= wanted,
        Err(_) => true,
    }
}

/// `GetRolloutPhase` (what the CLI shows): waits for the spec (and a referenced workload)
/// to be observed and for a resume to be picked up, then trusts the controller's phase.
pub fn get_rollout_phase(ro: &Rollout) -> (RolloutPhase, String) {
    let default_status = RolloutStatus::default();
    let status = ro.status.as_ref().unwrap_or(&default_status);
    let generation = ro.metadata.generation.unwrap_or(0);
    if !is_generation_observed(generation, status.observed_generation.as_deref().unwrap_or("")) {
        return (
            RolloutPhase::Progressing,
            "waiting for rollout spec update to be observed".to_owned(),
        );
    }
    if status.controller_pause.unwrap_or(false)
        && status.pause_conditions.as_ref().is_none_or(Vec::is_empty)
    {
        return (RolloutPhase::Progressing, "waiting for rollout to unpause".to_owned());
    }
    if ro.spec.workload_ref.is_some() && !is_workload_generation_observed(ro) {
        return (
            RolloutPhase::Progressing,
            "waiting for rollout spec update to be observed for the reference workload".to_owned(),
        );
    }
    if let Some(phase) = status.phase.as_deref().and_then(RolloutPhase::parse) {
        return (phase, status.message.clone().unwrap_or_default());
    }
    calculate_rollout_phase(&ro.spec, status)
}
