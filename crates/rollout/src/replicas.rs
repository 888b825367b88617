//! Replica math of the canary strategy (`utils/replicaset/canary.go` and `replicaset.go`):
//! surge/unavailable resolution, the basic and traffic-routed replica counts, the weight
//! approximation, and the "are we at the desired counts" checks that complete a step.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weir_model::rollouts::{ReplicaProgressThreshold, Rollout, TrafficWeights};

use crate::steps::{
    canary_replicas_or_weight, current_step, has_traffic_routing, is_aborted, max_weight, steps,
};

/// What the engine needs to know about one ReplicaSet of a Rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaSetView {
    /// `metadata.name`.
    pub name: String,
    /// The `rollouts-pod-template-hash` label.
    pub hash: String,
    /// `spec.replicas` (unset reads as 1).
    pub spec_replicas: Option<i32>,
    /// `status.replicas`.
    pub status_replicas: i32,
    /// `status.readyReplicas`.
    pub ready_replicas: i32,
    /// `status.availableReplicas`.
    pub available_replicas: i32,
    /// `metadata.annotations` (revision, scale-down deadline, desired replicas…).
    pub annotations: BTreeMap<String, String>,
}

impl ReplicaSetView {
    /// `spec.replicas`, defaulting to 1 like `GetReplicasOrDefault`.
    pub fn replicas(&self) -> i32 {
        self.spec_replicas.unwrap_or(1)
    }

    /// The `rollout.argoproj.io/revision` annotation as a number.
    pub fn revision(&self) -> Option<i64> {
        self.annotations.get(crate::REVISION_ANNOTATION).and_then(|r| r.parse().ok())
    }
}

fn sum_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSetView>) -> i32 {
    rss.into_iter().map(ReplicaSetView::replicas).sum()
}

fn sum_available<'a>(rss: impl IntoIterator<Item = &'a ReplicaSetView>) -> i32 {
    rss.into_iter().map(|r| r.available_replicas).sum()
}

/// `intstr.GetValueFromIntOrPercent` in its deprecated form: any string is a percentage.
fn int_or_percent(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match value {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or(s);
            let percent: i64 =
                digits.parse().map_err(|_| format!("invalid value for IntOrString: {s:?}"))?;
            let product = percent * i64::from(total);
            let v = if round_up { (product + 99).div_euclid(100) } else { product.div_euclid(100) };
            i32::try_from(v).map_err(|_| format!("value out of range: {s:?}"))
        }
    }
}

