//! Health of Argo Rollouts kinds (Rollout, AnalysisRun, Experiment) and batch CronJob: the
//! logic of the `health.lua` scripts Argo CD bundles under `resource_customizations/`, in Rust,
//! with the scripts' statuses and messages.

use serde_json::Value;

use super::{Health, HealthStatus};
use crate::json::{annotation, array_at, at, int_at, int_or_zero, str_at};

/// Annotation Argo Rollouts sets on a Rollout with a `workloadRef`.
const WORKLOAD_GENERATION_ANNOTATION: &str = "rollout.argoproj.io/workload-generation";

/// Rollout health (`argoproj.io/Rollout/health.lua`).
pub(crate) fn rollout(obj: &Value) -> Health {
    if !generation_observed(obj) || !workload_generation_observed(obj) {
        return Health::progressing("Waiting for rollout spec update to be observed");
    }
    let status = obj.get("status").cloned().unwrap_or(Value::Null);
    // Argo Rollouts v1.0+ records a phase and message that Argo CD surfaces as they are.
    if let Some(phase) = str_at(&status, &["phase"]) {
        let code = if phase == "Paused" {
            HealthStatus::Suspended
        } else {
            HealthStatus::parse(phase).unwrap_or(HealthStatus::Unknown)
        };
        return Health::new(code, str_at(&status, &["message"]).unwrap_or(""));
    }
    for c in array_at(&status, &["conditions"]) {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        let reason = c.get("reason").and_then(Value::as_str).unwrap_or("");
        let degraded = kind == "InvalidSpec"
            || (kind == "Progressing"
                && matches!(reason, "RolloutAborted" | "ProgressDeadlineExceeded"));
        if degraded {
            return Health::degraded(c.get("message").and_then(Value::as_str).unwrap_or(""));
        }
    }
    let paused = !array_at(&status, &["pauseConditions"]).is_empty()
        || at(obj, &["spec", "paused"]).and_then(Value::as_bool) == Some(true);
    if paused {
        return Health::new(HealthStatus::Suspended, "Rollout is paused");
    }
    let Some(current_hash) = str_at(&status, &["currentPodHash"]) else {
        return Health::progressing(
            "Waiting for rollout to finish: status has not been reconciled.",
        );
    };
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let replicas = int_or_zero(&status, &["replicas"]);
    let updated = int_or_zero(&status, &["updatedReplicas"]);
    let available = int_or_zero(&status, &["availableReplicas"]);
    if updated < desired {
        return Health::progressing(
            "Waiting for roll out to finish: More replicas need to be updated",
        );
    }
    if available < updated {
        return Health::progressing(
            "Waiting for roll out to finish: updated replicas are still becoming available",
        );
    }
    let stable_rs =
        str_at(&status, &["stableRS"]).or_else(|| str_at(&status, &["canary", "stableRS"]));
    if at(obj, &["spec", "strategy", "blueGreen"]).is_some() {
        if str_at(&status, &["blueGreen", "activeSelector"]) != Some(current_hash) {
            return Health::progressing("active service cutover pending");
        }
        if stable_rs.is_some_and(|s| s != current_hash) {
            return Health::progressing("waiting for analysis to complete");
        }
    } else if at(obj, &["spec", "strategy", "canary"]).is_some() {
        if replicas > updated {
            return Health::progressing(
                "Waiting for roll out to finish: old replicas are pending termination",
            );
        }
        let steps = array_at(obj, &["spec", "strategy", "canary", "steps"]).len() as i64;
        if let Some(index) = int_at(&status, &["currentStepIndex"])
            && steps > 0
            && index < steps
        {
            return Health::progressing("Waiting for rollout to finish steps");
        }
        if stable_rs.is_some_and(|s| s != current_hash) {
            return Health::progressing("Waiting for rollout to finish steps");
        }
    }
    Health::healthy("")
}

