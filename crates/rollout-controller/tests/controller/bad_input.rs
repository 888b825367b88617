//! Bad input never crashes the controller, and is reported where users look (status phase,
//! message, conditions, events):
//! - every invalid-spec rule of Argo's validation vectors makes the Rollout Degraded with
//!   Argo's `InvalidSpec` message, and nothing is created;
//! - a missing Service, AnalysisTemplate, VirtualService, route or DestinationRule is an
//!   `InvalidSpec` too, retried until the object appears;
//! - a Deployment running pods the Rollout's selector also takes is reported.

use serde_json::{Value, json};
use weir_cluster::Cluster;

use crate::harness::*;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/argo-test-vectors/rollouts/durations-and-validation.yaml"
);

/// The message the vector expects in the condition, and whether it is the whole error text
/// (`firstError`) or only its detail.
fn expected(case: &Value) -> Option<(String, bool)> {
    let e = &case["expected"];
    if e["errorCount"] == 0 {
        return None;
    }
    if let Some(first) = e["firstError"].as_str() {
        return Some((first.to_owned(), true));
    }
    let detail = e["firstErrorDetail"].as_str().or_else(|| e["details"][0].as_str())?;
    Some((detail.to_owned(), false))
}

/// The vector's Rollout as a full object: sub-function cases get a selector and template
/// when they have none (so the rule under test is the first one broken), step cases become
/// the only step of a canary.
fn rollout_of(case: &Value, name: &str) -> Value {
    let mut spec = if case["function"] == "hasMultipleStepsType" {
        json!({"strategy": {"canary": {"steps": [case["rollout"]["step"].clone()]}}})
    } else {
        case["rollout"]["spec"].clone()
    };
    if case["function"] != "ValidateRollout" {
        if spec.get("selector").is_none() && spec.get("workloadRef").is_none() {
            spec["selector"] = json!({"matchLabels": {"app": name}});
        }
        if spec.get("template").is_none() && spec.get("workloadRef").is_none() {
            let labels = spec["selector"]["matchLabels"].clone();
            spec["template"] = json!({"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i"}]}});
        }
    }
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
           "metadata": {"name": name}, "spec": spec})
}

both_backends!(every_invalid_spec_rule_degrades_with_argos_message);
async fn every_invalid_spec_rule_degrades_with_argos_message(backend: Backend) {
    let text = std::fs::read_to_string(VECTORS).expect("vectors");
    let doc: Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let w = World::on(backend).await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, case) in doc["validation"].as_array().expect("cases").iter().enumerate() {
        let Some((want, whole)) = expected(case) else {
            continue;
        };
        let name = format!("case-{i}");
        let object = rollout_of(case, &name);
        if weir_cluster::Object::from_value(object.clone()).is_err() {
            continue;
        }
        w.create(object).await;
        let action = w.reconcile(&name).await;
        let (phase, message) = w.phase(&name).await;
        let prefix = format!("InvalidSpec: The Rollout \"{name}\" is invalid: ");
        let body = message.strip_prefix(&prefix);
        let ok = phase == "Degraded"
            && body.is_some_and(|b| if whole { b == want } else { b.contains(&want) })
            && action.requeue_after() == Some(std::time::Duration::from_secs(20));
        if !ok {
            failures.push(format!(
                "{} ({}): {phase} {message:?}, want {want:?}",
                case["name"], case["function"]
            ));
        }
        checked += 1;
    }
    assert!(w.list("replicasets").await.is_empty(), "an invalid Rollout creates nothing");
    assert!(checked >= 60, "only {checked} rules checked");
    assert!(failures.is_empty(), "{} of {checked} rules:\n{}", failures.len(), failures.join("\n"));
}

fn invalid_message(name: &str, error: &str) -> (String, String) {
    ("Degraded".to_owned(), format!("InvalidSpec: The Rollout \"{name}\" is invalid: {error}"))
}

