//! The objects a Rollout names must exist before it acts (Argo's `getRolloutReferencedResources`
//! and `ValidateRolloutReferencedResources`): Services, AnalysisTemplates, VirtualServices
//! (whose routes must hold the canary and stable destinations) and, as a weir addition, the
//! DestinationRule. A missing or unusable one is the first problem, worded as Argo's field
//! errors, and becomes an `InvalidSpec` condition (phase Degraded) that the controller retries:
//! the user may simply not have applied it yet.

use serde_json::Value;
use weir_cluster::{Cluster, Error, Registry, ResourceType};
use weir_model::rollouts::Rollout;
use weir_traffic::{IstioRouter, Lookup, ObjectSnapshot, Operation, RouterError, TrafficRouter};

fn rt(api_version: &str, kind: &str) -> ResourceType {
    Registry::builtin()
        .for_object(api_version, kind)
        .unwrap_or_else(|| ResourceType::guess(api_version, kind))
}

/// A Kubernetes field error: `<path>: Invalid value: "<name>": <detail>`.
fn invalid(path: &str, name: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", serde_json::Value::String(name.to_owned()))
}

/// The Services the strategy names, with their field paths.
fn services(ro: &Rollout) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(bg) = ro.spec.blue_green() {
        out.push(("spec.strategy.blueGreen.activeService", bg.active_service.clone()));
        out.push(("spec.strategy.blueGreen.previewService", bg.preview_service().to_owned()));
    } else if let Some(canary) = ro.spec.canary() {
        out.push(("spec.strategy.canary.stableService", canary.stable_service().to_owned()));
        out.push(("spec.strategy.canary.canaryService", canary.canary_service().to_owned()));
        if let Some(pp) = &canary.ping_pong {
            out.push(("spec.strategy.canary.pingPong.pingService", pp.ping_service.clone()));
            out.push(("spec.strategy.canary.pingPong.pongService", pp.pong_service.clone()));
        }
    }
    out.into_iter().filter(|(_, n)| !n.is_empty()).map(|(p, n)| (p.to_owned(), n)).collect()
}

/// The AnalysisTemplates the strategy names: (field path, name, cluster scope).
fn templates(ro: &Rollout) -> Vec<(String, String, bool)> {
    let strategy = serde_json::to_value(&ro.spec.strategy).unwrap_or(Value::Null);
    let mut places: Vec<(String, &Value)> = Vec::new();
    if let Some(steps) = strategy.pointer("/canary/steps").and_then(Value::as_array) {
        for (i, step) in steps.iter().enumerate() {
            places.push((format!("spec.strategy.canary.steps[{i}].analysis.templates"), step));
        }
    }
    let at = |p: &str| strategy.pointer(p).unwrap_or(&Value::Null);
    places.push(("spec.strategy.canary.analysis.templates".into(), at("/canary")));
    places
        .push(("spec.strategy.blueGreen.prePromotionAnalysis.templates".into(), at("/blueGreen")));
    places
        .push(("spec.strategy.blueGreen.postPromotionAnalysis.templates".into(), at("/blueGreen")));
    let mut out = Vec::new();
    for (path, parent) in places {
        let key = if path.contains("prePromotion") {
            "prePromotionAnalysis"
        } else if path.contains("postPromotion") {
            "postPromotionAnalysis"
        } else {
            "analysis"
        };
        let refs = parent.get(key).and_then(|a| a.get("templates")).and_then(Value::as_array);
        for r in refs.into_iter().flatten() {
            let name = r.get("templateName").and_then(Value::as_str).unwrap_or("");
            let cluster = r.get("clusterScope").and_then(Value::as_bool).unwrap_or(false);
            if !name.is_empty() {
                out.push((path.clone(), name.to_owned(), cluster));
            }
        }
    }
    out
}

