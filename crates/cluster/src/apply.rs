//! `apply`: create an object or bring the live one in line with a manifest, as `kubectl apply`
//! does, over any [`Cluster`].
//!
//! The manifest replaces every top-level field of the live object except `status`; labels and
//! annotations are merged three ways against the last applied manifest (kept in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation), so keys that controllers
//! add (`rollout.argoproj.io/revision`, …) survive a re-apply while keys removed from the
//! manifest are removed from the object. Server-owned metadata (uid, resourceVersion,
//! generation, creationTimestamp, ownerReferences, finalizers) is kept.

use std::collections::BTreeMap;

use crate::{Cluster, Error, Object, ResourceType, Result};

/// The annotation holding the manifest of the last apply.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object already matched the manifest; nothing was written.
    Unchanged,
}

impl ApplyOutcome {
    /// The word kubectl prints: `created`, `configured` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

/// Creates `desired` or updates the live object to match it. Retries once on a write
/// conflict (a controller wrote between our read and our write).
pub async fn apply<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    desired: &Object,
) -> Result<(ApplyOutcome, Object)> {
    let namespace = if rt.namespaced() { desired.namespace() } else { None };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let live = match cluster.get(rt, namespace, desired.name()).await {
            Ok(live) => live,
            Err(Error::NotFound { .. }) => {
                let created = cluster.create(rt, with_last_applied(desired)).await?;
                return Ok((ApplyOutcome::Created, created));
            }
            Err(e) => return Err(e),
        };
        let merged = merge(&live, desired);
        if strip_status(&merged) == strip_status(&live) {
            return Ok((ApplyOutcome::Unchanged, live));
        }
        match cluster.update(rt, merged).await {
            Ok(updated) => return Ok((ApplyOutcome::Configured, updated)),
            Err(Error::Conflict { .. }) if attempts < 3 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The object `apply` would write given the live object and the manifest.
pub fn merge(live: &Object, desired: &Object) -> Object {
    let last_applied: Option<Object> =
        live.annotation(LAST_APPLIED_ANNOTATION).and_then(|text| serde_json::from_str(text).ok());
    let desired = with_last_applied(desired);

    let mut merged = live.clone();
    merged.api_version = desired.api_version.clone();
    merged.metadata.labels = merge_map(
        live.metadata.labels.as_ref(),
        last_applied.as_ref().and_then(|o| o.metadata.labels.as_ref()),
        desired.metadata.labels.as_ref(),
    );
    merged.metadata.annotations = merge_map(
        live.metadata.annotations.as_ref(),
        last_applied.as_ref().and_then(|o| o.metadata.annotations.as_ref()),
        desired.metadata.annotations.as_ref(),
    );
    let status = merged.data.remove("status");
    merged.data = desired.data.clone();
    merged.data.remove("status");
    if let Some(status) = status {
        merged.data.insert("status".to_owned(), status);
    }
    merged
}

/// Three-way merge of a string map: keys in `desired` win; keys that were applied last time
/// and are gone from `desired` are removed; keys someone else added stay.
fn merge_map(
    live: Option<&BTreeMap<String, String>>,
    last_applied: Option<&BTreeMap<String, String>>,
    desired: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let mut out = live.cloned().unwrap_or_default();
    for key in last_applied.into_iter().flatten().map(|(k, _)| k) {
        if desired.is_none_or(|d| !d.contains_key(key)) {
            out.remove(key);
        }
    }
    for (key, value) in desired.into_iter().flatten() {
        out.insert(key.clone(), value.clone());
    }
    (!out.is_empty()).then_some(out)
}

/// The manifest with the last-applied annotation set to itself (without server fields).
fn with_last_applied(desired: &Object) -> Object {
    let mut manifest = desired.clone();
    manifest.data.remove("status");
    if let Some(annotations) = manifest.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
        if annotations.is_empty() {
            manifest.metadata.annotations = None;
        }
    }
    let text = serde_json::to_string(&manifest).expect("an Object always serializes to JSON");
    let mut out = desired.clone();
    out.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(LAST_APPLIED_ANNOTATION.to_owned(), text);
    out
}

fn strip_status(object: &Object) -> Object {
    let mut object = object.clone();
    object.data.remove("status");
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: serde_json::Value) -> Object {
        Object::from_value(value).unwrap()
    }

    #[test]
    fn merge_keeps_controller_annotations_and_status_and_drops_removed_keys() {
        let first = object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
            "data": {"k": "v"}
        }));
        let mut live = with_last_applied(&first);
        live.metadata.uid = Some("u1".to_owned());
        live.metadata.labels.as_mut().unwrap().insert("controller".to_owned(), "x".to_owned());
        live.data.insert("status".to_owned(), json!({"ok": true}));

        let second = object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"a": "1"}},
            "data": {"k": "w"}
        }));
        let merged = merge(&live, &second);
        let labels = merged.metadata.labels.clone().unwrap();
        assert_eq!(labels.get("a").map(String::as_str), Some("1"));
        assert_eq!(labels.get("controller").map(String::as_str), Some("x"));
        assert!(!labels.contains_key("b"));
        assert_eq!(merged.data["data"], json!({"k": "w"}));
        assert_eq!(merged.data["status"], json!({"ok": true}));
        assert_eq!(merged.uid(), "u1");
    }

    #[test]
    fn merging_the_same_manifest_twice_changes_nothing() {
        let manifest = object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"x": "y"}}, "data": {"k": "v"}
        }));
        let live = merge(&with_last_applied(&manifest), &manifest);
        assert_eq!(merge(&live, &manifest), live);
    }
}
