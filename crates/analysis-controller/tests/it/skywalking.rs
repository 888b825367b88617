//! The SkyWalking provider against a stand-in OAP that rejects what the real one would: any
//! path but `/graphql`, a missing `duration` variable, a time not in the MINUTE format.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use weir_analysis_controller::Providers;

use crate::support::{World, last, measurements, message, phase, result, serve};

/// What the stand-in OAP answers with for `service_apdex`.
#[derive(Clone, Default)]
pub(crate) struct Oap {
    pub(crate) apdex: Arc<Mutex<Vec<i64>>>,
    pub(crate) rejected: Arc<Mutex<Vec<String>>>,
    /// Every request body received on `/graphql`.
    pub(crate) bodies: Arc<Mutex<Vec<Value>>>,
}

fn minute_format(s: &Value) -> bool {
    let s = s.as_str().unwrap_or("");
    let b = s.as_bytes();
    s.len() == 15
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            _ => c.is_ascii_digit(),
        })
}

fn oap_answer(oap: &Oap, body: &Value) -> (StatusCode, Json<Value>) {
    let err = |msg: &str| {
        oap.rejected.lock().expect("lock").push(msg.to_owned());
        (StatusCode::OK, Json(json!({"errors": [{"message": msg}], "data": null})))
    };
    let query = body["query"].as_str().unwrap_or("");
    let duration = &body["variables"]["duration"];
    if duration.is_null() {
        return err(
            "Variable 'duration' has an invalid value: Variable 'duration' has coerced Null value for NonNull type 'Duration!'",
        );
    }
    if !minute_format(&duration["start"]) || !minute_format(&duration["end"]) {
        return err("Unparseable date");
    }
    if duration["start"].as_str() > duration["end"].as_str() {
        return err("start time should be before end time");
    }
    if !query.contains("$duration: Duration!") {
        return err("Validation error of type UndefinedVariable: Undefined variable duration");
    }
    if duration["step"] != "MINUTE" {
        return err("Invalid step");
    }
    if query.contains("boom") {
        return (StatusCode::OK, Json(json!({"errors": [{"message": "boom"}]})));
    }
    if query.contains("broken") {
        return (
            StatusCode::OK,
            Json(
                json!({"errors": [{"message": "Validation error of type FieldUndefined"}], "data": null}),
            ),
        );
    }
    if query.contains("nodata") {
        return (StatusCode::OK, Json(json!({"data": null})));
    }
    let values: Vec<Value> = if query.contains("empty.default") {
        Vec::new()
    } else {
        oap.apdex.lock().expect("lock").iter().map(|v| json!({"value": v})).collect()
    };
    (
        StatusCode::OK,
        Json(json!({"data": {"service_apdex": {"label": null, "values": {"values": values}}}})),
    )
}

pub(crate) async fn start_oap() -> (String, Oap) {
    let oap = Oap::default();
    let state = oap.clone();
    let app = axum::Router::new().route(
        "/graphql",
        post(move |Json(body): Json<Value>| {
            let oap = state.clone();
            async move {
                oap.bodies.lock().expect("lock").push(body.clone());
                oap_answer(&oap, &body)
            }
        }),
    );
    (format!("http://{}", serve(app).await), oap)
}

/// The seed's apdex AnalysisTemplate as a run: address pointed at the stand-in, 1 s interval.
pub(crate) fn seed_run(address: &str, service: &str, query_suffix: &str) -> String {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bookinfo/rollout/analysis.yaml");
    let text = std::fs::read_to_string(path).expect("seed template");
    let template: Value = serde_yaml_ng::from_str(&text).expect("template");
    let mut spec = template["spec"].clone();
    spec["args"] = json!([{"name": "service-name", "value": service}]);
    let metric = &mut spec["metrics"][0];
    metric["interval"] = "1s".into();
    metric["provider"]["skywalking"]["address"] = address.into();
    let query = metric["provider"]["skywalking"]["query"].as_str().unwrap_or("").to_owned();
    metric["provider"]["skywalking"]["query"] = format!("{query}{query_suffix}").into();
    serde_yaml_ng::to_string(&json!({"spec": spec})).expect("yaml")
}

#[tokio::test]
async fn the_seed_apdex_template_succeeds_then_fails_after_the_failure_limit() {
    let (address, oap) = start_oap().await;
    *oap.apdex.lock().expect("lock") = vec![10000, 9950, 9987];
    let world = World::start(Providers::standard()).await;
    let name = world.create_run(&seed_run(&address, "reviews.default", "")).await;
    let r = world
        .wait_run(&name, 20, |r| {
            r.status.as_ref().and_then(|s| s.metric_results.as_ref()).is_some_and(|m| !m.is_empty())
        })
        .await;
    let first = last(&r, "apdex");
    assert_eq!(first.phase, "Successful", "{first:?}");
    let value: Value = serde_json::from_str(first.value.as_deref().unwrap_or("")).expect("json");
    assert_eq!(value["service_apdex"]["values"]["values"][1]["value"], 9950);
    *oap.apdex.lock().expect("lock") = vec![10000, 9000];
    let r = world.completed(&name, 30).await;
    assert_eq!(phase(&r), "Failed");
    assert_eq!(
        message(&r),
        "Metric \"apdex\" assessed Failed due to failed (4) > failureLimit (3)"
    );
    assert_eq!(result(&r, "apdex").failed, Some(4));
    assert!(measurements(&r, "apdex").len() >= 5);
    assert!(oap.rejected.lock().expect("lock").is_empty(), "{:?}", oap.rejected);
}

