//! Argo Rollouts' own unit-test vectors (`shared/fixtures/argo-test-vectors/rollouts/`), run
//! data-driven: one test per file section family, one case per vector, failures name the case.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Value, json};
use weir_model::rollouts::{
    CanaryStep, ReplicaProgressThreshold, Rollout, RolloutCondition, TrafficWeights,
};
use weir_rollout::replicas::{self, ReplicaSetView};
use weir_rollout::{JsonForm, conditions, hash, phase, steps};

const DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/argo-test-vectors/rollouts/");

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DIR}{file}")).expect("vector file");
    serde_yaml_ng::from_str(&text).expect("vector yaml")
}

fn cases<'a>(doc: &'a Value, section: &str) -> &'a [Value] {
    doc[section].as_array().map(Vec::as_slice).unwrap_or_else(|| panic!("section {section}"))
}

fn name(case: &Value, i: usize) -> String {
    case["name"].as_str().map_or_else(|| format!("#{i}"), str::to_owned)
}

/// Fails with every mismatching case named, after running them all.
struct Report(Vec<String>, usize);
impl Report {
    fn new() -> Self {
        Report(Vec::new(), 0)
    }
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, case: &str, got: T, want: T) {
        self.1 += 1;
        if got != want {
            self.0.push(format!("{case}: got {got:?}, want {want:?}"));
        }
    }
    fn finish(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} of {} failed:\n{}",
            self.0.len(),
            self.1,
            self.0.join("\n")
        );
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The Rollout of a replica-counts vector (`rollout` + `status` blocks).
fn replica_rollout(r: &Value, status: &Value) -> Rollout {
    let strategy = r["strategy"].as_str().unwrap_or("canary");
    let mut canary = json!({});
    for key in [
        "maxSurge",
        "maxUnavailable",
        "steps",
        "trafficRouting",
        "dynamicStableScale",
        "minPodsPerReplicaSet",
        "abortScaleDownDelaySeconds",
    ] {
        if !r[key].is_null() {
            canary[key] = strip_nulls(&r[key]);
        }
    }
    let strategy = match strategy {
        "canary" => json!({"canary": canary}),
        "blueGreen" => json!({"blueGreen": {"activeService": "active"}}),
        _ => json!({}),
    };
    let mut spec = json!({"strategy": strategy});
    if !r["replicas"].is_null() {
        spec["replicas"] = r["replicas"].clone();
    }
    let mut st = strip_nulls(status);
    if let Some(w) = status.get("trafficWeights").filter(|w| !w.is_null()) {
        st["canary"] = json!({"weights": {"canary": {"weight": w["canary"]}, "stable": {"weight": w["stable"]}}});
    }
    if let Some(o) = st.as_object_mut() {
        o.remove("trafficWeights");
    }
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "rollout", "namespace": "default"},
        "spec": spec, "status": st,
    }))
    .unwrap_or_else(|e| panic!("rollout from {r} / {status}: {e}"))
}

fn rs(v: &Value) -> Option<ReplicaSetView> {
    if v.is_null() {
        return None;
    }
    let name = v["name"].as_str().unwrap_or("rs").to_owned();
    Some(ReplicaSetView {
        hash: name.clone(),
        name,
        spec_replicas: v["specReplicas"].as_i64().map(|x| x as i32),
        status_replicas: v["statusReplicas"].as_i64().unwrap_or(0) as i32,
        ready_replicas: 0,
        available_replicas: v["availableReplicas"].as_i64().unwrap_or(0) as i32,
        annotations: BTreeMap::new(),
    })
}

fn weights(v: &Value) -> Option<TrafficWeights> {
    if v.is_null() {
        return None;
    }
    let mut w = TrafficWeights::default();
    w.canary.weight = v["canary"].as_i64().unwrap_or(0) as i32;
    w.stable.weight = v["stable"].as_i64().unwrap_or(0) as i32;
    Some(w)
}