/// The first referenced object that is missing or unusable, as Argo words it; `Ok(None)` when
/// every reference resolves. Errors other than NotFound are returned as `Err` (retried).
pub(crate) async fn check<C: Cluster>(cluster: &C, ro: &Rollout) -> Result<Option<String>, String> {
    let ns = ro.metadata.namespace.as_deref();
    let services_rt = rt("v1", "Service");
    for (path, name) in services(ro) {
        match cluster.get(&services_rt, ns, &name).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                return Ok(Some(invalid(&path, &name, &format!("services \"{name}\" not found"))));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    for (path, name, cluster_scope) in templates(ro) {
        let (kind, tns) = if cluster_scope {
            ("ClusterAnalysisTemplate", None)
        } else {
            ("AnalysisTemplate", ns)
        };
        match cluster.get(&rt("argoproj.io/v1alpha1", kind), tns, &name).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                return Ok(Some(invalid(&path, &name, &format!("{kind} '{name}' not found"))));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    istio(cluster, ro).await
}

/// The Istio objects: every VirtualService and the DestinationRule exist, and a dry run of
/// the current weight on them finds the routes and destinations it needs.
async fn istio<C: Cluster>(cluster: &C, ro: &Rollout) -> Result<Option<String>, String> {
    let uses_istio = ro
        .spec
        .canary()
        .and_then(|c| c.traffic_routing.as_ref())
        .is_some_and(|t| t.istio.is_some());
    if !uses_istio {
        return Ok(None);
    }
    let router = match IstioRouter::new(ro) {
        Ok(router) => router,
        Err(e) => return Ok(Some(format!("spec.strategy.canary.trafficRouting.istio: {e}"))),
    };
    let vs_path = if weir_traffic::multiple_virtual_services_configured(ro) {
        "spec.strategy.canary.trafficRouting.istio.virtualServices.name"
    } else {
        "spec.strategy.canary.trafficRouting.istio.virtualService.name"
    };
    let dr_path = "spec.strategy.canary.trafficRouting.istio.destinationRule.name";
    let mut snapshot = ObjectSnapshot::new();
    let mut keys = router.reads(Operation::SetWeight);
    keys.extend(router.reads(Operation::UpdateHash));
    for key in keys {
        let path = if key.kind == "DestinationRule" { dr_path } else { vs_path };
        match cluster.get(&rt(&key.api_version, &key.kind), Some(&key.namespace), &key.name).await {
            Ok(object) => snapshot.record(key, Lookup::Found(object.to_value())),
            Err(Error::NotFound { .. }) => {
                let resource = format!("{}s.networking.istio.io", key.kind.to_lowercase());
                let detail = format!("{resource} \"{}\" not found", key.name);
                return Ok(Some(invalid(path, &key.name, &detail)));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let weight = ro
        .status
        .as_ref()
        .and_then(|s| s.canary.as_ref())
        .and_then(|c| c.weights.as_ref())
        .map_or(0, |w| w.canary.weight);
    match router.set_weight(&snapshot, weight, &[]) {
        Ok(_) | Err(RouterError::Delayed { .. } | RouterError::Api(_)) => Ok(None),
        Err(RouterError::NotFound { resource, name }) => {
            let path = if resource.starts_with("destinationrules") { dr_path } else { vs_path };
            Ok(Some(invalid(path, &name, &format!("{resource} \"{name}\" not found"))))
        }
        Err(RouterError::Invalid(message)) => {
            let name = virtual_service_names(ro).join(",");
            let detail = format!("Istio VirtualService has invalid HTTP routes. Error: {message}");
            Ok(Some(invalid(vs_path, &name, &detail)))
        }
    }
}

fn virtual_service_names(ro: &Rollout) -> Vec<String> {
    let istio =
        ro.spec.canary().and_then(|c| c.traffic_routing.as_ref()).and_then(|t| t.istio.as_ref());
    let Some(istio) = istio else {
        return Vec::new();
    };
    istio
        .virtual_service
        .iter()
        .chain(istio.virtual_services.iter().flatten())
        .map(|v| v.name.clone())
        .collect()
}

/// Whether `object` (a Service, AnalysisTemplate, VirtualService or DestinationRule) is one
/// the Rollout `ro` (as JSON) names: changes to it must wake the Rollout.
pub(crate) fn names(ro: &weir_cluster::Object, kind: &str, name: &str) -> bool {
    let Some(strategy) = ro.field("spec").and_then(|s| s.get("strategy")) else {
        return false;
    };
    let mut found = false;
    visit(strategy, &mut |key, value| {
        let wanted = match kind {
            "Service" => key.ends_with("Service") && key != "virtualService",
            "AnalysisTemplate" | "ClusterAnalysisTemplate" => key == "templateName",
            "VirtualService" | "DestinationRule" => key == "name",
            _ => false,
        };
        let short = value.split('.').next().unwrap_or(value);
        found |= wanted && (value == name || short == name);
    });
    found
}

fn visit(value: &Value, f: &mut impl FnMut(&str, &str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let Value::String(s) = v {
                    f(k, s);
                }
                visit(v, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_are_listed_with_their_field_paths() {
        let ro: Rollout = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro", "namespace": "ns"},
            "spec": {"strategy": {"canary": {
                "stableService": "s", "canaryService": "c",
                "analysis": {"templates": [{"templateName": "bg"}]},
                "steps": [{"setWeight": 10},
                          {"analysis": {"templates": [{"templateName": "t", "clusterScope": true}]}}]
            }}}
        }))
        .expect("rollout");
        assert_eq!(
            services(&ro),
            [
                ("spec.strategy.canary.stableService".to_owned(), "s".to_owned()),
                ("spec.strategy.canary.canaryService".to_owned(), "c".to_owned())
            ]
        );
        assert_eq!(
            templates(&ro),
            [
                (
                    "spec.strategy.canary.steps[1].analysis.templates".to_owned(),
                    "t".to_owned(),
                    true
                ),
                ("spec.strategy.canary.analysis.templates".to_owned(), "bg".to_owned(), false)
            ]
        );
        assert_eq!(
            invalid("spec.strategy.canary.stableService", "s", "services \"s\" not found"),
            r#"spec.strategy.canary.stableService: Invalid value: "s": services "s" not found"#
        );
        let object = weir_cluster::Object::from_value(serde_json::to_value(&ro).expect("json"))
            .expect("object");
        assert!(names(&object, "Service", "s") && names(&object, "Service", "c"));
        assert!(names(&object, "AnalysisTemplate", "bg") && !names(&object, "Service", "bg"));
        assert!(!names(&object, "Service", "other"));
    }
}
