//! The automated-sync decision (`autoSync` in Argo CD's `appcontroller.go`), pure: given the
//! app, its comparison verdict, the revision compared and `now`, whether to start a sync, wait
//! (self-heal backoff) or skip, with Argo's reasons.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use weir_model::argocd::{Application, Operation, OperationInitiator, SyncOperation};

/// What auto-sync decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Start this operation.
    Sync(Box<Operation>),
    /// Self-heal is due after this delay.
    Wait(Duration),
    /// Nothing to do (the reason, for logs; empty when auto-sync is off or all is in sync).
    Skip(String),
}

/// Decides for an app whose comparison ended `sync_status` at `revision`; `prune_only` is true
/// when every out-of-sync resource only needs pruning.
pub(crate) fn decide(
    app: &Application,
    sync_status: &str,
    revision: &str,
    targets_empty: bool,
    prune_only: bool,
    now: Timestamp,
    self_heal_timeout: Duration,
) -> Decision {
    let Some(automated) = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()) else {
        return Decision::Skip(String::new());
    };
    if !app.spec.is_automated() || sync_status != "OutOfSync" || app.operation.is_some() {
        return Decision::Skip(String::new());
    }
    let prune = automated.prune_or_default();
    if targets_empty && prune && !automated.allow_empty_or_default() {
        return Decision::Skip(
            "Skipping sync attempt: auto-sync will wipe out all resources".to_string(),
        );
    }
    if prune_only && !prune {
        return Decision::Skip(
            "Skipping sync attempt: resources require pruning and auto-prune is off".to_string(),
        );
    }
    let state = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    let last_revision = state.and_then(|s| {
        s.sync_result
            .as_ref()
            .map(|r| r.revision.clone())
            .or_else(|| s.operation.sync.as_ref().and_then(|o| o.revision.clone()))
    });
    if let Some(state) = state
        && last_revision.as_deref() == Some(revision)
    {
        if matches!(state.phase.as_str(), "Failed" | "Error") {
            return Decision::Skip(format!(
                "Skipping auto-sync: failed previous sync attempt to {revision}"
            ));
        }
        if !automated.self_heal_or_default() {
            return Decision::Skip(format!(
                "Skipping auto-sync: most recent sync already to {revision}"
            ));
        }
        if let Some(finished) = &state.finished_at {
            let elapsed = now.duration_since(finished.0).unsigned_abs();
            if elapsed < self_heal_timeout {
                return Decision::Wait(self_heal_timeout - elapsed);
            }
        }
    }
    let sync_options = app.spec.sync_policy.as_ref().and_then(|p| p.sync_options.clone());
    Decision::Sync(Box::new(Operation {
        info: None,
        initiated_by: Some(OperationInitiator { automated: Some(true), username: None }),
        retry: app.spec.sync_policy.as_ref().and_then(|p| p.retry.clone()),
        sync: Some(SyncOperation {
            revision: Some(revision.to_string()),
            prune: Some(prune),
            sync_options,
            ..SyncOperation::default()
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(json: serde_json::Value) -> Application {
        serde_json::from_value(json).expect("app")
    }

    fn automated(self_heal: bool, status: serde_json::Value) -> Application {
        app(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a"},
            "spec": {"destination": {}, "project": "default",
                     "source": {"repoURL": "file:///r"},
                     "syncPolicy": {"automated": {"selfHeal": self_heal}}},
            "status": status,
        }))
    }

    #[test]
    fn syncs_new_revisions_and_heals_only_with_self_heal() {
        let now = Timestamp::from_second(1_000).expect("ts");
        let none = automated(false, serde_json::json!({}));
        assert!(matches!(
            decide(&none, "OutOfSync", "abc", false, false, now, Duration::ZERO),
            Decision::Sync(_)
        ));
        assert_eq!(
            decide(&none, "Synced", "abc", false, false, now, Duration::ZERO),
            Decision::Skip(String::new())
        );
        let state = serde_json::json!({"operationState": {
            "operation": {"sync": {"revision": "abc"}}, "phase": "Succeeded",
            "startedAt": "1970-01-01T00:16:00Z", "finishedAt": "1970-01-01T00:16:38Z",
            "syncResult": {"revision": "abc"}}});
        let no_heal = automated(false, state.clone());
        assert!(
            matches!(decide(&no_heal, "OutOfSync", "abc", false, false, now, Duration::ZERO), Decision::Skip(m) if m.contains("most recent sync"))
        );
        assert!(matches!(
            decide(&no_heal, "OutOfSync", "def", false, false, now, Duration::ZERO),
            Decision::Sync(_)
        ));
        let heal = automated(true, state);
        assert_eq!(
            decide(&heal, "OutOfSync", "abc", false, false, now, Duration::from_secs(5)),
            Decision::Wait(Duration::from_secs(3))
        );
        assert!(matches!(
            decide(&heal, "OutOfSync", "abc", false, false, now, Duration::ZERO),
            Decision::Sync(_)
        ));
    }
}
