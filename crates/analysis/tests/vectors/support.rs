//! Reading the vector files and turning their shorthand (time offsets, provider names,
//! `results`) into weir's model types.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};
use weir_model::rollouts::{AnalysisRun, AnalysisRunStatus, Argument, Metric, MetricResult};

/// The instant every vector's offsets are relative to.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("valid")
}

pub(crate) fn at(offset: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + offset).expect("valid")
}

pub(crate) fn offset_of(t: Option<&Time>) -> Option<i64> {
    t.map(|t| t.0.as_second() - 1_700_000_000)
}

pub(crate) fn load(file: &str) -> Value {
    let path = format!(
        "{}/../../../shared/fixtures/argo-test-vectors/analysis/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    serde_json::to_value(yaml).expect("YAML as JSON")
}

pub(crate) fn cases(section: &Value) -> &Vec<Value> {
    section["cases"].as_array().expect("cases")
}

/// A short name for a case: its test, case and name fields.
pub(crate) fn name(case: &Value) -> String {
    let mut s = String::new();
    for key in ["test", "case", "name"] {
        if let Some(v) = case.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let _ = write!(s, "{}{v}", if s.is_empty() { "" } else { " / " });
        }
    }
    if s.is_empty() { case.to_string() } else { s }
}

/// Collects failures so that one test reports every failing case.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) ran: usize,
    pub(crate) failures: Vec<String>,
}

impl Report {
    pub(crate) fn check(&mut self, case: &str, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(format!("{case}: {}", detail()));
        }
    }

    pub(crate) fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        case: &str,
        what: &str,
        got: T,
        want: T,
    ) {
        if got != want {
            self.failures.push(format!("{case}: {what}: got {got:?}, want {want:?}"));
        }
    }

    pub(crate) fn finish(self, section: &str, expected: usize) -> usize {
        assert!(
            self.failures.is_empty(),
            "{section}: {} failing case(s):\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert_eq!(self.ran, expected, "{section}: every case must run");
        self.ran
    }
}

fn time_json(v: &Value) -> Value {
    let offset = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim_start_matches('+').parse().ok(),
        _ => None,
    };
    match offset {
        Some(o) => json!(at(o).to_string()),
        None => Value::Null,
    }
}

/// Converts offsets in time fields into RFC 3339 strings, recursively.
pub(crate) fn times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if matches!(
                    k.as_str(),
                    "startedAt" | "finishedAt" | "resumeAt" | "completedAt" | "deletionTimestamp"
                ) {
                    *val = time_json(val);
                } else {
                    times(val);
                }
            }
            map.retain(|_, v| !v.is_null());
        }
        Value::Array(items) => items.iter_mut().for_each(times),
        _ => {}
    }
}

/// A provider written as a name, a list of names or a map.
fn provider(v: &Value) -> Value {
    match v {
        Value::String(s) => json!({ s.as_str(): {} }),
        Value::Array(names) => {
            let mut m = Map::new();
            for n in names {
                m.insert(n.as_str().expect("provider name").to_owned(), json!({}));
            }
            Value::Object(m)
        }
        other => other.clone(),
    }
}

pub(crate) fn metric(v: &Value) -> Metric {
    let mut v = v.clone();
    if let Some(p) = v.get("provider") {
        v["provider"] = provider(p);
    }
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("metric {v}: {e}"))
}

pub(crate) fn metrics(v: &Value) -> Vec<Metric> {
    v.as_array().map(|a| a.iter().map(metric).collect()).unwrap_or_default()
}

pub(crate) fn result(v: &Value) -> MetricResult {
    let mut v = v.clone();
    times(&mut v);
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("result {v}: {e}"))
}

pub(crate) fn status(v: &Value) -> AnalysisRunStatus {
    let mut v = if v.is_object() { v.clone() } else { json!({}) };
    if let Some(r) = v.as_object_mut().and_then(|m| m.remove("results")) {
        v["metricResults"] = r;
    }
    times(&mut v);
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("status {v}: {e}"))
}

pub(crate) fn args(v: &Value) -> Vec<Argument> {
    serde_json::from_value(if v.is_null() { json!([]) } else { v.clone() }).expect("args")
}

pub(crate) fn opt_args(v: &Value) -> Option<Vec<Argument>> {
    (!v.is_null()).then(|| args(v))
}

pub(crate) fn run(metrics: Vec<Metric>, status: Option<AnalysisRunStatus>) -> AnalysisRun {
    let mut run: AnalysisRun = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "run", "namespace": "default"}, "spec": {"metrics": []}
    }))
    .expect("run");
    run.spec.metrics = metrics;
    run.status = status;
    run
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}