fn counts_case(report: &mut Report, case: &Value, label: &str) {
    let ro = replica_rollout(&case["rollout"], &case["status"]);
    let (canary_rs, stable_rs) = (rs(&case["canaryRS"]), rs(&case["stableRS"]));
    let others: Vec<ReplicaSetView> =
        case["otherRSs"].as_array().into_iter().flatten().filter_map(rs).collect();
    let status_weights = weights(&case["trafficWeights"]);
    let (canary, stable) = match case["function"].as_str() {
        Some("CalculateReplicaCountsForBasicCanary") => replicas::basic_canary_replica_counts(
            &ro,
            canary_rs.as_ref(),
            stable_rs.as_ref(),
            &others,
        ),
        Some("CalculateReplicaCountsForTrafficRoutedCanary") => {
            replicas::traffic_routed_canary_replica_counts(
                &ro,
                canary_rs.as_ref(),
                stable_rs.as_ref(),
                status_weights.as_ref(),
            )
        }
        other => panic!("{label}: unknown function {other:?}"),
    };
    let want = &case["expected"];
    if let Some(c) = want["canary"].as_i64() {
        report.check(&format!("{label} (canary)"), canary, c as i32);
    }
    if let Some(s) = want["stable"].as_i64() {
        report.check(&format!("{label} (stable)"), stable, s as i32);
    }
}

#[test]
fn replica_counts() {
    let doc = load("replica-counts.yaml");
    let mut report = Report::new();
    for section in [
        "calculateReplicaCountsForCanary",
        "trafficRoutedDynamicStableScale",
        "singleCaseReplicaCountTests",
    ] {
        for (i, case) in cases(&doc, section).iter().enumerate() {
            counts_case(&mut report, case, &format!("{section}/{}", name(case, i)));
        }
    }
    for (i, c) in cases(&doc, "approximateWeightedCanaryStableReplicaCounts").iter().enumerate() {
        let n = |k: &str| c[k].as_i64().unwrap_or(0) as i32;
        let got = replicas::approximate_weighted_canary_stable_replica_counts(
            n("replicas"),
            n("weight"),
            n("maxWeight"),
            n("maxSurge"),
        );
        let want = (
            c["expected"]["canary"].as_i64().unwrap_or(-1) as i32,
            c["expected"]["stable"].as_i64().unwrap_or(-1) as i32,
        );
        report.check(&format!("approximate #{i} {c}"), got, want);
    }
    for (i, c) in cases(&doc, "trafficWeightToReplicas").iter().enumerate() {
        let n = |k: &str| c[k].as_i64().unwrap_or(0) as i32;
        let got = replicas::traffic_weight_to_replicas(n("replicas"), n("weight"), n("maxWeight"));
        report.check(&format!("trafficWeightToReplicas #{i}"), got, n("expected"));
    }
    for (i, c) in cases(&doc, "desiredCanaryWeightOnAbort").iter().enumerate() {
        let ro = replica_rollout(&c["rollout"], &c["status"]);
        let got = replicas::desired_canary_weight_on_abort(&ro, rs(&c["stableRS"]).as_ref(), None);
        report.check(&name(c, i), got, c["expected"]["weight"].as_i64().unwrap_or(-1) as i32);
    }
    for (i, c) in cases(&doc, "currentSetWeight").iter().enumerate() {
        let ro = replica_rollout(&c["rollout"], &c["status"]);
        report.check(
            &name(c, i),
            steps::current_set_weight(&ro),
            c["expected"]["weight"].as_i64().unwrap_or(-1) as i32,
        );
    }
    for (i, c) in cases(&doc, "canaryReplicasOrWeight").iter().enumerate() {
        let ro = replica_rollout(&c["rollout"], &c["status"]);
        let want = (
            c["expected"]["replicas"].as_i64().map(|x| x as i32),
            c["expected"]["weight"].as_i64().unwrap_or(-1) as i32,
        );
        report.check(&name(c, i), steps::canary_replicas_or_weight(&ro), want);
    }
    for (i, c) in cases(&doc, "replicasForScaleDown").iter().enumerate() {
        let got = replicas::replicas_for_scale_down(
            rs(&c["rs"]).as_ref(),
            c["ignoreAvailability"].as_bool().unwrap_or(false),
        );
        report.check(&name(c, i), got, c["expected"].as_i64().unwrap_or(-1) as i32);
    }
    for (i, c) in cases(&doc, "atDesiredReplicaCountsForCanary").iter().enumerate() {
        let ro = replica_rollout(&c["rollout"], &c["status"]);
        let others: Vec<ReplicaSetView> =
            c["otherRSs"].as_array().into_iter().flatten().filter_map(rs).collect();
        let got = replicas::at_desired_replica_counts_for_canary(
            &ro,
            rs(&c["canaryRS"]).as_ref(),
            rs(&c["stableRS"]).as_ref(),
            &others,
            weights(&c["trafficWeights"]).as_ref(),
        );
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "replicaProgressThresholdMet").iter().enumerate() {
        let threshold: Option<ReplicaProgressThreshold> = if c["threshold"].is_null() {
            None
        } else {
            Some(serde_json::from_value(c["threshold"].clone()).expect("threshold"))
        };
        let got = replicas::replica_progress_threshold_met(
            threshold.as_ref(),
            rs(&c["rs"]).as_ref(),
            c["desired"].as_i64().unwrap_or(0) as i32,
        );
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "allDesiredAreAvailable").iter().enumerate() {
        let got = replicas::all_desired_are_available(
            rs(&c["rs"]).as_ref(),
            c["desired"].as_i64().unwrap_or(0) as i32,
        );
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "resolveFenceposts").iter().enumerate() {
        let io = |k: &str| {
            c[k].as_str().map(|s| {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s.to_owned())
            })
        };
        let got = replicas::resolve_fenceposts(
            io("maxSurge").as_ref(),
            io("maxUnavailable").as_ref(),
            c["desired"].as_i64().unwrap_or(0) as i32,
        );
        let e = &c["expected"];
        let want = if e["error"].as_bool() == Some(true) {
            None
        } else {
            Some((
                e["surge"].as_i64().unwrap_or(0) as i32,
                e["unavailable"].as_i64().unwrap_or(0) as i32,
            ))
        };
        report.check(&name(c, i), got.ok(), want);
    }
    for section in ["maxSurge", "maxUnavailable"] {
        for (i, c) in cases(&doc, section).iter().enumerate() {
            let ro = replica_rollout(c, &json!({}));
            let got = if section == "maxSurge" {
                replicas::max_surge(&ro)
            } else {
                replicas::max_unavailable(&ro)
            };
            report.check(
                &format!("{section}/{}", name(c, i)),
                got,
                c["expected"].as_i64().unwrap_or(-1) as i32,
            );
        }
    }
    let total: usize =
        doc.as_object().map_or(0, |o| o.values().filter_map(Value::as_array).map(Vec::len).sum());
    assert_eq!(total, 169, "every replica-count vector is a case above");
    report.finish("replica-counts.yaml");
}