/// `resolveFenceposts`: surge (rounded up) and unavailable (rounded down) for `desired`
/// replicas; a missing value counts as 0; both 0 → unavailable 1.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let zero = IntOrString::Int(0);
    let surge = int_or_percent(max_surge.unwrap_or(&zero), desired, true)?;
    let unavailable = int_or_percent(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// `MaxSurge`: the resolved canary surge (0 for blue-green or an invalid value).
pub fn max_surge(ro: &Rollout) -> i32 {
    let Some(canary) = ro.spec.canary() else {
        return 0;
    };
    let (surge, unavail) = (canary.max_surge(), canary.max_unavailable());
    resolve_fenceposts(Some(&surge), Some(&unavail), ro.spec.replicas()).map_or(0, |(s, _)| s)
}

/// `MaxUnavailable`: the resolved canary unavailability, capped at `spec.replicas`.
pub fn max_unavailable(ro: &Rollout) -> i32 {
    let Some(canary) = ro.spec.canary() else {
        return 0;
    };
    let replicas = ro.spec.replicas();
    if replicas == 0 {
        return 0;
    }
    let (surge, unavail) = (canary.max_surge(), canary.max_unavailable());
    let unavailable =
        resolve_fenceposts(Some(&surge), Some(&unavail), replicas).map_or(0, |(_, u)| u);
    unavailable.min(replicas)
}

/// `trafficWeightToReplicas`: `ceil(weight × replicas / maxWeight)`.
pub fn traffic_weight_to_replicas(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    if max_weight == 0 {
        return 0;
    }
    (f64::from(weight) * f64::from(replicas) / f64::from(max_weight)).ceil() as i32
}

fn tied(weight: i32, max_weight: i32, total: i32) -> bool {
    let x = f64::from(total) * (f64::from(weight) / f64::from(max_weight));
    x.fract() == 0.5
}

/// `approximateWeightedCanaryStableReplicaCounts`: the canary/stable counts (summing to
/// `replicas` or, with surge, `replicas + 1`) closest to `weight`.
pub fn approximate_weighted_canary_stable_replica_counts(
    replicas: i32,
    weight: i32,
    max_weight: i32,
    max_surge: i32,
) -> (i32, i32) {
    if replicas == 0 || max_weight == 0 {
        return (0, 0);
    }
    let exact = f64::from(replicas) * f64::from(weight) / f64::from(max_weight);
    let (ceil, floor) = (exact.ceil() as i32, exact.floor() as i32);
    let zero_allowed = weight == max_weight || weight == 0 || (replicas == 1 && max_surge == 0);
    let mut options = Vec::with_capacity(4);
    if ceil < replicas || zero_allowed {
        options.push((ceil, replicas));
    }
    if !tied(weight, max_weight, replicas) && (floor != 0 || zero_allowed) {
        options.push((floor, replicas));
    }
    if max_surge > 0 {
        options.push((ceil, replicas + 1));
        if !tied(weight, max_weight, replicas + 1) && (floor != 0 || zero_allowed) {
            options.push((floor, replicas + 1));
        }
    }
    let delta = |(canary, total): (i32, i32)| {
        (f64::from(canary) * f64::from(max_weight) / f64::from(total) - f64::from(weight)).abs()
    };
    let Some(mut best) = options.first().copied() else {
        return (0, replicas);
    };
    for option in options.into_iter().skip(1) {
        if delta(option) < delta(best) {
            best = option;
        }
    }
    (best.0, best.1 - best.0)
}

/// `GetReplicasForScaleDown`: the replicas of `rs` that count when scaling it down.
pub fn replicas_for_scale_down(rs: Option<&ReplicaSetView>, ignore_availability: bool) -> i32 {
    let Some(rs) = rs else {
        return 0;
    };
    if rs.replicas() < rs.available_replicas || ignore_availability {
        return rs.replicas();
    }
    rs.available_replicas
}

fn stable_exists(new: Option<&ReplicaSetView>, stable: Option<&ReplicaSetView>) -> bool {
    match (new, stable) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(n), Some(s)) => n.name != s.name,
    }
}

/// `CalculateReplicaCountsForBasicCanary`: `(canary, stable)` spec replicas for a canary
/// without traffic routing, within maxSurge/maxUnavailable.
pub fn basic_canary_replica_counts(
    ro: &Rollout,
    new: Option<&ReplicaSetView>,
    stable: Option<&ReplicaSetView>,
    others: &[ReplicaSetView],
) -> (i32, i32) {
    let replicas = ro.spec.replicas();
    let (_, weight) = canary_replicas_or_weight(ro);
    let surge = max_surge(ro);
    let (mut desired_new, mut desired_stable) =
        approximate_weighted_canary_stable_replica_counts(replicas, weight, max_weight(ro), surge);

    let mut new_count = new.map_or(0, ReplicaSetView::replicas);
    let mut stable_count = 0;
    let scale_stable = stable_exists(new, stable);
    let stable = stable.filter(|_| scale_stable);
    if let Some(s) = stable {
        stable_count = s.replicas();
    } else {
        desired_new = replicas;
        desired_stable = 0;
    }

    let max_allowed = replicas + surge;
    let total = sum_replicas(others.iter().chain(new).chain(stable));
    let mut scale_up = max_allowed - total;

    if let Some(s) = stable
        && s.replicas() < desired_stable
        && scale_up > 0
    {
        if s.replicas() + scale_up < desired_stable {
            stable_count = s.replicas() + scale_up;
            scale_up = 0;
        } else {
            stable_count = desired_stable;
            scale_up -= desired_stable - s.replicas();
        }
    }
    if let Some(n) = new
        && n.replicas() < desired_new
        && scale_up > 0
    {
        new_count = (n.replicas() + scale_up).min(desired_new);
    }

    if sum_replicas(others) > 0 {
        return (new_count, stable_count);
    }

    let min_available = replicas - max_unavailable(ro);
    let increasing = new.is_none_or(|n| desired_new >= n.replicas());
    let to_scale_down =
        replicas_for_scale_down(new, !increasing) + replicas_for_scale_down(stable, increasing);
    if to_scale_down <= min_available {
        return (new_count, stable_count);
    }
    let scale_down = to_scale_down - min_available;
    if !increasing {
        new_count = scale_down_count(new, desired_new, scale_down, new_count);
        (new_count, stable_count) =
            adjust_within_limits(new, stable, new_count, stable_count, max_allowed, min_available);
    } else if stable.is_some() {
        stable_count = scale_down_count(stable, desired_stable, scale_down, stable_count);
        (stable_count, new_count) =
            adjust_within_limits(stable, new, stable_count, new_count, max_allowed, min_available);
    }
    (new_count, stable_count)
}

