//! ReplicaSet scaling and traffic weights of a canary pass (Argo's `reconcileTrafficRouting`
//! and `reconcileCanaryReplicaSets`): weight lags pods, the stable availability gate, one
//! scaling group per pass (stable, then canary, then the others), scale-down delays after
//! promotion and abort, and revision-history clean-up.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use weir_model::rollouts::{TrafficWeights, WeightDestination};

use crate::SCALE_DOWN_DEADLINE_ANNOTATION;
use crate::canary::{Command, Pass};
use crate::replicas::{
    ReplicaSetView, at_desired_replica_counts_for_canary, basic_canary_replica_counts,
    desired_canary_weight_on_abort, max_unavailable, traffic_routed_canary_replica_counts,
};
use crate::steps;

pub(crate) fn reconcile(pass: &mut Pass<'_>) {
    let routed = steps::has_traffic_routing(pass.ro);
    if routed {
        reconcile_weights(pass);
    }
    let scaled = if pass.fully_promoted() {
        scale_promoted(pass, routed)
    } else if routed {
        scale_routed(pass)
    } else {
        scale_basic(pass)
    };
    if !scaled {
        clean_up_history(pass);
    }
}

fn deadline_of(rs: &ReplicaSetView) -> Option<Timestamp> {
    rs.annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION).and_then(|d| d.parse().ok())
}

/// Emits a scale command if `replicas` differs; folds it into a pending create.
fn scale(pass: &mut Pass<'_>, rs: &ReplicaSetView, replicas: i32) -> bool {
    if rs.replicas() == replicas {
        return false;
    }
    for command in &mut pass.commands {
        if let Command::CreateReplicaSet { name, replicas: initial, .. } = command
            && *name == rs.name
        {
            *initial = replicas;
            return true;
        }
    }
    pass.commands.push(Command::ScaleReplicaSet { name: rs.name.clone(), replicas });
    let from = rs.replicas();
    let verb = if replicas > from { "up" } else { "down" };
    pass.event(
        "ScalingReplicaSet",
        format!(
            "Scaled {verb} ReplicaSet {} (revision {}) from {from} to {replicas}",
            rs.name,
            rs.revision().unwrap_or(0)
        ),
        false,
    );
    true
}

fn secs(d: i64) -> Duration {
    Duration::from_secs(u64::try_from(d.max(0)).unwrap_or(0))
}

/// After promotion: the new ReplicaSet to full size, old ones down (after a delay with
/// traffic routing, at once for a basic canary, honouring availability).
fn scale_promoted(pass: &mut Pass<'_>, routed: bool) -> bool {
    let view = pass.view();
    let Some(new) = pass.new_rs.clone() else {
        return false;
    };
    let others = pass.other_rss();
    let (new_count, _) = basic_canary_replica_counts(&view, Some(&new), Some(&new), &others);
    if scale(pass, &new, if routed { pass.ro.spec.replicas() } else { new_count }) {
        return true;
    }
    let mut old: Vec<ReplicaSetView> = others.into_iter().filter(|rs| rs.replicas() > 0).collect();
    if old.is_empty() {
        return false;
    }
    old.sort_by_key(|rs| std::cmp::Reverse(rs.revision().unwrap_or(0)));
    let canary = pass.ro.spec.canary().cloned().unwrap_or_default();
    if !routed {
        return scale_down_others(pass, &old);
    }
    let delay = i64::from(canary.scale_down_delay_seconds());
    let limit = canary
        .scale_down_delay_revision_limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(0));
    let now = pass.now();
    let mut scaled = false;
    for (i, rs) in old.iter().enumerate() {
        if canary.dynamic_stable_scale() || i >= limit {
            scaled |= scale(pass, rs, 0);
            continue;
        }
        match deadline_of(rs) {
            None => {
                let deadline = Timestamp::from_second(now.as_second() + delay).unwrap_or(now);
                pass.commands.push(Command::SetScaleDownDeadline {
                    name: rs.name.clone(),
                    deadline: Some(deadline),
                });
                pass.requeue_after(secs(delay));
            }
            Some(deadline) if deadline <= now => {
                scaled |= scale(pass, rs, 0);
                pass.commands
                    .push(Command::SetScaleDownDeadline { name: rs.name.clone(), deadline: None });
            }
            Some(deadline) => pass.requeue_after(secs(deadline.as_second() - now.as_second())),
        }
    }
    scaled
}