#[test]
fn pod_template_hash() {
    let doc = load("pod-template-hash.yaml");
    let mut report = Report::new();
    for (i, c) in cases(&doc, "fnv1a32").iter().enumerate() {
        let input = c["input"].as_str().unwrap_or("");
        report.check(
            &format!("fnv1a32 #{i}"),
            u64::from(weir_gocompat::fnv::fnv1a32(input.as_bytes())),
            c["expected"].as_u64().unwrap_or(0),
        );
    }
    for c in cases(&doc, "safeEncodeString") {
        let input = c["input"].as_str().unwrap_or("");
        report.check(
            &format!("safeEncode {input}"),
            weir_gocompat::safe_encode_string(input),
            c["expected"].as_str().unwrap_or("").to_owned(),
        );
    }
    for (i, c) in cases(&doc, "stepHash").iter().enumerate() {
        let steps: Option<Vec<CanaryStep>> =
            serde_json::from_value(c["steps"].clone()).expect("steps");
        let strategy = if c["strategy"] == "blueGreen" {
            json!({"blueGreen": {"activeService": "a"}})
        } else {
            let mut canary = json!({});
            if let Some(s) = &steps {
                canary["steps"] = serde_json::to_value(s).expect("steps json");
            }
            json!({"canary": canary})
        };
        let ro: Rollout =
            serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r"}, "spec": {"strategy": strategy}}))
            .expect("rollout");
        report.check(
            &name(c, i),
            hash::step_hash(&ro),
            c["expected"].as_str().unwrap_or("").to_owned(),
        );
    }
    for (section, form) in [
        ("podTemplateHash", JsonForm::Current),
        ("podTemplateHashLegacy", JsonForm::Legacy),
        ("podTemplateHashDerived", JsonForm::Current),
    ] {
        for (i, c) in cases(&doc, section).iter().enumerate() {
            let template: PodTemplateSpec =
                serde_json::from_value(c["template"].clone()).expect("template");
            let collision = c["collisionCount"].as_i64().map(|x| x as i32);
            let got = hash::pod_template_hash_in(form, &template, collision);
            report.check(
                &format!("{section}/{}", name(c, i)),
                got,
                c["expected"].as_str().unwrap_or("").to_owned(),
            );
        }
    }
    assert_eq!(report.1, 32, "every hash vector runs");
    report.finish("pod-template-hash.yaml");
}

const T0: &str = "2024-01-01T00:00:00Z";

/// Fills the times a vector leaves out of conditions and pause conditions.
fn with_times(list: &Value, key: &str, keys: &[&str]) -> Value {
    let mut list = strip_nulls(list);
    for item in list.as_array_mut().into_iter().flatten() {
        for k in keys {
            if item.get(*k).is_none() {
                item[*k] = json!(item.get(key).cloned().unwrap_or(json!(T0)));
            }
        }
        if let Some(o) = item.as_object_mut() {
            o.remove("lastUpdateSecondsAgo");
        }
    }
    list
}

