//! Processing a requested operation (`spec.operation.sync`, set by auto-sync or `weir app
//! sync`): the operation state's lifecycle (start, one sync pass per reconcile, finish), retries
//! with backoff, and the history entry of a successful sync (`revisionHistoryLimit`).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::{Cluster, DeleteParams, Object, Registry, apply};
use weir_gitops::ResourceKey;
use weir_gitops::sync::HookNames;
use weir_gitops::sync::machine::{OperationPhase, SyncOperation};
use weir_model::argocd::{
    AppProjectSpec, Application, Operation, OperationState, RevisionHistory, SyncOperationResult,
};

use crate::compare::Comparison;
use crate::replace::WriteMode;
use crate::sync::{SyncRequest, phase_str, resource_type, restore, results, run_pass};

/// What happened to the operation in this pass.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Progress {
    /// Still running: come back after this delay.
    Running(Duration),
    /// Finished (or retried later); the `operation` field must be cleared when `clear` is set.
    Finished {
        /// Remove `operation` from the Application.
        clear: bool,
        /// Come back after this delay (a retry).
        requeue: Option<Duration>,
    },
}

/// The operation state a pass starts from: the stored one if it belongs to `operation` and
/// is still running, else a fresh one (as Argo CD: a completed state is never continued).
pub(crate) fn current_state(
    app: &Application,
    operation: &Operation,
    now: Timestamp,
) -> OperationState {
    let stored = app.status.as_ref().and_then(|s| s.operation_state.clone());
    match stored {
        // A `Terminating` state (what `terminate-op` writes) is continued to be terminated.
        Some(state)
            if state.operation == *operation
                && (state.phase == "Running" || state.phase == TERMINATING) =>
        {
            state
        }
        _ => OperationState {
            finished_at: None,
            message: None,
            operation: operation.clone(),
            phase: "Running".to_string(),
            retry_count: None,
            started_at: Time(now),
            sync_result: None,
        },
    }
}

/// What an operation syncs to: the comparison at a revision, under the app's project.
pub(crate) struct SyncTarget<'a> {
    pub(crate) comparison: &'a Comparison,
    pub(crate) revision: &'a str,
    /// The AppProject's name and spec.
    pub(crate) project: &'a (String, AppProjectSpec),
    /// Operations running longer are terminated (`None`: never).
    pub(crate) sync_timeout: Option<Duration>,
}

/// The phase of an operation being terminated (`argocd app terminate-op`, or the controller's
/// sync timeout).
pub(crate) const TERMINATING: &str = "Terminating";

/// Runs one pass of `state` against `target`; updates `state` and the app's history. An
/// operation older than `sync_timeout` (Argo CD's `--sync-timeout`; `None`: no limit) or
/// asked to terminate is terminated instead.
pub(crate) async fn advance<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    app: &mut Application,
    state: &mut OperationState,
    target: SyncTarget<'_>,
    now: Timestamp,
) -> Progress {
    let SyncTarget { comparison, revision, project, sync_timeout } = target;
    let timed_out = sync_timeout.is_some_and(|timeout| {
        let elapsed = now.duration_since(state.started_at.0);
        state.phase == "Running" && elapsed.unsigned_abs() >= timeout
    });
    if timed_out || state.phase == TERMINATING {
        let cause = timed_out.then_some("controller sync timeout");
        return terminate(cluster, registry, state, cause, now).await;
    }
    if state.phase != "Running" {
        return Progress::Finished { clear: true, requeue: None };
    }
    let Some(sync) = state.operation.sync.clone() else {
        state.phase = "Error".into();
        state.message = Some("only sync operations are supported".into());
        state.finished_at = Some(Time(now));
        return Progress::Finished { clear: true, requeue: None };
    };
    // The operation's options, then the app's (Argo CD merges both).
    let mut options: Vec<String> = sync.sync_options.clone().unwrap_or_default();
    if let Some(policy) = &app.spec.sync_policy {
        options.extend(policy.sync_options.iter().flatten().cloned());
    }
    let request = SyncRequest {
        prune: sync.prune.unwrap_or(false),
        prune_last: options.iter().any(|o| o == "PruneLast=true"),
        dry_run: sync.dry_run.unwrap_or(false),
        apply_out_of_sync_only: options.iter().any(|o| o == "ApplyOutOfSyncOnly=true"),
        resources: sync.resources.clone(),
        respect_ignored: options
            .iter()
            .any(|o| o == "RespectIgnoreDifferences=true")
            .then(|| crate::compare::ignore_rules(app.spec.ignore_differences.as_deref())),
        project: Some(project.clone()),
        // Argo CD's `HasOption("ServerSideApply=true")` over both lists.
        server_side_apply: options.iter().any(|o| o == "ServerSideApply=true"),
        hook_names: HookNames {
            revision: revision.to_string(),
            started_at: state.started_at.0.as_second(),
        },
        write: write_mode(&options, &sync),
    };
    let stored = state.sync_result.as_ref().and_then(|r| r.resources.clone()).unwrap_or_default();
    let mut machine = restore(&state.phase, state.message.as_deref().unwrap_or(""), &stored);
    if stored.is_empty()
        && !request.dry_run
        && options.iter().any(|o| o == "CreateNamespace=true")
        && let Err(message) = create_namespace(cluster, registry, app).await
    {
        state.phase = "Failed".into();
        state.message = Some(message);
        return retry_or_fail(state, now);
    }
    run_pass(cluster, registry, comparison, &request, &mut machine).await;
    state.phase = phase_str(machine.phase).to_string();
    state.message = Some(with_hook_start(&machine, comparison));
    state.sync_result = Some(SyncOperationResult {
        resources: Some(results(&machine, comparison)),
        revision: revision.to_string(),
        source: app.spec.source.clone(),
        ..SyncOperationResult::default()
    });
    match machine.phase {
        OperationPhase::Running => Progress::Running(Duration::from_secs(1)),
        OperationPhase::Succeeded => {
            state.finished_at = Some(Time(now));
            if !request.dry_run && request.resources.is_none() {
                record_history(app, state, revision, now);
            }
            Progress::Finished { clear: true, requeue: None }
        }
        OperationPhase::Failed | OperationPhase::Error => retry_or_fail(state, now),
    }
}