both_backends!(missing_services_virtual_services_and_routes_are_reported_and_retried);
async fn missing_services_virtual_services_and_routes_are_reported_and_retried(backend: Backend) {
    let w = World::on(backend).await;
    let canary =
        with(host_level_routing("app"), json!({"steps": [{"setWeight": 10}, {"pause": {}}]}));
    w.create(canary_rollout("app", 1, canary)).await;
    let objects = host_level_objects("app");

    let action = w.reconcile("app").await;
    assert_eq!(action.requeue_after(), Some(std::time::Duration::from_secs(20)), "retried");
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.stableService: Invalid value: "app-stable": services "app-stable" not found"#
        )
    );
    w.create(objects[0].clone()).await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.canaryService: Invalid value: "app-canary": services "app-canary" not found"#
        )
    );
    w.create(objects[1].clone()).await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: "app": virtualservices.networking.istio.io "app" not found"#
        )
    );
    // A VirtualService without the named route, then one whose route lacks the canary.
    let mut vs = objects[2].clone();
    vs["spec"]["http"][0]["name"] = json!("other");
    w.create(vs).await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: "app": Istio VirtualService has invalid HTTP routes. Error: HTTP Route 'primary' is not found in the defined Virtual Service."#
        )
    );
    w.patch(
        "virtualservices",
        "app",
        json!({"spec": {"http": [{"name": "primary", "route": [
        {"destination": {"host": "app-stable"}, "weight": 100}]}]}}),
    )
    .await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.trafficRouting.istio.virtualService.name: Invalid value: "app": Istio VirtualService has invalid HTTP routes. Error: Canary Service 'app-canary' not found in route"#
        )
    );
    assert!(w.list("replicasets").await.is_empty(), "nothing is done meanwhile");
    w.patch("virtualservices", "app", json!({"spec": objects[2]["spec"].clone()})).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Healthy");
    let st = w.status("app").await;
    assert!(weir_rollout::conditions::get_condition(&st, "InvalidSpec").is_none());

    // Deleting the VirtualService mid-rollout is reported too, and healed when it returns.
    w.set_image("app", "app:v2").await;
    w.settle("app").await;
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (10, 90));
    let vs = w.get("virtualservices", "app").await;
    w.store
        .delete(&rt("virtualservices"), Some(NS), "app", &weir_cluster::DeleteParams::default())
        .await
        .expect("delete");
    w.reconcile("app").await;
    assert_eq!(w.phase("app").await.0, "Degraded");
    let mut vs_again = objects[2].clone();
    vs_again["metadata"]["name"] = vs["metadata"]["name"].clone();
    w.create(vs_again).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Paused");
    assert_eq!(w.vs_weights("app", "app-canary", "app-stable").await, (10, 90), "weights restored");
}

both_backends!(missing_destination_rule_and_analysis_template_are_reported);
async fn missing_destination_rule_and_analysis_template_are_reported(backend: Backend) {
    let w = World::on(backend).await;
    let objects = subset_level_objects("app");
    w.create(objects[0].clone()).await;
    w.create(objects[2].clone()).await;
    let canary = with(
        subset_level_routing("app"),
        json!({
        "analysis": {"templates": [{"templateName": "apdex"}]},
        "steps": [{"setWeight": 10}, {"pause": {}}]}),
    );
    w.create(canary_rollout("app", 1, canary)).await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.analysis.templates: Invalid value: "apdex": AnalysisTemplate 'apdex' not found"#
        )
    );
    w.create(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "apdex"},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}}))
        .await;
    w.reconcile("app").await;
    assert_eq!(
        w.phase("app").await,
        invalid_message(
            "app",
            r#"spec.strategy.canary.trafficRouting.istio.destinationRule.name: Invalid value: "app": destinationrules.networking.istio.io "app" not found"#
        )
    );
    w.create(objects[1].clone()).await;
    w.settle("app").await;
    assert_eq!(w.phase("app").await.0, "Healthy");
}

both_backends!(a_deployment_fighting_over_the_same_pods_is_reported);
async fn a_deployment_fighting_over_the_same_pods_is_reported(backend: Backend) {
    let w = World::on(backend).await;
    w.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app-v1"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}},
                 "template": template("app", "app:v1")}}))
        .await;
    w.create(canary_rollout("app", 2, json!({"steps": [{"setWeight": 50}]}))).await;
    w.settle("app").await;
    let st = w.status("app").await;
    let c = weir_rollout::conditions::get_condition(&st, "ReplicaFailure").expect("reported");
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "SelectorOverlap"));
    assert!(c.message.starts_with("Deployment \"app-v1\" runs 2 replica(s)"), "{}", c.message);
    let warnings: Vec<Value> = w
        .list("events")
        .await
        .into_iter()
        .filter(|e| e["reason"] == "SelectorOverlap" && e["type"] == "Warning")
        .collect();
    assert_eq!(warnings.len(), 1, "reported once, not on every pass");
    assert_eq!(warnings[0]["involvedObject"]["name"], "app");
    // The rollout itself is not blocked, and stops flapping: a settled world is a fixed point.
    assert_eq!(w.phase("app").await.0, "Healthy");
    let before = w.get("rollouts", "app").await["metadata"]["resourceVersion"].clone();
    w.reconcile("app").await;
    assert_eq!(w.get("rollouts", "app").await["metadata"]["resourceVersion"], before, "no write");

    // Scaling the Deployment down clears the report.
    w.patch("deployments", "app-v1", json!({"spec": {"replicas": 0}})).await;
    w.reconcile("app").await;
    let st = w.status("app").await;
    assert!(weir_rollout::conditions::get_condition(&st, "ReplicaFailure").is_none());
}
