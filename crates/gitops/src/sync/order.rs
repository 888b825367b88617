//! Task construction and ordering (`sync_tasks.go`, `getSyncTasks`).

use serde_json::Value;

use super::annotations::{self, HookType, SYNC_OPTIONS};
use crate::json;

/// Helm's kind order; other kinds come after all of these.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// `index - len` for listed kinds (Namespace = -35), 0 for any other kind.
pub fn kind_rank(kind: &str) -> i32 {
    KIND_ORDER.iter().position(|k| *k == kind).map_or(0, |i| i as i32 - KIND_ORDER.len() as i32)
}

/// Sync phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncPhase {
    /// Hooks before the resources.
    PreSync,
    /// The resources (and Sync hooks).
    Sync,
    /// Hooks after a successful sync.
    PostSync,
    /// Hooks after a failed sync.
    SyncFail,
}

impl SyncPhase {
    /// -1, 0, 1, 2.
    pub fn rank(self) -> i32 {
        match self {
            SyncPhase::PreSync => -1,
            SyncPhase::Sync => 0,
            SyncPhase::PostSync => 1,
            SyncPhase::SyncFail => 2,
        }
    }

    /// The phase's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPhase::PreSync => "PreSync",
            SyncPhase::Sync => "Sync",
            SyncPhase::PostSync => "PostSync",
            SyncPhase::SyncFail => "SyncFail",
        }
    }

    fn of_hook(t: HookType) -> Option<Self> {
        Some(match t {
            HookType::PreSync => SyncPhase::PreSync,
            HookType::Sync => SyncPhase::Sync,
            HookType::PostSync => SyncPhase::PostSync,
            HookType::SyncFail => SyncPhase::SyncFail,
            _ => return None,
        })
    }
}

/// The phases an object takes part in: none when skipped or a misspelt hook, its hook
/// phases when a hook, else Sync.
pub fn sync_phases(obj: &Value) -> Vec<SyncPhase> {
    if annotations::is_skip(obj) {
        return Vec::new();
    }
    if annotations::is_hook(obj) {
        let mut phases: Vec<SyncPhase> =
            annotations::hook_types(obj).into_iter().filter_map(SyncPhase::of_hook).collect();
        phases.sort();
        phases.dedup();
        return phases;
    }
    vec![SyncPhase::Sync]
}

/// One step of a sync: apply `target` (or prune `live` when there is no target) in a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTask {
    /// The phase.
    pub phase: SyncPhase,
    /// Desired object; `None` = prune.
    pub target: Option<Value>,
    /// Live object, if any.
    pub live: Option<Value>,
    /// A wave set by the planner (dependency moves, prune mirroring, PruneLast).
    pub wave_override: Option<i32>,
}

impl SyncTask {
    /// A task in `phase`.
    pub fn new(phase: SyncPhase, target: Option<Value>, live: Option<Value>) -> Self {
        SyncTask { phase, target, live, wave_override: None }
    }

    /// The object the task is about: the target, else the live object.
    pub fn obj(&self) -> &Value {
        self.target.as_ref().or(self.live.as_ref()).unwrap_or(&Value::Null)
    }

    /// The task's wave.
    pub fn wave(&self) -> i32 {
        self.wave_override.unwrap_or_else(|| annotations::wave(self.obj()))
    }

    /// True for prune tasks (no target).
    pub fn is_prune(&self) -> bool {
        self.target.is_none()
    }

    /// True when the task's object is a hook.
    pub fn is_hook(&self) -> bool {
        annotations::is_hook(self.obj())
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        json::str_at(self.obj(), &["metadata", "name"]).unwrap_or("")
    }

    fn kind(&self) -> &str {
        json::str_at(self.obj(), &["kind"]).unwrap_or("")
    }
}

/// Plan options.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// The app-level `PruneLast=true` sync option.
    pub prune_last: bool,
    /// Leave hooks out (selective sync, apply strategy).
    pub skip_hooks: bool,
}

/// `ApplyOutOfSyncOnly=true`: leaves out the pairs whose target and live object both exist
/// and that `modified` says are unchanged; `None` (no diff result) keeps the pair.
pub fn out_of_sync_only(
    resources: Vec<(Option<Value>, Option<Value>)>,
    modified: impl Fn(&Value) -> Option<bool>,
) -> Vec<(Option<Value>, Option<Value>)> {
    resources
        .into_iter()
        .filter(|(target, live)| match (target, live) {
            (Some(t), Some(_)) => modified(t) != Some(false),
            _ => true,
        })
        .collect()
}

