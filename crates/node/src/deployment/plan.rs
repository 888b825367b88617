//! Pure Deployment decisions: Kubernetes' replica math for RollingUpdate and Recreate, one
//! scaling step per sync, and which old replica sets the history limit removes.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// What the planner needs to know about one replica set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsView {
    pub(crate) name: String,
    /// `spec.replicas`.
    pub(crate) replicas: i32,
    /// `status.replicas` (active pods).
    pub(crate) current: i32,
    /// `status.availableReplicas`.
    pub(crate) available: i32,
    /// `deployment.kubernetes.io/revision`.
    pub(crate) revision: i64,
    /// Creation time in milliseconds (older first when scaling down).
    pub(crate) created_ms: i64,
}

/// One scaling action: set `spec.replicas` of a replica set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scale {
    pub(crate) name: String,
    pub(crate) replicas: i32,
}

/// `intstr.GetScaledValueFromIntOrPercent`: a number, or a percentage of `total` rounded up
/// or down.
pub(crate) fn scaled(
    value: Option<&IntOrString>,
    default_percent: i32,
    total: i32,
    up: bool,
) -> i32 {
    let percent = match value {
        Some(IntOrString::Int(n)) => return *n,
        Some(IntOrString::String(s)) => match s.strip_suffix('%').and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => return s.parse().unwrap_or(0),
        },
        None => default_percent,
    };
    let product = i64::from(percent) * i64::from(total);
    let value = if up { (product + 99).div_euclid(100) } else { product.div_euclid(100) };
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// `ResolveFenceposts`: maxSurge rounds up, maxUnavailable down; both zero → unavailable 1.
pub(crate) fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let surge = scaled(max_surge, 25, desired, true).max(0);
    let mut unavailable = scaled(max_unavailable, 25, desired, false).max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn total(sets: &[RsView], f: impl Fn(&RsView) -> i32) -> i32 {
    sets.iter().map(f).sum()
}

/// `NewRSNewReplicas` for RollingUpdate: how many replicas the new set may have now.
///
/// Unlike Kubernetes, a set counts with the larger of its `spec.replicas` and the active pods
/// it reports, so a set that was just scaled down but has not deleted its pods yet still holds
/// its surge budget: the pod count never exceeds `desired + maxSurge`, not even for a moment.
pub(crate) fn new_replicas_rolling(desired: i32, surge: i32, new: i32, old: &[RsView]) -> i32 {
    let current = new + total(old, |r| r.replicas.max(r.current));
    let max_total = desired + surge;
    if current >= max_total {
        return new;
    }
    let up = (max_total - current).min(desired - new).max(0);
    new + up
}

/// One RollingUpdate sync: scale the new set up (within maxSurge) if it can; otherwise scale
/// old sets down (first unhealthy replicas, then within maxUnavailable). Empty when nothing can
/// move now.
pub(crate) fn rolling_step(
    desired: i32,
    surge: i32,
    unavailable: i32,
    new: &RsView,
    old: &[RsView],
) -> Vec<Scale> {
    // reconcileNewReplicaSet
    if new.replicas > desired {
        return vec![Scale { name: new.name.clone(), replicas: desired }];
    }
    if new.replicas < desired {
        let want = new_replicas_rolling(desired, surge, new.replicas.max(new.current), old)
            .max(new.replicas);
        if want != new.replicas {
            return vec![Scale { name: new.name.clone(), replicas: want }];
        }
    }
    // reconcileOldReplicaSets
    let old_pods = total(old, |r| r.replicas);
    if old_pods == 0 {
        return Vec::new();
    }
    let all_pods = old_pods + new.replicas;
    let min_available = desired - unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut by_age: Vec<RsView> = old.to_vec();
    by_age.sort_by_key(|r| (r.created_ms, r.name.clone()));
    // cleanupUnhealthyReplicas: unavailable old replicas go first.
    let mut scales: Vec<Scale> = Vec::new();
    let mut cleaned = 0;
    for rs in &mut by_age {
        if cleaned >= max_scaled_down || rs.replicas == 0 {
            continue;
        }
        let unhealthy = rs.replicas - rs.available;
        if unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down - cleaned);
        rs.replicas -= down;
        cleaned += down;
        scales.push(Scale { name: rs.name.clone(), replicas: rs.replicas });
    }
    // scaleDownOldReplicaSetsForRollingUpdate: keep minAvailable available.
    let available = total(&by_age, |r| r.available.min(r.replicas)) + new.available;
    if available > min_available {
        let mut budget = available - min_available;
        for rs in &mut by_age {
            if budget <= 0 {
                break;
            }
            if rs.replicas == 0 {
                continue;
            }
            let down = rs.replicas.min(budget);
            rs.replicas -= down;
            budget -= down;
            match scales.iter_mut().find(|s| s.name == rs.name) {
                Some(s) => s.replicas = rs.replicas,
                None => scales.push(Scale { name: rs.name.clone(), replicas: rs.replicas }),
            }
        }
    }
    scales
}

