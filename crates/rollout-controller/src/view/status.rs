//! The status words of a Rollout's children, as `kubectl argo rollouts get` prints them and the
//! dashboard shows them: one rule for both.

use serde_json::Value;
use weir_cluster::Object;

/// What a pod's line says: its status word (`Running`, `Terminating`, a waiting reason such as
/// `CrashLoopBackOff`, else the phase, `Pending` when there is none) and its container counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// The status word.
    pub word: String,
    /// Ready containers.
    pub ready: usize,
    /// Containers in the spec (or reported, when the spec lists none).
    pub containers: usize,
    /// Restarts summed over the containers.
    pub restarts: i64,
}

/// The summary of `pod`.
pub fn pod_summary(pod: &Object) -> PodSummary {
    let status = pod.field("status");
    let statuses: &[Value] = status
        .and_then(|s| s.get("containerStatuses"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let containers = pod
        .field("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    let ready = statuses.iter().filter(|c| c.get("ready") == Some(&Value::Bool(true))).count();
    let restarts = statuses.iter().filter_map(|c| c.get("restartCount")?.as_i64()).sum();
    let waiting =
        statuses.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    let word = if pod.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else if let Some(reason) = waiting {
        reason
    } else {
        match status.and_then(|s| s.get("phase")).and_then(Value::as_str) {
            None | Some("") => "Pending",
            Some(phase) => phase,
        }
    };
    PodSummary { word: word.to_owned(), ready, containers, restarts }
}

/// A ReplicaSet's status word from its replicas: `ScaledDown`, `Healthy` or `Progressing`.
pub fn replica_set_status(rs: &Object) -> &'static str {
    let replicas =
        rs.field("spec").and_then(|s| s.get("replicas")).map_or(1, |v| v.as_i64().unwrap_or(1));
    let available = rs
        .field("status")
        .and_then(|s| s.get("availableReplicas"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas == 0 {
        "ScaledDown"
    } else if available >= replicas {
        "Healthy"
    } else {
        "Progressing"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Object {
        serde_json::from_value(v).expect("object")
    }

    #[test]
    fn pod_words() {
        let cases = [
            (json!({}), "Pending", 0, 0),
            (
                json!({"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}]}),
                "Running",
                1,
                2,
            ),
            (
                json!({"phase": "Running", "containerStatuses": [
                    {"ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                "CrashLoopBackOff",
                0,
                5,
            ),
        ];
        for (status, word, ready, restarts) in cases {
            let pod = object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c"}]}, "status": status}));
            let summary = pod_summary(&pod);
            assert_eq!(
                (summary.word.as_str(), summary.ready, summary.restarts),
                (word, ready, restarts)
            );
            assert_eq!(summary.containers, 1);
        }
        let gone = object(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}}));
        assert_eq!(pod_summary(&gone).word, "Terminating");
    }

    #[test]
    fn replica_set_words() {
        let rs = |replicas: Value, available: i64| {
            object(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
                "spec": {"replicas": replicas}, "status": {"availableReplicas": available}}))
        };
        assert_eq!(replica_set_status(&rs(json!(0), 0)), "ScaledDown");
        assert_eq!(replica_set_status(&rs(json!(2), 2)), "Healthy");
        assert_eq!(replica_set_status(&rs(json!(2), 1)), "Progressing");
    }
}