/// Basic canary: other ReplicaSets go to 0, unavailable pods first, never below
/// `replicas − maxUnavailable` available.
fn scale_down_others(pass: &mut Pass<'_>, others: &[ReplicaSetView]) -> bool {
    let min_available = pass.ro.spec.replicas() - max_unavailable(pass.ro);
    let total_available: i32 =
        pass.observed.replica_sets.iter().map(|r| r.available_replicas).sum();
    let mut budget = (total_available - min_available).max(0);
    let mut scaled = false;
    for rs in others {
        let unavailable = (rs.replicas() - rs.available_replicas).max(0);
        let mut target = rs.replicas() - unavailable;
        let extra = budget.min(target);
        target -= extra;
        budget -= extra;
        scaled |= scale(pass, rs, target);
    }
    scaled
}

fn scale_basic(pass: &mut Pass<'_>) -> bool {
    let view = pass.view();
    let new = pass.new_rs.clone();
    let stable = pass.stable_rs().cloned();
    let others = pass.other_rss();
    let (canary_count, stable_count) =
        basic_canary_replica_counts(&view, new.as_ref(), stable.as_ref(), &others);
    if let Some(s) = &stable
        && scale(pass, s, stable_count)
    {
        return true;
    }
    if let Some(n) = &new
        && scale(pass, n, canary_count)
    {
        return true;
    }
    let old: Vec<ReplicaSetView> = others.into_iter().filter(|rs| rs.replicas() > 0).collect();
    scale_down_others(pass, &old)
}

fn scale_routed(pass: &mut Pass<'_>) -> bool {
    let view = pass.view();
    let new = pass.new_rs.clone();
    let stable = pass.stable_rs().cloned();
    let weights = pass.old.canary.as_ref().and_then(|c| c.weights.clone());
    let (canary_count, stable_count) = traffic_routed_canary_replica_counts(
        &view,
        new.as_ref(),
        stable.as_ref(),
        weights.as_ref(),
    );
    if let Some(s) = &stable
        && scale(pass, s, stable_count)
    {
        return true;
    }
    if let Some(n) = &new {
        let shrinking = canary_count < n.replicas();
        if pass.aborted() && shrinking {
            if abort_scale_down(pass, n, stable.as_ref(), canary_count) {
                return true;
            }
        } else if scale(pass, n, canary_count) {
            return true;
        }
    }
    // Intermediate ReplicaSets no longer referenced by the traffic go to 0 at once.
    let referenced: Vec<String> = pass
        .status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
        .map(|w| {
            [&w.canary, &w.stable].iter().filter_map(|d| d.pod_template_hash.clone()).collect()
        })
        .unwrap_or_default();
    let mut scaled = false;
    for rs in pass.other_rss() {
        if rs.replicas() > 0 && !referenced.contains(&rs.hash) {
            scaled |= scale(pass, &rs, 0);
        }
    }
    scaled
}

/// On abort with traffic routing the canary keeps its pods for `abortScaleDownDelaySeconds`
/// after stable is fully available again (0 = scale down at once, Q6).
fn abort_scale_down(
    pass: &mut Pass<'_>,
    new: &ReplicaSetView,
    stable: Option<&ReplicaSetView>,
    target: i32,
) -> bool {
    let canary = pass.ro.spec.canary().cloned().unwrap_or_default();
    let delay = i64::from(canary.abort_scale_down_delay_seconds());
    if delay == 0 {
        return scale(pass, new, target);
    }
    let now = pass.now();
    match deadline_of(new) {
        None => {
            let stable_ready =
                stable.is_some_and(|s| s.available_replicas >= pass.ro.spec.replicas());
            if stable_ready {
                let deadline = Timestamp::from_second(now.as_second() + delay).unwrap_or(now);
                pass.commands.push(Command::SetScaleDownDeadline {
                    name: new.name.clone(),
                    deadline: Some(deadline),
                });
                pass.requeue_after(secs(delay));
            }
            false
        }
        Some(deadline) if deadline <= now => scale(pass, new, target),
        Some(deadline) => {
            pass.requeue_after(secs(deadline.as_second() - now.as_second()));
            false
        }
    }
}

