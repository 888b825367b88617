//! Acceptance scenarios 17–20 and 22–24 of the Argo Rollouts spec (§11), the ones about one
//! metric's verdict: AnalysisRuns on a real store measured by the real controller through
//! the web provider (a local server following a script of answers), a real Prometheus, and
//! the stand-in SkyWalking OAP.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use weir_analysis::{MeasureRequest, MetricProvider};
use weir_analysis_controller::{Providers, SkyWalkingProvider};
use weir_cluster::{Cluster, Patch, Subresource};
use weir_model::rollouts::{AnalysisRun, Measurement, Metric};

use crate::prometheus::{run as prometheus_run, start_prometheus};
use crate::script::{Reply, Scripted};
use crate::skywalking::{seed_run, start_oap};
use crate::support::{NS, World, last, measurements, message, phase, result, rt};

/// A run with one web metric `m` reading `url`, with these extra metric fields (JSON).
fn web_run(url: &str, metric: Value) -> String {
    let mut m = json!({"name": "m", "provider": {"web": {"url": url}}});
    if let (Some(m), Value::Object(extra)) = (m.as_object_mut(), metric) {
        m.extend(extra);
    }
    serde_json::to_string(&json!({"spec": {"metrics": [m]}})).expect("json")
}

const S: Reply = Reply::Body("1");
const F: Reply = Reply::Body("0");
const I: Reply = Reply::Body("2");
const E: Reply = Reply::Status(500);

/// Success `result == 1`, failure `result == 0`: 1 is S, 0 is F, 2 is I.
fn conditions() -> Value {
    json!({"successCondition": "result == 1", "failureCondition": "result == 0"})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(extra)) = (base.as_object_mut(), extra) {
        b.extend(extra);
    }
    base
}

fn phases(run: &AnalysisRun) -> Vec<String> {
    measurements(run, "m").iter().map(|m| m.phase.clone()).collect()
}

