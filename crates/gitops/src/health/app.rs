//! Application health: the worst health of the app's resources, with Argo CD's exceptions
//! (hooks, `ignore-healthcheck`, missing resources, child Applications) and its
//! "Caused by …" message (`controller/health.go`).

use serde_json::Value;

use super::{Health, HealthStatus, IGNORE_HEALTHCHECK_ANNOTATION, is_hook};
use crate::ResourceKey;
use crate::json;

/// How many causing resources the message names before "and N more".
const MAX_CAUSES: usize = 3;

/// One managed resource of an Application: its key and its target (from git) and live objects.
#[derive(Debug, Clone, Copy)]
pub struct AppResource<'a> {
    /// Identity used in the "Caused by" message.
    pub key: &'a ResourceKey,
    /// The desired object, if any.
    pub target: Option<&'a Value>,
    /// The live object, if any.
    pub live: Option<&'a Value>,
}

/// The app's health and the per-resource health statuses (same order as the input; `None`
/// for resources that get no health).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHealth {
    /// Status of the Application.
    pub status: HealthStatus,
    /// "Caused by …", or empty.
    pub message: String,
    /// Per-resource health, `None` when not assessed (skipped, hook, no health check).
    pub resources: Vec<Option<Health>>,
}

/// Aggregates with the built-in checks ([`super::assess`]).
pub fn aggregate(resources: &[AppResource<'_>]) -> AppHealth {
    aggregate_with(resources, super::assess)
}

/// Aggregates with a custom per-object check (for health overrides).
pub fn aggregate_with(
    resources: &[AppResource<'_>],
    health_of: impl Fn(&Value) -> Option<Health>,
) -> AppHealth {
    let mut status = HealthStatus::Healthy;
    let mut assessed: Vec<(usize, HealthStatus)> = Vec::new();
    let mut out = vec![None; resources.len()];
    let (mut contains_resources, mut contains_live) = (false, false);
    for (i, res) in resources.iter().enumerate() {
        if res.target.is_some_and(is_skip) {
            continue;
        }
        if let Some(live) = res.live {
            if is_hook(live) {
                continue;
            }
            if json::annotation(live, IGNORE_HEALTHCHECK_ANNOTATION) == Some("true") {
                contains_live = true;
                continue;
            }
        }
        contains_resources = true;
        let Some(live) = res.live else {
            out[i] = Some(Health::new(HealthStatus::Missing, ""));
            continue;
        };
        contains_live = true;
        let Some(health) = health_of(live) else {
            continue;
        };
        let child_app = json::group_of(json::str_at(live, &["apiVersion"]).unwrap_or(""))
            == "argoproj.io"
            && json::str_at(live, &["kind"]) == Some("Application");
        let code = health.status;
        out[i] = Some(health);
        if child_app && matches!(code, HealthStatus::Missing | HealthStatus::Unknown) {
            continue;
        }
        assessed.push((i, code));
        if code.is_worse(status) {
            status = code;
        }
    }
    if contains_resources && !contains_live {
        return AppHealth { status: HealthStatus::Missing, message: String::new(), resources: out };
    }
    let message = if status == HealthStatus::Healthy {
        String::new()
    } else {
        let causes: Vec<&ResourceKey> = assessed
            .iter()
            .filter(|(_, code)| *code == status)
            .map(|(i, _)| resources[*i].key)
            .collect();
        format_causes(&causes)
    };
    AppHealth { status, message, resources: out }
}

fn is_skip(target: &Value) -> bool {
    json::annotation(target, super::HOOK_ANNOTATION)
        .is_some_and(|h| h.split(',').any(|p| p.trim() == "Skip"))
}

/// `Caused by a, b, c and N more`; empty for no causes.
pub fn format_causes(causes: &[&ResourceKey]) -> String {
    if causes.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = causes.iter().take(MAX_CAUSES).map(|k| k.to_string()).collect();
    let mut message = format!("Caused by {}", shown.join(", "));
    if causes.len() > MAX_CAUSES {
        message.push_str(&format!(" and {} more", causes.len() - MAX_CAUSES));
    }
    message
}
