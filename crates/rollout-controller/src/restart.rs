//! `spec.restartAt` (`weir rollouts restart`): pods created before it are deleted a few at a
//! time (at most `max(maxUnavailable, 1)` missing at once, never the last available ones) so
//! their ReplicaSets replace them; once none is left, `status.restartedAt` records it.
//! Deleting stands in for Argo's eviction (weir has no PodDisruptionBudget admission).

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::Object;
use weir_model::rollouts::Rollout;

/// How soon a restart in progress is looked at again.
pub(crate) const RESTART_RECHECK: Duration = Duration::from_secs(2);

/// What the restarter sees of one pod.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PodView {
    pub(crate) name: String,
    pub(crate) created: Option<Timestamp>,
    pub(crate) ready: bool,
    pub(crate) terminating: bool,
}

impl PodView {
    pub(crate) fn of(pod: &Object) -> PodView {
        let ready = pod
            .field("status")
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        PodView {
            name: pod.name().to_owned(),
            created: pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
            ready,
            terminating: pod.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// What to do about `spec.restartAt` this pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RestartPlan {
    /// Pods to delete now.
    pub(crate) delete: Vec<String>,
    /// Every pod is newer than `restartAt`: record `status.restartedAt`.
    pub(crate) done: Option<Timestamp>,
    /// Look again after this long.
    pub(crate) requeue: Option<Duration>,
}

/// The restart step for `ro` (status as computed this pass) with its pods at `now`.
pub(crate) fn plan(ro: &Rollout, pods: &[PodView], now: Timestamp) -> RestartPlan {
    let Some(at) = ro.spec.restart_at.as_ref().map(|t| t.0) else {
        return RestartPlan::default();
    };
    let restarted = ro.status.as_ref().and_then(|s| s.restarted_at.as_ref()).map(|t| t.0);
    if restarted == Some(at) {
        return RestartPlan::default();
    }
    if at > now {
        let wait = u64::try_from((at.as_second() - now.as_second()).max(1)).unwrap_or(1);
        return RestartPlan { requeue: Some(Duration::from_secs(wait)), ..RestartPlan::default() };
    }
    let old: Vec<&PodView> =
        pods.iter().filter(|p| !p.terminating && p.created.is_some_and(|c| c < at)).collect();
    if old.is_empty() {
        return RestartPlan { done: Some(at), ..RestartPlan::default() };
    }
    let concurrent =
        usize::try_from(weir_rollout::replicas::max_unavailable(ro).max(1)).unwrap_or(1);
    let desired = usize::try_from(ro.spec.replicas()).unwrap_or(0);
    let unavailable = pods.iter().filter(|p| p.terminating || !p.ready).count();
    let available = pods.iter().filter(|p| !p.terminating && p.ready).count();
    let mut budget = concurrent.saturating_sub(unavailable);
    // Never take the last available pods: keep `desired - concurrent` of them.
    let floor = desired.max(pods.len()).saturating_sub(concurrent);
    budget = budget.min(available.saturating_sub(floor));
    let delete = old.iter().filter(|p| p.ready).take(budget).map(|p| p.name.clone()).collect();
    RestartPlan { delete, done: None, requeue: Some(RESTART_RECHECK) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    fn rollout(restarted: Option<&str>) -> Rollout {
        let mut status = json!({});
        if let Some(r) = restarted {
            status["restartedAt"] = json!(r);
        }
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "ro"},
            "spec": {"replicas": 3, "restartAt": "2026-01-01T00:10:00Z",
                     "strategy": {"canary": {"maxUnavailable": 1, "maxSurge": 0}}},
            "status": status
        }))
        .expect("rollout")
    }

    fn pod(name: &str, created: &str, ready: bool) -> PodView {
        PodView { name: name.into(), created: Some(ts(created)), ready, terminating: false }
    }

    #[test]
    fn old_pods_go_one_at_a_time_then_the_restart_is_recorded() {
        let now = ts("2026-01-01T00:11:00Z");
        let old = "2026-01-01T00:00:00Z";
        let pods = [pod("a", old, true), pod("b", old, true), pod("c", old, true)];
        let plan1 = plan(&rollout(None), &pods, now);
        assert_eq!(plan1.delete, ["a"]);
        let busy =
            [pod("a2", "2026-01-01T00:10:30Z", false), pod("b", old, true), pod("c", old, true)];
        assert!(plan(&rollout(None), &busy, now).delete.is_empty(), "one already unavailable");
        let new = "2026-01-01T00:10:30Z";
        let fresh = [pod("a2", new, true), pod("b2", new, true), pod("c2", new, true)];
        assert_eq!(plan(&rollout(None), &fresh, now).done, Some(ts("2026-01-01T00:10:00Z")));
        assert_eq!(
            plan(&rollout(Some("2026-01-01T00:10:00Z")), &pods, now),
            RestartPlan::default()
        );
        let early = plan(&rollout(None), &pods, ts("2026-01-01T00:09:00Z"));
        assert_eq!(early.requeue, Some(Duration::from_secs(60)));
    }
}
