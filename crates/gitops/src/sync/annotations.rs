//! The sync annotations of a resource, read as gitops-engine reads them: hook types
//! (`argocd.argoproj.io/hook`, else Helm's `helm.sh/hook`), hook delete policies, sync waves
//! (`argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`), and comma-separated option
//! lists such as `argocd.argoproj.io/sync-options: Prune=false,PruneLast=true`.

use serde_json::Value;

use crate::json;

/// Hook annotation.
pub const HOOK: &str = "argocd.argoproj.io/hook";
/// Hook delete policy annotation.
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// Sync wave annotation.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// Per-resource sync options annotation.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
const HELM_HOOK: &str = "helm.sh/hook";
const HELM_WEIGHT: &str = "helm.sh/hook-weight";
const HELM_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// Argo CD hook types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookType {
    /// Before the Sync phase.
    PreSync,
    /// With the resources.
    Sync,
    /// After a successful sync.
    PostSync,
    /// After a failed sync.
    SyncFail,
    /// Not applied at all.
    Skip,
    /// Before the app is deleted.
    PreDelete,
    /// After the app is deleted.
    PostDelete,
}

impl HookType {
    /// `NewHookType`: the exact names, nothing else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PreSync" => HookType::PreSync,
            "Sync" => HookType::Sync,
            "PostSync" => HookType::PostSync,
            "SyncFail" => HookType::SyncFail,
            "Skip" => HookType::Skip,
            "PreDelete" => HookType::PreDelete,
            "PostDelete" => HookType::PostDelete,
            _ => return None,
        })
    }
}

/// Hook delete policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    /// Delete the previous hook object before creating it again (the default).
    BeforeHookCreation,
    /// Delete after the hook succeeded.
    HookSucceeded,
    /// Delete after the hook failed.
    HookFailed,
}

impl DeletePolicy {
    /// `NewHookDeletePolicy`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "BeforeHookCreation" => DeletePolicy::BeforeHookCreation,
            "HookSucceeded" => DeletePolicy::HookSucceeded,
            "HookFailed" => DeletePolicy::HookFailed,
            _ => return None,
        })
    }

    fn from_helm(s: &str) -> Option<Self> {
        Some(match s {
            "before-hook-creation" => DeletePolicy::BeforeHookCreation,
            "hook-succeeded" => DeletePolicy::HookSucceeded,
            "hook-failed" => DeletePolicy::HookFailed,
            _ => return None,
        })
    }
}

/// The comma-separated values of an annotation, trimmed, without empties and duplicates.
pub fn annotation_csvs(obj: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in json::annotation(obj, key).unwrap_or("").split(',') {
        let part = part.trim();
        if !part.is_empty() && !out.iter().any(|p| p == part) {
            out.push(part.to_string());
        }
    }
    out
}

/// True when the annotation's list holds `value`.
pub fn has_annotation_option(obj: &Value, key: &str, value: &str) -> bool {
    annotation_csvs(obj, key).iter().any(|v| v == value)
}

/// The value of `name=value` in the annotation's list (first wins).
pub fn annotation_option_value(obj: &Value, key: &str, name: &str) -> Option<String> {
    annotation_csvs(obj, key).iter().find_map(|item| {
        let (k, v) = item.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

/// Helm hook names of the object that Argo CD maps; `crd-install` gives an empty list.
pub fn helm_hook_types(obj: &Value) -> Vec<String> {
    annotation_csvs(obj, HELM_HOOK)
        .into_iter()
        .filter(|t| {
            matches!(t.as_str(), "pre-install" | "pre-upgrade" | "post-install" | "post-upgrade")
        })
        .collect()
}

/// True when the object carries a Helm hook annotation other than `crd-install`.
pub fn is_helm_hook(obj: &Value) -> bool {
    json::annotation(obj, HELM_HOOK).is_some_and(|v| v != "crd-install")
}

/// The hook types of the object (Argo CD's annotation wins over Helm's; unknown names dropped).
pub fn hook_types(obj: &Value) -> Vec<HookType> {
    let argo: Vec<HookType> =
        annotation_csvs(obj, HOOK).iter().filter_map(|t| HookType::parse(t)).collect();
    if !argo.is_empty() {
        return argo;
    }
    let mut out = Vec::new();
    for t in helm_hook_types(obj) {
        let mapped = if t.starts_with("pre-") { HookType::PreSync } else { HookType::PostSync };
        if !out.contains(&mapped) {
            out.push(mapped);
        }
    }
    out
}

/// True when the object is only to be skipped (`hook: Skip` alone).
pub fn is_skip(obj: &Value) -> bool {
    let types = hook_types(obj);
    types.contains(&HookType::Skip) && types.len() == 1
}

/// True for hooks: an Argo CD hook annotation (unless Skip alone), or a Helm hook.
pub fn is_hook(obj: &Value) -> bool {
    if json::annotation(obj, HOOK).is_some() {
        return !is_skip(obj);
    }
    is_helm_hook(obj)
}

/// True for hooks whose types are all unknown (misspelt): Argo CD ignores them.
pub fn is_ignored(obj: &Value) -> bool {
    is_hook(obj) && hook_types(obj).is_empty()
}

/// Delete policies (Argo CD's, then Helm's); `BeforeHookCreation` when none is valid.
pub fn delete_policies(obj: &Value) -> Vec<DeletePolicy> {
    let mut out: Vec<DeletePolicy> = annotation_csvs(obj, HOOK_DELETE_POLICY)
        .iter()
        .filter_map(|p| DeletePolicy::parse(p))
        .collect();
    out.extend(
        annotation_csvs(obj, HELM_DELETE_POLICY).iter().filter_map(|p| DeletePolicy::from_helm(p)),
    );
    if out.is_empty() {
        out.push(DeletePolicy::BeforeHookCreation);
    }
    out
}

/// The Helm hook weight (0 when absent or not an integer).
pub fn helm_weight(obj: &Value) -> i32 {
    json::annotation(obj, HELM_WEIGHT).and_then(|w| w.trim().parse().ok()).unwrap_or(0)
}

/// The sync wave: the sync-wave annotation, else the Helm hook weight, else 0.
pub fn wave(obj: &Value) -> i32 {
    match json::annotation(obj, SYNC_WAVE).and_then(|w| w.trim().parse().ok()) {
        Some(w) => w,
        None => helm_weight(obj),
    }
}