/// v0.9 rollouts wrote a hash into `status.observedGeneration`: those always count as observed.
fn generation_observed(obj: &Value) -> bool {
    let Some(status) = obj.get("status").filter(|s| !s.is_null()) else {
        return false;
    };
    let generation = int_or_zero(obj, &["metadata", "generation"]);
    match int_at(status, &["observedGeneration"]) {
        None => true,
        Some(observed) if observed > generation => true,
        Some(observed) => observed == generation,
    }
}

fn workload_generation_observed(obj: &Value) -> bool {
    if at(obj, &["spec", "workloadRef"]).is_none() {
        return true;
    }
    let Some(annotated) = annotation(obj, WORKLOAD_GENERATION_ANNOTATION) else {
        return true;
    };
    let Ok(workload) = annotated.trim().parse::<i64>() else {
        return false;
    };
    workload <= int_or_zero(obj, &["status", "workloadObservedGeneration"])
}

/// AnalysisRun health (`argoproj.io/AnalysisRun/health.lua`).
pub(crate) fn analysis_run(obj: &Value) -> Health {
    phase_health(
        obj,
        true,
        "Waiting for analysis run to finish: status has not been reconciled.",
        &[
            ("Pending", HealthStatus::Progressing, "Analysis run is running"),
            ("Running", HealthStatus::Progressing, "Analysis run is running"),
            ("Successful", HealthStatus::Healthy, "Analysis run completed successfully"),
            ("Failed", HealthStatus::Degraded, "Analysis run failed"),
            ("Error", HealthStatus::Degraded, "Analysis run had an error"),
            ("Inconclusive", HealthStatus::Unknown, "Analysis run was inconclusive"),
        ],
    )
}

/// Experiment health (`argoproj.io/Experiment/health.lua`).
pub(crate) fn experiment(obj: &Value) -> Health {
    phase_health(
        obj,
        false,
        "Waiting for experiment to finish: status has not been reconciled.",
        &[
            ("Pending", HealthStatus::Progressing, "Experiment is pending"),
            ("Running", HealthStatus::Progressing, "Experiment is running"),
            ("Successful", HealthStatus::Healthy, "Experiment is successful"),
            ("Failed", HealthStatus::Degraded, "Experiment has failed"),
            ("Error", HealthStatus::Degraded, "Experiment had an error"),
            ("Inconclusive", HealthStatus::Unknown, "Experiment was inconclusive"),
        ],
    )
}

/// Phase table lookup; with `use_status_message`, a non-empty `status.message` replaces the
/// table's message (the AnalysisRun script does this, the Experiment script does not).
fn phase_health(
    obj: &Value,
    use_status_message: bool,
    unreconciled: &str,
    table: &[(&str, HealthStatus, &str)],
) -> Health {
    let Some(phase) = str_at(obj, &["status", "phase"]) else {
        return Health::progressing(unreconciled);
    };
    let Some((_, code, default)) = table.iter().find(|(p, _, _)| *p == phase) else {
        return Health::progressing(unreconciled);
    };
    let message = str_at(obj, &["status", "message"])
        .filter(|m| use_status_message && !m.is_empty())
        .unwrap_or(default);
    Health::new(*code, message)
}

/// CronJob health (`batch/CronJob/health.lua`).
pub(crate) fn cron_job(obj: &Value) -> Health {
    if at(obj, &["spec", "suspend"]).and_then(Value::as_bool) == Some(true) {
        return Health::healthy("CronJob is Suspended");
    }
    if !array_at(obj, &["status", "active"]).is_empty() {
        return Health::healthy(
            "The job is running. Its last execution may not have been successful",
        );
    }
    let Some(scheduled) = str_at(obj, &["status", "lastScheduleTime"]) else {
        return Health::healthy("CronJob has not been scheduled yet");
    };
    let Some(succeeded) = str_at(obj, &["status", "lastSuccessfulTime"]) else {
        return Health::healthy("The CronJob never completed successfully. It may not be healthy");
    };
    // RFC 3339 UTC timestamps of the same shape order like their text.
    if succeeded < scheduled {
        return Health::degraded("CronJob has not completed its last execution successfully");
    }
    Health::healthy("CronJob has completed its last execution successfully")
}
