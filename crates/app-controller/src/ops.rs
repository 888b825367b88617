//! The user operations on an Application, as `argocd app` and Argo CD's UI send them: start a
//! sync (`operation.sync`, with a request id in `operation.info` so the caller can tell its
//! operation's state from earlier ones), pick the revision of a rollback from the history,
//! request a refresh, and compute the diff of OutOfSync resources. `weir app` and the
//! dashboard both call these; the controller does the work.

use serde_json::{Value, json};
use weir_cluster::{Cluster, Object, Patch, Registry, ResourceType, Subresource};
use weir_model::argocd::{Application, OperationState};

use crate::REFRESH_ANNOTATION;
use crate::compare::{self, ResourceState};
use crate::git::Repos;
use crate::targets::{load_live, load_targets, previous_types};

/// Why an operation could not be started.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The cluster refused a read or write.
    #[error(transparent)]
    Cluster(#[from] weir_cluster::Error),
    /// `operation` is already set.
    #[error("another operation is already in progress")]
    InProgress,
    /// Rollbacks are refused while auto-sync would undo them.
    #[error("rollback cannot be initiated when auto-sync is enabled")]
    AutoSync,
    /// No history entry to roll back to.
    #[error("application {name:?} does not have deployment id {id:?} in its history")]
    NoHistory {
        /// The application.
        name: String,
        /// The id asked for (`None`: the previous deployment).
        id: Option<i64>,
    },
    /// The history entry names no revision.
    #[error("history entry {0} has no revision")]
    NoRevision(i64),
    /// `terminate-op` with no operation running (Argo CD's message).
    #[error("Unable to terminate operation. No operation is in progress")]
    NothingToTerminate,
    /// Git could not be read or the manifests not rendered (diff only).
    #[error("{0}")]
    Render(String),
}

/// What a sync operation asks for (`argocd app sync` flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncRequest {
    /// Delete resources no longer in git.
    pub prune: bool,
    /// Sync to this revision instead of the target revision.
    pub revision: Option<String>,
    /// Show what would change without changing anything.
    pub dry_run: bool,
    /// Sync options of this operation only (`--replace` adds `Replace=true`):
    /// `operation.sync.syncOptions`.
    pub sync_options: Vec<String>,
    /// `--force`: `operation.sync.syncStrategy.apply.force`, as `argocd app sync --force`.
    pub force: bool,
    /// `--retry-limit` and the backoff: `operation.retry`.
    pub retry: Option<weir_model::argocd::RetryStrategy>,
}

/// The Application resource type.
pub fn applications() -> ResourceType {
    Registry::builtin()
        .for_name("applications")
        .cloned()
        .unwrap_or_else(|| ResourceType::guess(weir_model::argocd::API_VERSION, "Application"))
}

/// The merge patch that starts `request`, tagged with `request_id`.
pub fn sync_patch(request: &SyncRequest, request_id: &str) -> Value {
    let mut sync = json!({"prune": request.prune});
    if let Some(revision) = &request.revision {
        sync["revision"] = json!(revision);
    }
    if request.dry_run {
        sync["dryRun"] = json!(true);
    }
    if !request.sync_options.is_empty() {
        sync["syncOptions"] = json!(request.sync_options);
    }
    if request.force {
        sync["syncStrategy"] = json!({"apply": {"force": true}});
    }
    let info = json!([{"name": "Request", "value": request_id}]);
    let mut operation = json!({"sync": sync, "initiatedBy": {"username": "weir"}, "info": info});
    if let Some(retry) = &request.retry {
        operation["retry"] = json!(retry);
    }
    json!({ "operation": operation })
}

/// A request id unique enough to tell one caller's operation from the previous ones.
fn new_request_id() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string()
}

/// Reads the Application `name`.
pub async fn fetch<C: Cluster>(cluster: &C, ns: &str, name: &str) -> Result<Application, OpError> {
    Ok(cluster.get(&applications(), Some(ns), name).await?.to_typed()?)
}

/// Starts a sync of `name` unless an operation is already running; returns the request id
/// ([`finished_operation`] finds its result).
pub async fn start_sync<C: Cluster>(
    cluster: &C,
    ns: &str,
    name: &str,
    request: &SyncRequest,
) -> Result<String, OpError> {
    let app = fetch(cluster, ns, name).await?;
    if app.operation.is_some() {
        return Err(OpError::InProgress);
    }
    let request_id = new_request_id();
    let patch = Patch::Merge(sync_patch(request, &request_id));
    cluster.patch(&applications(), Some(ns), name, &patch, Subresource::Main).await?;
    Ok(request_id)
}

/// The sync a rollback to history entry `id` (default: the previous deployment) sends;
/// refused while auto-sync is on, as in Argo CD.
pub fn rollback_request(
    app: &Application,
    id: Option<i64>,
    prune: bool,
) -> Result<SyncRequest, OpError> {
    if app.spec.is_automated() {
        return Err(OpError::AutoSync);
    }
    let history: Vec<_> = app.status.iter().flat_map(|s| s.history.iter().flatten()).collect();
    let entry = match id {
        Some(id) => history.iter().find(|h| h.id == id),
        None if history.len() >= 2 => history.get(history.len() - 2),
        None => None,
    };
    let Some(entry) = entry else {
        return Err(OpError::NoHistory { name: app.name().to_owned(), id });
    };
    let Some(revision) = entry.revision.clone() else {
        return Err(OpError::NoRevision(entry.id));
    };
    Ok(SyncRequest { prune, revision: Some(revision), ..SyncRequest::default() })
}

