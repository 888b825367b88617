//! Running a sync operation over the cluster: one controller pass builds the plan of
//! [`weir_gitops::sync::plan`] from the comparison, asks [`weir_gitops::sync::machine::next`]
//! what to do, applies (kubectl-style, [`weir_cluster::apply`]) and deletes, and records the
//! outcomes. The machine's state lives in `status.operationState.syncResult.resources`, so a
//! pass after a restart continues where the last one stopped.

use serde_json::Value;
use weir_cluster::{Cluster, DeleteParams, Object, Patch, Registry, ResourceType, Subresource};
use weir_gitops::ResourceKey;
use weir_gitops::diff::IgnoreDifferences;
use weir_gitops::health::{Health, HealthStatus, assess};
use weir_gitops::project::resource_permitted;
use weir_gitops::sync::images::resource_images;
use weir_gitops::sync::machine::{
    self, Action, OperationPhase, ResultCode, Step, SyncOperation, SyncOptions, TaskResult,
};
use weir_gitops::sync::{
    HookNames, PlanOptions, SyncPhase, SyncTask, out_of_sync_only, plan_with_hook_names,
};
use weir_model::argocd::{AppProjectSpec, ResourceResult, SyncOperationResource};

use crate::compare::Comparison;
use crate::replace::{WriteMode, apply_forced, replace};

/// What a sync operation asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncRequest {
    pub(crate) prune: bool,
    pub(crate) prune_last: bool,
    pub(crate) dry_run: bool,
    pub(crate) apply_out_of_sync_only: bool,
    pub(crate) resources: Option<Vec<SyncOperationResource>>,
    /// `RespectIgnoreDifferences=true`: the app's ignored fields keep their live values.
    pub(crate) respect_ignored: Option<IgnoreDifferences>,
    /// The app's AppProject (name and spec): what kinds it may manage.
    pub(crate) project: Option<(String, AppProjectSpec)>,
    /// `ServerSideApply=true`: apply with server-side apply as [`ARGOCD_FIELD_MANAGER`]
    /// (a resource's `argocd.argoproj.io/sync-options` annotation overrides it both ways).
    pub(crate) server_side_apply: bool,
    /// Names the hooks without a name (the operation's revision and start time).
    pub(crate) hook_names: HookNames,
    /// `Replace=true` and the operation's force (`Force=true` per resource too).
    pub(crate) write: WriteMode,
}

/// The field manager of Argo CD's server-side applies (`kubectl apply --server-side
/// --force-conflicts --field-manager argocd-controller`).
pub(crate) const ARGOCD_FIELD_MANAGER: &str = "argocd-controller";

/// The per-resource sync options annotation.
const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";