fn condition_list(v: &Value) -> Value {
    with_times(v, "lastUpdateTime", &["lastTransitionTime", "lastUpdateTime", "message", "status"])
}

/// A whole Rollout of a phase vector (`metadata`, `spec`, `status`).
fn phase_rollout(r: &Value) -> Rollout {
    let mut r = strip_nulls(r);
    let from_ref = r["spec"]["templateResolvedFromRef"].as_bool().unwrap_or(false);
    if let Some(spec) = r["spec"].as_object_mut() {
        spec.remove("templateResolvedFromRef");
        if from_ref {
            spec.insert("workloadRef".into(), json!({"kind": "Deployment", "name": "w"}));
        }
    }
    if let Some(status) = r.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(c) = status.get("conditions").cloned() {
            status.insert("conditions".into(), condition_list(&c));
        }
        if let Some(p) = status.get("pauseConditions").cloned() {
            status.insert("pauseConditions".into(), with_times(&p, "startTime", &["startTime"]));
        }
    }
    serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": r["metadata"], "spec": r["spec"], "status": r["status"]}))
    .unwrap_or_else(|e| panic!("rollout {r}: {e}"))
}

fn status_of(v: &Value) -> weir_model::rollouts::RolloutStatus {
    let mut v = strip_nulls(v);
    if let Some(c) = v.get("conditions").cloned() {
        v["conditions"] = condition_list(&c);
    }
    serde_json::from_value(v).expect("status")
}

fn simple_rollout(strategy: &str, replicas: Option<i64>, generation: Option<i64>) -> Rollout {
    let strategy = match strategy {
        "blueGreen" => json!({"blueGreen": {"activeService": "active"}}),
        _ => json!({"canary": {}}),
    };
    let mut spec = json!({"strategy": strategy});
    if let Some(r) = replicas {
        spec["replicas"] = json!(r);
    }
    serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "generation": generation}, "spec": spec}))
    .expect("rollout")
}

fn cond_summary(list: &[RolloutCondition]) -> Vec<(String, String, String, String)> {
    list.iter()
        .map(|c| {
            (c.type_.clone(), c.status.clone(), c.reason.clone(), c.last_update_time.0.to_string())
        })
        .collect()
}

