//! The normalized comparison of a desired (target) object with the live one, as Argo CD's
//! legacy diff does it (`gitops-engine/pkg/diff`): both sides normalized (server-set fields,
//! status, Secret `stringData`, null role rules, Endpoints order), `ignoreDifferences` applied,
//! then a predicted live object computed by a three-way merge with the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (two-way without it, so
//! defaulted live-only fields never show). Also Secret masking for display ([`mask`]) and a
//! unified diff text ([`text`]).
//!
//! Read [`diff`] first. Server-side and structured-merge diff need an API server's dry-run or
//! OpenAPI schema and are not here.

pub mod ignore;
pub mod mask;
mod normalize;
pub mod platform;
mod predict;
pub mod text;

use serde_json::Value;

pub use ignore::{IgnoreDifferences, IgnoreRule, JqPath, JqPathError};
pub use normalize::{normalize, normalize_secret, remove_namespace_and_empty_annotations};

/// The annotation kubectl and Argo CD keep the last applied configuration in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Options of a diff.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// `ignoreAggregatedRoles`: ClusterRoles with an aggregationRule never differ in rules.
    pub ignore_aggregated_roles: bool,
    /// The app's `ignoreDifferences` plus resource overrides, already merged.
    pub ignore: IgnoreDifferences,
}

/// The outcome of comparing one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffResult {
    /// True when syncing would change the live object.
    pub modified: bool,
    /// The live object as it would be after applying the target (normalized); `Null` when the
    /// target is absent.
    pub predicted_live: Value,
    /// The live object, normalized; `Null` when absent.
    pub normalized_live: Value,
}

/// Compares `config` (desired, from git) with `live`. Either may be absent: no target is never
/// a modification (pruning is decided elsewhere), no live object always is.
pub fn diff(config: Option<&Value>, live: Option<&Value>, opts: &DiffOptions) -> DiffResult {
    let (config, live) = match (config, live) {
        (None, None) => {
            return DiffResult {
                modified: false,
                predicted_live: Value::Null,
                normalized_live: Value::Null,
            };
        }
        (None, Some(live)) => {
            let live = normalize(live);
            return DiffResult {
                modified: false,
                predicted_live: Value::Null,
                normalized_live: live,
            };
        }
        (Some(config), None) => {
            return DiffResult {
                modified: true,
                predicted_live: normalize(config),
                normalized_live: Value::Null,
            };
        }
        (Some(c), Some(l)) => (c, l),
    };
    let live = normalize(live);
    // Like gitops-engine's ThreeWayDiff: the namespace and empty annotations of the target and
    // the last-applied configuration do not take part (the live namespace stays).
    let mut config = normalize(config);
    remove_namespace_and_empty_annotations(&mut config);
    let last_applied = last_applied(&live).map(|la| {
        let mut la = normalize(&la);
        remove_namespace_and_empty_annotations(&mut la);
        la
    });
    let predicted = predict::predict(last_applied.as_ref(), &config, &live);
    // The comparison runs on ignore-normalized copies; the results stay unnormalized.
    let mut cmp_predicted = predicted.clone();
    let mut cmp_live = live.clone();
    for obj in [&mut cmp_predicted, &mut cmp_live] {
        opts.ignore.apply(obj);
        strip_for_compare(obj, opts);
    }
    DiffResult {
        modified: cmp_predicted != cmp_live,
        predicted_live: predicted,
        normalized_live: live,
    }
}

/// The parsed last-applied annotation, if present and valid JSON.
pub(crate) fn last_applied(obj: &Value) -> Option<Value> {
    let text = obj.pointer("/metadata/annotations")?.get(LAST_APPLIED_ANNOTATION)?.as_str()?;
    serde_json::from_str(text).ok()
}

/// Fields never compared: the last-applied annotation itself, server-set metadata.
fn strip_for_compare(obj: &mut Value, opts: &DiffOptions) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["resourceVersion", "uid", "generation", "managedFields", "selfLink"] {
            meta.remove(key);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove(LAST_APPLIED_ANNOTATION);
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if opts.ignore_aggregated_roles
        && obj.get("aggregationRule").is_some()
        && let Some(map) = obj.as_object_mut()
    {
        map.remove("rules");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaulted_live_fields_are_not_a_difference() {
        let config = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]}});
        let live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "uid": "u"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
            "status": {"loadBalancer": {}}});
        assert!(!diff(Some(&config), Some(&live), &DiffOptions::default()).modified);
    }
}
