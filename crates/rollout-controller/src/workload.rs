//! `spec.workloadRef`: where the pod template (and, when the Rollout names none, the selector)
//! comes from, resolved into a copy of the Rollout that the engine sees. The copy is never
//! written back, exactly like Argo's informer-based template resolver.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use weir_cluster::{Object, Registry, ResourceType};
use weir_model::rollouts::Rollout;

/// The kinds a `workloadRef` may name, and the resource type to read it from.
pub(crate) fn workload_type(ro: &Rollout) -> Result<Option<(ResourceType, String)>, String> {
    let Some(wref) = ro.spec.workload_ref.as_ref() else {
        return Ok(None);
    };
    let kind = wref.kind.as_deref().unwrap_or("");
    let api_version = wref.api_version.as_deref().unwrap_or("");
    let name = wref.name.as_deref().unwrap_or("");
    if name.is_empty() {
        return Err("spec.workloadRef.name: Required value".to_owned());
    }
    if !matches!(kind, "Deployment" | "ReplicaSet" | "PodTemplate") {
        return Err(format!(
            "spec.workloadRef.kind: Unsupported value: {kind:?}: supported values: \
             \"Deployment\", \"ReplicaSet\", \"PodTemplate\""
        ));
    }
    let registry = Registry::builtin();
    let rt = registry
        .for_object(api_version, kind)
        .unwrap_or_else(|| ResourceType::guess(api_version, kind));
    Ok(Some((rt, name.to_owned())))
}

/// The Rollout the engine reconciles: `spec.template` from the workload, `spec.selector` from
/// it too when the Rollout has none. `workload` is the object `workloadRef` names (already
/// read); an unreadable template is an error message for the `InvalidSpec` condition.
pub(crate) fn resolve(ro: &Rollout, workload: &Object) -> Result<Rollout, String> {
    let what = format!("{} {:?}", workload.kind, workload.name());
    let (template, selector) = match workload.kind.as_str() {
        "PodTemplate" => (workload.field("template").cloned(), None),
        _ => {
            let spec = workload.field("spec");
            (
                spec.and_then(|s| s.get("template")).cloned(),
                spec.and_then(|s| s.get("selector")).cloned(),
            )
        }
    };
    let template: PodTemplateSpec = match template {
        Some(t) => serde_json::from_value(t)
            .map_err(|e| format!("workloadRef: the template of {what} is invalid: {e}"))?,
        None => return Err(format!("workloadRef: {what} has no pod template")),
    };
    let mut resolved = ro.clone();
    resolved.spec.template = Some(template);
    if resolved.spec.selector.is_none() {
        let selector: Option<LabelSelector> = selector
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| format!("workloadRef: the selector of {what} is invalid: {e}"))?;
        resolved.spec.selector = selector;
    }
    Ok(resolved)
}

/// `workloadRef.scaleDown` for a Deployment: the `spec.replicas` it should have now, or `None`
/// to leave it alone (`never`, the default, or another kind). `onsuccess` scales it to 0 once
/// the Rollout is Healthy; `progressively` keeps `replicas − readyReplicas` of the Rollout.
pub(crate) fn workload_replicas(ro: &Rollout) -> Option<i32> {
    let wref = ro.spec.workload_ref.as_ref()?;
    if wref.kind.as_deref() != Some("Deployment") {
        return None;
    }
    let status = ro.status.as_ref()?;
    match wref.scale_down.as_deref() {
        Some("onsuccess") => (status.phase.as_deref() == Some("Healthy")).then_some(0),
        Some("progressively") => {
            Some((ro.spec.replicas() - status.ready_replicas.unwrap_or(0)).max(0))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rollout(selector: bool) -> Rollout {
        let mut v = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro", "namespace": "ns"},
            "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                     "strategy": {"canary": {}}}
        });
        if selector {
            v["spec"]["selector"] = json!({"matchLabels": {"app": "ro"}});
        }
        serde_json::from_value(v).expect("rollout")
    }

    fn deployment() -> Object {
        Object::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}
        }))
        .expect("deployment")
    }

    #[test]
    fn template_comes_from_the_workload_and_selector_only_when_missing() {
        let (rt, name) = workload_type(&rollout(true)).expect("ok").expect("some");
        assert_eq!((rt.plural.as_str(), name.as_str()), ("deployments", "d"));
        let with = resolve(&rollout(true), &deployment()).expect("resolved");
        let labels = with.spec.selector.and_then(|s| s.match_labels).expect("labels");
        assert_eq!(labels["app"], "ro");
        let image = with.spec.template.and_then(|t| t.spec).map(|s| s.containers[0].image.clone());
        assert_eq!(image, Some(Some("i:1".to_owned())));
        let without = resolve(&rollout(false), &deployment()).expect("resolved");
        let labels = without.spec.selector.and_then(|s| s.match_labels).expect("labels");
        assert_eq!(labels["app"], "d");
    }

    #[test]
    fn scale_down_policies() {
        let mut ro = rollout(true);
        ro.spec.replicas = Some(5);
        ro.status = serde_json::from_value(json!({"phase": "Progressing", "readyReplicas": 2}))
            .expect("status");
        assert_eq!(workload_replicas(&ro), None, "never by default");
        let set = |ro: &mut Rollout, policy: &str| {
            if let Some(w) = ro.spec.workload_ref.as_mut() {
                w.scale_down = Some(policy.into());
            }
        };
        set(&mut ro, "progressively");
        assert_eq!(workload_replicas(&ro), Some(3));
        set(&mut ro, "onsuccess");
        assert_eq!(workload_replicas(&ro), None, "not yet healthy");
        if let Some(st) = ro.status.as_mut() {
            st.phase = Some("Healthy".into());
        }
        assert_eq!(workload_replicas(&ro), Some(0));
    }

    #[test]
    fn unsupported_kinds_and_templateless_workloads_are_messages() {
        let mut ro = rollout(true);
        if let Some(w) = ro.spec.workload_ref.as_mut() {
            w.kind = Some("StatefulSet".into());
        }
        assert!(workload_type(&ro).expect_err("unsupported").contains("StatefulSet"));
        let empty = Object::new("apps/v1", "Deployment", Some("ns"), "d");
        assert!(resolve(&rollout(true), &empty).expect_err("no template").contains("no pod"));
    }
}
