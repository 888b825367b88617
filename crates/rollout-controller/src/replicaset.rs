//! The ReplicaSets a Rollout owns, as objects: a new one for the current template (hash in
//! name, labels and selector; revision and desired-replicas annotations; controller owner
//! reference), and Argo's ephemeral metadata (`canaryMetadata` / `stableMetadata`) on the
//! pod template, remembered in an annotation so that a later change replaces it cleanly.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use weir_cluster::Object;
use weir_model::rollouts::{PodTemplateMetadata, Rollout};
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;
use weir_rollout::{DESIRED_REPLICAS_ANNOTATION, REVISION_ANNOTATION};

/// Annotation on a ReplicaSet recording the ephemeral labels and annotations it carries.
pub(crate) const EPHEMERAL_ANNOTATION: &str = "rollout.argoproj.io/ephemeral-metadata";

/// The owner reference every object a Rollout creates carries.
pub(crate) fn owner_reference(ro: &Rollout) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": ro.metadata.name.clone().unwrap_or_default(),
        "uid": ro.metadata.uid.clone().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The ephemeral metadata a ReplicaSet with `hash` should carry: the stable metadata for the
/// stable ReplicaSet (or a first one when nothing is stable yet), the canary metadata for a
/// new one beside a distinct stable one, none for older ones.
///
/// A canary just promoted to stable keeps its canary metadata while the traffic weights still
/// send it traffic as the canary (the pass that promotes it leaves the canary weight where the
/// last step put it; the next one moves it to stable). Subsets may select on these labels, as
/// the demo's DestinationRule does with `version: canary|stable`: relabelling the pods first
/// would empty the canary subset while the route still sends it everything.
pub(crate) fn desired_ephemeral(
    ro: &Rollout,
    hash: &str,
    new_hash: &str,
) -> Option<PodTemplateMetadata> {
    let canary = ro.spec.canary()?;
    let status = ro.status.as_ref();
    let stable = status.and_then(|s| s.stable_rs.as_deref()).unwrap_or("");
    let weights = status.and_then(|s| s.canary.as_ref()).and_then(|c| c.weights.as_ref());
    let still_served_as_canary = weights.is_some_and(|w| {
        w.canary.weight > 0 && w.canary.pod_template_hash.as_deref() == Some(hash)
    });
    if hash == stable && hash == new_hash && still_served_as_canary {
        canary.canary_metadata.clone()
    } else if hash == stable || (stable.is_empty() && hash == new_hash) {
        canary.stable_metadata.clone()
    } else if hash == new_hash {
        canary.canary_metadata.clone()
    } else {
        None
    }
}

fn map_value(map: &BTreeMap<String, String>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// The new ReplicaSet of the resolved Rollout `ro` for the current template.
pub(crate) fn new_replica_set(
    ro: &Rollout,
    name: &str,
    hash: &str,
    revision: i64,
    replicas: i32,
    ephemeral: Option<&PodTemplateMetadata>,
) -> Result<Object, String> {
    let template = ro.spec.template.clone().unwrap_or_default();
    let mut template = serde_json::to_value(&template).map_err(|e| e.to_string())?;
    let base_labels: BTreeMap<String, String> = template
        .pointer("/metadata/labels")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut rs_labels = base_labels;
    rs_labels.insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.to_owned());
    let meta = template
        .as_object_mut()
        .ok_or("pod template is not an object")?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    set_string_map(meta, "labels", &rs_labels);
    apply_ephemeral(meta, None, ephemeral);

    let mut selector = serde_json::to_value(ro.spec.selector.clone().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let mut match_labels: BTreeMap<String, String> = selector
        .get("matchLabels")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    match_labels.insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.to_owned());
    set_string_map(&mut selector, "matchLabels", &match_labels);

    let mut annotations = BTreeMap::from([
        (REVISION_ANNOTATION.to_owned(), revision.to_string()),
        (DESIRED_REPLICAS_ANNOTATION.to_owned(), ro.spec.replicas().to_string()),
    ]);
    if let Some(e) = ephemeral {
        annotations.insert(EPHEMERAL_ANNOTATION.to_owned(), ephemeral_record(e));
    }
    let mut spec = json!({"replicas": replicas, "selector": selector, "template": template});
    if let Some(min_ready) = ro.spec.min_ready_seconds {
        spec["minReadySeconds"] = json!(min_ready);
    }
    Object::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": ro.metadata.namespace.clone().unwrap_or_default(),
            "labels": map_value(&rs_labels),
            "annotations": map_value(&annotations),
            "ownerReferences": [owner_reference(ro)],
        },
        "spec": spec,
    }))
    .map_err(|e| e.to_string())
}

fn set_string_map(target: &mut Value, key: &str, map: &BTreeMap<String, String>) {
    if let Some(obj) = target.as_object_mut() {
        obj.insert(key.to_owned(), map_value(map));
    }
}

fn ephemeral_record(e: &PodTemplateMetadata) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

/// The ephemeral metadata a ReplicaSet recorded, if any.
pub(crate) fn recorded_ephemeral(rs: &Object) -> Option<PodTemplateMetadata> {
    rs.annotation(EPHEMERAL_ANNOTATION).and_then(|s| serde_json::from_str(s).ok())
}