/// The canary weight of this pass (spec §3.8), gated on stable availability.
fn reconcile_weights(pass: &mut Pass<'_>) {
    let stable_hash = pass.stable_hash();
    if stable_hash.is_empty() {
        return;
    }
    let view = pass.view();
    let ro = pass.ro;
    let replicas = ro.spec.replicas();
    let max = steps::max_weight(ro);
    let canary_cfg = ro.spec.canary().cloned().unwrap_or_default();
    let new = pass.new_rs.clone();
    let stable = pass.stable_rs().cloned();
    let previous = pass.old.canary.as_ref().and_then(|c| c.weights.clone());
    let mut canary_hash = pass.new_hash.clone();
    let desired = if pass.fully_promoted() {
        0
    } else if pass.aborted() {
        let current = previous.as_ref().map(|w| w.canary.weight);
        let w = desired_canary_weight_on_abort(&view, stable.as_ref(), current);
        if w == 0 || !canary_cfg.dynamic_stable_scale() {
            canary_hash = stable_hash.clone();
        }
        w
    } else if new.as_ref().is_none_or(|rs| rs.available_replicas == 0) {
        0
    } else if pass.status.promote_full == Some(true) {
        if canary_cfg.dynamic_stable_scale() {
            let available = new.as_ref().map_or(0, |rs| rs.available_replicas);
            if replicas == 0 { max } else { (max * available / replicas).min(max) }
        } else {
            previous.as_ref().map_or(0, |w| w.canary.weight)
        }
    } else {
        match steps::current_step(&view) {
            (None, _) => max,
            (Some(_), index) => {
                let others = pass.other_rss();
                let at_desired = at_desired_replica_counts_for_canary(
                    &view,
                    new.as_ref(),
                    stable.as_ref(),
                    &others,
                    previous.as_ref(),
                );
                if at_desired {
                    steps::current_set_weight(&view)
                } else {
                    previous_set_weight(&view, index.unwrap_or(0))
                }
            }
        }
    };
    // Stable availability gate.
    let stable_available = stable.as_ref().map_or(0, |rs| rs.available_replicas);
    if max > 0 && stable_available < (max - desired) * replicas / max {
        return;
    }
    let (stable_service, canary_service) = match steps::ping_pong_services(&view) {
        Some((stable, canary)) => (Some(stable), Some(canary)),
        None => (canary_cfg.stable_service.clone(), canary_cfg.canary_service.clone()),
    };
    let weights = TrafficWeights {
        additional: None,
        canary: WeightDestination {
            pod_template_hash: Some(canary_hash.clone()),
            service_name: canary_service,
            weight: desired,
        },
        stable: WeightDestination {
            pod_template_hash: Some(stable_hash.clone()),
            service_name: stable_service,
            weight: max - desired,
        },
        verified: None,
    };
    if previous.as_ref() == Some(&weights) {
        return;
    }
    let from = previous.as_ref().map_or(0, |w| w.canary.weight);
    if from != desired {
        pass.event(
            "TrafficWeightUpdated",
            format!("Traffic weight updated from {from} to {desired}"),
            false,
        );
    }
    pass.commands.push(Command::SetWeight {
        canary: desired,
        stable: max - desired,
        canary_hash,
        stable_hash,
    });
    pass.status.canary.get_or_insert_with(Default::default).weights = Some(weights);
}

/// The last `setWeight` strictly before step `index` (0 if none): weight lags pods.
fn previous_set_weight(ro: &weir_model::rollouts::Rollout, index: i32) -> i32 {
    let upto = usize::try_from(index).unwrap_or(0);
    steps::steps(ro).iter().take(upto).rev().find_map(|s| s.set_weight).unwrap_or(0)
}

/// `revisionHistoryLimit`: scaled-down old ReplicaSets beyond the limit are deleted, oldest
/// first.
fn clean_up_history(pass: &mut Pass<'_>) {
    let limit = usize::try_from(pass.ro.spec.revision_history_limit()).unwrap_or(0);
    let mut idle: Vec<ReplicaSetView> = pass
        .other_rss()
        .into_iter()
        .filter(|rs| rs.replicas() == 0 && rs.status_replicas == 0)
        .collect();
    if idle.len() <= limit {
        return;
    }
    idle.sort_by_key(|rs| rs.revision().unwrap_or(0));
    let extra = idle.len() - limit;
    for rs in idle.into_iter().take(extra) {
        pass.commands.push(Command::DeleteReplicaSet { name: rs.name });
    }
}