fn scale_down_count(
    drain: Option<&ReplicaSetView>,
    desired: i32,
    scale_down: i32,
    current: i32,
) -> i32 {
    match drain {
        Some(rs) if rs.replicas() > desired => desired.max(rs.replicas() - scale_down),
        _ => current,
    }
}

/// Keeps the drained and the adjusted ReplicaSet within the surge and availability limits.
fn adjust_within_limits(
    drain: Option<&ReplicaSetView>,
    adjust: Option<&ReplicaSetView>,
    mut drain_count: i32,
    mut adjust_count: i32,
    max_allowed: i32,
    min_available: i32,
) -> (i32, i32) {
    let mut over = 0.max(adjust_count + drain_count - max_allowed);
    let mut total_available = drain.map_or(0, |d| d.available_replicas.min(drain_count));
    if let Some(adjust) = adjust {
        adjust_count -= over;
        total_available += adjust.available_replicas.min(adjust_count);
        let extra_available = 0.max(adjust.available_replicas - adjust_count);
        let more_needed = 0.max(min_available - total_available);
        adjust_count += extra_available.min(more_needed);
        over = 0.max(adjust_count + drain_count - max_allowed);
        drain_count -= over;
    }
    (drain_count, adjust_count)
}

fn min_pods(ro: &Rollout, count: i32) -> i32 {
    if count == 0 {
        return 0;
    }
    match ro.spec.canary() {
        Some(c) if c.traffic_routing.is_some() => match c.min_pods_per_replica_set {
            Some(min) => count.max(min.min(ro.spec.replicas())),
            None => count,
        },
        _ => count,
    }
}

/// `CalculateReplicaCountsForTrafficRoutedCanary`: `(canary, stable)` with traffic routing.
/// Stable stays at 100 % unless `dynamicStableScale`, which follows the larger of the desired
/// and the current (`weights`) stable weight, and on abort keeps the canary until traffic left.
///
/// While an abort drains with both ReplicaSets present, stable is sized for the next lower
/// `setWeight` below the current canary weight, so it grows one step ahead of the traffic.
pub fn traffic_routed_canary_replica_counts(
    ro: &Rollout,
    canary_rs: Option<&ReplicaSetView>,
    stable_rs: Option<&ReplicaSetView>,
    weights: Option<&TrafficWeights>,
) -> (i32, i32) {
    let replicas = ro.spec.replicas();
    let max = max_weight(ro);
    let (explicit, weight) = canary_replicas_or_weight(ro);
    let mut canary = match explicit {
        Some(r) => r,
        None => min_pods(ro, traffic_weight_to_replicas(replicas, weight, max)),
    };
    if !ro.spec.canary().is_some_and(|c| c.dynamic_stable_scale()) {
        return (canary, replicas);
    }
    let mut stable_target_weight = max - weight;
    if let (true, Some(w), Some(_), Some(_)) = (is_aborted(ro), weights, canary_rs, stable_rs) {
        stable_target_weight = max - next_lower_set_weight(ro, w.canary.weight);
    }
    let mut stable = traffic_weight_to_replicas(replicas, stable_target_weight, max);
    if let Some(w) = weights {
        stable = stable.max(traffic_weight_to_replicas(replicas, w.stable.weight, max));
        if is_aborted(ro) {
            canary = canary.max(traffic_weight_to_replicas(replicas, w.canary.weight, max));
        }
    }
    (min_pods(ro, canary), min_pods(ro, stable))
}

/// The largest `setWeight` below `weight` (0 if none): the next step down of an abort.
fn next_lower_set_weight(ro: &Rollout, weight: i32) -> i32 {
    steps(ro).iter().filter_map(|s| s.set_weight).filter(|w| *w < weight).max().unwrap_or(0)
}

