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

use crate::validation::TOTAL_ANNOTATION_SIZE_LIMIT;
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

/// Creates `desired` or updates the live object to match it. Retries when another writer got
/// between our read and our write (a conflict, or a create that lost the race).
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
                match cluster.create(rt, with_last_applied(desired)).await {
                    Ok(created) => return Ok((ApplyOutcome::Created, created)),
                    // Another writer created it since our read: apply to theirs.
                    Err(Error::AlreadyExists { .. }) if attempts < 3 => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let merged = merge(&live, desired);
        if strip_status(&merged) == strip_status(&live) || already_applied(&live, &merged) {
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

/// The manifest with the last-applied annotation set to itself (without server fields), unless
/// the annotations would then exceed the API server's limit.
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
    let others: usize =
        manifest.metadata.annotations.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
    if others + LAST_APPLIED_ANNOTATION.len() + text.len() > TOTAL_ANNOTATION_SIZE_LIMIT {
        // Too large to record (the Argo Rollouts CRD is): kubectl would fail here and advise
        // server-side apply; weir applies it without the record, merging two-way next time.
        return out;
    }
    out.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(LAST_APPLIED_ANNOTATION.to_owned(), text);
    out
}

/// Whether `live` already is what `merged` would write, give or take what the server added:
/// the same manifest was applied last time (the last-applied annotation, like every label and
/// annotation, is unchanged) and every field of the manifest has its value in the live object,
/// which may have more (the API server's defaults, such as a Deployment's `strategy` or a
/// container's `terminationMessagePath`). Writing would only strip and re-add those defaults.
fn already_applied(live: &Object, merged: &Object) -> bool {
    merged.api_version == live.api_version
        && merged.metadata.labels == live.metadata.labels
        && merged.metadata.annotations == live.metadata.annotations
        && merged.data.iter().filter(|(key, _)| key.as_str() != "status").all(|(key, value)| {
            live.data.get(key).is_some_and(|live_value| is_subset(value, live_value))
        })
}

/// Whether every field of `part` is in `whole` with the same value; lists must have the same
/// length, their items compared in order.
fn is_subset(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (part, whole) {
        (Value::Object(part), Value::Object(whole)) => {
            part.iter().all(|(key, value)| match whole.get(key) {
                Some(found) => is_subset(value, found),
                None => value.is_null(),
            })
        }
        (Value::Array(part), Value::Array(whole)) => {
            part.len() == whole.len() && part.iter().zip(whole).all(|(p, w)| is_subset(p, w))
        }
        (part, whole) => part == whole,
    }
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
    fn fields_the_server_added_do_not_make_a_reapply_a_change() {
        let desired = object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c"}]}}},
        }));
        let mut live = merge(&desired, &desired);
        live.data["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live.data["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        assert!(already_applied(&live, &merge(&live, &desired)), "defaults only");

        let mut changed = desired.clone();
        changed.data["spec"]["replicas"] = json!(2);
        assert!(!already_applied(&live, &merge(&live, &changed)), "a changed manifest");
        let mut fewer = desired.clone();
        fewer.data["spec"]["template"]["spec"]["containers"] = json!([]);
        assert!(!already_applied(&live, &merge(&live, &fewer)), "a removed container");
    }

    #[test]
    fn a_manifest_too_large_to_record_is_applied_without_the_record() {
        let small =
            object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}}));
        assert!(with_last_applied(&small).annotation(LAST_APPLIED_ANNOTATION).is_some());
        // The Argo Rollouts CRD is about 300 KiB: its record would break the 256 KiB limit.
        let large =
            object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l"},
            "data": {"big": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)}}));
        let applied = with_last_applied(&large);
        assert!(applied.annotation(LAST_APPLIED_ANNOTATION).is_none());
        assert_eq!(applied.data, large.data);
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