/// What a Recreate sync does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecreateStep {
    /// Scale these old sets to zero.
    ScaleDownOld(Vec<Scale>),
    /// Old pods are still running; wait for them to end.
    WaitForOldPods,
    /// Scale (or create) the new set to `desired`.
    ScaleUpNew,
    /// Nothing to do.
    Done,
}

/// One Recreate sync: every old set to zero, wait until no old pod is left, then the new set
/// to full size.
pub(crate) fn recreate_step(
    desired: i32,
    new: Option<&RsView>,
    old: &[RsView],
    old_pods_running: bool,
) -> RecreateStep {
    let down: Vec<Scale> = old
        .iter()
        .filter(|r| r.replicas > 0)
        .map(|r| Scale { name: r.name.clone(), replicas: 0 })
        .collect();
    if !down.is_empty() {
        return RecreateStep::ScaleDownOld(down);
    }
    if old_pods_running || old.iter().any(|r| r.current > 0) {
        return RecreateStep::WaitForOldPods;
    }
    match new {
        Some(rs) if rs.replicas == desired => RecreateStep::Done,
        _ => RecreateStep::ScaleUpNew,
    }
}

/// Scaling while paused: when exactly one set has replicas (or only the new set exists), it
/// follows `spec.replicas`; during a paused rollout nothing moves (Kubernetes would scale the
/// sets proportionally; weir waits for the resume).
pub(crate) fn paused_scale(desired: i32, new: Option<&RsView>, old: &[RsView]) -> Vec<Scale> {
    let mut active = new.into_iter().chain(old).filter(|r| r.replicas > 0);
    let only = match (active.next(), active.next()) {
        (Some(only), None) => Some(only),
        (None, _) => new,
        _ => None,
    };
    only.filter(|r| r.replicas != desired)
        .map(|r| vec![Scale { name: r.name.clone(), replicas: desired }])
        .unwrap_or_default()
}