#[tokio::test]
async fn graphql_errors_null_data_and_empty_values() {
    let (address, oap) = start_oap().await;
    let world = World::start(Providers::standard()).await;
    let one = |yaml: String| {
        let mut v: Value = serde_yaml_ng::from_str(&yaml).expect("yaml");
        v["spec"]["metrics"][0]["interval"] = Value::Null;
        v["spec"]["metrics"][0]["consecutiveErrorLimit"] = 0.into();
        serde_yaml_ng::to_string(&v).expect("yaml")
    };
    let broken = world.create_run(&one(seed_run(&address, "reviews.default", "# broken"))).await;
    let nodata = world.create_run(&one(seed_run(&address, "reviews.default", "# nodata"))).await;
    let empty = world.create_run(&one(seed_run(&address, "empty.default", ""))).await;
    let no_interval = {
        let mut v: Value =
            serde_yaml_ng::from_str(&one(seed_run(&address, "reviews.default", ""))).expect("yaml");
        v["spec"]["metrics"][0]["provider"]["skywalking"]["interval"] = Value::Null;
        world.create_run(&serde_yaml_ng::to_string(&v).expect("yaml")).await
    };

    let wrong_path =
        world.create_run(&one(seed_run(&format!("{address}/oap"), "reviews.default", ""))).await;
    let r = world.completed(&wrong_path, 20).await;
    assert_eq!(
        last(&r, "apdex").message.as_deref(),
        Some("graphql: server returned a non-200 status code: 404")
    );
    let r = world.completed(&broken, 20).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(
        last(&r, "apdex").message.as_deref(),
        Some("graphql: Validation error of type FieldUndefined")
    );
    let r = world.completed(&nodata, 20).await;
    assert_eq!(
        last(&r, "apdex").message.as_deref(),
        Some("no results returned from SkyWalking query")
    );
    // Argo's pitfall, kept: all([]) is true, so no data passes this condition.
    let r = world.completed(&empty, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let r = world.completed(&no_interval, 20).await;
    assert_eq!(
        last(&r, "apdex").message.as_deref(),
        Some("skywalking: interval must be specified")
    );
    assert!(oap.rejected.lock().expect("lock").is_empty(), "{:?}", oap.rejected);
}

/// The stand-in itself refuses what the real OAP refuses, so the tests above prove something.
#[tokio::test]
async fn the_stand_in_oap_rejects_what_the_real_one_would() {
    let (address, oap) = start_oap().await;
    let client = reqwest::Client::new();
    let query =
        "query q($duration: Duration!) { x: readMetricsValues(duration: $duration) { label } }";
    let post = |path: &str, body: Value| client.post(format!("{address}{path}")).json(&body).send();
    let good = json!({"start": "2024-05-01 1004", "end": "2024-05-01 1007", "step": "MINUTE"});
    let resp = post("/graphql", json!({"query": query, "variables": {"duration": good}}))
        .await
        .expect("post");
    let body: Value = resp.json().await.expect("json");
    assert!(body["errors"].is_null() && body["data"].is_object(), "{body}");

    let resp = post("/oap/graphql", json!({"query": query})).await.expect("post");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "wrong path");
    let resp = client
        .post(format!("{address}/graphql"))
        .body(json!({"query": query}).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "not sent as JSON");
    let bad_requests = [
        json!({"query": query}),
        json!({"query": query, "variables": {"duration": {"start": "2024-05-01T10:04", "end": "2024-05-01 1007", "step": "MINUTE"}}}),
        json!({"query": query, "variables": {"duration": {"start": "2024-05-01 10:04", "end": "2024-05-01 1007", "step": "MINUTE"}}}),
        json!({"query": query, "variables": {"duration": {"start": "2024-05-01 1008", "end": "2024-05-01 1007", "step": "MINUTE"}}}),
        json!({"query": "{ x: readMetricsValues(duration: $duration) { label } }", "variables": {"duration": good}}),
    ];
    for request in bad_requests {
        let resp = post("/graphql", request.clone()).await.expect("post");
        let body: Value = resp.json().await.expect("json");
        assert!(body["errors"][0]["message"].is_string(), "{request} was accepted: {body}");
    }
    assert_eq!(oap.rejected.lock().expect("lock").len(), 5);
}
