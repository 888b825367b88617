//! Building `status` of an Application from a comparison (or its failure): `sync` with
//! `comparedTo`, `resources[]`, `health`, `conditions` (ComparisonError), keeping what the
//! comparison does not own (operation state, history) and transition times of unchanged
//! conditions. A status too large to be stored is cut by [`crate::summary::fit`]. Pure: `now`
//! is an argument.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_model::argocd::{
    Application, ApplicationCondition, ApplicationStatus, ComparedTo, HealthStatus, ResourceStatus,
    SyncStatus,
};

use crate::compare::Comparison;

/// The condition type of a failed comparison.
pub const COMPARISON_ERROR: &str = "ComparisonError";

/// The condition type of an Application its project does not allow (or that names no
/// project).
pub const INVALID_SPEC_ERROR: &str = "InvalidSpecError";

/// The status of an Application that is not compared at all (Argo CD's InvalidSpecError):
/// sync and health Unknown, resources unlisted.
pub(crate) fn build_invalid(app: &Application, message: &str, now: Timestamp) -> ApplicationStatus {
    let mut status = app.status.clone().unwrap_or_default();
    let previous = status.conditions.take().unwrap_or_default();
    let since = previous
        .iter()
        .find(|c| c.r#type == INVALID_SPEC_ERROR && c.message == message)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let mut conditions: Vec<ApplicationCondition> = previous
        .into_iter()
        .filter(|c| {
            c.r#type != INVALID_SPEC_ERROR
                && c.r#type != COMPARISON_ERROR
                && c.r#type != crate::summary::RESOURCES_TRUNCATED
        })
        .collect();
    conditions.push(ApplicationCondition {
        last_transition_time: Some(since),
        message: message.to_string(),
        r#type: INVALID_SPEC_ERROR.to_string(),
    });
    status.conditions = Some(conditions);
    let revision = status.sync.as_ref().and_then(|s| s.revision.clone());
    status.sync = Some(SyncStatus {
        compared_to: None,
        revision,
        revisions: None,
        status: "Unknown".to_string(),
    });
    status.resources = None;
    status.health = Some(HealthStatus {
        last_transition_time: None,
        message: None,
        status: Some("Unknown".to_string()),
    });
    status
}

/// The new status: `outcome` is the comparison at a revision, or the comparison error.
pub(crate) fn build(
    app: &Application,
    outcome: Result<(&Comparison, &str), &str>,
    reconciled: bool,
    now: Timestamp,
) -> ApplicationStatus {
    let mut status = app.status.clone().unwrap_or_default();
    let compared_to = ComparedTo {
        destination: app.spec.destination.clone(),
        ignore_differences: app.spec.ignore_differences.clone(),
        source: app.spec.source.clone(),
        sources: app.spec.sources.clone(),
    };
    let mut conditions: Vec<ApplicationCondition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.r#type != COMPARISON_ERROR && c.r#type != INVALID_SPEC_ERROR)
        .collect();
    match outcome {
        Ok((comparison, revision)) => {
            status.sync = Some(SyncStatus {
                compared_to: Some(compared_to),
                revision: Some(revision.to_string()),
                revisions: None,
                status: comparison.sync_status().to_string(),
            });
            status.resources = Some(comparison.resources.iter().map(resource_status).collect());
            let message =
                (!comparison.health_message.is_empty()).then(|| comparison.health_message.clone());
            status.health = Some(HealthStatus {
                last_transition_time: None,
                message,
                status: Some(comparison.health.as_str().to_string()),
            });
        }
        Err(message) => {
            let previous = app.status.as_ref().and_then(|s| s.conditions.as_ref());
            let since = previous
                .and_then(|cs| {
                    cs.iter().find(|c| c.r#type == COMPARISON_ERROR && c.message == message)
                })
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            conditions.push(ApplicationCondition {
                last_transition_time: Some(since),
                message: message.to_string(),
                r#type: COMPARISON_ERROR.to_string(),
            });
            let revision = status.sync.as_ref().and_then(|s| s.revision.clone());
            status.sync = Some(SyncStatus {
                compared_to: Some(compared_to),
                revision,
                revisions: None,
                status: "Unknown".to_string(),
            });
            if status.health.is_none() {
                status.health = Some(HealthStatus {
                    last_transition_time: None,
                    message: None,
                    status: Some("Unknown".to_string()),
                });
            }
        }
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status.source_type = Some("Directory".to_string());
    if reconciled || status.reconciled_at.is_none() {
        status.reconciled_at = Some(Time(now));
    }
    crate::summary::fit(app, &mut status, crate::summary::OBJECT_BUDGET, now);
    status
}

fn resource_status(r: &crate::compare::ResourceState) -> ResourceStatus {
    let wave = r
        .target
        .as_ref()
        .or(r.live.as_ref())
        .map(weir_gitops::sync::annotations::wave)
        .filter(|w| *w != 0);
    ResourceStatus {
        group: (!r.key.group.is_empty()).then(|| r.key.group.clone()),
        health: r.health.as_ref().map(|h| HealthStatus {
            last_transition_time: None,
            message: (!h.message.is_empty()).then(|| h.message.clone()),
            status: Some(h.status.as_str().to_string()),
        }),
        hook: None,
        kind: Some(r.key.kind.clone()),
        name: Some(r.key.name.clone()),
        namespace: (!r.key.namespace.is_empty()).then(|| r.key.namespace.clone()),
        requires_deletion_confirmation: None,
        requires_pruning: r.requires_pruning().then_some(true),
        status: Some(r.status().to_string()),
        sync_wave: wave.map(i64::from),
        version: Some(r.version.clone()),
    }
}
