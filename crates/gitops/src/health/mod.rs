//! Resource health, as Argo CD assesses it: the Go built-in checks of gitops-engine for core,
//! apps, batch, networking and autoscaling kinds, and the Lua checks Argo CD ships for Argo
//! Rollouts kinds and CronJob, rewritten in Rust with the same statuses and messages.
//!
//! Read [`assess`] first; [`app`] folds resource healths into the Application's health;
//! [`lua`] runs the health customizations of `argocd-cm` ([`assess_with`]).

pub mod app;
mod apps;
mod argo;
mod core;
pub mod lua;

use serde_json::Value;

use crate::json;

/// Argo CD's health status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Everything is as desired.
    Healthy,
    /// Paused or suspended on purpose.
    Suspended,
    /// On its way to healthy.
    Progressing,
    /// Expected but absent.
    Missing,
    /// Failed or unable to make progress.
    Degraded,
    /// The check could not decide.
    Unknown,
}

impl HealthStatus {
    /// The name Argo CD writes (`"Healthy"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parses Argo CD's name; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Healthy" => HealthStatus::Healthy,
            "Suspended" => HealthStatus::Suspended,
            "Progressing" => HealthStatus::Progressing,
            "Missing" => HealthStatus::Missing,
            "Degraded" => HealthStatus::Degraded,
            "Unknown" => HealthStatus::Unknown,
            _ => return None,
        })
    }

    /// Severity used to pick the worst health: Healthy < Suspended < Progressing < Missing <
    /// Degraded < Unknown (gitops-engine's `IsWorse`).
    pub fn severity(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Suspended => 1,
            HealthStatus::Progressing => 2,
            HealthStatus::Missing => 3,
            HealthStatus::Degraded => 4,
            HealthStatus::Unknown => 5,
        }
    }

    /// True when `self` is worse than `other`.
    pub fn is_worse(self, other: HealthStatus) -> bool {
        self.severity() > other.severity()
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health assessment: status and a human message (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The status code.
    pub status: HealthStatus,
    /// Why, in Argo CD's words; empty when there is nothing to say.
    pub message: String,
}

impl Health {
    pub(crate) fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Health { status, message: message.into() }
    }
    pub(crate) fn healthy(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Healthy, message)
    }
    pub(crate) fn progressing(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Progressing, message)
    }
    pub(crate) fn degraded(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Degraded, message)
    }
}

/// Annotation of a hook (`argocd.argoproj.io/hook`).
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// Annotation that removes a resource from the app's health.
pub const IGNORE_HEALTHCHECK_ANNOTATION: &str = "argocd.argoproj.io/ignore-healthcheck";
/// Finalizer Argo CD puts on hooks.
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// Assesses one live object (as JSON). `None` means the kind has no health check (ConfigMap,
/// Secret, unknown custom resources): Argo CD shows no health and the app ignores it.
///
/// Order as in gitops-engine: an object being deleted is Progressing "Pending deletion" (unless
/// it is a hook held only by the hook finalizer), then the Rust versions of Argo CD's bundled
/// Lua checks, then the built-in checks.
pub fn assess(obj: &Value) -> Option<Health> {
    assess_with(&lua::HealthOverrides::default(), obj)
}

/// [`assess`] with health customizations: a script of `overrides` for the object's group and
/// kind replaces the built-in check (after the "Pending deletion" rule, as in gitops-engine).
pub fn assess_with(overrides: &lua::HealthOverrides, obj: &Value) -> Option<Health> {
    if json::at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
        && !(is_hook(obj) && has_hook_finalizer(obj))
    {
        return Some(Health::progressing("Pending deletion"));
    }
    if let Some(health) = overrides.assess(obj) {
        return Some(health);
    }
    let api_version = json::str_at(obj, &["apiVersion"]).unwrap_or("");
    let kind = json::str_at(obj, &["kind"]).unwrap_or("");
    let group = json::group_of(api_version);
    match (group, kind) {
        ("argoproj.io", "Rollout") => Some(argo::rollout(obj)),
        ("argoproj.io", "AnalysisRun") => Some(argo::analysis_run(obj)),
        ("argoproj.io", "Experiment") => Some(argo::experiment(obj)),
        ("batch", "CronJob") => Some(argo::cron_job(obj)),
        ("apps" | "extensions", "Deployment") => Some(apps::deployment(obj)),
        ("apps" | "extensions", "ReplicaSet") => Some(apps::replica_set(obj)),
        ("apps", "StatefulSet") => Some(apps::stateful_set(obj)),
        ("apps" | "extensions", "DaemonSet") => Some(apps::daemon_set(obj)),
        ("networking.k8s.io" | "extensions", "Ingress") => Some(core::ingress(obj)),
        ("", "Service") => Some(core::service(obj)),
        ("", "PersistentVolumeClaim") => Some(core::pvc(obj)),
        ("", "Pod") => Some(core::pod(obj)),
        ("batch", "Job") => Some(core::job(obj)),
        ("autoscaling", "HorizontalPodAutoscaler") => Some(core::hpa(obj)),
        ("apiregistration.k8s.io", "APIService") => Some(core::api_service(obj)),
        _ => None,
    }
}

/// Assesses a [`weir_cluster::Object`]; see [`assess`].
pub fn assess_object(obj: &weir_cluster::Object) -> Option<Health> {
    assess(&obj.to_value())
}

/// True when the object carries an Argo CD hook annotation (or a Helm hook one).
pub(crate) fn is_hook(obj: &Value) -> bool {
    let argo = json::annotation(obj, HOOK_ANNOTATION)
        .map(|h| h.split(',').any(|p| !p.trim().is_empty() && p.trim() != "Skip"));
    match argo {
        Some(hook) => hook,
        None => json::annotation(obj, "helm.sh/hook").is_some_and(|h| {
            h.split(',').any(|p| {
                matches!(p.trim(), "pre-install" | "pre-upgrade" | "post-install" | "post-upgrade")
            })
        }),
    }
}

fn has_hook_finalizer(obj: &Value) -> bool {
    json::array_at(obj, &["metadata", "finalizers"])
        .iter()
        .any(|f| f.as_str() == Some(HOOK_FINALIZER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_without_a_check_have_no_health() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(assess(&cm), None);
    }

    #[test]
    fn deleting_objects_are_pending_deletion() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "deletionTimestamp": "2020-01-01T00:00:00Z"}});
        assert_eq!(assess(&pod), Some(Health::progressing("Pending deletion")));
    }

    #[test]
    fn severity_order() {
        assert!(HealthStatus::Unknown.is_worse(HealthStatus::Degraded));
        assert!(HealthStatus::Missing.is_worse(HealthStatus::Progressing));
        assert!(HealthStatus::Suspended.is_worse(HealthStatus::Healthy));
    }
}
