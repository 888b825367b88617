//! Argo Rollouts' validation and duration vectors
//! (`shared/fixtures/argo-test-vectors/rollouts/durations-and-validation.yaml`), every case,
//! plus a round trip of the Argo Rollouts example manifests through the typed model.

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use weir_model::Diagnostic;
use weir_model::rollouts::{
    AnalysisRun, AnalysisTemplate, CanaryStep, ClusterAnalysisTemplate, Experiment, Metric, Rollout,
};
use weir_model::validate::{analysis, rollout as rv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

/// Cases where weir deliberately differs from Argo, by name, with the reason.
const SKIPPED: &[(&str, &str)] = &[];

fn load_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rollout_from(case: &Value) -> Rollout {
    let mut obj = case["rollout"].clone();
    let map = obj.as_object_mut().expect("rollout is a mapping");
    map.insert("apiVersion".into(), json!("argoproj.io/v1alpha1"));
    map.insert("kind".into(), json!("Rollout"));
    map.insert("metadata".into(), json!({"name": "guestbook"}));
    serde_json::from_value(obj).unwrap_or_else(|e| panic!("rollout does not parse: {e}"))
}

fn run_validation_case(case: &Value) -> Result<(), String> {
    let function = case["function"].as_str().unwrap_or_default();
    let path = case["fieldPath"].as_str().unwrap_or("");
    let errors: Vec<Diagnostic> = match function {
        "hasMultipleStepsType" => {
            let step: CanaryStep = serde_json::from_value(case["rollout"]["step"].clone())
                .map_err(|e| format!("step does not parse: {e}"))?;
            rv::has_multiple_steps_type(&step, path)
        }
        _ => {
            let ro = rollout_from(case);
            match function {
                "ValidateRollout" => weir_model::validate::validate_rollout(&ro),
                "ValidateRolloutStrategy" => rv::validate_rollout_strategy(&ro, path),
                "ValidateRolloutStrategyBlueGreen" => {
                    rv::validate_rollout_strategy_blue_green(&ro, path)
                }
                "ValidateRolloutStrategyCanary" => rv::validate_rollout_strategy_canary(&ro, path),
                "ValidateRolloutStrategyAntiAffinity" => {
                    let aa =
                        ro.spec.canary().and_then(|c| c.anti_affinity.as_ref()).or_else(|| {
                            ro.spec.blue_green().and_then(|b| b.anti_affinity.as_ref())
                        });
                    rv::validate_rollout_strategy_anti_affinity(aa, path)
                }
                "invalidMaxSurgeMaxUnavailable" => rv::invalid_max_surge_max_unavailable(&ro, path),
                other => return Err(format!("unknown function {other}")),
            }
        }
    };
    let expected = &case["expected"];
    let all = || errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n    ");
    if let Some(n) = expected["errorCount"].as_u64()
        && errors.len() as u64 != n
    {
        return Err(format!("want {n} errors, got {}:\n    {}", errors.len(), all()));
    }
    let first = |what: &str| errors.first().ok_or_else(|| format!("want {what}, got no errors"));
    if let Some(want) = expected["firstErrorDetail"].as_str()
        && first("an error")?.detail != want
    {
        return Err(format!("first detail: want {want:?}, got:\n    {}", all()));
    }
    if let Some(want) = expected["firstErrorField"].as_str()
        && first("an error")?.field != want
    {
        return Err(format!("first field: want {want:?}, got:\n    {}", all()));
    }
    if let Some(want) = expected["firstError"].as_str()
        && first("an error")?.to_string() != want
    {
        return Err(format!("first error: want {want:?}, got:\n    {}", all()));
    }
    if let Some(want) = expected["details"].as_array() {
        let got: Vec<&str> = errors.iter().map(|e| e.detail.as_str()).collect();
        let want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
        if got != want {
            return Err(format!("details: want {want:?}, got {got:?}"));
        }
    }
    Ok(())
}

fn run_pause_case(case: &Value) -> Result<(), String> {
    let duration = match &case["duration"] {
        Value::Null => None,
        Value::Number(n) => Some(IntOrString::Int(n.as_i64().ok_or("int")? as i32)),
        Value::String(s) => Some(IntOrString::String(s.clone())),
        other => return Err(format!("unexpected duration {other}")),
    };
    let got = weir_model::duration::pause_duration_seconds(duration.as_ref());
    let want = case["expectedSeconds"].as_i64().ok_or("expectedSeconds")?;
    if i64::from(got) != want {
        return Err(format!("{:?}: want {want}, got {got}", case["duration"]));
    }
    Ok(())
}

fn run_metric_case(case: &Value) -> Result<(), String> {
    let metric: Metric =
        serde_json::from_value(case["metric"].clone()).map_err(|e| format!("metric: {e}"))?;
    let errors = weir_model::validate::validate_metrics(&[metric]);
    let got = errors.first().map(analysis::argo_error_text);
    let expected = &case["expected"];
    let want = match (&expected["error"], &expected["errorWithCurrentGo"]) {
        (_, Value::String(s)) => Some(s.clone()),
        (Value::String(s), _) => Some(s.clone()),
        _ => None,
    };
    if got != want {
        return Err(format!("want {want:?}, got {got:?}"));
    }
    if let Some(re) = expected["errorRegex"].as_str() {
        let re = regex::Regex::new(re).map_err(|e| e.to_string())?;
        if !re.is_match(got.as_deref().unwrap_or("")) {
            return Err(format!("{got:?} does not match {re}"));
        }
    }
    Ok(())
}

#[test]
fn durations_and_validation_vectors() {
    let vectors = load_yaml(
        &PathBuf::from(FIXTURES).join("argo-test-vectors/rollouts/durations-and-validation.yaml"),
    );
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut skipped = 0;
    for (section, run) in [
        ("validation", run_validation_case as fn(&Value) -> Result<(), String>),
        ("pauseDuration", run_pause_case),
        ("analysisMetricDurations", run_metric_case),
    ] {
        let cases = vectors[section].as_array().unwrap_or_else(|| panic!("no section {section}"));
        assert!(!cases.is_empty(), "{section} is empty");
        for (i, case) in cases.iter().enumerate() {
            let name = case["name"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("duration {}", case["duration"]));
            if SKIPPED.iter().any(|(n, _)| *n == name) {
                skipped += 1;
                continue;
            }
            match std::panic::catch_unwind(|| run(case)) {
                Ok(Ok(())) => passed += 1,
                Ok(Err(e)) => failures.push(format!("{section}[{i}] {name:?}: {e}")),
                Err(_) => failures.push(format!("{section}[{i}] {name:?}: panicked")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors failed ({passed} passed):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed + skipped, 98, "the vector file should hold 98 cases");
}

/// YAML files under `dir`, recursively, skipping Helm templates.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &Value,
) -> Result<(), String> {
    let typed: T = serde_path_to_error::deserialize(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    diff("", doc, &back, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("round trip differs:\n  {}", diffs.join("\n  ")))
    }
}

/// Paths where two JSON values differ.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                diff(&format!("{path}.{k}"), v, y.get(k).unwrap_or(&Value::Null), out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: absent -> {v}"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
}

#[test]
fn example_manifests_round_trip() {
    let mut files = Vec::new();
    yaml_files(&PathBuf::from(FIXTURES).join("argo-rollouts-examples"), &mut files);
    yaml_files(&PathBuf::from(FIXTURES).join("seed-demo/argo/rollout"), &mut files);
    files.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        if file.components().any(|c| c.as_os_str() == "templates") {
            continue; // Helm templates
        }
        for (n, de) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let Ok(doc) = <Value as serde::Deserialize>::deserialize(de) else { continue };
            if doc["apiVersion"] != "argoproj.io/v1alpha1" {
                continue;
            }
            let result = match doc["kind"].as_str().unwrap_or_default() {
                "Rollout" => round_trip::<Rollout>(&doc).and_then(|()| {
                    // Example manifests are valid rollouts.
                    let ro: Rollout =
                        serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
                    let errs = weir_model::validate::validate_rollout(&ro);
                    if errs.is_empty() {
                        Ok(())
                    } else {
                        Err(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
                    }
                }),
                "AnalysisTemplate" => round_trip::<AnalysisTemplate>(&doc),
                "ClusterAnalysisTemplate" => round_trip::<ClusterAnalysisTemplate>(&doc),
                "AnalysisRun" => round_trip::<AnalysisRun>(&doc),
                "Experiment" => round_trip::<Experiment>(&doc),
                _ => continue,
            };
            checked += 1;
            if let Err(e) = result {
                failures.push(format!("{} (document {n}): {e}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} documents failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 30, "only {checked} Argo documents found");
}

/// A value for every property the schema declares (one element per list, one key per map).
fn maximal(schema: &Value) -> Value {
    if schema["x-kubernetes-int-or-string"] == true {
        return json!("1");
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str().unwrap_or_default() {
        "string" => match schema["format"].as_str() {
            Some("date-time") => json!("2024-05-01T10:00:00Z"),
            Some("byte") => json!("eA=="),
            _ => json!("x"),
        },
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "array" => json!([maximal(&schema["items"])]),
        _ => {
            if let Some(props) = schema["properties"].as_object() {
                // Untyped free-form properties are Kubernetes lists Argo trimmed from the
                // schema (e.g. `volumes`); they have no sample value.
                Value::Object(
                    props
                        .iter()
                        .filter(|(_, v)| {
                            v["x-kubernetes-preserve-unknown-fields"] != true
                                || !v["type"].is_null()
                        })
                        .map(|(k, v)| (k.clone(), maximal(v)))
                        .collect(),
                )
            } else if schema["additionalProperties"].is_object() {
                json!({ "k": maximal(&schema["additionalProperties"]) })
            } else if schema["x-kubernetes-preserve-unknown-fields"] == true {
                json!({ "k": "v" })
            } else {
                json!({})
            }
        }
    }
}

/// Every property of every CRD schema deserializes into the model (unknown fields are denied)
/// and is written back unchanged.
#[test]
fn crd_schemas_fully_modelled() {
    let dir = PathBuf::from(FIXTURES).join("crds/argo-rollouts");
    for (file, check) in [
        ("rollout-crd.yaml", round_trip::<Rollout> as fn(&Value) -> Result<(), String>),
        ("analysis-template-crd.yaml", round_trip::<AnalysisTemplate>),
        ("cluster-analysis-template-crd.yaml", round_trip::<ClusterAnalysisTemplate>),
        ("analysis-run-crd.yaml", round_trip::<AnalysisRun>),
        ("experiment-crd.yaml", round_trip::<Experiment>),
    ] {
        let crd = load_yaml(&dir.join(file));
        let version = &crd["spec"]["versions"][0];
        let mut doc = maximal(&version["schema"]["openAPIV3Schema"]);
        doc["apiVersion"] = json!("argoproj.io/v1alpha1");
        doc["kind"] = crd["spec"]["names"]["kind"].clone();
        doc["metadata"] = json!({"name": "x", "namespace": "y"});
        if let Err(e) = check(&doc) {
            panic!("{file}: {e}");
        }
    }
}