/// Whether `target` is applied server-side: its `argocd.argoproj.io/sync-options`
/// annotation's `ServerSideApply=true|false` if it has one (the last wins), else the app's.
fn server_side(app_default: bool, target: &Value) -> bool {
    let annotation = target
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(SYNC_OPTIONS_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    annotation.split(',').map(str::trim).fold(app_default, |ssa, option| match option {
        "ServerSideApply=true" => true,
        "ServerSideApply=false" => false,
        _ => ssa,
    })
}

/// Runs one pass of the operation; `op` is updated in place.
pub(crate) async fn run_pass<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    comparison: &Comparison,
    request: &SyncRequest,
    op: &mut SyncOperation,
) {
    let selected = |obj: &Value| {
        let key = ResourceKey::of(obj);
        request.resources.as_ref().is_none_or(|list| {
            list.iter().any(|r| {
                r.kind == key.kind
                    && r.name == key.name
                    && r.group.as_deref().unwrap_or("") == key.group
                    && r.namespace.as_deref().is_none_or(|n| n.is_empty() || n == key.namespace)
            })
        })
    };
    let mut pairs: Vec<(Option<Value>, Option<Value>)> = comparison
        .resources
        .iter()
        .filter(|r| r.target.as_ref().or(r.live.as_ref()).is_some_and(selected))
        .map(|r| (r.target.clone(), r.live.clone()))
        .collect();
    if request.apply_out_of_sync_only {
        // Resources in sync are left out; a task this operation already ran stays in, so its
        // state is still followed.
        pairs = out_of_sync_only(pairs, |target| {
            let key = ResourceKey::of(target);
            if op.results.iter().any(|t| t.key == key) {
                return None;
            }
            comparison.resources.iter().find(|r| r.key == key).map(|r| r.out_of_sync)
        });
    }
    // Live hooks are looked up among the pairs (the plan never prunes them).
    pairs.extend(comparison.hook_lives.iter().map(|l| (None, Some(l.clone()))));
    let opts =
        PlanOptions { prune_last: request.prune_last, skip_hooks: request.resources.is_some() };
    let tasks = plan_with_hook_names(&pairs, &comparison.hooks, opts, &request.hook_names);
    if op.results.is_empty()
        && let Some((name, project)) = &request.project
    {
        let refused = not_permitted(registry, name, project, &tasks);
        if !refused.is_empty() {
            op.phase = OperationPhase::Failed;
            op.message =
                format!("one or more synchronization tasks are not valid: {}", refused.join(", "));
            return;
        }
    }
    let sync_opts = SyncOptions { prune: request.prune };
    let mut step = machine::next(op, &tasks, sync_opts, |t: &SyncTask| task_health(t));
    while let Step::Run { tasks: ran, actions } = step {
        for (i, action) in actions {
            let recreate = matches!(action, Action::Recreate(_));
            let outcome = if request.dry_run {
                Ok(dry_run_message(registry, comparison, &tasks[i], &action))
            } else {
                let action = match (action, &request.respect_ignored, &tasks[i].live) {
                    (Action::Apply(mut target), Some(ignored), Some(live)) => {
                        ignored.respect(&mut target, live);
                        Action::Apply(target)
                    }
                    (action, ..) => action,
                };
                let ssa = request.server_side_apply;
                execute(cluster, registry, &tasks[i], action, ssa, request.write).await
            };
            // A dry run deletes nothing: the hook counts as (dry-run) applied.
            if recreate && !request.dry_run {
                if let Err(error) = outcome {
                    tracing::warn!(hook = tasks[i].name(), %error, "deleting the old hook failed");
                }
                continue;
            }
            match &outcome {
                Ok(message) => op.record(&tasks[i], Ok(message)),
                Err(error) => op.record(&tasks[i], Err(error)),
            }
        }
        step = op.finish_wave(&tasks, &ran);
    }
    if !request.dry_run {
        for key in op.hooks_to_delete(&tasks) {
            let Some(task) = tasks.iter().find(|t| t.is_hook() && ResourceKey::of(t.obj()) == key)
            else {
                continue;
            };
            let deleted =
                execute(cluster, registry, task, Action::Delete(key), false, WriteMode::default())
                    .await;
            if let Err(error) = deleted {
                tracing::warn!(hook = task.name(), %error, "deleting a completed hook failed");
            }
        }
    }
}

/// The project's refusals of the plan's tasks (Argo CD checks every task before the first
/// step applies anything).
fn not_permitted(
    registry: &Registry,
    name: &str,
    project: &AppProjectSpec,
    tasks: &[SyncTask],
) -> Vec<String> {
    let mut refused: Vec<String> = Vec::new();
    for task in tasks {
        let obj = task.obj();
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let rt = resource_type(registry, api_version, kind);
        if !resource_permitted(project, &rt.group, kind, rt.namespaced(), task.name()) {
            let message = weir_gitops::project::not_permitted(&rt.group, kind, name);
            if !refused.contains(&message) {
                refused.push(message);
            }
        }
    }
    refused
}

/// The health of a task's live object. A Pod the node agent has not picked up yet has no
/// `status.phase` in the embedded store (an API server would have set `Pending`): it is
/// Progressing, not Unknown, so a just-created hook Pod is not taken for a failed one.
fn task_health(task: &SyncTask) -> Option<Health> {
    let live = task.live.as_ref()?;
    let is_pod = live.get("kind").and_then(Value::as_str) == Some("Pod")
        && live.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if is_pod && live.pointer("/status/phase").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Some(Health { status: HealthStatus::Progressing, message: String::new() });
    }
    assess(live)
}

