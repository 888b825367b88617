//! The hooks Argo CD runs around an Application's deletion (`PreDelete` since 2.10, `PostDelete`
//! since 2.10/3.3; Helm's `pre-delete`/`post-delete`), decided as the controller's
//! `executeHooks` and `cleanupHooks` decide them, and the order of a cascade deletion
//! (`FilterObjectsForDeletion`: the highest sync wave first, one wave at a time).
//!
//! A stage ([`run_hooks`]) first creates the hooks of git that have no live object yet; once
//! every hook exists it waits while any is Progressing and fails when any is Degraded (the
//! failed hooks are deleted so that the next pass runs them again, possibly fixed in git).
//! Once the resources are gone, [`cleanup_hooks`] deletes the hooks whose delete policy
//! matches the worst health of their type (`HookSucceeded` when Healthy, `HookFailed` when
//! Degraded; the default `BeforeHookCreation` keeps them). Pure: objects and health in,
//! decisions out.

use serde_json::Value;

use super::annotations::{self, HookType};
use crate::ResourceKey;
use crate::health::{Health, HealthStatus};
use crate::json;

/// The finalizer that makes an Application run its PreDelete hooks before deletion.
pub const PRE_DELETE_FINALIZER: &str = "pre-delete-finalizer.argocd.argoproj.io";
/// The finalizer that makes an Application run its PostDelete hooks after its resources are gone.
pub const POST_DELETE_FINALIZER: &str = "post-delete-finalizer.argocd.argoproj.io";
/// Suffix of the finalizers that clean the hooks up afterwards (`…/cleanup`).
pub const CLEANUP_STAGE: &str = "cleanup";

const HELM_HOOK: &str = "helm.sh/hook";
const HELM_RESOURCE_POLICY: &str = "helm.sh/resource-policy";

/// The two hook types of a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionHook {
    /// Before the app's resources are deleted.
    PreDelete,
    /// After the app's resources are gone.
    PostDelete,
}

impl DeletionHook {
    /// `PreDelete` or `PostDelete`, as in the hook annotation and Argo CD's messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionHook::PreDelete => "PreDelete",
            DeletionHook::PostDelete => "PostDelete",
        }
    }

    /// The finalizer of the stage that runs these hooks.
    pub fn finalizer(self) -> &'static str {
        match self {
            DeletionHook::PreDelete => PRE_DELETE_FINALIZER,
            DeletionHook::PostDelete => POST_DELETE_FINALIZER,
        }
    }

    /// The finalizer of the stage that cleans these hooks up (`<finalizer>/cleanup`).
    pub fn cleanup_finalizer(self) -> String {
        format!("{}/{CLEANUP_STAGE}", self.finalizer())
    }

    fn helm_name(self) -> &'static str {
        match self {
            DeletionHook::PreDelete => "pre-delete",
            DeletionHook::PostDelete => "post-delete",
        }
    }

    /// True when `obj` is a hook of this type: the Argo CD hook annotation's list holds
    /// `PreDelete`/`PostDelete`, or Helm's holds `pre-delete`/`post-delete` (`isHookOfType`).
    pub fn matches(self, obj: &Value) -> bool {
        annotations::has_annotation_option(obj, annotations::HOOK, self.as_str())
            || annotations::has_annotation_option(obj, HELM_HOOK, self.helm_name())
    }
}

/// True when the object also takes part in a sync phase (PreSync, Sync, PostSync, SyncFail):
/// a deletion hook that is only a deletion hook never runs in a sync.
pub fn has_sync_phase_hook(obj: &Value) -> bool {
    annotations::hook_types(obj).iter().any(|t| {
        matches!(t, HookType::PreSync | HookType::Sync | HookType::PostSync | HookType::SyncFail)
    })
}

/// What a hook stage decided in this pass.
#[derive(Debug, Clone, PartialEq)]
pub enum HookStage {
    /// Create these hooks from git (none has a live object yet); the stage goes on next pass.
    Create(Vec<Value>),
    /// These hooks are still running.
    Running(Vec<ResourceKey>),
    /// These hooks failed (Degraded): the deletion is blocked, and their objects are deleted
    /// so that the next pass creates them again.
    Failed(Vec<ResourceKey>),
    /// Every hook completed (or there is none).
    Done,
}

