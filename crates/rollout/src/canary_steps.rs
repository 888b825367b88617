//! Step progression and promotion (Argo's `completedCurrentCanaryStep`, pause handling and
//! `shouldFullPromote`): a step completes at most once per pass, from observed state only.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use weir_model::rollouts::PauseCondition;

use crate::canary::{Command, Pass};
use crate::replicas::{
    ReplicaSetView, at_desired_replica_counts_for_canary, replica_progress_threshold_met,
};
use crate::steps;

/// Pause reason of a `pause` step.
pub(crate) const CANARY_PAUSE: &str = "CanaryPauseStep";

/// Moves the rollout forward by at most one step, or promotes it.
pub(crate) fn progress(pass: &mut Pass<'_>, analysis_step_succeeded: bool) {
    let view = pass.view();
    if pass.stable_hash().is_empty() {
        return promote(pass, "Initial deploy");
    }
    if pass.fully_promoted() {
        return;
    }
    let replicas = pass.ro.spec.replicas();
    let new_rs = pass.new_rs.clone();
    let threshold = pass.ro.spec.canary().and_then(|c| c.replica_progress_threshold.as_ref());
    let new_ready = replica_progress_threshold_met(threshold, new_rs.as_ref(), replicas)
        || new_rs.as_ref().is_some_and(|rs| rs.available_replicas >= replicas);
    if pass.status.promote_full == Some(true) {
        if new_ready {
            promote(pass, "Full promotion requested");
        }
        return;
    }
    let (step, index) = steps::current_step(&view);
    let Some(step) = step else {
        if new_ready {
            let len = pass.steps_len();
            promote(pass, &format!("Completed all {len} canary steps"));
        }
        return;
    };
    let index = index.unwrap_or(0);
    let done = if step.set_weight.is_some() || step.set_canary_scale.is_some() {
        let stable = pass.stable_rs().cloned();
        let others: Vec<ReplicaSetView> = pass.other_rss();
        let weights = pass.old.canary.as_ref().and_then(|c| c.weights.as_ref());
        at_desired_replica_counts_for_canary(
            &view,
            new_rs.as_ref(),
            stable.as_ref(),
            &others,
            weights,
        )
    } else if let Some(pause) = &step.pause {
        pause_done(pass, pause.duration_seconds())
    } else if step.analysis.is_some() {
        analysis_step_succeeded
    } else if let Some(route) = &step.set_header_route {
        pass.commands.push(Command::SetHeaderRoute(route.clone()));
        true
    } else if let Some(route) = &step.set_mirror_route {
        pass.commands.push(Command::SetMirrorRoute(route.clone()));
        true
    } else {
        false
    };
    if done {
        let len = pass.steps_len();
        pass.status.current_step_index = Some(index + 1);
        if let Some(canary) = pass.status.canary.as_mut() {
            canary.current_step_analysis_run_status = None;
        }
        let what = steps::canary_step_string(step);
        pass.event(
            "RolloutStepCompleted",
            format!("Rollout step {}/{len} completed ({what})", index + 1),
            false,
        );
    }
}

/// A `pause` step: adds `CanaryPauseStep` once, completes when its duration has passed or a
/// user removed the condition (`controllerPause` without conditions).
fn pause_done(pass: &mut Pass<'_>, duration: i32) -> bool {
    let now = pass.now();
    let started = pass
        .status
        .pause_conditions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|p| p.reason == CANARY_PAUSE)
        .map(|p| p.start_time.0);
    match started {
        Some(start) => {
            if duration <= 0 {
                return false;
            }
            let end = start.as_second() + i64::from(duration);
            if now.as_second() >= end {
                clear_pause(pass);
                return true;
            }
            pass.requeue_after(Duration::from_secs(
                u64::try_from(end - now.as_second()).unwrap_or(0),
            ));
            false
        }
        None if pass.status.controller_pause == Some(true) => {
            pass.status.controller_pause = None;
            pass.event("RolloutResumed", "Rollout is resumed", false);
            true
        }
        None => {
            pass.status
                .pause_conditions
                .get_or_insert_with(Vec::new)
                .push(PauseCondition { reason: CANARY_PAUSE.to_owned(), start_time: Time(now) });
            pass.status.controller_pause = Some(true);
            pass.event("RolloutPaused", "Rollout is paused (CanaryPauseStep)", false);
            if duration > 0 {
                pass.requeue_after(Duration::from_secs(u64::try_from(duration).unwrap_or(0)));
            }
            false
        }
    }
}

fn clear_pause(pass: &mut Pass<'_>) {
    if let Some(list) = pass.status.pause_conditions.as_mut() {
        list.retain(|p| p.reason != CANARY_PAUSE);
        if list.is_empty() {
            pass.status.pause_conditions = None;
        }
    }
    pass.status.controller_pause = None;
}

/// `promoteStable`: the current template becomes stable and the steps are done.
fn promote(pass: &mut Pass<'_>, reason: &str) {
    // `pingPong`: the Service that carried the new pods becomes the stable one (Argo's
    // `promoteStable` flips `stablePingPong` whenever the stable ReplicaSet changes).
    if pass.status.stable_rs.as_deref() != Some(pass.new_hash.as_str())
        && let Some((stable, _)) = steps::ping_pong_services(&pass.view())
    {
        let ping = pass.ro.spec.canary().and_then(|c| c.ping_pong.as_ref());
        let stable_is_ping = ping.is_some_and(|pp| pp.ping_service == stable);
        let flipped = if stable_is_ping { steps::PONG } else { steps::PING };
        pass.status.canary.get_or_insert_with(Default::default).stable_ping_pong =
            Some(flipped.to_owned());
    }
    pass.status.stable_rs = Some(pass.new_hash.clone());
    let len = pass.steps_len();
    pass.status.current_step_index = (len > 0).then_some(len);
    pass.status.promote_full = None;
    pass.status.pause_conditions = None;
    pass.status.controller_pause = None;
    pass.status.aborted_at = None;
    let revision = pass.revision;
    let hash = pass.new_hash.clone();
    pass.event(
        "RolloutCompleted",
        format!("Rollout completed update to revision {revision} ({hash}): {reason}"),
        false,
    );
    if steps::has_traffic_routing(pass.ro) && reason != "Initial deploy" {
        pass.commands.push(Command::RemoveManagedRoutes);
    }
}
