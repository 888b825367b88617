//! A Deployment and a Rollout fighting over the same pods: a running Deployment (other than
//! the one the Rollout's `workloadRef` names) whose selector matches the Rollout's pods, or
//! whose pods the Rollout's selector matches. Their pods would sit behind the same Services, so
//! the Rollout's weights would not hold and each update of one would look like drift to the
//! other. Argo does not look for this; weir reports it as a `ReplicaFailure` condition with
//! reason `SelectorOverlap` and a Warning event, and keeps going (it never touches the
//! Deployment: which of the two should run is the user's decision).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sSelector;
use serde_json::Value;
use weir_cluster::{Cluster, LabelSelector, ListParams, Object};
use weir_model::rollouts::{Rollout, RolloutStatus};
use weir_rollout::conditions;

use crate::execute::rt;

/// The condition type and reason of the report.
pub(crate) const CONDITION: &str = "ReplicaFailure";
/// See [`CONDITION`].
pub(crate) const REASON: &str = "SelectorOverlap";

fn selector_of(value: Option<&Value>) -> Option<LabelSelector> {
    let selector: K8sSelector = serde_json::from_value(value?.clone()).ok()?;
    let parsed = LabelSelector::from_k8s(&selector).ok()?;
    (!parsed.is_empty()).then_some(parsed)
}

fn labels_of(value: Option<&Value>) -> Option<BTreeMap<String, String>> {
    serde_json::from_value(value?.clone()).ok()
}

/// The message for the first running Deployment that overlaps `ro` (resolved: its template
/// is set), if any.
pub(crate) async fn find<C: Cluster>(cluster: &C, ro: &Rollout) -> Result<Option<String>, String> {
    let ns = ro.metadata.namespace.as_deref();
    let workload = ro
        .spec
        .workload_ref
        .as_ref()
        .filter(|w| w.kind.as_deref() == Some("Deployment"))
        .and_then(|w| w.name.clone());
    let ro_labels =
        ro.spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone());
    let ro_selector = ro.spec.selector.as_ref().and_then(|s| LabelSelector::from_k8s(s).ok());
    let list = cluster.list(&rt("deployments"), ns, &ListParams::default()).await;
    let deployments = list.map_err(|e| e.to_string())?.items;
    Ok(deployments.iter().find_map(|d| {
        overlap_message(d, workload.as_deref(), ro_labels.as_ref(), ro_selector.as_ref())
    }))
}

fn overlap_message(
    deployment: &Object,
    workload: Option<&str>,
    ro_labels: Option<&BTreeMap<String, String>>,
    ro_selector: Option<&LabelSelector>,
) -> Option<String> {
    if workload == Some(deployment.name()) || deployment.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let spec = deployment.field("spec")?;
    let replicas = spec.get("replicas").and_then(Value::as_i64).unwrap_or(1);
    if replicas <= 0 {
        return None;
    }
    let selector = selector_of(spec.get("selector"))?;
    let pod_labels = labels_of(spec.pointer("/template/metadata/labels"));
    let selects_ours = ro_labels.is_some() && selector.matches(ro_labels);
    let ours_selects = ro_selector.is_some_and(|s| !s.is_empty() && s.matches(pod_labels.as_ref()));
    if !selects_ours && !ours_selects {
        return None;
    }
    Some(format!(
        "Deployment {:?} runs {replicas} replica(s) whose selector overlaps this Rollout's pods \
         ({selector}): both own pods behind the same Services, so traffic weights will not hold; \
         scale the Deployment to 0, change its selector, or name it in workloadRef",
        deployment.name()
    ))
}

/// Sets or clears the report on `status`; returns the message when it was newly set.
pub(crate) fn apply(
    status: &mut RolloutStatus,
    message: Option<String>,
    now: k8s_openapi::jiff::Timestamp,
) -> Option<String> {
    let current = conditions::get_condition(status, CONDITION).filter(|c| c.reason == REASON);
    match message {
        Some(message) => {
            if current.is_some_and(|c| c.message == message) {
                return None;
            }
            conditions::remove_condition(status, CONDITION);
            let c = conditions::new_condition(CONDITION, "True", REASON, message.clone(), now);
            conditions::set_condition(status, c);
            Some(message)
        }
        None => {
            if current.is_some() {
                conditions::remove_condition(status, CONDITION);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(name: &str, replicas: i64, labels: Value) -> Object {
        Object::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels.clone()},
                     "template": {"metadata": {"labels": labels}}}
        }))
        .expect("deployment")
    }

    #[test]
    fn overlapping_running_deployments_are_reported() {
        let ro_labels = BTreeMap::from([("app".to_owned(), "reviews".to_owned())]);
        let ro_selector = LabelSelector::from_labels(&ro_labels);
        let check = |d: &Object, workload: Option<&str>| {
            overlap_message(d, workload, Some(&ro_labels), Some(&ro_selector))
        };
        let same = deployment("reviews-v1", 3, json!({"app": "reviews"}));
        let message = check(&same, None).expect("overlap");
        assert!(message.starts_with("Deployment \"reviews-v1\" runs 3 replica(s)"), "{message}");
        assert!(message.contains("app=reviews"), "{message}");
        assert_eq!(check(&same, Some("reviews-v1")), None, "the workloadRef target is expected");
        assert_eq!(check(&deployment("reviews-v1", 0, json!({"app": "reviews"})), None), None);
        assert_eq!(check(&deployment("ratings", 1, json!({"app": "ratings"})), None), None);
        let wider = deployment("all", 1, json!({"app": "reviews", "version": "v1"}));
        assert!(check(&wider, None).is_some(), "the Rollout's selector takes its pods");

        let mut status = RolloutStatus::default();
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        assert_eq!(apply(&mut status, Some(message.clone()), now), Some(message.clone()));
        assert_eq!(apply(&mut status, Some(message.clone()), now), None, "reported once");
        let c = conditions::get_condition(&status, CONDITION).expect("condition");
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", REASON));
        assert_eq!(apply(&mut status, None, now), None);
        assert!(conditions::get_condition(&status, CONDITION).is_none(), "cleared when gone");
    }
}
