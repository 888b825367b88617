//! The comparison of an Application's target objects (rendered from git) with the live ones
//! (`CompareAppState`): pairing by resource key, the self-reference check of the tracking
//! annotation, the normalized diff of [`weir_gitops::diff`] with `ignoreDifferences` (Rollout
//! pod templates compared as pod specs), per-resource and app sync status, and the app's health
//! from [`weir_gitops::health::app`]. Pure: objects in, verdicts out.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;
use weir_gitops::ResourceKey;
use weir_gitops::diff::{DiffOptions, DiffResult, IgnoreDifferences, IgnoreRule, JqPath, diff};
use weir_gitops::health::app::{AppResource, aggregate_with};
use weir_gitops::health::lua::HealthOverrides;
use weir_gitops::health::{Health, HealthStatus, assess_with};
use weir_gitops::sync::annotations;
use weir_model::argocd::ResourceIgnoreDifferences;

use crate::render::{TRACKING_ID_ANNOTATION, tracking_id};

/// One managed resource: its target (from git), its live object and the verdicts.
#[derive(Debug, Clone)]
pub struct ResourceState {
    /// Group, kind, namespace, name.
    pub key: ResourceKey,
    /// The API version (of the target, else the live object).
    pub version: String,
    /// The desired object, tracking metadata included.
    pub target: Option<Value>,
    /// The live object.
    pub live: Option<Value>,
    /// True when syncing would change something (or the object must be created or pruned).
    pub out_of_sync: bool,
    /// The live object's health (`None`: no health check, or absent).
    pub health: Option<Health>,
    /// The diff of this pair (predicted and normalized live, for `weir app diff`). For a
    /// resource in sync both are `Null` (its diff is empty): keeping two more copies of every
    /// synced object cost memory per manifest for nothing (issue 16 item 5).
    pub diff: DiffResult,
}

impl ResourceState {
    /// `Synced` or `OutOfSync`.
    pub fn status(&self) -> &'static str {
        if self.out_of_sync { "OutOfSync" } else { "Synced" }
    }

    /// A unified diff from the live object to the predicted one (Secret values masked); empty
    /// when they are the same.
    pub fn diff_text(&self) -> String {
        let (mut live, mut predicted) =
            (self.diff.normalized_live.clone(), self.diff.predicted_live.clone());
        if self.key.kind == "Secret" && self.key.group.is_empty() {
            let (t, l) = weir_gitops::diff::mask::hide_secret_data(
                (!predicted.is_null()).then_some(&predicted),
                (!live.is_null()).then_some(&live),
                &[],
            );
            predicted = t.unwrap_or(Value::Null);
            live = l.unwrap_or(Value::Null);
        }
        weir_gitops::diff::text::unified("live", "target", &live, &predicted)
    }

    /// A live object without a target: pruning would delete it.
    pub fn requires_pruning(&self) -> bool {
        self.target.is_none() && self.live.is_some()
    }
}

/// The outcome of comparing an app.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Managed resources, sorted by key; hooks are not among them.
    pub resources: Vec<ResourceState>,
    /// Hook objects from git (applied only by syncs).
    pub hooks: Vec<Value>,
    /// The live objects of those hooks (from this or an earlier sync).
    pub hook_lives: Vec<Value>,
    /// The app's health.
    pub health: HealthStatus,
    /// "Caused by …" or empty.
    pub health_message: String,
}

impl Comparison {
    /// `Synced` when no resource is out of sync, else `OutOfSync`.
    pub fn sync_status(&self) -> &'static str {
        if self.resources.iter().any(|r| r.out_of_sync) { "OutOfSync" } else { "Synced" }
    }
}