/// Old sets the history limit deletes: fully scaled-down ones beyond `limit`, oldest revision
/// first.
pub(crate) fn history_to_delete(old: &[RsView], limit: i32) -> Vec<String> {
    let mut idle: Vec<&RsView> = old.iter().filter(|r| r.replicas == 0 && r.current == 0).collect();
    let keep = usize::try_from(limit.max(0)).unwrap_or(0);
    if idle.len() <= keep {
        return Vec::new();
    }
    idle.sort_by_key(|r| (r.revision, r.created_ms));
    let excess = idle.len() - keep;
    idle.into_iter().take(excess).map(|r| r.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, replicas: i32, available: i32, created_ms: i64) -> RsView {
        RsView {
            name: name.into(),
            replicas,
            current: replicas,
            available,
            revision: created_ms,
            created_ms,
        }
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn fenceposts_round_like_kubernetes() {
        // (maxSurge, maxUnavailable, replicas) → (surge, unavailable)
        let cases = [
            (Some(pct("25%")), Some(pct("25%")), 3, (1, 0)),
            (Some(pct("25%")), Some(pct("25%")), 10, (3, 2)),
            (Some(IntOrString::Int(0)), Some(IntOrString::Int(0)), 3, (0, 1)),
            (None, None, 4, (1, 1)),
            (Some(pct("50%")), Some(IntOrString::Int(1)), 1, (1, 1)),
            (Some(pct("0%")), Some(pct("10%")), 5, (0, 1)),
        ];
        for (surge, unavailable, replicas, want) in cases {
            assert_eq!(
                fenceposts(surge.as_ref(), unavailable.as_ref(), replicas),
                want,
                "{surge:?} {unavailable:?} {replicas}"
            );
        }
    }

    #[test]
    fn rolling_update_table() {
        struct Case {
            name: &'static str,
            desired: i32,
            surge: i32,
            unavailable: i32,
            new: RsView,
            old: Vec<RsView>,
            want: Vec<(&'static str, i32)>,
        }
        let cases = [
            Case {
                name: "scale up new within surge",
                desired: 3,
                surge: 1,
                unavailable: 0,
                new: rs("new", 0, 0, 2),
                old: vec![rs("old", 3, 3, 1)],
                want: vec![("new", 1)],
            },
            Case {
                name: "at max surge, new not available: wait",
                desired: 3,
                surge: 1,
                unavailable: 0,
                new: rs("new", 1, 0, 2),
                old: vec![rs("old", 3, 3, 1)],
                want: vec![],
            },
            Case {
                name: "new available: scale old down by one",
                desired: 3,
                surge: 1,
                unavailable: 0,
                new: rs("new", 1, 1, 2),
                old: vec![rs("old", 3, 3, 1)],
                want: vec![("old", 2)],
            },
            Case {
                name: "unhealthy old replicas go first",
                desired: 3,
                surge: 0,
                unavailable: 1,
                new: rs("new", 0, 0, 3),
                old: vec![rs("older", 1, 0, 1), rs("old", 3, 3, 2)],
                want: vec![("older", 0), ("old", 2)],
            },
            Case {
                name: "max unavailable lets old go down before new is up",
                desired: 4,
                surge: 0,
                unavailable: 2,
                new: rs("new", 0, 0, 2),
                old: vec![rs("old", 4, 4, 1)],
                want: vec![("old", 2)],
            },
            Case {
                name: "scale to zero",
                desired: 0,
                surge: 1,
                unavailable: 0,
                new: rs("new", 3, 3, 2),
                old: vec![],
                want: vec![("new", 0)],
            },
            Case {
                name: "old set scaled down but its pod not deleted yet: no surge",
                desired: 3,
                surge: 1,
                unavailable: 0,
                new: rs("new", 1, 1, 2),
                old: vec![RsView { current: 3, ..rs("old", 2, 3, 1) }],
                want: vec![],
            },
            Case {
                name: "complete",
                desired: 3,
                surge: 1,
                unavailable: 0,
                new: rs("new", 3, 3, 2),
                old: vec![rs("old", 0, 0, 1)],
                want: vec![],
            },
        ];
        for case in cases {
            let got =
                rolling_step(case.desired, case.surge, case.unavailable, &case.new, &case.old);
            let got: Vec<(&str, i32)> = got.iter().map(|s| (s.name.as_str(), s.replicas)).collect();
            assert_eq!(got, case.want, "case {:?}", case.name);
        }
    }

    #[test]
    fn recreate_steps() {
        let new = rs("new", 0, 0, 2);
        let old = vec![rs("old", 3, 3, 1)];
        assert_eq!(
            recreate_step(3, Some(&new), &old, true),
            RecreateStep::ScaleDownOld(vec![Scale { name: "old".into(), replicas: 0 }])
        );
        let drained = vec![rs("old", 0, 0, 1)];
        assert_eq!(recreate_step(3, Some(&new), &drained, true), RecreateStep::WaitForOldPods);
        assert_eq!(recreate_step(3, None, &drained, false), RecreateStep::ScaleUpNew);
        let full = rs("new", 3, 3, 2);
        assert_eq!(recreate_step(3, Some(&full), &drained, false), RecreateStep::Done);
    }

    #[test]
    fn paused_scales_only_a_single_active_set() {
        let new = rs("new", 2, 2, 2);
        assert_eq!(
            paused_scale(3, Some(&new), &[rs("old", 0, 0, 1)]),
            [Scale { name: "new".into(), replicas: 3 }]
        );
        assert!(paused_scale(3, Some(&new), &[rs("old", 1, 1, 1)]).is_empty());
        assert!(paused_scale(2, Some(&new), &[]).is_empty());
        assert_eq!(
            paused_scale(0, None, &[rs("old", 2, 2, 1)]),
            [Scale { name: "old".into(), replicas: 0 }]
        );
    }

    #[test]
    fn history_limit_removes_oldest_idle() {
        let old = vec![rs("a", 0, 0, 1), rs("b", 0, 0, 2), rs("c", 0, 0, 3), rs("d", 1, 1, 4)];
        assert_eq!(history_to_delete(&old, 1), ["a", "b"]);
        assert!(history_to_delete(&old, 10).is_empty());
    }
}