#[test]
fn phase_and_message() {
    let doc = load("phase-and-message.yaml");
    let mut report = Report::new();
    let mut vectors = 0;
    for (i, c) in cases(&doc, "getRolloutPhase").iter().enumerate() {
        vectors += 1;
        let ro = phase_rollout(&c["rollout"]);
        let (phase, message) = phase::get_rollout_phase(&ro);
        let want = (
            c["expected"]["phase"].as_str().unwrap_or("").to_owned(),
            c["expected"]["message"].as_str().unwrap_or("").to_owned(),
        );
        report.check(&name(c, i), (phase.as_str().to_owned(), message), want);
    }
    for (i, c) in cases(&doc, "isGenerationObserved").iter().enumerate() {
        vectors += 1;
        let got = phase::is_generation_observed(
            c["generation"].as_i64().unwrap_or(0),
            c["observedGeneration"].as_str().unwrap_or(""),
        );
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "isWorkloadGenerationObserved").iter().enumerate() {
        vectors += 1;
        let mut ro = simple_rollout("canary", Some(1), None);
        if let Some(a) = c["annotation"].as_str() {
            ro.metadata.annotations =
                Some([(phase::WORKLOAD_GENERATION_ANNOTATION.to_owned(), a.to_owned())].into());
        }
        ro.status = Some(weir_model::rollouts::RolloutStatus {
            workload_observed_generation: c["workloadObservedGeneration"]
                .as_str()
                .map(str::to_owned),
            ..Default::default()
        });
        report.check(
            &name(c, i),
            phase::is_workload_generation_observed(&ro),
            c["expected"].as_bool().unwrap_or(false),
        );
    }
    for (i, c) in cases(&doc, "isFullyPromoted").iter().enumerate() {
        vectors += 1;
        let mut ro = simple_rollout("canary", None, None);
        ro.status = Some(status_of(
            &json!({"stableRS": c["stableRS"], "currentPodHash": c["currentPodHash"]}),
        ));
        report.check(
            &name(c, i),
            conditions::is_fully_promoted(&ro),
            c["expected"].as_bool().unwrap_or(false),
        );
    }
    for c in cases(&doc, "canaryStepString") {
        vectors += 1;
        let step: CanaryStep = serde_json::from_value(c["step"].clone()).expect("step");
        report.check(
            &format!("canaryStepString {}", c["step"]),
            steps::canary_step_string(&step),
            c["expected"].as_str().unwrap_or("").to_owned(),
        );
    }
    for (i, c) in cases(&doc, "shouldVerifyWeight").iter().enumerate() {
        vectors += 1;
        let ro: Rollout = serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r"}, "spec": {"strategy": {"canary": {"steps": c["steps"]}}},
            "status": strip_nulls(&json!({"stableRS": c["stableRS"], "currentPodHash": c["currentPodHash"], "currentStepIndex": c["currentStepIndex"]}))})).expect("rollout");
        let got = steps::should_verify_weight(&ro, c["desiredWeight"].as_i64().unwrap_or(0) as i32);
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "rolloutProgressing").iter().enumerate() {
        vectors += 1;
        let ro = simple_rollout(c["strategy"].as_str().unwrap_or("canary"), None, None);
        let got = conditions::rollout_progressing(
            &ro,
            &status_of(&c["rolloutStatus"]),
            &status_of(&c["newStatus"]),
        );
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "rolloutHealthy").iter().enumerate() {
        vectors += 1;
        let r = &c["rollout"];
        let mut spec = json!({"replicas": r["spec"]["replicas"]});
        if !r["spec"]["strategy"].is_null() {
            spec["strategy"] = r["spec"]["strategy"].clone();
        }
        let ro: Rollout =
            serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "generation": r["generation"]}, "spec": spec}))
            .expect("rollout");
        let got = conditions::rollout_healthy(&ro, &status_of(&r["status"]));
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "rolloutCompleted").iter().enumerate() {
        vectors += 1;
        let got = conditions::rollout_completed(&status_of(
            &json!({"stableRS": c["stableRS"], "currentPodHash": c["currentPodHash"]}),
        ));
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    let now: k8s_openapi::jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("now");
    for (i, c) in cases(&doc, "rolloutTimedOut").iter().enumerate() {
        vectors += 1;
        let mut ro = simple_rollout("canary", None, None);
        ro.spec.progress_deadline_seconds = c["progressDeadlineSeconds"].as_i64().map(|x| x as i32);
        let mut conds = c["conditions"].clone();
        for cond in conds.as_array_mut().into_iter().flatten() {
            let ago = cond["lastUpdateSecondsAgo"].as_i64().unwrap_or(0);
            let at = now - k8s_openapi::jiff::SignedDuration::from_secs(ago);
            cond["lastUpdateTime"] = json!(at.to_string());
        }
        let got =
            conditions::rollout_timed_out(&ro, &status_of(&json!({"conditions": conds})), now);
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "getCondition").iter().enumerate() {
        vectors += 1;
        let st = status_of(&json!({"conditions": c["conditions"]}));
        let got = conditions::get_condition(&st, c["type"].as_str().unwrap_or("")).is_some();
        report.check(&name(c, i), got, c["expected"].as_bool().unwrap_or(false));
    }
    for (i, c) in cases(&doc, "setCondition").iter().enumerate() {
        vectors += 1;
        let mut st = status_of(&json!({"conditions": c["conditions"]}));
        let cond = status_of(&json!({"conditions": [c["condition"]]}))
            .conditions
            .unwrap_or_default()
            .remove(0);
        conditions::set_condition(&mut st, cond);
        let want = status_of(&json!({"conditions": c["expected"]})).conditions.unwrap_or_default();
        report.check(
            &name(c, i),
            cond_summary(&st.conditions.unwrap_or_default()),
            cond_summary(&want),
        );
    }
    for (i, c) in cases(&doc, "removeCondition").iter().enumerate() {
        vectors += 1;
        let mut st = status_of(&json!({"conditions": c["conditions"]}));
        conditions::remove_condition(&mut st, c["type"].as_str().unwrap_or(""));
        let want = status_of(&json!({"conditions": c["expected"]})).conditions.unwrap_or_default();
        report.check(
            &name(c, i),
            cond_summary(&st.conditions.unwrap_or_default()),
            cond_summary(&want),
        );
    }
    // controllerObservedMessages are illustrative (whole controller fixtures, not one
    // function); the canary scenario tests assert the same messages end to end.
    vectors += cases(&doc, "controllerObservedMessages").len();
    assert_eq!(vectors, 95, "every phase-and-message vector is accounted for");
    report.finish("phase-and-message.yaml");
}
