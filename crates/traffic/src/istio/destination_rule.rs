//! Subset-level routing: the DestinationRule's canary and stable subsets select pods by the
//! `rollouts-pod-template-hash` label (Argo's `UpdateHash`), and the switch waits while a
//! ReplicaSet that would receive traffic is not fully available.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use weir_model::rollouts::{IstioDestinationRule, WeightDestination};

use crate::ReplicaSetAvailability;

/// The label Argo puts on pods, ReplicaSets and subsets.
pub(crate) const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// The annotation marking objects managed by a rollout.
pub(crate) const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// The ReplicaSet that holds the DestinationRule switch back, if any: one with replicas whose
/// hash is the canary's or the stable's and that is not fully available. During an abort the
/// canary's availability does not matter (traffic goes back to stable).
pub(crate) fn delaying_replica_set<'a>(
    replica_sets: &'a [ReplicaSetAvailability],
    canary_hash: &str,
    stable_hash: &str,
    aborted: bool,
) -> Option<&'a ReplicaSetAvailability> {
    replica_sets.iter().find(|rs| {
        let hash = rs.pod_template_hash.as_str();
        let receives_traffic =
            !hash.is_empty() && (hash == stable_hash || (!aborted && hash == canary_hash));
        rs.replicas > 0 && receives_traffic && !rs.is_fully_available()
    })
}

fn set_hash(subset: &mut Map<String, Value>, hash: &str) {
    if hash.is_empty() {
        if let Some(Value::Object(labels)) = subset.get_mut("labels") {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
        }
        return;
    }
    let labels = subset.entry("labels").or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    if let Value::Object(labels) = labels {
        labels.insert(POD_TEMPLATE_HASH_LABEL.into(), Value::from(hash));
    }
}

/// The DestinationRule with the managed-by annotation, the hash labels on the canary, stable
/// and experiment subsets, missing experiment subsets appended (in name order), the
/// `additionalSubsetNames` subsets as they are, and every other subset dropped.
pub(crate) fn with_hashes(
    dr: &Value,
    rollout_name: &str,
    spec: &IstioDestinationRule,
    canary_hash: &str,
    stable_hash: &str,
    additional: &[WeightDestination],
) -> Value {
    let mut out = dr.clone();
    if let Some(obj) = out.as_object_mut() {
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if !ann.is_object() {
                *ann = json!({});
            }
            if let Some(ann) = ann.as_object_mut() {
                ann.insert(MANAGED_BY_ANNOTATION.into(), Value::from(rollout_name));
            }
        }
    }
    let mut pending: BTreeMap<&str, &str> = additional
        .iter()
        .map(|d| {
            (d.service_name.as_deref().unwrap_or(""), d.pod_template_hash.as_deref().unwrap_or(""))
        })
        .collect();
    let extra_subsets = spec.additional_subset_names.as_deref().unwrap_or(&[]);
    let Some(spec_obj) = out.get_mut("spec").and_then(Value::as_object_mut) else {
        return out;
    };
    let old = match spec_obj.remove("subsets") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let had_subsets = !old.is_empty() || dr.pointer("/spec/subsets").is_some();
    let mut subsets = Vec::with_capacity(old.len());
    for subset in old {
        let Value::Object(mut subset) = subset else { continue };
        let name = subset.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
        if name == spec.canary_subset_name {
            set_hash(&mut subset, canary_hash);
        } else if name == spec.stable_subset_name {
            set_hash(&mut subset, stable_hash);
        } else if let Some(hash) = pending.remove(name.as_str()) {
            set_hash(&mut subset, hash);
        } else if !extra_subsets.contains(&name) {
            continue; // not canary, stable, an experiment or an additional subset
        }
        subsets.push(Value::Object(subset));
    }
    for (name, hash) in pending {
        subsets.push(json!({"name": name, "labels": {POD_TEMPLATE_HASH_LABEL: hash}}));
    }
    if had_subsets || !subsets.is_empty() {
        spec_obj.insert("subsets".into(), Value::Array(subsets));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> IstioDestinationRule {
        IstioDestinationRule {
            name: "dr".into(),
            canary_subset_name: "canary".into(),
            stable_subset_name: "stable".into(),
            additional_subset_names: Some(vec!["keep".into()]),
        }
    }

    #[test]
    fn hashes_go_on_the_subsets_and_extraneous_ones_go() {
        let dr = json!({"metadata": {"name": "dr"}, "spec": {"host": "svc", "subsets": [
            {"name": "stable", "labels": {"version": "v3"}},
            {"name": "canary", "labels": {POD_TEMPLATE_HASH_LABEL: "old"}, "trafficPolicy": {}},
            {"name": "keep", "labels": {"x": "y"}},
            {"name": "stray"}
        ]}});
        let out = with_hashes(&dr, "ro", &spec(), "", "s1", &[]);
        assert_eq!(out["metadata"]["annotations"][MANAGED_BY_ANNOTATION], "ro");
        let subsets = out["spec"]["subsets"].as_array().expect("subsets");
        assert_eq!(subsets.len(), 3);
        assert_eq!(subsets[0]["labels"], json!({"version": "v3", POD_TEMPLATE_HASH_LABEL: "s1"}));
        assert_eq!(subsets[1]["labels"], json!({}));
        assert_eq!(subsets[1]["trafficPolicy"], json!({}));
        assert_eq!(subsets[2]["name"], "keep");
    }

    #[test]
    fn abort_ignores_the_canary_replica_set() {
        let rs = |name: &str, hash: &str, available| ReplicaSetAvailability {
            name: name.into(),
            pod_template_hash: hash.into(),
            replicas: 1,
            available_replicas: available,
        };
        let sets = [rs("s", "s1", 1), rs("c", "c1", 0), rs("o", "o1", 0)];
        assert_eq!(
            delaying_replica_set(&sets, "c1", "s1", false).map(|r| r.name.as_str()),
            Some("c")
        );
        assert!(delaying_replica_set(&sets, "c1", "s1", true).is_none());
    }
}