/// Starts the rollback of `name` to history entry `id`; returns the request id.
pub async fn start_rollback<C: Cluster>(
    cluster: &C,
    ns: &str,
    name: &str,
    id: Option<i64>,
    prune: bool,
) -> Result<String, OpError> {
    let app = fetch(cluster, ns, name).await?;
    let request = rollback_request(&app, id, prune)?;
    start_sync(cluster, ns, name, &request).await
}

/// The state of the operation tagged `request_id`, once it has finished.
pub fn finished_operation(app: &Application, request_id: &str) -> Option<OperationState> {
    let state = app.status.as_ref().and_then(|s| s.operation_state.clone())?;
    let ours =
        state.operation.info.iter().flatten().any(|i| i.name == "Request" && i.value == request_id);
    (app.operation.is_none() && state.phase != "Running" && ours).then_some(state)
}

/// `argocd app terminate-op`: marks the running operation of `name` `Terminating`; the
/// controller then deletes its running hooks and ends it `Failed` with "Operation terminated",
/// without retrying. Refused when no operation is running, as Argo CD refuses it.
pub async fn terminate_operation<C: Cluster>(
    cluster: &C,
    ns: &str,
    name: &str,
) -> Result<(), OpError> {
    let app = fetch(cluster, ns, name).await?;
    let running = app.status.as_ref().and_then(|s| s.operation_state.as_ref()).is_some();
    if app.operation.is_none() || !running {
        return Err(OpError::NothingToTerminate);
    }
    let patch = Patch::Merge(json!({"status": {"operationState": {"phase": "Terminating"}}}));
    cluster.patch(&applications(), Some(ns), name, &patch, Subresource::Status).await?;
    Ok(())
}

/// Asks the controller to compare `name` with git now (Argo CD's refresh annotation).
pub async fn refresh<C: Cluster>(cluster: &C, ns: &str, name: &str) -> Result<Object, OpError> {
    let patch = Patch::Merge(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}}));
    Ok(cluster.patch(&applications(), Some(ns), name, &patch, Subresource::Main).await?)
}

/// The OutOfSync resources of `app` with their diffs, read from git (clones in `repos`) and
/// the live objects.
pub async fn out_of_sync<C: Cluster>(
    cluster: &C,
    repos: &Repos,
    app: &Application,
) -> Result<Vec<ResourceState>, OpError> {
    let registry = Registry::builtin();
    let targets =
        load_targets(cluster, repos, &registry, app, None).await.map_err(OpError::Render)?;
    let lives =
        load_live(cluster, &registry, app.name(), &targets.objects, &previous_types(app)).await?;
    let ignore = compare::ignore_rules(app.spec.ignore_differences.as_deref());
    let comparison = compare::compare(app.name(), &targets.objects, &lives, &ignore);
    Ok(comparison.resources.into_iter().filter(|r| r.out_of_sync).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(automated: bool, history: Value) -> Application {
        let mut spec = json!({"source": {"repoURL": "r"}, "destination": {}});
        if automated {
            spec["syncPolicy"] = json!({"automated": {}});
        }
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "guestbook"}, "spec": spec, "status": {"history": history},
        }))
        .expect("application")
    }

    #[test]
    fn sync_patch_carries_the_request_and_the_flags() {
        let request = SyncRequest {
            prune: true,
            revision: Some("abc".into()),
            dry_run: true,
            ..SyncRequest::default()
        };
        let patch = sync_patch(&request, "42");
        assert_eq!(
            patch["operation"]["sync"],
            json!({"prune": true, "revision": "abc", "dryRun": true})
        );
        assert_eq!(patch["operation"]["info"], json!([{"name": "Request", "value": "42"}]));
    }

    /// `argocd app sync --replace --force --retry-limit 3`: the operation Argo's CLI sends.
    #[test]
    fn sync_patch_carries_replace_force_and_retry() {
        let retry: weir_model::argocd::RetryStrategy = serde_json::from_value(
            json!({"limit": 3, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3m0s"}}),
        )
        .expect("retry");
        let request = SyncRequest {
            sync_options: vec!["Replace=true".into()],
            force: true,
            retry: Some(retry),
            ..SyncRequest::default()
        };
        let patch = sync_patch(&request, "42");
        assert_eq!(
            patch["operation"]["sync"],
            json!({
                "prune": false,
                "syncOptions": ["Replace=true"],
                "syncStrategy": {"apply": {"force": true}},
            })
        );
        assert_eq!(
            patch["operation"]["retry"],
            json!({"limit": 3, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3m0s"}})
        );
    }

    #[test]
    fn rollback_picks_the_previous_deployment_or_the_named_one() {
        let history = json!([
            {"id": 1, "revision": "aaa", "deployedAt": "2026-01-01T00:00:00Z"},
            {"id": 2, "revision": "bbb", "deployedAt": "2026-01-02T00:00:00Z"},
        ]);
        let manual = app(false, history.clone());
        assert_eq!(
            rollback_request(&manual, None, false).expect("previous").revision.as_deref(),
            Some("aaa")
        );
        assert_eq!(
            rollback_request(&manual, Some(2), true).expect("named").revision.as_deref(),
            Some("bbb")
        );
        assert!(matches!(
            rollback_request(&manual, Some(9), false),
            Err(OpError::NoHistory { .. })
        ));
        assert!(matches!(
            rollback_request(&app(true, history), None, false),
            Err(OpError::AutoSync)
        ));
    }
}
