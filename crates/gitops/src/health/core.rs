//! Health of core, batch, networking and autoscaling kinds (Pod, Service, Ingress, PVC, Job,
//! HorizontalPodAutoscaler, APIService), following gitops-engine's `pkg/health` rules.

use serde_json::Value;

use super::{Health, HealthStatus};
use crate::json::{annotation, array_at, at, str_at};

/// Annotation that makes a non-hook Pod with restartPolicy Never/OnFailure be judged like
/// restartPolicy Always.
pub(crate) const IGNORE_RESTART_POLICY_ANNOTATION: &str =
    "argocd.argoproj.io/ignore-restart-policy";

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

pub(crate) fn pod(obj: &Value) -> Health {
    // The API server defaults an unset restartPolicy to Always; the embedded store does not.
    let mut restart_policy = str_at(obj, &["spec", "restartPolicy"]).unwrap_or("Always");
    if annotation(obj, IGNORE_RESTART_POLICY_ANNOTATION) == Some("true") && !super::is_hook(obj) {
        restart_policy = "Always";
    }
    let message = str_at(obj, &["status", "message"]).unwrap_or("").to_string();
    let containers = array_at(obj, &["status", "containerStatuses"]);
    if restart_policy == "Always" {
        let messages: Vec<String> = containers
            .iter()
            .filter_map(|c| at(c, &["state", "waiting"]))
            .filter(|w| {
                let reason = w.get("reason").and_then(Value::as_str).unwrap_or("");
                reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff")
            })
            .map(|w| text(w, "message"))
            .collect();
        if !messages.is_empty() {
            return Health::degraded(messages.join("; "));
        }
    }
    match str_at(obj, &["status", "phase"]).unwrap_or("") {
        "Pending" => Health::progressing(message),
        "Succeeded" => Health::healthy(message),
        "Failed" => {
            if !message.is_empty() {
                return Health::degraded(message);
            }
            let init = array_at(obj, &["status", "initContainerStatuses"]);
            let found = init.iter().chain(containers).find_map(fail_message);
            Health::degraded(found.unwrap_or_default())
        }
        "Running" => match restart_policy {
            "Always" => {
                if pod_ready(obj) {
                    Health::healthy(message)
                } else if containers.iter().any(|c| at(c, &["lastState", "terminated"]).is_some()) {
                    Health::degraded(message)
                } else {
                    Health::progressing(message)
                }
            }
            "OnFailure" | "Never" => Health::progressing(message),
            _ => Health::new(HealthStatus::Unknown, message),
        },
        _ => Health::new(HealthStatus::Unknown, message),
    }
}

fn fail_message(container: &Value) -> Option<String> {
    let terminated = at(container, &["state", "terminated"])?;
    let message = text(terminated, "message");
    if !message.is_empty() {
        return Some(message);
    }
    let reason = text(terminated, "reason");
    if reason == "OOMKilled" {
        return Some(reason);
    }
    let code = terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
    (code != 0)
        .then(|| format!("container {:?} failed with exit code {code}", text(container, "name")))
}

fn pod_ready(obj: &Value) -> bool {
    array_at(obj, &["status", "conditions"]).iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Ready")
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

fn has_lb_ingress(obj: &Value) -> bool {
    !array_at(obj, &["status", "loadBalancer", "ingress"]).is_empty()
}

pub(crate) fn service(obj: &Value) -> Health {
    if str_at(obj, &["spec", "type"]) == Some("LoadBalancer") && !has_lb_ingress(obj) {
        return Health::progressing("");
    }
    Health::healthy("")
}

pub(crate) fn ingress(obj: &Value) -> Health {
    if has_lb_ingress(obj) { Health::healthy("") } else { Health::progressing("") }
}

pub(crate) fn pvc(obj: &Value) -> Health {
    match str_at(obj, &["status", "phase"]) {
        Some("Lost") => Health::degraded(""),
        Some("Pending") => Health::progressing(""),
        Some("Bound") => Health::healthy(""),
        _ => Health::new(HealthStatus::Unknown, ""),
    }
}

pub(crate) fn job(obj: &Value) -> Health {
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut fail_msg, mut message) = (String::new(), String::new());
    for c in array_at(obj, &["status", "conditions"]) {
        match c.get("type").and_then(Value::as_str) {
            Some("Failed") => {
                failed = true;
                complete = true;
                fail_msg = text(c, "message");
            }
            Some("Complete") => {
                complete = true;
                message = text(c, "message");
            }
            Some("Suspended") => {
                complete = true;
                message = text(c, "message");
                suspended = c.get("status").and_then(Value::as_str) == Some("True");
            }
            _ => {}
        }
    }
    if !complete {
        Health::progressing(message)
    } else if failed {
        Health::degraded(fail_msg)
    } else if suspended {
        Health::new(HealthStatus::Suspended, message)
    } else {
        Health::healthy(message)
    }
}

const HPA_DEGRADED: &[(&str, &str)] = &[
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetContainerResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "InvalidSelector"),
    ("ScalingActive", "InvalidMetricSourceType"),
];

pub(crate) fn hpa(obj: &Value) -> Health {
    // autoscaling/v1 keeps its conditions as a JSON string in an annotation.
    let conditions: Vec<Value> = if json_api_version(obj) == "autoscaling/v1" {
        annotation(obj, "autoscaling.alpha.kubernetes.io/conditions")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    } else {
        array_at(obj, &["status", "conditions"]).to_vec()
    };
    let waiting = Health::progressing("Waiting to Autoscale");
    if conditions.is_empty() {
        return waiting;
    }
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(c) = conditions.iter().find(|c| {
        let (t, r) = (field(c, "type"), field(c, "reason"));
        HPA_DEGRADED.iter().any(|(dt, dr)| *dt == t && *dr == r)
    }) {
        return Health::degraded(field(c, "message"));
    }
    if let Some(c) = conditions.iter().find(|c| {
        matches!(field(c, "type").as_str(), "AbleToScale" | "ScalingLimited")
            && field(c, "status") == "True"
    }) {
        return Health::healthy(field(c, "message"));
    }
    waiting
}

fn json_api_version(obj: &Value) -> &str {
    str_at(obj, &["apiVersion"]).unwrap_or("")
}

pub(crate) fn api_service(obj: &Value) -> Health {
    for c in array_at(obj, &["status", "conditions"]) {
        if c.get("type").and_then(Value::as_str) == Some("Available") {
            let message = format!("{}: {}", text(c, "reason"), text(c, "message"));
            return if c.get("status").and_then(Value::as_str) == Some("True") {
                Health::healthy(message)
            } else {
                Health::progressing(message)
            };
        }
    }
    Health::progressing("Waiting to be processed")
}
