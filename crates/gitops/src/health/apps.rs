//! Health of the `apps` workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet), following
//! gitops-engine's `pkg/health` rules and messages.

use serde_json::Value;

use super::Health;
use crate::json::{array_at, at, int_at, int_or_zero, str_at};

fn generation_observed(obj: &Value) -> bool {
    int_or_zero(obj, &["metadata", "generation"])
        <= int_or_zero(obj, &["status", "observedGeneration"])
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    array_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

pub(crate) fn deployment(obj: &Value) -> Health {
    if at(obj, &["spec", "paused"]).and_then(Value::as_bool) == Some(true) {
        return Health::new(super::HealthStatus::Suspended, "Deployment is paused");
    }
    if !generation_observed(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
    let updated = int_or_zero(obj, &["status", "updatedReplicas"]);
    let replicas = int_or_zero(obj, &["status", "replicas"]);
    let available = int_or_zero(obj, &["status", "availableReplicas"]);
    let progressing = condition(obj, "Progressing");
    if progressing.and_then(|c| c.get("reason")).and_then(Value::as_str)
        == Some("ProgressDeadlineExceeded")
    {
        return Health::degraded(format!("Deployment {name:?} exceeded its progress deadline"));
    }
    if let Some(desired) = int_at(obj, &["spec", "replicas"])
        && updated < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Health::healthy("")
}

pub(crate) fn replica_set(obj: &Value) -> Health {
    if !generation_observed(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(c) = condition(obj, "ReplicaFailure")
        && c.get("status").and_then(Value::as_str) == Some("True")
    {
        return Health::degraded(c.get("message").and_then(Value::as_str).unwrap_or(""));
    }
    let available = int_or_zero(obj, &["status", "availableReplicas"]);
    if let Some(desired) = int_at(obj, &["spec", "replicas"])
        && available < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} out of {desired} new replicas are available..."
        ));
    }
    Health::healthy("")
}

pub(crate) fn stateful_set(obj: &Value) -> Health {
    let observed = int_or_zero(obj, &["status", "observedGeneration"]);
    if observed == 0 || int_or_zero(obj, &["metadata", "generation"]) > observed {
        return Health::progressing("Waiting for statefulset spec update to be observed...");
    }
    let desired = int_at(obj, &["spec", "replicas"]);
    let ready = int_or_zero(obj, &["status", "readyReplicas"]);
    if let Some(desired) = desired
        && ready < desired
    {
        return Health::progressing(format!("Waiting for {} pods to be ready...", desired - ready));
    }
    let strategy = str_at(obj, &["spec", "updateStrategy", "type"]).unwrap_or("");
    let updated = int_or_zero(obj, &["status", "updatedReplicas"]);
    if strategy == "RollingUpdate"
        && let (Some(desired), Some(partition)) =
            (desired, int_at(obj, &["spec", "updateStrategy", "rollingUpdate", "partition"]))
    {
        if updated < desired - partition {
            return Health::progressing(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                desired - partition
            ));
        }
        return Health::healthy(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    if strategy == "OnDelete" {
        return Health::healthy(format!("statefulset has {ready} ready pods"));
    }
    let update_revision = str_at(obj, &["status", "updateRevision"]).unwrap_or("");
    let current_revision = str_at(obj, &["status", "currentRevision"]).unwrap_or("");
    if update_revision != current_revision {
        return Health::progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    let current = int_or_zero(obj, &["status", "currentReplicas"]);
    Health::healthy(format!(
        "statefulset rolling update complete {current} pods at revision {current_revision}..."
    ))
}

pub(crate) fn daemon_set(obj: &Value) -> Health {
    if !generation_observed(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
    let updated = int_or_zero(obj, &["status", "updatedNumberScheduled"]);
    let desired = int_or_zero(obj, &["status", "desiredNumberScheduled"]);
    let available = int_or_zero(obj, &["status", "numberAvailable"]);
    if str_at(obj, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Health::healthy(format!(
            "daemon set {updated} out of {desired} new pods have been updated"
        ));
    }
    if updated < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        ));
    }
    if available < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        ));
    }
    Health::healthy("")
}