async fn execute<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    task: &SyncTask,
    action: Action,
    server_side_apply: bool,
    write: WriteMode,
) -> Result<String, String> {
    let obj = task.obj();
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let rt = resource_type(registry, api_version, kind);
    let what = display_name(&rt, task.name());
    match action {
        // Replace=true takes precedence over server-side apply, as in gitops-engine.
        Action::Apply(target) if write.for_target(&target).replace => {
            let force = write.for_target(&target).force;
            replace(cluster, &rt, target, task.live.as_ref(), force, &what).await
        }
        Action::Apply(target) if server_side(server_side_apply, &target) => {
            let ns = target.pointer("/metadata/namespace").and_then(Value::as_str);
            let ns = ns.filter(|_| rt.namespaced()).map(str::to_owned);
            let name = task.name().to_owned();
            let patch = Patch::Apply {
                config: target,
                field_manager: ARGOCD_FIELD_MANAGER.to_owned(),
                // Argo CD applies with --force-conflicts: git wins over other managers on
                // the fields it sets, and only on those.
                force: true,
            };
            cluster
                .patch(&rt, ns.as_deref(), &name, &patch, Subresource::Main)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{what} serverside-applied"))
        }
        Action::Apply(target) => {
            let force = write.for_target(&target).force;
            let object = Object::from_value(target).map_err(|e| e.to_string())?;
            let outcome = apply_forced(cluster, &rt, object, force).await?;
            Ok(format!("{what} {outcome}"))
        }
        Action::Delete(key) | Action::Recreate(key) => {
            let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
            match cluster.delete(&rt, ns, &key.name, &DeleteParams::default()).await {
                Ok(_) | Err(weir_cluster::Error::NotFound { .. }) => Ok("pruned".into()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// What a dry run reports for an action, as `kubectl apply --dry-run=client` prints it
/// (`configmap/x created (dry run)`; `configured`/`unchanged` by the comparison's verdict) and
/// gitops-engine's `pruned (dry run)`.
fn dry_run_message(
    registry: &Registry,
    comparison: &Comparison,
    task: &SyncTask,
    action: &Action,
) -> String {
    let obj = task.obj();
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let what = display_name(&resource_type(registry, api_version, kind), task.name());
    let key = ResourceKey::of(obj);
    let verb = match action {
        Action::Delete(_) => return "pruned (dry run)".to_string(),
        Action::Recreate(_) => "created",
        Action::Apply(_) if task.live.is_none() => "created",
        Action::Apply(_) => {
            let in_sync = comparison.resources.iter().any(|r| r.key == key && !r.out_of_sync);
            if in_sync { "unchanged" } else { "configured" }
        }
    };
    format!("{what} {verb} (dry run)")
}

/// The registered type of a kind, or a guessed one for kinds nobody registered.
pub(crate) fn resource_type(registry: &Registry, api_version: &str, kind: &str) -> ResourceType {
    registry.for_object(api_version, kind).unwrap_or_else(|| ResourceType::guess(api_version, kind))
}

/// `deployment.apps/name`, as kubectl prints it.
fn display_name(rt: &ResourceType, name: &str) -> String {
    let kind = rt.kind.to_ascii_lowercase();
    if rt.group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", rt.group)
    }
}

/// The machine state stored in an operation state's results.
pub(crate) fn restore(phase: &str, message: &str, results: &[ResourceResult]) -> SyncOperation {
    SyncOperation {
        phase: parse_phase(phase).unwrap_or(OperationPhase::Running),
        message: message.to_string(),
        results: results.iter().filter_map(task_result).collect(),
    }
}

fn task_result(r: &ResourceResult) -> Option<TaskResult> {
    let sync_phase = match r.sync_phase.as_deref().unwrap_or("Sync") {
        "PreSync" => SyncPhase::PreSync,
        "Sync" => SyncPhase::Sync,
        "PostSync" => SyncPhase::PostSync,
        "SyncFail" => SyncPhase::SyncFail,
        _ => return None,
    };
    let status = match r.status.as_deref()? {
        "Synced" => ResultCode::Synced,
        "SyncFailed" => ResultCode::SyncFailed,
        "Pruned" => ResultCode::Pruned,
        "PruneSkipped" => ResultCode::PruneSkipped,
        _ => return None,
    };
    Some(TaskResult {
        key: ResourceKey::new(&r.group, &r.kind, &r.namespace, &r.name),
        sync_phase,
        status,
        hook_phase: r
            .hook_phase
            .as_deref()
            .and_then(parse_phase)
            .unwrap_or(OperationPhase::Running),
        message: r.message.clone().unwrap_or_default(),
        hook: r.hook_type.is_some(),
    })
}

/// The results in Argo CD's form.
pub(crate) fn results(op: &SyncOperation, comparison: &Comparison) -> Vec<ResourceResult> {
    op.results
        .iter()
        .map(|r| {
            let resource = comparison.resources.iter().find(|s| s.key == r.key);
            let version = resource.map(|s| s.version.clone()).unwrap_or_default();
            ResourceResult {
                group: r.key.group.clone(),
                hook_phase: Some(phase_str(r.hook_phase).to_string()),
                hook_type: r.hook.then(|| r.sync_phase.as_str().to_string()),
                images: result_images(r, resource, comparison),
                kind: r.key.kind.clone(),
                message: Some(r.message.clone()),
                name: r.key.name.clone(),
                namespace: r.key.namespace.clone(),
                status: Some(code_str(r.status).to_string()),
                sync_phase: Some(r.sync_phase.as_str().to_string()),
                version,
            }
        })
        .collect()
}

/// The images of a result's resource (Argo CD's `ResourceResult.images`): from its target,
/// else its live object; hooks from their manifests.
fn result_images(
    r: &TaskResult,
    resource: Option<&crate::compare::ResourceState>,
    comparison: &Comparison,
) -> Option<Vec<String>> {
    let obj = match resource {
        Some(state) => state.target.as_ref().or(state.live.as_ref()),
        None => comparison.hooks.iter().find(|h| ResourceKey::of(h) == r.key),
    };
    obj.and_then(resource_images)
}

pub(crate) fn phase_str(phase: OperationPhase) -> &'static str {
    match phase {
        OperationPhase::Running => "Running",
        OperationPhase::Succeeded => "Succeeded",
        OperationPhase::Failed => "Failed",
        OperationPhase::Error => "Error",
    }
}

fn parse_phase(s: &str) -> Option<OperationPhase> {
    Some(match s {
        "Running" => OperationPhase::Running,
        "Succeeded" => OperationPhase::Succeeded,
        "Failed" => OperationPhase::Failed,
        "Error" => OperationPhase::Error,
        _ => return None,
    })
}

fn code_str(code: ResultCode) -> &'static str {
    match code {
        ResultCode::Synced => "Synced",
        ResultCode::SyncFailed => "SyncFailed",
        ResultCode::Pruned => "Pruned",
        ResultCode::PruneSkipped => "PruneSkipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_through_argo_form() {
        let op = SyncOperation {
            phase: OperationPhase::Running,
            message: "m".into(),
            results: vec![TaskResult {
                key: ResourceKey::new("apps", "Deployment", "ns", "d"),
                sync_phase: SyncPhase::Sync,
                status: ResultCode::Synced,
                hook_phase: OperationPhase::Running,
                message: "deployment.apps/d created".into(),
                hook: false,
            }],
        };
        let comparison = Comparison {
            resources: vec![],
            hooks: vec![],
            hook_lives: vec![],
            health: weir_gitops::health::HealthStatus::Healthy,
            health_message: String::new(),
        };
        let stored = results(&op, &comparison);
        assert_eq!(restore("Running", "m", &stored), op);
    }
}
