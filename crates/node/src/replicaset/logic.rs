//! Pure ReplicaSet decisions: which pods to delete first, and the status Kubernetes writes.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::kube::{is_available, is_ready, ready_since, seconds_until_available};

/// The order Kubernetes' `ActivePods` sorts pods in for deletion: pending before running,
/// not ready before ready, ready for less time first, more restarts first, newest first.
pub(crate) fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let phase_rank = |p: &Pod| match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let restarts = |p: &Pod| -> i32 {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    phase_rank(a)
        .cmp(&phase_rank(b))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        // Ready for less time (a later ready time) first.
        .then_with(|| ready_since(b).cmp(&ready_since(a)))
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| created(b).cmp(&created(a)))
}

/// Indices into `pods` of the `count` pods to delete when scaling down.
pub(crate) fn pods_to_delete(pods: &[Pod], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pods.len()).collect();
    order.sort_by(|&a, &b| deletion_order(&pods[a], &pods[b]));
    order.truncate(count);
    order
}

/// The status Kubernetes writes for `rs` owning the active `pods`, and how many seconds until
/// a ready pod becomes available (when `minReadySeconds` delays it).
pub(crate) fn replica_set_status(
    rs: &ReplicaSet,
    pods: &[Pod],
    now: &Timestamp,
) -> (ReplicaSetStatus, Option<f64>) {
    let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
    let template_labels = rs.spec.template.as_ref().and_then(|t| t.metadata.as_ref());
    let template_labels = template_labels.and_then(|m| m.labels.as_ref());
    let fully_labeled = pods
        .iter()
        .filter(|p| {
            template_labels.is_none_or(|want| {
                let have = p.metadata.labels.as_ref();
                want.iter().all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
            })
        })
        .count();
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let available = pods.iter().filter(|p| is_available(p, min_ready, now)).count();
    let next = pods
        .iter()
        .filter_map(|p| seconds_until_available(p, min_ready, now))
        .fold(None, |acc: Option<f64>, s| Some(acc.map_or(s, |a| a.min(s))));
    let previous = rs.status.as_ref();
    let status = ReplicaSetStatus {
        replicas: count(pods.len()),
        fully_labeled_replicas: Some(count(fully_labeled)),
        ready_replicas: Some(count(ready)),
        available_replicas: Some(count(available)),
        observed_generation: rs.metadata.generation,
        conditions: previous.and_then(|s| s.conditions.clone()),
        terminating_replicas: None,
    };
    (status, next)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn pod(name: &str, phase: &str, ready_at: Option<i64>, created: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(Timestamp::from_second(created).expect("ts"))),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_at.map(|at| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(Timestamp::from_second(at).expect("ts"))),
                        ..PodCondition::default()
                    }]
                }),
                ..PodStatus::default()
            }),
        }
    }

    #[test]
    fn deletes_pending_then_unready_then_newest_ready() {
        let pods = vec![
            pod("old-ready", "Running", Some(100), 10),
            pod("new-ready", "Running", Some(200), 20),
            pod("unready", "Running", None, 5),
            pod("pending", "Pending", None, 1),
        ];
        let names: Vec<&str> = pods_to_delete(&pods, 4)
            .into_iter()
            .map(|i| pods[i].metadata.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names, ["pending", "unready", "new-ready", "old-ready"]);
    }

    #[test]
    fn status_counts_available_after_min_ready_seconds() {
        let mut rs = ReplicaSet::default();
        rs.metadata.generation = Some(3);
        rs.spec.min_ready_seconds = Some(10);
        let pods = vec![
            pod("a", "Running", Some(100), 1),
            pod("b", "Running", Some(195), 1),
            pod("c", "Pending", None, 1),
        ];
        let now = Timestamp::from_second(200).expect("ts");
        let (status, next) = replica_set_status(&rs, &pods, &now);
        assert_eq!(status.replicas, 3);
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        assert_eq!(status.fully_labeled_replicas, Some(3));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(next, Some(5.0));
    }
}
