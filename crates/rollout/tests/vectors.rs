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
        let got = replicas::desired_canary_weight_on_abort(&ro, rs(&c["stableRS"]).as_ref());
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
            u64::from(hash::fnv1a32(input.as_bytes())),
            c["expected"].as_u64().unwrap_or(0),
        );
    }
    for c in cases(&doc, "safeEncodeString") {
        let input = c["input"].as_str().unwrap_or("");
        report.check(
            &format!("safeEncode {input}"),
            hash::safe_encode_string(input),
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
