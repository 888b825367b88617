//! Giving back the Istio DestinationRules a Rollout no longer routes through (Argo's Istio
//! controller, `cleanDestRule`): once `trafficRouting` is removed, or names another rule, or
//! the Rollout is gone, a rule still annotated `managed-by-rollouts: <rollout>` loses that
//! annotation and the `rollouts-pod-template-hash` labels weir put in its subsets, so it
//! selects what its owner wrote again.

use serde_json::Value;
use weir_cluster::{Cluster, Error, ListParams, Object};
use weir_model::rollouts::Rollout;
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;

use crate::execute::rt;

/// The annotation weir (as Argo) puts on a DestinationRule it manages.
pub(crate) const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// The DestinationRule `ro` routes through now (short name), if any.
fn referenced_rule(ro: Option<&Rollout>) -> Option<String> {
    let istio = ro?.spec.canary()?.traffic_routing.as_ref()?.istio.as_ref()?;
    let name = &istio.destination_rule.as_ref()?.name;
    Some(name.split('.').next().unwrap_or(name).to_owned())
}

/// `rule` without weir's managed metadata, or `None` when it carries none for `rollout`.
pub(crate) fn released(rule: &Object, rollout: &str) -> Option<Object> {
    if rule.annotation(MANAGED_BY_ANNOTATION) != Some(rollout) {
        return None;
    }
    let mut out = rule.clone();
    if let Some(annotations) = out.metadata.annotations.as_mut() {
        annotations.remove(MANAGED_BY_ANNOTATION);
    }
    let subsets = out.data.get_mut("spec").and_then(|s| s.get_mut("subsets"));
    for subset in subsets.and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(labels) = subset.get_mut("labels").and_then(Value::as_object_mut) {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
        }
    }
    Some(out)
}

/// Releases every DestinationRule in `namespace` managed for the Rollout `name` that `ro` (the
/// Rollout as resolved; `None` when it is gone) does not route through. A cluster without the
/// DestinationRule type has nothing to release; a failed write is returned (the pass is
/// retried).
pub(crate) async fn destination_rules<C: Cluster>(
    cluster: &C,
    namespace: Option<&str>,
    name: &str,
    ro: Option<&Rollout>,
) -> Result<(), String> {
    let keep = referenced_rule(ro);
    let rules = match cluster.list(&rt("destinationrules"), namespace, &ListParams::default()).await
    {
        Ok(list) => list.items,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(e) => {
            tracing::warn!(rollout = %name, "cannot list DestinationRules to release: {e}");
            return Ok(());
        }
    };
    for rule in rules {
        if keep.as_deref() == Some(rule.name()) {
            continue;
        }
        let Some(updated) = released(&rule, name) else {
            continue;
        };
        match cluster.update(&rt("destinationrules"), updated).await {
            Ok(_) | Err(Error::NotFound { .. }) => {
                tracing::info!(rollout = %name, rule = %rule.name(), "released DestinationRule");
            }
            Err(e) => return Err(format!("releasing DestinationRule {:?}: {e}", rule.name())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_released_rule_loses_the_annotation_and_the_subset_hashes_only() {
        let rule = Object::from_value(json!({
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
            "metadata": {"name": "dr", "annotations": {MANAGED_BY_ANNOTATION: "ro", "keep": "me"}},
            "spec": {"host": "h", "subsets": [
                {"name": "stable", "labels": {"app": "a", POD_TEMPLATE_HASH_LABEL: "h1"}},
                {"name": "canary", "labels": {"app": "a", POD_TEMPLATE_HASH_LABEL: "h2"}},
                {"name": "other"}]}
        }))
        .expect("rule");
        let out = released(&rule, "ro").expect("managed by ro").to_value();
        assert_eq!(out["metadata"]["annotations"], json!({"keep": "me"}));
        assert_eq!(out["spec"]["subsets"][0]["labels"], json!({"app": "a"}));
        assert_eq!(out["spec"]["subsets"][1]["labels"], json!({"app": "a"}));
        assert_eq!(out["spec"]["subsets"][2], json!({"name": "other"}));
        assert!(released(&rule, "another").is_none(), "another rollout's rule is left alone");
    }
}
