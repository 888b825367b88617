//! Argo's provider test vectors (`analysis/expressions.yaml`, `providers.prometheus`,
//! `providers.skywalking`, `providers.web`): each case's backend answer is served by a stub
//! HTTP server and measured through the real provider, one case per vector.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{Value, json};
use weir_analysis::{MeasureRequest, MetricProvider};
use weir_analysis_controller::{PrometheusProvider, SkyWalkingProvider, WebProvider};
use weir_model::rollouts::{AnalysisRun, Measurement, Metric};

use crate::support::serve;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/argo-test-vectors/analysis/expressions.yaml"
);

/// What the stub answers, and the last request body it got.
#[derive(Clone, Default)]
struct Stub {
    answer: Arc<Mutex<(u16, String)>>,
    last_body: Arc<Mutex<String>>,
}

async fn start_stub() -> (String, Stub) {
    let stub = Stub::default();
    let state = stub.clone();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let stub = state.clone();
        async move {
            *stub.last_body.lock().expect("lock") = String::from_utf8_lossy(&body).into_owned();
            let (code, text) = stub.answer.lock().expect("lock").clone();
            (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), text)
        }
    });
    (format!("http://{}", serve(app).await), stub)
}

fn run() -> AnalysisRun {
    serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "r", "namespace": "default", "uid": "u"}, "spec": {"metrics": []}}))
    .expect("run")
}

fn metric(case: &Value, provider: Value) -> Metric {
    let cond = |k: &str| case[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let mut m: Metric =
        serde_json::from_value(json!({"name": "m", "provider": provider})).expect("metric");
    m.success_condition = cond("successCondition");
    m.failure_condition = cond("failureCondition");
    m
}

async fn measure(p: &dyn MetricProvider, metric: &Metric) -> Measurement {
    let run = run();
    let now = k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("time");
    p.run(MeasureRequest { run: &run, metric, now }).await
}

/// Checks `expect` against a measurement; returns the problems.
fn check(expect: &Value, m: &Measurement) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(phase) = expect["phase"].as_str()
        && m.phase != phase
    {
        problems.push(format!("phase {} != {phase} (message {:?})", m.phase, m.message));
    }
    if let Some(value) = expect["value"].as_str() {
        let got = m.value.as_deref().unwrap_or("");
        if got != value {
            problems.push(format!("value {got:?} != {value:?}"));
        }
    }
    if let Some(msg) = expect["message"].as_str()
        && m.message.as_deref() != Some(msg)
    {
        problems.push(format!("message {:?} != {msg:?}", m.message));
    }
    for key in ["message_contains"] {
        if let Some(part) = expect[key].as_str()
            && !m.message.as_deref().unwrap_or("").contains(part)
        {
            problems.push(format!("message {:?} lacks {part:?}", m.message));
        }
    }
    if let Some(meta) = expect["metadata"].as_object() {
        for (k, v) in meta {
            let got = m.metadata.as_ref().and_then(|m| m.get(k)).map(String::as_str);
            if got != v.as_str() {
                problems.push(format!("metadata {k} {got:?} != {v}"));
            }
        }
    }
    problems
}

fn prometheus_body(raw: &Value) -> (u16, String) {
    let sample = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let data = if let Some(s) = raw.get("scalar") {
        json!({"resultType": "scalar", "result": [1.0, sample(s)]})
    } else if let Some(v) = raw.get("vector") {
        let series: Vec<Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| json!({"metric": {}, "value": [1.0, sample(x)]}))
            .collect();
        json!({"resultType": "vector", "result": series})
    } else if let Some(m) = raw.get("matrix") {
        let series: Vec<Value> = m
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let values: Vec<Value> =
                    s.as_array().into_iter().flatten().map(|x| json!([1.0, sample(x)])).collect();
                json!({"metric": {}, "values": values})
            })
            .collect();
        json!({"resultType": "matrix", "result": series})
    } else if raw.get("nil_response").is_some() {
        return (200, "null".to_owned());
    } else {
        json!({"resultType": "string", "result": [1.0, "x"]})
    };
    let mut envelope = json!({"status": "success", "data": data});
    if let Some(w) = raw.get("warnings") {
        envelope["warnings"] = w.clone();
    }
    (200, envelope.to_string())
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

#[tokio::test]
async fn argo_provider_vectors() {
    let text = std::fs::read_to_string(VECTORS).expect("vectors");
    let doc: Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let (address, stub) = start_stub().await;
    let (mut passed, mut failures) = (0, Vec::new());

    let prometheus = PrometheusProvider::new();
    for case in doc["providers"]["prometheus"]["cases"].as_array().expect("cases") {
        let name = case["test"].as_str().unwrap_or("?");
        *stub.answer.lock().expect("lock") = prometheus_body(&case["raw"]);
        let mut spec = json!({"address": address, "query": "q"});
        if let Some(range) = case.get("rangeQuery") {
            spec["rangeQuery"] = range.clone();
        }
        let m = measure(&prometheus, &metric(case, json!({"prometheus": spec}))).await;
        let mut problems = check(&case["expect"], &m);
        if let Some(start) = case["expect"]["query_start_sent"].as_str() {
            let body = stub.last_body.lock().expect("lock").clone();
            let want_start =
                if start.starts_with("2023-08-13 23:00") { "1691967600.000" } else { "" };
            if form_value(&body, "start").as_deref() != Some(want_start) {
                problems.push(format!("start sent {body:?}, want {start}"));
            }
            if form_value(&body, "end").as_deref() != Some("1691971200.000") {
                problems.push(format!("end sent {body:?}"));
            }
            if form_value(&body, "step").as_deref() != Some("60") {
                problems.push(format!("step sent {body:?}"));
            }
        }
        record(&mut passed, &mut failures, "prometheus", name, problems);
    }

    let skywalking = SkyWalkingProvider::new();
    for case in doc["providers"]["skywalking"]["cases"].as_array().expect("cases") {
        let name = case["test"].as_str().unwrap_or("?");
        *stub.answer.lock().expect("lock") =
            (200, json!({"data": case["result"].clone()}).to_string());
        let spec = json!({"address": address, "query": "q", "interval": "5m"});
        let m = measure(&skywalking, &metric(case, json!({"skywalking": spec}))).await;
        record(&mut passed, &mut failures, "skywalking", name, check(&case["expect"], &m));
    }

    let web = WebProvider::new();
    for case in doc["providers"]["web"]["cases"].as_array().expect("cases") {
        let name = case["case"].as_str().unwrap_or("?");
        let status = case["http_status"].as_u64().and_then(|s| u16::try_from(s).ok());
        *stub.answer.lock().expect("lock") =
            (status.unwrap_or(200), case["body"].as_str().unwrap_or("").to_owned());
        let mut spec = json!({"url": format!("{address}/metric")});
        if let Some(path) = case["jsonPath"].as_str() {
            spec["jsonPath"] = path.into();
        }
        let m = measure(&web, &metric(case, json!({"web": spec}))).await;
        record(&mut passed, &mut failures, "web", name, check(&case["expect"], &m));
    }

    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(passed, 15 + 3 + 27, "every prometheus, skywalking and web vector ran");
}

fn record(
    passed: &mut usize,
    failures: &mut Vec<String>,
    provider: &str,
    name: &str,
    problems: Vec<String>,
) {
    if problems.is_empty() {
        *passed += 1;
    } else {
        failures.push(format!("{provider}/{name}: {}", problems.join("; ")));
    }
}