impl HookStage {
    /// The message Argo CD reports for a failed stage: `PreDelete hook(s) failed: ns/a, ns/b`.
    pub fn failure_message(hook: DeletionHook, failed: &[ResourceKey]) -> String {
        let names: Vec<String> =
            failed.iter().map(|k| format!("{}/{}", k.namespace, k.name)).collect();
        format!("{} hook(s) failed: {}", hook.as_str(), names.join(", "))
    }
}

/// True when the live object is the one created from `target`: the same name, or, for a
/// target named only by `generateName`, a name the API server generated from it for the same
/// tracked resource (same group, kind, namespace and tracking annotation).
pub fn is_live_of(target: &Value, live: &Value) -> bool {
    let (t, l) = (ResourceKey::of(target), ResourceKey::of(live));
    if (t.group.as_str(), t.kind.as_str(), t.namespace.as_str())
        != (l.group.as_str(), l.kind.as_str(), l.namespace.as_str())
    {
        return false;
    }
    if !t.name.is_empty() {
        return t.name == l.name;
    }
    let prefix = json::str_at(target, &["metadata", "generateName"]).unwrap_or("");
    let tracking = "argocd.argoproj.io/tracking-id";
    !prefix.is_empty()
        && l.name.starts_with(prefix)
        && json::annotation(target, tracking) == json::annotation(live, tracking)
}

/// One pass of a hook stage (`executeHooks`): `targets` are the app's objects from git,
/// `lives` its live objects (hooks among them found by their annotation); `health` assesses a
/// live hook (`None`: no health check, counted as healthy).
pub fn run_hooks(
    hook: DeletionHook,
    targets: &[Value],
    lives: &[Value],
    health: impl Fn(&Value) -> Option<Health>,
) -> HookStage {
    let running: Vec<&Value> = lives.iter().filter(|l| hook.matches(l)).collect();
    let missing: Vec<Value> = targets
        .iter()
        .filter(|t| hook.matches(t))
        .filter(|t| !running.iter().any(|l| is_live_of(t, l)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return HookStage::Create(missing);
    }
    let mut progressing = Vec::new();
    let mut failed = Vec::new();
    for live in running {
        match health(live).map(|h| h.status) {
            Some(HealthStatus::Progressing) => progressing.push(ResourceKey::of(live)),
            Some(HealthStatus::Degraded) => failed.push(ResourceKey::of(live)),
            _ => {}
        }
    }
    if !failed.is_empty() {
        failed.sort();
        return HookStage::Failed(failed);
    }
    if !progressing.is_empty() {
        progressing.sort();
        return HookStage::Running(progressing);
    }
    HookStage::Done
}

/// What a cleanup pass decided (`cleanupHooks`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookCleanup {
    /// Delete these hooks now.
    pub delete: Vec<ResourceKey>,
    /// Hooks to be deleted that are still there (being deleted or deleted now): the stage
    /// is over when this is zero.
    pub pending: usize,
}

/// Which live hooks of `hook`'s type to delete: those whose delete policy matches the worst
/// health among them (`HookSucceeded` when all are Healthy, `HookFailed` when the worst is
/// Degraded).
pub fn cleanup_hooks(
    hook: DeletionHook,
    lives: &[Value],
    health: impl Fn(&Value) -> Option<Health>,
) -> HookCleanup {
    let hooks: Vec<&Value> = lives.iter().filter(|l| hook.matches(l)).collect();
    let worst = hooks
        .iter()
        .map(|l| health(l).map_or(HealthStatus::Healthy, |h| h.status))
        .fold(HealthStatus::Healthy, |w, h| if h.is_worse(w) { h } else { w });
    let mut out = HookCleanup::default();
    for live in hooks {
        let delete = annotations::delete_policies(live).iter().any(|p| match p {
            annotations::DeletePolicy::HookFailed => worst == HealthStatus::Degraded,
            annotations::DeletePolicy::HookSucceeded => worst == HealthStatus::Healthy,
            annotations::DeletePolicy::BeforeHookCreation => false,
        });
        if !delete {
            continue;
        }
        out.pending += 1;
        if !being_deleted(live) {
            out.delete.push(ResourceKey::of(live));
        }
    }
    out
}