/// What names the hooks without a name of one sync operation (gitops-engine's
/// `getSyncTasks`): `<generateName><revision[:7]>-<phase>-<startedAt unix>`, the suffix
/// lowercased, so that each phase a hook runs in has its own object and every pass of the
/// operation finds the same one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookNames {
    /// The revision being synced (a commit SHA).
    pub revision: String,
    /// When the operation started, in seconds since the epoch.
    pub started_at: i64,
}

impl HookNames {
    /// `hook` with a name for `phase` when it has none (named hooks are returned as they are).
    pub fn name(&self, hook: &Value, phase: SyncPhase) -> Value {
        let mut hook = hook.clone();
        if json::str_at(&hook, &["metadata", "name"]).is_some_and(|n| !n.is_empty()) {
            return hook;
        }
        let short = if self.revision.len() >= 8 {
            self.revision.get(..7).unwrap_or(&self.revision)
        } else {
            &self.revision
        };
        let suffix = format!("{short}-{}-{}", phase.as_str(), self.started_at).to_ascii_lowercase();
        let prefix = json::str_at(&hook, &["metadata", "generateName"]).unwrap_or("").to_owned();
        if let Some(meta) = hook.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("name".into(), Value::String(format!("{prefix}{suffix}")));
        }
        hook
    }
}

/// Builds and orders the tasks for `resources` (target/live pairs) and `hooks`; hooks without
/// a name keep none (see [`plan_with_hook_names`]).
pub fn plan(
    resources: &[(Option<Value>, Option<Value>)],
    hooks: &[Value],
    opts: PlanOptions,
) -> Vec<SyncTask> {
    plan_hooks_named(resources, hooks, opts, None)
}

/// [`plan`], naming the hooks without a name as `names` says.
pub fn plan_with_hook_names(
    resources: &[(Option<Value>, Option<Value>)],
    hooks: &[Value],
    opts: PlanOptions,
    names: &HookNames,
) -> Vec<SyncTask> {
    plan_hooks_named(resources, hooks, opts, Some(names))
}

fn plan_hooks_named(
    resources: &[(Option<Value>, Option<Value>)],
    hooks: &[Value],
    opts: PlanOptions,
    names: Option<&HookNames>,
) -> Vec<SyncTask> {
    let mut tasks = Vec::new();
    for (target, live) in resources {
        let Some(obj) = target.as_ref().or(live.as_ref()) else { continue };
        // Hooks come from `hooks`; live hooks are never pruned.
        if annotations::is_hook(obj) {
            continue;
        }
        for phase in sync_phases(obj) {
            tasks.push(SyncTask::new(phase, target.clone(), live.clone()));
        }
    }
    if !opts.skip_hooks {
        for hook in hooks {
            for phase in sync_phases(hook) {
                let target = names.map_or_else(|| hook.clone(), |n| n.name(hook, phase));
                let key = crate::ResourceKey::of(&target);
                let live = resources
                    .iter()
                    .filter_map(|(_, l)| l.as_ref())
                    .find(|l| crate::ResourceKey::of(l) == key)
                    .cloned();
                tasks.push(SyncTask::new(phase, Some(target), live));
            }
        }
    }
    mirror_prune_waves(&mut tasks);
    prune_last(&mut tasks, opts.prune_last);
    sort_tasks(&mut tasks);
    tasks
}

/// Distinct prune waves are swapped symmetrically so later-created objects are pruned first.
fn mirror_prune_waves(tasks: &mut [SyncTask]) {
    let mut waves: Vec<i32> = tasks.iter().filter(|t| t.is_prune()).map(SyncTask::wave).collect();
    waves.sort_unstable();
    waves.dedup();
    let n = waves.len();
    let mirrored = |w: i32| waves.iter().position(|x| *x == w).map(|i| waves[n - 1 - i]);
    for task in tasks.iter_mut().filter(|t| t.is_prune()) {
        task.wave_override = mirrored(task.wave());
    }
}

/// PruneLast prune tasks go to one wave after the last Sync-phase wave.
fn prune_last(tasks: &mut [SyncTask], app_prune_last: bool) {
    let last =
        tasks.iter().filter(|t| t.phase == SyncPhase::Sync).map(SyncTask::wave).fold(0, i32::max)
            + 1;
    for task in tasks.iter_mut().filter(|t| t.is_prune()) {
        let annotated = task
            .live
            .as_ref()
            .is_some_and(|l| annotations::has_annotation_option(l, SYNC_OPTIONS, "PruneLast=true"));
        if app_prune_last || annotated {
            task.wave_override = Some(last);
        }
    }
}