/// The `ignoreDifferences` of an app in weir-gitops' form. Invalid jq paths are skipped.
pub fn ignore_rules(spec: Option<&[ResourceIgnoreDifferences]>) -> IgnoreDifferences {
    let rules = spec
        .unwrap_or_default()
        .iter()
        .map(|r| IgnoreRule {
            group: r.group.clone().unwrap_or_default(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            json_pointers: r.json_pointers.clone().unwrap_or_default(),
            jq_paths: r
                .jq_path_expressions
                .iter()
                .flatten()
                .filter_map(|p| JqPath::parse(p).ok())
                .collect(),
            managed_fields_managers: r.managed_fields_managers.clone().unwrap_or_default(),
        })
        .collect();
    IgnoreDifferences { rules }
}

/// Compares `targets` with `lives` (live objects found by key or by the tracking label).
pub fn compare(
    app_name: &str,
    targets: &[Value],
    lives: &[Value],
    ignore: &IgnoreDifferences,
) -> Comparison {
    compare_with(app_name, targets, lives, ignore, &HealthOverrides::new())
}

/// [`compare`] with the health customizations of `argocd-cm` ([`crate::argocd_cm`]).
pub fn compare_with(
    app_name: &str,
    targets: &[Value],
    lives: &[Value],
    ignore: &IgnoreDifferences,
    health_overrides: &HealthOverrides,
) -> Comparison {
    let mut pairs: BTreeMap<ResourceKey, (Option<Value>, Option<Value>)> = BTreeMap::new();
    let mut hooks = Vec::new();
    for target in targets {
        if annotations::is_hook(target) {
            hooks.push(target.clone());
            continue;
        }
        pairs.entry(ResourceKey::of(target)).or_default().0 = Some(target.clone());
    }
    // Hooks without a name are named by each sync (`<generateName><sha>-<phase>-<time>`); their
    // live objects keep the tracking annotation of the unnamed manifest.
    let unnamed: Vec<&str> = hooks
        .iter()
        .filter(|h| h.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty))
        .filter_map(tracking_annotation)
        .collect();
    let mut hook_lives = Vec::new();
    for live in lives {
        let key = ResourceKey::of(live);
        let of_unnamed = tracking_annotation(live).is_some_and(|id| unnamed.contains(&id));
        if is_hook_obj(live) && (of_unnamed || hooks.iter().any(|h| ResourceKey::of(h) == key)) {
            hook_lives.push(live.clone());
            continue;
        }
        let entry = pairs.get(&key).map(|(t, _)| t.is_some());
        if entry != Some(true) && (!self_referenced(app_name, &key, live) || is_hook_obj(live)) {
            continue;
        }
        pairs.entry(key).or_default().1 = Some(live.clone());
    }
    let opts = DiffOptions { ignore: ignore.clone(), ..DiffOptions::default() };
    let mut resources: Vec<ResourceState> = pairs
        .into_iter()
        .map(|(key, (target, live))| {
            let t = target.as_ref().map(known_types);
            let l = live.as_ref().map(known_types);
            let mut diff = diff(t.as_deref(), l.as_deref(), &opts);
            drop((t, l));
            let out_of_sync = diff.modified || (target.is_none() && live.is_some());
            if !out_of_sync {
                diff.predicted_live = Value::Null;
                diff.normalized_live = Value::Null;
            }
            let obj = target.as_ref().or(live.as_ref());
            let version = obj
                .and_then(|o| o.get("apiVersion"))
                .and_then(Value::as_str)
                .map(|v| v.rsplit('/').next().unwrap_or(v).to_string())
                .unwrap_or_default();
            ResourceState { key, version, target, live, out_of_sync, health: None, diff }
        })
        .collect();
    let app_resources: Vec<AppResource<'_>> = resources
        .iter()
        .map(|r| AppResource { key: &r.key, target: r.target.as_ref(), live: r.live.as_ref() })
        .collect();
    let health = aggregate_with(&app_resources, |live| assess_with(health_overrides, live));
    for (r, h) in resources.iter_mut().zip(health.resources) {
        r.health = h;
    }
    Comparison {
        resources,
        hooks,
        hook_lives,
        health: health.status,
        health_message: health.message,
    }
}

fn tracking_annotation(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(TRACKING_ID_ANNOTATION))
        .and_then(Value::as_str)
}

fn is_hook_obj(obj: &Value) -> bool {
    annotations::is_hook(obj)
}

/// A live object is the app's own unless its tracking annotation names another resource.
fn self_referenced(app_name: &str, key: &ResourceKey, live: &Value) -> bool {
    let id = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TRACKING_ID_ANNOTATION))
        .and_then(Value::as_str);
    match id {
        None => true,
        Some(id) => id == tracking_id(app_name, &key.group, &key.kind, &key.namespace, &key.name),
    }
}

/// Argo's known-types normalizer: a Rollout's `spec.template.spec` read as a `PodSpec`. Other
/// objects are borrowed as they are (no copy per manifest).
fn known_types(obj: &Value) -> Cow<'_, Value> {
    let is_rollout = obj.get("kind").and_then(Value::as_str) == Some("Rollout")
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("argoproj.io/"));
    if !is_rollout {
        return Cow::Borrowed(obj);
    }
    let mut obj = obj.clone();
    if let Some(spec) = obj.pointer_mut("/spec/template/spec")
        && let Ok(typed) =
            serde_json::from_value::<k8s_openapi::api::core::v1::PodSpec>(spec.clone())
        && let Ok(value) = serde_json::to_value(typed)
    {
        *spec = value;
    }
    Cow::Owned(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "ns", "labels": {"app.kubernetes.io/instance": "a"}},
               "data": {"k": value}})
    }

    #[test]
    fn pairs_are_compared_and_extraneous_objects_need_pruning() {
        let targets = [cm("one", "x"), cm("two", "y")];
        let lives = [cm("one", "x"), cm("two", "changed"), cm("three", "z")];
        let c = compare("a", &targets, &lives, &IgnoreDifferences::default());
        let status: Vec<(&str, &str, bool)> = c
            .resources
            .iter()
            .map(|r| (r.key.name.as_str(), r.status(), r.requires_pruning()))
            .collect();
        assert_eq!(
            status,
            [("one", "Synced", false), ("three", "OutOfSync", true), ("two", "OutOfSync", false)]
        );
        assert_eq!(c.sync_status(), "OutOfSync");
    }

    #[test]
    fn objects_tracked_for_another_resource_are_not_ours() {
        let mut copy = cm("copy", "x");
        copy["metadata"]["annotations"] =
            json!({TRACKING_ID_ANNOTATION: "a:/ConfigMap:other/copy"});
        let c = compare("a", &[], &[copy], &IgnoreDifferences::default());
        assert!(c.resources.is_empty());
        assert_eq!(c.sync_status(), "Synced");
    }
}
