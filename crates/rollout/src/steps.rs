//! Reading a Rollout's canary steps and status: the current step, the weight in effect,
//! `setCanaryScale`, and Argo's `CanaryStepString` for events.

use weir_model::rollouts::{CanaryStep, Rollout, SetCanaryScale};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) fn stable_rs(ro: &Rollout) -> &str {
    ro.status.as_ref().and_then(|s| s.stable_rs.as_deref()).unwrap_or("")
}

pub(crate) fn current_pod_hash(ro: &Rollout) -> &str {
    ro.status.as_ref().and_then(|s| s.current_pod_hash.as_deref()).unwrap_or("")
}

pub(crate) fn is_aborted(ro: &Rollout) -> bool {
    ro.status.as_ref().and_then(|s| s.abort).unwrap_or(false)
}

pub(crate) fn promote_full(ro: &Rollout) -> bool {
    ro.status.as_ref().and_then(|s| s.promote_full).unwrap_or(false)
}

pub(crate) fn steps(ro: &Rollout) -> &[CanaryStep] {
    ro.spec.canary().map(|c| c.steps()).unwrap_or(&[])
}

pub(crate) fn has_traffic_routing(ro: &Rollout) -> bool {
    ro.spec.canary().is_some_and(|c| c.traffic_routing.is_some())
}

pub(crate) fn max_weight(ro: &Rollout) -> i32 {
    ro.spec.canary().map(|c| c.max_traffic_weight()).unwrap_or(100)
}

/// Argo's `GetCurrentCanaryStep`: the step at `status.currentStepIndex` (nil counts as 0) and
/// the index. `(None, None)` without steps; `(None, Some(i))` once every step has run.
pub fn current_step(ro: &Rollout) -> (Option<&CanaryStep>, Option<i32>) {
    let steps = steps(ro);
    if ro.spec.canary().is_none() || steps.is_empty() {
        return (None, None);
    }
    let index = ro.status.as_ref().and_then(|s| s.current_step_index).unwrap_or(0);
    (usize::try_from(index).ok().and_then(|i| steps.get(i)), Some(index))
}

/// Steps `0..=current` in reverse order (empty once past the last step).
fn steps_back_from_current(ro: &Rollout) -> impl Iterator<Item = &CanaryStep> {
    let (step, index) = current_step(ro);
    let upto = if step.is_some() { index.and_then(|i| usize::try_from(i).ok()) } else { None };
    let steps = steps(ro);
    upto.map(|i| &steps[..=i]).unwrap_or(&[]).iter().rev()
}

/// `GetCurrentSetWeight`: 0 if aborted, the maximum weight past the last step, otherwise the
/// nearest `setWeight` at or before the current step (0 if none).
pub fn current_set_weight(ro: &Rollout) -> i32 {
    if is_aborted(ro) {
        return 0;
    }
    if current_step(ro).0.is_none() {
        return max_weight(ro);
    }
    steps_back_from_current(ro).find_map(|s| s.set_weight).unwrap_or(0)
}

/// `UseSetCanaryScale`: the `setCanaryScale` in effect (traffic routing only; ignored once a
/// later `matchTrafficWeight: true` step is reached, and on abort unless
/// `abortScaleDownDelaySeconds` is explicitly 0).
pub fn set_canary_scale_in_effect(ro: &Rollout) -> Option<&SetCanaryScale> {
    let canary = ro.spec.canary()?;
    canary.traffic_routing.as_ref()?;
    if is_aborted(ro) && canary.abort_scale_down_delay_seconds != Some(0) {
        return None;
    }
    let scale = steps_back_from_current(ro).find_map(|s| s.set_canary_scale.as_ref())?;
    if scale.match_traffic_weight.unwrap_or(false) { None } else { Some(scale) }
}

/// `GetCanaryReplicasOrWeight`: an explicit canary replica count or the desired weight.
pub fn canary_replicas_or_weight(ro: &Rollout) -> (Option<i32>, i32) {
    if promote_full(ro) || stable_rs(ro).is_empty() || current_pod_hash(ro) == stable_rs(ro) {
        return (None, max_weight(ro));
    }
    if let Some(scale) = set_canary_scale_in_effect(ro) {
        if let Some(replicas) = scale.replicas {
            return (Some(replicas), 0);
        }
        if let Some(weight) = scale.weight {
            return (None, weight);
        }
    }
    (None, current_set_weight(ro))
}

/// `CanaryStepString`, as used in `RolloutStepCompleted` event messages.
pub fn canary_step_string(step: &CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight: {w}");
    }
    if let Some(p) = &step.pause {
        return match &p.duration {
            None => "pause".to_owned(),
            Some(IntOrString::Int(i)) => format!("pause: {i}"),
            Some(IntOrString::String(s)) => format!("pause: {s}"),
        };
    }
    if step.experiment.is_some() {
        return "experiment".to_owned();
    }
    if step.analysis.is_some() {
        return "analysis".to_owned();
    }
    if let Some(scale) = &step.set_canary_scale {
        if let Some(w) = scale.weight {
            return format!("setCanaryScale{{weight: {w}}}");
        }
        if scale.match_traffic_weight.unwrap_or(false) {
            return "setCanaryScale{matchTrafficWeight: true}".to_owned();
        }
        if let Some(r) = scale.replicas {
            return format!("setCanaryScale{{replicas: {r}}}");
        }
        return "setCanaryScale".to_owned();
    }
    if let Some(p) = &step.plugin {
        return format!("plugin: {}", p.name);
    }
    if let Some(h) = &step.set_header_route {
        return format!("setHeaderRoute: {}", h.name.as_deref().unwrap_or(""));
    }
    if let Some(m) = &step.set_mirror_route {
        return format!("setMirrorRoute: {}", m.name);
    }
    String::new()
}

/// `ShouldVerifyWeight`: weights are verified mid-update at a `setWeight` step, and at the
/// end of the rollout when the desired weight is the maximum.
pub fn should_verify_weight(ro: &Rollout, desired_weight: i32) -> bool {
    if stable_rs(ro).is_empty() || stable_rs(ro) == current_pod_hash(ro) {
        return false;
    }
    match current_step(ro).0 {
        Some(step) => step.set_weight.is_some(),
        None => desired_weight == max_weight(ro),
    }
}

/// `BeforeStartingStep`: background analysis has a `startingStep` not reached yet.
pub fn before_starting_step(ro: &Rollout) -> bool {
    let Some(start) =
        ro.spec.canary().and_then(|c| c.analysis.as_ref()).and_then(|a| a.starting_step)
    else {
        return false;
    };
    match current_step(ro).1 {
        Some(i) => i < start,
        None => false,
    }
}

/// `status.canary.stablePingPong` value when the ping service is stable.
pub const PING: &str = "ping";
/// `status.canary.stablePingPong` value when the pong service is stable.
pub const PONG: &str = "pong";

/// Argo's `GetStableAndCanaryServices` with `pingPong`: `(stable, canary)` Service names,
/// the ping service being stable until `status.canary.stablePingPong` says `pong` (Argo's
/// `IsStablePing`). `None` without `pingPong`.
pub fn ping_pong_services(ro: &Rollout) -> Option<(String, String)> {
    let pp = ro.spec.canary()?.ping_pong.as_ref()?;
    let stable_is_pong = ro
        .status
        .as_ref()
        .and_then(|s| s.canary.as_ref())
        .and_then(|c| c.stable_ping_pong.as_deref())
        == Some(PONG);
    Some(if stable_is_pong {
        (pp.pong_service.clone(), pp.ping_service.clone())
    } else {
        (pp.ping_service.clone(), pp.pong_service.clone())
    })
}