/// `Replace=true` among the options, and the force of the sync strategy (`argocd app sync
/// --force` sets `syncStrategy.apply.force`; a hook strategy's `force` counts the same, as in
/// Argo CD's `SyncStrategy.Force()`).
fn write_mode(options: &[String], sync: &weir_model::argocd::SyncOperation) -> WriteMode {
    let strategy = sync.sync_strategy.as_ref();
    let forced = |s: Option<&weir_model::argocd::SyncStrategyApply>| {
        s.and_then(|s| s.force).unwrap_or(false)
    };
    WriteMode {
        replace: options.iter().any(|o| o == "Replace=true"),
        force: forced(strategy.and_then(|s| s.apply.as_ref()))
            || forced(strategy.and_then(|s| s.hook.as_ref())),
    }
}

/// `CreateNamespace=true`: the destination namespace is created (or its managed metadata
/// updated) before the first wave, with `managedNamespaceMetadata`'s labels and annotations.
async fn create_namespace<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    app: &Application,
) -> Result<(), String> {
    let Some(name) = app.spec.destination.namespace.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    let Some(rt) = registry.for_name("namespaces") else {
        return Err("no Namespace resource type registered".into());
    };
    let mut namespace = Object::new("v1", "Namespace", None, name);
    let managed = app.spec.sync_policy.as_ref().and_then(|p| p.managed_namespace_metadata.as_ref());
    if let Some(meta) = managed {
        namespace.metadata.labels = meta.labels.clone();
        namespace.metadata.annotations = meta.annotations.clone();
    }
    apply(cluster, rt, &namespace)
        .await
        .map(|_| ())
        .map_err(|e| format!("failed to create namespace {name}: {e}"))
}

/// Argo's retry: within the limit the operation starts over after the backoff.
fn retry_or_fail(state: &mut OperationState, now: Timestamp) -> Progress {
    let count = state.retry_count.unwrap_or(0);
    let retry = state.operation.retry.clone();
    let limit = retry.as_ref().map_or(0, |r| r.limit_or_default());
    if let Some(retry) = retry
        && (limit < 0 || count < limit)
    {
        let base = retry.backoff_duration().unwrap_or(Duration::from_secs(5));
        let max = retry.backoff_max_duration().unwrap_or(Duration::from_secs(180));
        let factor = u32::try_from(retry.backoff_factor().max(1)).unwrap_or(2);
        let exp = u32::try_from(count).unwrap_or(u32::MAX).min(16);
        let delay = base.saturating_mul(factor.saturating_pow(exp)).min(max);
        let at = now
            .checked_add(k8s_openapi::jiff::SignedDuration::try_from(delay).unwrap_or_default())
            .unwrap_or(now);
        let message = state.message.clone().unwrap_or_default();
        state.retry_count = Some(count + 1);
        state.phase = "Running".into();
        state.message = Some(format!("{message}. Retrying attempt #{} at {at}.", count + 1));
        state.sync_result = None;
        return Progress::Finished { clear: false, requeue: Some(delay) };
    }
    if count > 0 {
        let message = state.message.clone().unwrap_or_default();
        state.message = Some(format!("{message} (retried {count} times)."));
    }
    state.finished_at = Some(Time(now));
    Progress::Finished { clear: true, requeue: None }
}

fn record_history(app: &mut Application, state: &OperationState, revision: &str, now: Timestamp) {
    let limit = usize::try_from(app.spec.revision_history_limit_or_default().max(1)).unwrap_or(10);
    let status = app.status.get_or_insert_with(Default::default);
    let history = status.history.get_or_insert_with(Vec::new);
    let id = history.last().map_or(0, |h| h.id + 1);
    history.push(RevisionHistory {
        deploy_started_at: Some(state.started_at.clone()),
        deployed_at: Time(now),
        id,
        initiated_by: state.operation.initiated_by.clone(),
        revision: Some(revision.to_string()),
        revisions: None,
        source: app.spec.source.clone(),
        sources: None,
    });
    if history.len() > limit {
        let excess = history.len() - limit;
        history.drain(..excess);
    }
}