/// Removes the `previous` ephemeral keys from `meta` (a metadata object) and adds `next`.
pub(crate) fn apply_ephemeral(
    meta: &mut Value,
    previous: Option<&PodTemplateMetadata>,
    next: Option<&PodTemplateMetadata>,
) {
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    for (field, old, new) in [
        ("labels", previous.and_then(|p| p.labels.as_ref()), next.and_then(|n| n.labels.as_ref())),
        (
            "annotations",
            previous.and_then(|p| p.annotations.as_ref()),
            next.and_then(|n| n.annotations.as_ref()),
        ),
    ] {
        let entry = meta.entry(field).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Some(map) = entry.as_object_mut() else {
            continue;
        };
        for key in old.into_iter().flat_map(BTreeMap::keys) {
            map.remove(key);
        }
        for (k, v) in new.into_iter().flatten() {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

/// The ReplicaSet with its pod template carrying `next` instead of what it recorded; `None`
/// when it already does.
pub(crate) fn sync_ephemeral(rs: &Object, next: Option<&PodTemplateMetadata>) -> Option<Object> {
    let previous = recorded_ephemeral(rs);
    if previous.as_ref() == next {
        return None;
    }
    let mut value = rs.to_value();
    if let Some(meta) = value.pointer_mut("/spec/template/metadata") {
        apply_ephemeral(meta, previous.as_ref(), next);
    }
    if let Some(annotations) =
        value.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)
    {
        match next {
            Some(n) => {
                annotations
                    .insert(EPHEMERAL_ANNOTATION.to_owned(), Value::String(ephemeral_record(n)));
            }
            None => {
                annotations.remove(EPHEMERAL_ANNOTATION);
            }
        }
    }
    Object::from_value(value).ok()
}

/// The merge patch that moves a pod's metadata from `previous` to `next` ephemeral metadata.
pub(crate) fn pod_ephemeral_patch(
    previous: Option<&PodTemplateMetadata>,
    next: Option<&PodTemplateMetadata>,
) -> Value {
    let mut patch = json!({"metadata": {"labels": {}, "annotations": {}}});
    for (field, old, new) in [
        ("labels", previous.and_then(|p| p.labels.as_ref()), next.and_then(|n| n.labels.as_ref())),
        (
            "annotations",
            previous.and_then(|p| p.annotations.as_ref()),
            next.and_then(|n| n.annotations.as_ref()),
        ),
    ] {
        let map = &mut patch["metadata"][field];
        for key in old.into_iter().flat_map(BTreeMap::keys) {
            map[key] = Value::Null;
        }
        for (k, v) in new.into_iter().flatten() {
            map[k] = Value::String(v.clone());
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(stable: &str) -> Rollout {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro", "namespace": "ns", "uid": "u1"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "ro"}},
                "template": {"metadata": {"labels": {"app": "ro", "version": "stable"}},
                             "spec": {"containers": [{"name": "c", "image": "i:2"}]}},
                "strategy": {"canary": {
                    "canaryMetadata": {"labels": {"version": "canary"}},
                    "stableMetadata": {"labels": {"version": "stable"}}}}},
            "status": {"stableRS": stable}
        }))
        .expect("rollout")
    }

    #[test]
    fn new_replica_set_carries_hash_revision_owner_and_canary_metadata() {
        let ro = rollout("old");
        let eph = desired_ephemeral(&ro, "new", "new");
        let rs = new_replica_set(&ro, "ro-new", "new", 3, 0, eph.as_ref()).expect("rs");
        let v = rs.to_value();
        assert_eq!(v["metadata"]["labels"]["rollouts-pod-template-hash"], "new");
        assert_eq!(v["metadata"]["annotations"]["rollout.argoproj.io/revision"], "3");
        assert_eq!(v["metadata"]["annotations"]["rollout.argoproj.io/desired-replicas"], "5");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(v["spec"]["selector"]["matchLabels"]["rollouts-pod-template-hash"], "new");
        assert_eq!(v["spec"]["selector"]["matchLabels"]["app"], "ro");
        assert_eq!(v["spec"]["template"]["metadata"]["labels"]["version"], "canary");
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"],
            "new"
        );
        assert_eq!(v["spec"]["replicas"], 0);
    }

    #[test]
    fn first_and_stable_replica_sets_get_stable_metadata_and_promotion_swaps_it() {
        let first = desired_ephemeral(&rollout(""), "h1", "h1");
        assert_eq!(first.and_then(|m| m.labels).expect("labels")["version"], "stable");
        let ro = rollout("h1");
        let canary = desired_ephemeral(&ro, "h2", "h2");
        let rs = new_replica_set(&ro, "ro-h2", "h2", 2, 1, canary.as_ref()).expect("rs");
        assert!(sync_ephemeral(&rs, canary.as_ref()).is_none(), "in sync");
        let promoted = desired_ephemeral(&rollout("h2"), "h2", "h2");
        let synced = sync_ephemeral(&rs, promoted.as_ref()).expect("changed").to_value();
        assert_eq!(synced["spec"]["template"]["metadata"]["labels"]["version"], "stable");
        assert!(desired_ephemeral(&rollout("h2"), "h1", "h2").is_none(), "old RS: none");
        let patch = pod_ephemeral_patch(canary.as_ref(), promoted.as_ref());
        assert_eq!(patch["metadata"]["labels"]["version"], "stable");
    }

    #[test]
    fn a_promoted_canary_keeps_its_canary_labels_while_the_route_still_weights_it_as_canary() {
        let weighted = |canary_weight: i32| {
            let mut ro = rollout("h2");
            ro.status.as_mut().expect("status").canary = serde_json::from_value(json!({
                "weights": {
                    "canary": {"podTemplateHash": "h2", "weight": canary_weight},
                    "stable": {"podTemplateHash": "h2", "weight": 100 - canary_weight}}
            }))
            .expect("canary status");
            ro
        };
        let label = |ro: &Rollout| {
            desired_ephemeral(ro, "h2", "h2").and_then(|m| m.labels).expect("labels")["version"]
                .clone()
        };
        assert_eq!(label(&weighted(100)), "canary", "the route still sends it all as canary");
        assert_eq!(label(&weighted(0)), "stable", "the route has moved to the stable subset");
    }
}