fn being_deleted(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// True when a cascade deletion deletes `obj` (`shouldBeDeleted`): not a CRD, not
/// `Delete=false` (its `sync-options` annotation, else the app's `app_delete_false`), not
/// Helm's `resource-policy: keep`.
pub fn should_be_deleted(obj: &Value, app_delete_false: bool) -> bool {
    let is_crd = json::str_at(obj, &["kind"]) == Some("CustomResourceDefinition")
        && json::str_at(obj, &["apiVersion"])
            .is_some_and(|v| v.starts_with("apiextensions.k8s.io/"));
    let delete = annotations::annotation_option_value(obj, annotations::SYNC_OPTIONS, "Delete");
    let delete_false = match delete.as_deref() {
        Some(value) => value == "false",
        None => app_delete_false,
    };
    !is_crd
        && !delete_false
        && !annotations::has_annotation_option(obj, HELM_RESOURCE_POLICY, "keep")
}

/// What a cascade deletion does in this pass.
#[derive(Debug, Clone, PartialEq)]
pub enum CascadeStep<'a> {
    /// Objects are still being deleted: wait for them.
    Waiting(usize),
    /// Delete these objects (the highest wave of those left).
    Delete(Vec<&'a Value>),
    /// Nothing left to delete.
    Done,
}

/// One pass of a cascade deletion over the app's live objects: wait while any is being
/// deleted, else delete the objects of the highest sync wave among those to be deleted.
pub fn cascade_step(lives: &[Value], app_delete_false: bool) -> CascadeStep<'_> {
    let deleting = lives.iter().filter(|l| being_deleted(l)).count();
    if deleting > 0 {
        return CascadeStep::Waiting(deleting);
    }
    let candidates: Vec<&Value> =
        lives.iter().filter(|l| should_be_deleted(l, app_delete_false)).collect();
    let Some(top) = candidates.iter().map(|l| annotations::wave(l)).max() else {
        return CascadeStep::Done;
    };
    CascadeStep::Delete(candidates.into_iter().filter(|l| annotations::wave(l) == top).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": kind,
               "metadata": {"name": name, "namespace": "apps", "annotations": annotations}})
    }

    fn pod_health(live: &Value) -> Option<Health> {
        let status = match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => HealthStatus::Healthy,
            Some("Failed") => HealthStatus::Degraded,
            _ => HealthStatus::Progressing,
        };
        Some(Health { status, message: String::new() })
    }

    fn with_phase(mut live: Value, phase: &str) -> Value {
        live["status"] = json!({"phase": phase});
        live
    }

    // Hook type matching follows `isHookOfType`: the CSV of either annotation.
    #[test]
    fn hook_types_are_read_from_argo_and_helm_annotations() {
        let cases = [
            (json!({"argocd.argoproj.io/hook": "PreDelete"}), true, false, false),
            (json!({"argocd.argoproj.io/hook": "PreSync, PostDelete"}), false, true, true),
            (json!({"helm.sh/hook": "pre-delete"}), true, false, false),
            (json!({"helm.sh/hook": "post-install,post-delete"}), false, true, true),
            (json!({"argocd.argoproj.io/hook": "predelete"}), false, false, false),
        ];
        for (annotations, pre, post, sync_phase) in cases {
            let o = obj("Pod", "h", annotations.clone());
            assert_eq!(DeletionHook::PreDelete.matches(&o), pre, "{annotations}");
            assert_eq!(DeletionHook::PostDelete.matches(&o), post, "{annotations}");
            assert_eq!(has_sync_phase_hook(&o), sync_phase, "{annotations}");
        }
    }

    #[test]
    fn a_stage_creates_then_waits_then_fails_or_completes() {
        let hook = obj("Pod", "pre", json!({"argocd.argoproj.io/hook": "PreDelete"}));
        let plain = obj("ConfigMap", "cm", json!({}));
        let targets = [hook.clone(), plain.clone()];
        let stage =
            |lives: &[Value]| run_hooks(DeletionHook::PreDelete, &targets, lives, pod_health);
        assert_eq!(stage(std::slice::from_ref(&plain)), HookStage::Create(vec![hook.clone()]));
        let key = ResourceKey::new("", "Pod", "apps", "pre");
        assert_eq!(stage(std::slice::from_ref(&hook)), HookStage::Running(vec![key.clone()]));
        assert_eq!(stage(&[with_phase(hook.clone(), "Failed")]), HookStage::Failed(vec![key]));
        assert_eq!(stage(&[with_phase(hook.clone(), "Succeeded")]), HookStage::Done);
        // No PostDelete hook in git: that stage has nothing to do.
        assert_eq!(run_hooks(DeletionHook::PostDelete, &targets, &[], pod_health), HookStage::Done);
        assert_eq!(
            HookStage::failure_message(
                DeletionHook::PreDelete,
                &[ResourceKey::new("", "Pod", "apps", "a"), ResourceKey::new("", "Pod", "b", "c")]
            ),
            "PreDelete hook(s) failed: apps/a, b/c"
        );
    }

    #[test]
    fn a_generate_name_hook_is_found_again_by_its_prefix_and_tracking() {
        let tracking = "argocd.argoproj.io/tracking-id";
        let mut target = obj(
            "Pod",
            "",
            json!({"argocd.argoproj.io/hook": "PostDelete", tracking: "app:/Pod:apps/"}),
        );
        target["metadata"].as_object_mut().map(|m| m.remove("name"));
        target["metadata"]["generateName"] = json!("cleanup-");
        let mut live = target.clone();
        live["metadata"]["name"] = json!("cleanup-x7k2p");
        assert!(is_live_of(&target, &live));
        let mut other = live.clone();
        other["metadata"]["annotations"][tracking] = json!("other:/Pod:apps/");
        assert!(!is_live_of(&target, &other));
        let stage = run_hooks(DeletionHook::PostDelete, &[target.clone()], &[live], pod_health);
        assert_eq!(
            stage,
            HookStage::Running(vec![ResourceKey::new("", "Pod", "apps", "cleanup-x7k2p")])
        );
    }

    // cleanupHooks: the policy is matched against the worst health of the type's hooks.
    #[test]
    fn cleanup_follows_delete_policies_and_the_worst_health() {
        let a = |policy: &str, phase: &str| {
            with_phase(
                obj(
                    "Pod",
                    &format!("{policy}-{phase}"),
                    json!({"argocd.argoproj.io/hook": "PostDelete",
                           "argocd.argoproj.io/hook-delete-policy": policy}),
                ),
                phase,
            )
        };
        let names =
            |c: HookCleanup| -> Vec<String> { c.delete.into_iter().map(|k| k.name).collect() };
        let ok = [a("HookSucceeded", "Succeeded"), a("BeforeHookCreation", "Succeeded")];
        assert_eq!(
            names(cleanup_hooks(DeletionHook::PostDelete, &ok, pod_health)),
            ["HookSucceeded-Succeeded"]
        );
        let failed = [a("HookSucceeded", "Succeeded"), a("HookFailed", "Failed")];
        assert_eq!(
            names(cleanup_hooks(DeletionHook::PostDelete, &failed, pod_health)),
            ["HookFailed-Failed"]
        );
        let mut going = a("HookSucceeded", "Succeeded");
        going["metadata"]["deletionTimestamp"] = json!("2026-12-03T20:00:00Z");
        let cleanup = cleanup_hooks(DeletionHook::PostDelete, &[going], pod_health);
        assert_eq!((cleanup.delete.len(), cleanup.pending), (0, 1));
    }

    #[test]
    fn a_cascade_deletes_the_highest_wave_first_and_keeps_what_must_stay() {
        let wave = |name: &str, w: &str| {
            obj("ConfigMap", name, json!({"argocd.argoproj.io/sync-wave": w}))
        };
        let kept =
            obj("ConfigMap", "kept", json!({"argocd.argoproj.io/sync-options": "Delete=false"}));
        let lives = [wave("a", "0"), wave("b", "2"), wave("c", "2"), kept.clone()];
        let CascadeStep::Delete(first) = cascade_step(&lives, false) else { panic!("deletes") };
        let first: Vec<&str> =
            first.iter().filter_map(|o| json::str_at(o, &["metadata", "name"])).collect();
        assert_eq!(first, ["b", "c"]);
        assert_eq!(cascade_step(std::slice::from_ref(&kept), false), CascadeStep::Done);
        let mut going = wave("a", "0");
        going["metadata"]["deletionTimestamp"] = json!("2026-12-03T20:00:00Z");
        assert_eq!(cascade_step(&[going, wave("b", "1")], false), CascadeStep::Waiting(1));
        // The app's Delete=false keeps everything not annotated otherwise.
        let opted_in =
            obj("ConfigMap", "x", json!({"argocd.argoproj.io/sync-options": "Delete=true"}));
        assert_eq!(
            cascade_step(&[wave("a", "0"), opted_in.clone()], true),
            CascadeStep::Delete(vec![&opted_in])
        );
    }
}