#[tokio::test]
async fn scenario_17_failure_limit_counting() {
    let server = Scripted::start().await;
    // Given: interval, count 5, failureLimit 2.
    let metric = with(conditions(), json!({"interval": "1s", "count": 5, "failureLimit": 2}));
    server.script("fsfss", &[F, S, F, S, S]);
    server.script("fff", &[F, F, F, S]);
    let world = World::start(Providers::standard()).await;
    let fsfss = world.create_run(&web_run(&server.url("fsfss"), metric.clone())).await;
    let fff = world.create_run(&web_run(&server.url("fff"), metric)).await;

    // When: F, S, F, S, S. Then: failed 2 ≤ 2, the count is reached → Successful.
    let r = world.completed(&fsfss, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(phases(&r), ["Failed", "Successful", "Failed", "Successful", "Successful"]);
    let m = result(&r, "m");
    assert_eq!((m.count, m.failed, m.successful), (Some(5), Some(2), Some(3)));

    // When: F, F, F. Then: Failed right after the third; no more measurements are taken.
    let r = world.completed(&fff, 60).await;
    assert_eq!(phase(&r), "Failed", "{:?}", r.status);
    assert_eq!(message(&r), "Metric \"m\" assessed Failed due to failed (3) > failureLimit (2)");
    assert_eq!(phases(&r), ["Failed", "Failed", "Failed"]);
    assert_eq!(server.hits("fff"), 3);
}

fn gaps_at_least(ms: &[Measurement], secs: i64) {
    for pair in ms.windows(2) {
        let finished = pair[0].finished_at.as_ref().expect("finishedAt").0;
        let started = pair[1].started_at.as_ref().expect("startedAt").0;
        let gap = started.duration_since(finished);
        assert!(gap >= SignedDuration::from_secs(secs), "retry after {gap:?}: {ms:?}");
    }
}

#[tokio::test]
async fn scenario_18_consecutive_error_limit_and_the_ten_second_retry() {
    let server = Scripted::start().await;
    // Given: the default consecutiveErrorLimit (4) and an hour-long interval.
    let metric = with(conditions(), json!({"interval": "1h", "count": 1}));
    server.script("eeees", &[E, E, E, E, S]);
    server.script("eeeee", &[E]);
    let world = World::start(Providers::standard()).await;
    let eeees = world.create_run(&web_run(&server.url("eeees"), metric.clone())).await;
    let eeeee = world.create_run(&web_run(&server.url("eeeee"), metric)).await;

    // When: E×4 then S. Then: consecutiveError back to 0, error=4, count=1, Successful.
    let r = world.completed(&eeees, 120).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let m = result(&r, "m");
    assert_eq!((m.error, m.count, m.consecutive_error), (Some(4), Some(1), Some(0)));
    // Errors are retried every 10 s whatever the interval (an hour here).
    gaps_at_least(measurements(&r, "m"), 10);

    // When: E×5. Then: the metric and the run are Error.
    let r = world.completed(&eeeee, 120).await;
    assert_eq!(phase(&r), "Error", "{:?}", r.status);
    assert_eq!(phases(&r), ["Error"; 5]);
    assert_eq!(
        message(&r),
        "Metric \"m\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \
         \"Error Message: received non 2xx response code: 500\""
    );
    gaps_at_least(measurements(&r, "m"), 10);
    assert_eq!(server.hits("eeeee"), 5);
}

#[tokio::test]
async fn scenario_19_consecutive_success_limit() {
    let server = Scripted::start().await;
    server.script("fsss", &[F, S, S, S, F]);
    server.script("count7", &[S, S, F, F, F, S, S, S]);
    server.script("count10", &[F, S, S, S, F, F, F, S, S, S, S]);
    let world = World::start(Providers::standard()).await;
    // Given: failureLimit -1, consecutiveSuccessLimit 3, no count. When: F, S, S, S.
    let unbounded = json!({"interval": "1s", "failureLimit": -1, "consecutiveSuccessLimit": 3});
    let fsss = world.create_run(&web_run(&server.url("fsss"), with(conditions(), unbounded))).await;
    // Given instead: count 7, reached with consecutiveSuccess 2.
    let seven =
        json!({"interval": "1s", "count": 7, "failureLimit": -1, "consecutiveSuccessLimit": 3});
    let count7 = world.create_run(&web_run(&server.url("count7"), with(conditions(), seven))).await;
    // Given instead: failureLimit 4 + consecutiveSuccessLimit 4, count 10 reached with
    // failed 4 and consecutiveSuccess 3.
    let ten =
        json!({"interval": "1s", "count": 10, "failureLimit": 4, "consecutiveSuccessLimit": 4});
    let count10 = world.create_run(&web_run(&server.url("count10"), with(conditions(), ten))).await;

    // Then: Successful after the 4th.
    let r = world.completed(&fsss, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(phases(&r), ["Failed", "Successful", "Successful", "Successful"]);
    assert_eq!(result(&r, "m").consecutive_success, Some(3));
    // Then: Failed (no failure limit applies).
    let r = world.completed(&count7, 60).await;
    assert_eq!(phase(&r), "Failed", "{:?}", r.status);
    let m = result(&r, "m");
    assert_eq!((m.count, m.consecutive_success), (Some(7), Some(2)));
    // Then: Inconclusive (a failure limit applies).
    let r = world.completed(&count10, 60).await;
    assert_eq!(phase(&r), "Inconclusive", "{:?}", r.status);
    let m = result(&r, "m");
    assert_eq!((m.count, m.failed, m.consecutive_success), (Some(10), Some(4), Some(3)));
}

/// Lowers the limits of run `name`'s only metric (a user editing the run).
async fn set_limits(world: &World, name: &str, limits: Value) {
    let run = world.store.get(&rt("analysisruns"), Some(NS), name).await.expect("run");
    let mut metric = run.to_value()["spec"]["metrics"][0].clone();
    if let (Some(m), Value::Object(limits)) = (metric.as_object_mut(), limits) {
        m.extend(limits);
    }
    let patch = Patch::Merge(json!({"spec": {"metrics": [metric]}}));
    world
        .store
        .patch(&rt("analysisruns"), Some(NS), name, &patch, Subresource::Main)
        .await
        .expect("patch limits");
}

#[tokio::test]
async fn scenario_20_limit_precedence() {
    let server = Scripted::start().await;
    server.script("ffii", &[F, F, I]);
    server.script("ffiie", &[F, F, I, I, E]);
    let world = World::start(Providers::standard()).await;
    let high = json!({"interval": "1s", "count": 100, "failureLimit": 50, "inconclusiveLimit": 50,
                      "consecutiveErrorLimit": 50});
    let ffii =
        world.create_run(&web_run(&server.url("ffii"), with(conditions(), high.clone()))).await;
    let ffiie = world.create_run(&web_run(&server.url("ffiie"), with(conditions(), high))).await;

    // Given: failed > failureLimit and inconclusive > inconclusiveLimit. Then: Inconclusive.
    world
        .wait_run(&ffii, 60, |r| {
            r.status.as_ref().and_then(|s| s.metric_results.as_ref()).is_some_and(|m| {
                m[0].failed == Some(2) && m[0].inconclusive.is_some_and(|i| i >= 2)
            })
        })
        .await;
    set_limits(&world, &ffii, json!({"failureLimit": 1, "inconclusiveLimit": 1})).await;
    let r = world.completed(&ffii, 60).await;
    assert_eq!(phase(&r), "Inconclusive", "{:?}", r.status);
    let m = result(&r, "m");
    assert!(m.failed > Some(1) && m.inconclusive > Some(1), "{m:?}");
    assert!(message(&r).starts_with("Metric \"m\" assessed Inconclusive due to inconclusive ("));

    // Given: consecutiveError > its limit as well. Then: Error.
    world
        .wait_run(&ffiie, 60, |r| {
            r.status.as_ref().and_then(|s| s.metric_results.as_ref()).is_some_and(|m| {
                m[0].failed == Some(2) && m[0].inconclusive == Some(2) && m[0].error >= Some(1)
            })
        })
        .await;
    let limits = json!({"failureLimit": 1, "inconclusiveLimit": 1, "consecutiveErrorLimit": 0});
    set_limits(&world, &ffiie, limits).await;
    let r = world.completed(&ffiie, 60).await;
    assert_eq!(phase(&r), "Error", "{:?}", r.status);
    assert!(
        message(&r).starts_with("Metric \"m\" assessed Error due to consecutiveErrors ("),
        "{}",
        message(&r)
    );
}

#[tokio::test]
async fn scenario_22_a_metric_without_conditions_is_successful() {
    let Some(prom) = start_prometheus().await else {
        return;
    };
    let world = World::start(Providers::standard()).await;
    let yaml = format!(
        "spec:\n  metrics:\n  - name: m\n    provider:\n      prometheus:\n        address: {}\n        query: 'test_success_ratio{{version=\"stable\"}}'\n",
        prom.url
    );
    let r = world.completed(&world.create_run(&yaml).await, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").phase, "Successful");
    assert_eq!(last(&r, "m").value.as_deref(), Some("[0.5]"));
}

#[tokio::test]
async fn scenario_23_nan_and_empty_results() {
    let Some(prom) = start_prometheus().await else {
        return;
    };
    let world = World::start(Providers::standard()).await;
    let a = &prom.url;
    // Given: a scalar NaN from a real Prometheus.
    let nan = "scalar(vector(0) / 0)";
    let success_only = world.create_run(&prometheus_run(a, nan, "result >= 0.9", "")).await;
    let both = world
        .create_run(&prometheus_run(a, nan, "result >= 0.9", "").replace(
            "    successCondition:",
            "    failureCondition: result < 0.9\n    successCondition:",
        ))
        .await;
    let guarded =
        world.create_run(&prometheus_run(a, nan, "result >= 0.9 || isNaN(result)", "")).await;
    // Given: an empty vector and `result[0] >= 0.9`.
    let empty = world
        .create_run(&prometheus_run(
            a,
            "test_success_ratio{version=\"none\"}",
            "result[0] >= 0.9",
            "",
        ))
        .await;

    for (name, want) in
        [(&success_only, "Failed"), (&both, "Inconclusive"), (&guarded, "Successful")]
    {
        let r = world.completed(name, 30).await;
        assert_eq!(phase(&r), want, "{:?}", r.status);
        assert_eq!(last(&r, "m").phase, want);
        assert_eq!(last(&r, "m").value.as_deref(), Some("NaN"));
    }
    let r = world.completed(&empty, 30).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.contains("metric result is nil or empty"), "{msg}");
}

#[tokio::test]
async fn scenario_24_skywalking_apdex_request_and_response() {
    let (address, oap) = start_oap().await;
    *oap.apdex.lock().expect("lock") = vec![9950, 9980];
    // Given: interval 3m, the apdex query, a clock at 2024-05-01 10:07 UTC.
    let run_yaml: Value =
        serde_yaml_ng::from_str(&seed_run(&address, "reviews.default", "")).expect("yaml");
    let mut metric_json = run_yaml["spec"]["metrics"][0].clone();
    metric_json["provider"]["skywalking"]["interval"] = "3m".into();
    let query = metric_json["provider"]["skywalking"]["query"].as_str().unwrap_or("").to_owned();
    metric_json["provider"]["skywalking"]["query"] =
        query.replace("{{ args.service-name }}", "reviews.default").into();
    let metric: Metric = serde_json::from_value(metric_json).expect("metric");
    let run: AnalysisRun = serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun", "metadata": {"name": "r", "namespace": NS}, "spec": {"metrics": []}}))
    .expect("run");
    let now: Timestamp = "2024-05-01T10:07:00Z".parse().expect("time");
    let m = SkyWalkingProvider::new().run(MeasureRequest { run: &run, metric: &metric, now }).await;

    // Then: the request carries the duration variable in the minute format.
    let body = oap.bodies.lock().expect("lock").last().cloned().expect("a request");
    assert_eq!(
        body["variables"],
        json!({"duration": {"start": "2024-05-01 1004", "end": "2024-05-01 1007", "step": "MINUTE"}})
    );
    // Then: Successful, the value being the JSON of `data`.
    assert_eq!(m.phase, "Successful", "{m:?}");
    let value: Value = serde_json::from_str(m.value.as_deref().unwrap_or("")).expect("json");
    assert_eq!(
        value,
        json!({"service_apdex": {"label": null, "values": {"values": [{"value": 9950}, {"value": 9980}]}}})
    );

    // Through the controller: a GraphQL error, empty values, a missing interval.
    let world = World::start(Providers::standard()).await;
    let once = |suffix: &str, service: &str, edit: &dyn Fn(&mut Value)| {
        let mut v: Value =
            serde_yaml_ng::from_str(&seed_run(&address, service, suffix)).expect("yaml");
        v["spec"]["metrics"][0]["interval"] = Value::Null;
        edit(&mut v["spec"]["metrics"][0]);
        serde_yaml_ng::to_string(&v).expect("yaml")
    };
    let keep = |_: &mut Value| {};
    let no_retry = |m: &mut Value| m["consecutiveErrorLimit"] = 0.into();
    let boom = world.create_run(&once("# boom", "reviews.default", &no_retry)).await;
    let empty = world.create_run(&once("", "empty.default", &keep)).await;
    let no_interval = |m: &mut Value| {
        m["provider"]["skywalking"]["interval"] = Value::Null;
        m["consecutiveErrorLimit"] = 1.into();
    };
    let no_interval = world.create_run(&once("", "reviews.default", &no_interval)).await;

    let r = world.completed(&boom, 60).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(last(&r, "apdex").message.as_deref(), Some("graphql: boom"));
    let r = world.completed(&empty, 30).await;
    assert_eq!(phase(&r), "Successful", "all([]) is true: {:?}", r.status);
    let r = world.completed(&no_interval, 60).await;
    assert_eq!(phase(&r), "Error");
    let ms = measurements(&r, "apdex");
    assert_eq!(ms.len(), 2, "{ms:?}");
    for m in ms {
        assert_eq!(
            (m.phase.as_str(), m.message.as_deref()),
            ("Error", Some("skywalking: interval must be specified"))
        );
    }
}