/// Sorts by (phase, wave, kind rank, name), then moves each Namespace before the first task in
/// it and each CRD before the first task of its group/kind (taking their phase and wave).
pub fn sort_tasks(tasks: &mut [SyncTask]) {
    tasks.sort_by(|a, b| {
        (a.phase.rank(), a.wave(), kind_rank(a.kind()), a.name()).cmp(&(
            b.phase.rank(),
            b.wave(),
            kind_rank(b.kind()),
            b.name(),
        ))
    });
    adjust_deps(
        tasks,
        |o| {
            (json::str_at(o, &["kind"]) == Some("Namespace") && group(o).is_empty())
                .then(|| json::str_at(o, &["metadata", "name"]).unwrap_or("").to_string())
        },
        |o| json::str_at(o, &["metadata", "namespace"]).filter(|n| !n.is_empty()).map(String::from),
    );
    adjust_deps(
        tasks,
        |o| {
            (json::str_at(o, &["kind"]) == Some("CustomResourceDefinition")
                && group(o) == "apiextensions.k8s.io")
                .then(|| {
                    format!(
                        "{}/{}",
                        json::str_at(o, &["spec", "group"]).unwrap_or(""),
                        json::str_at(o, &["spec", "names", "kind"]).unwrap_or("")
                    )
                })
        },
        |o| Some(format!("{}/{}", group(o), json::str_at(o, &["kind"]).unwrap_or(""))),
    );
}

fn group(o: &Value) -> &str {
    json::group_of(json::str_at(o, &["apiVersion"]).unwrap_or(""))
}

fn adjust_deps(
    tasks: &mut [SyncTask],
    is_dep: impl Fn(&Value) -> Option<String>,
    find_dep: impl Fn(&Value) -> Option<String>,
) {
    let mut first: Vec<(String, usize)> = Vec::new();
    for i in 0..tasks.len() {
        if let Some(key) = is_dep(tasks[i].obj()) {
            if let Some(&(_, index)) = first.iter().find(|(k, _)| *k == key) {
                let wave = tasks[index].wave();
                let phase = tasks[index].phase;
                tasks[i].wave_override = Some(wave);
                tasks[i].phase = phase;
                tasks[index..=i].rotate_right(1);
                for entry in first.iter_mut().filter(|(_, v)| *v >= index) {
                    entry.1 += 1;
                }
            }
        } else if let Some(key) = find_dep(tasks[i].obj())
            && !first.iter().any(|(k, _)| *k == key)
        {
            first.push((key, i));
        }
    }
}

/// True when the plan has more than one (phase, wave) step.
pub fn is_multi_step(tasks: &[SyncTask]) -> bool {
    match (tasks.first(), tasks.last()) {
        (Some(a), Some(b)) => a.phase != b.phase || a.wave() != b.wave(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(meta: Value, hook: &str) -> Value {
        let mut meta = meta;
        meta["namespace"] = json!("apps");
        meta["annotations"] = json!({"argocd.argoproj.io/hook": hook});
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta})
    }

    // Expected names follow gitops-engine's rule (`getSyncTasks`) and Argo CD's
    // TestAutomaticallyNamingUnnamedHook: `<generateName><sha[:7]>-<phase>-<unix>`.
    #[test]
    fn hooks_without_a_name_are_named_per_phase() {
        let names = HookNames { revision: "0123456789ABCDEF".into(), started_at: 1_764_792_000 };
        let cases = [
            (
                json!({"generateName": "migrate-"}),
                SyncPhase::PreSync,
                "migrate-0123456-presync-1764792000",
            ),
            (json!({}), SyncPhase::PostSync, "0123456-postsync-1764792000"),
            (json!({"name": ""}), SyncPhase::SyncFail, "0123456-syncfail-1764792000"),
            (json!({"name": "kept", "generateName": "x-"}), SyncPhase::Sync, "kept"),
        ];
        for (meta, phase, want) in cases {
            let named = names.name(&pod(meta.clone(), "Sync"), phase);
            assert_eq!(named["metadata"]["name"], want, "{meta}");
        }
        let short = HookNames { revision: "abc".into(), started_at: 7 };
        assert_eq!(
            short.name(&pod(json!({}), "Sync"), SyncPhase::Sync)["metadata"]["name"],
            "abc-sync-7"
        );
    }

    #[test]
    fn a_named_hook_task_finds_its_live_object() {
        let names = HookNames { revision: "0123456789".into(), started_at: 5 };
        let hook = pod(json!({"generateName": "m-"}), "PreSync,PostSync");
        let live = pod(json!({"name": "m-0123456-presync-5"}), "PreSync,PostSync");
        let tasks = plan_with_hook_names(
            &[(None, Some(live.clone()))],
            &[hook],
            PlanOptions::default(),
            &names,
        );
        let got: Vec<(&str, bool)> = tasks.iter().map(|t| (t.name(), t.live.is_some())).collect();
        assert_eq!(got, [("m-0123456-presync-5", true), ("m-0123456-postsync-5", false)]);
    }
}