/// The machine's message; while it waits for a hook, with when that hook's object was created
/// (`waiting for completion of hook /Pod/x (running since 2026-12-03T20:00:00Z)`), so a hook
/// that never finishes says for how long it has been running.
fn with_hook_start(machine: &SyncOperation, comparison: &Comparison) -> String {
    let message = machine.message.clone();
    if machine.phase != OperationPhase::Running {
        return message;
    }
    let waited =
        machine.results.iter().filter(|r| r.hook && r.hook_phase == OperationPhase::Running);
    for result in waited {
        let k = &result.key;
        if !message.starts_with(&format!(
            "waiting for completion of hook {}/{}/{}",
            k.group, k.kind, k.name
        )) {
            continue;
        }
        let created =
            comparison.hook_lives.iter().filter(|live| ResourceKey::of(live) == *k).find_map(
                |live| live.pointer("/metadata/creationTimestamp").and_then(Value::as_str),
            );
        if let Some(created) = created {
            return format!("{message} (running since {created})");
        }
    }
    message
}

/// Terminates the operation (`syncContext.Terminate`): its running hooks are deleted, and it
/// fails with "Operation terminated" (plus `, triggered by <cause>`), never retried.
async fn terminate<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    state: &mut OperationState,
    cause: Option<&str>,
    now: Timestamp,
) -> Progress {
    let resources =
        state.sync_result.as_ref().and_then(|r| r.resources.as_deref()).unwrap_or_default();
    let mut errors = Vec::new();
    for hook in resources
        .iter()
        .filter(|r| r.hook_type.is_some() && r.hook_phase.as_deref() == Some("Running"))
    {
        let api_version = if hook.group.is_empty() {
            hook.version.clone()
        } else {
            format!("{}/{}", hook.group, hook.version)
        };
        let rt = resource_type(registry, &api_version, &hook.kind);
        let ns = (!hook.namespace.is_empty()).then_some(hook.namespace.as_str());
        match cluster.delete(&rt, ns, &hook.name, &DeleteParams::default()).await {
            Ok(_) | Err(weir_cluster::Error::NotFound { .. }) => {}
            Err(e) => errors.push(format!("{}/{}: {e}", hook.kind, hook.name)),
        }
    }
    let mut message = if errors.is_empty() {
        state.phase = "Failed".into();
        "Operation terminated".to_string()
    } else {
        state.phase = "Error".into();
        format!("Operation termination had errors: {}", errors.join(", "))
    };
    if let Some(cause) = cause {
        message.push_str(&format!(", triggered by {cause}"));
    }
    if let Some(count) = state.retry_count.filter(|c| *c > 0) {
        message.push_str(&format!(" (retried {count} times)."));
    }
    state.message = Some(message);
    state.finished_at = Some(Time(now));
    Progress::Finished { clear: true, requeue: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weir_gitops::sync::SyncPhase;
    use weir_gitops::sync::machine::{ResultCode, TaskResult};

    fn waiting_on(key: ResourceKey, message: &str) -> SyncOperation {
        SyncOperation {
            phase: OperationPhase::Running,
            message: message.to_owned(),
            results: vec![TaskResult {
                key,
                sync_phase: SyncPhase::PreSync,
                status: ResultCode::Synced,
                hook_phase: OperationPhase::Running,
                message: "pod/forever created".into(),
                hook: true,
            }],
        }
    }

    fn comparison(hook_lives: Vec<Value>) -> Comparison {
        Comparison {
            resources: vec![],
            hooks: vec![],
            hook_lives,
            health: weir_gitops::health::HealthStatus::Healthy,
            health_message: String::new(),
        }
    }

    // The machine's message is gitops-engine's (`setRunningPhase`); weir adds when the awaited
    // hook's object was created, and nothing when it cannot tell.
    #[test]
    fn a_waiting_message_says_since_when_the_hook_runs() {
        let key = ResourceKey::new("", "Pod", "apps", "forever");
        let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "forever", "namespace": "apps", "creationTimestamp": "2026-12-03T20:00:00Z"}});
        let waiting = "waiting for completion of hook /Pod/forever";
        let machine = waiting_on(key.clone(), waiting);
        assert_eq!(
            with_hook_start(&machine, &comparison(vec![live.clone()])),
            "waiting for completion of hook /Pod/forever (running since 2026-12-03T20:00:00Z)"
        );
        assert_eq!(with_hook_start(&machine, &comparison(vec![])), waiting, "no live object");
        let other = "waiting for healthy state of /ConfigMap/cm";
        assert_eq!(with_hook_start(&waiting_on(key, other), &comparison(vec![live])), other);
    }
}