/// The canary weight while an abort with `dynamicStableScale` drains traffic back: the
/// `setWeight` ladder is walked down only as far as the stable ReplicaSet's available pods
/// can take the traffic; with an explicit positive `abortScaleDownDelaySeconds` the weight
/// drops to 0 once stable is within one unavailable pod of `spec.replicas` (Argo's fix for
/// the drain deadlock). Without `dynamicStableScale` the weight is 0 at once.
///
/// `current_weight` is the canary weight traffic is at (`status.canary.weights`), when known:
/// the ladder then starts there and goes down through the lower `setWeight`s. (The step
/// index cannot tell: an abort resets it to 0, and a ladder read from step 0 may skip the
/// rungs stable is being scaled for, which stalled the drain with stable short of its size.)
pub fn desired_canary_weight_on_abort(
    ro: &Rollout,
    stable: Option<&ReplicaSetView>,
    current_weight: Option<i32>,
) -> i32 {
    let Some(canary) = ro.spec.canary() else {
        return 0;
    };
    if !canary.dynamic_stable_scale() {
        return 0;
    }
    let replicas = ro.spec.replicas();
    let max = max_weight(ro);
    let stable_available = stable.map_or(0, |s| s.available_replicas);
    if canary.abort_scale_down_delay_seconds.is_some_and(|d| d > 0)
        && stable_available >= replicas - max_unavailable(ro).max(1)
    {
        return 0;
    }
    // The ladder: setWeight values up to the current step, newest first, then 0.
    let mut ladder: Vec<i32> = match current_weight {
        Some(current) => {
            let mut lower: Vec<i32> =
                steps(ro).iter().filter_map(|s| s.set_weight).filter(|w| *w < current).collect();
            lower.sort_unstable_by(|a, b| b.cmp(a));
            lower.dedup();
            std::iter::once(current).chain(lower).collect()
        }
        None => {
            let index = current_step(ro).1.unwrap_or(0);
            let upto = usize::try_from(index).unwrap_or(0).min(steps(ro).len().saturating_sub(1));
            steps(ro).iter().take(upto + 1).rev().filter_map(|s| s.set_weight).collect()
        }
    };
    ladder.push(0);
    let mut weight = ladder[0];
    for next in ladder.into_iter().skip(1) {
        if stable_available >= traffic_weight_to_replicas(replicas, max - next, max) {
            weight = next;
        } else {
            break;
        }
    }
    weight
}

/// `allDesiredAreAvailable`.
pub fn all_desired_are_available(rs: Option<&ReplicaSetView>, desired: i32) -> bool {
    rs.is_some_and(|rs| desired == rs.replicas() && desired == rs.available_replicas)
}

fn all_desired_are_created(rs: Option<&ReplicaSetView>, desired: i32) -> bool {
    rs.is_some_and(|rs| desired == rs.replicas() && desired == rs.status_replicas)
}

/// `ReplicaProgressThresholdMet`: the canary counts as ready at this availability.
pub fn replica_progress_threshold_met(
    threshold: Option<&ReplicaProgressThreshold>,
    rs: Option<&ReplicaSetView>,
    desired: i32,
) -> bool {
    let (Some(t), Some(r)) = (threshold, rs) else {
        return all_desired_are_available(rs, desired);
    };
    if t.value < 0 {
        return all_desired_are_available(rs, desired);
    }
    match t.type_.as_str() {
        "Percent" => {
            if desired == 0 {
                return true;
            }
            let pct = f64::from(r.available_replicas) / f64::from(desired) * 100.0;
            pct + 1e-10 >= f64::from(t.value)
        }
        "Pods" => r.available_replicas >= t.value,
        _ => all_desired_are_available(rs, desired),
    }
}

/// `AtDesiredReplicaCountsForCanary`: a `setWeight`/`setCanaryScale` step is complete.
pub fn at_desired_replica_counts_for_canary(
    ro: &Rollout,
    new: Option<&ReplicaSetView>,
    stable: Option<&ReplicaSetView>,
    others: &[ReplicaSetView],
    weights: Option<&TrafficWeights>,
) -> bool {
    let routed = has_traffic_routing(ro);
    let (desired_new, desired_stable) = if routed {
        traffic_routed_canary_replica_counts(ro, new, stable, weights)
    } else {
        basic_canary_replica_counts(ro, new, stable, others)
    };
    let threshold = ro.spec.canary().and_then(|c| c.replica_progress_threshold.as_ref());
    if !replica_progress_threshold_met(threshold, new, desired_new) {
        return false;
    }
    let dynamic = ro.spec.canary().is_some_and(|c| c.dynamic_stable_scale());
    if (!routed || !dynamic) && !all_desired_are_created(stable, desired_stable) {
        return false;
    }
    if !routed && sum_available(others) != 0 {
        return false;
    }
    true
}
