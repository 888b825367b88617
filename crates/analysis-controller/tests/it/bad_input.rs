//! Bad input: every kind of broken AnalysisRun gets a clear message on its own status, and
//! the controller keeps measuring the good run created next to (and after) them.

use axum::routing::{get, post};
use weir_analysis_controller::Providers;

use crate::script::{Reply, Scripted};
use weir_cluster::Cluster;

use crate::support::{NS, World, closed_port, phase, result, rt, serve};

/// Whether a message is the expected one.
type MessageCheck<'a> = dyn Fn(&str) -> bool + 'a;

/// A run with one metric `m` whose body (YAML, indented for the metric) is `metric`.
fn run(metric: &str) -> String {
    format!("spec:\n  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n{metric}")
}

#[tokio::test]
async fn bad_runs_get_clear_messages_and_the_good_run_next_to_them_completes() {
    let server = Scripted::start().await;
    server.script("good", &[Reply::Body("1")]);
    let good_url = server.url("good");
    let html = serve(
        axum::Router::new()
            .route("/api/v1/query", post(|| async { "<html>maintenance</html>" }))
            .route("/graphql", post(|| async { "<html>maintenance</html>" }))
            .route("/", get(|| async { "<html>maintenance</html>" })),
    )
    .await;
    let down = format!("http://127.0.0.1:{}", closed_port().await);
    let world = World::start(Providers::standard()).await;
    let web = |url: &str| format!("    provider:\n      web:\n        url: {url}\n");

    let cases: Vec<(&str, String)> = vec![
        ("unknown provider", run("    provider:\n      carrierPigeon:\n        loft: x\n")),
        (
            "two providers",
            run(&format!(
                "    provider:\n      web:\n        url: {good_url}\n      prometheus:\n        address: {down}\n        query: up\n"
            )),
        ),
        ("count without interval", run(&format!("    count: 3\n{}", web(&good_url)))),
        ("bad interval", run(&format!("    interval: 5 minutes\n{}", web(&good_url)))),
        ("bad initialDelay", run(&format!("    initialDelay: soon\n{}", web(&good_url)))),
        (
            "bad skywalking interval",
            run(&format!(
                "    provider:\n      skywalking:\n        address: http://{html}\n        interval: 3 minutes\n        query: q\n"
            )),
        ),
        (
            "bad range step",
            run(&format!(
                "    provider:\n      prometheus:\n        address: http://{html}\n        query: up\n        rangeQuery:\n          start: now()\n          end: now()\n          step: every minute\n"
            )),
        ),
        (
            "condition that does not compile",
            run(&format!("    successCondition: 'result >'\n{}", web(&good_url))),
        ),
        (
            "condition that is not a bool",
            run(&format!("    successCondition: 'result + 1'\n{}", web(&good_url))),
        ),
        ("unreachable address", run(&web(&format!("{down}/metric")))),
        ("not a URL", run(&web("reviews metrics please"))),
        (
            "unreachable https address",
            run(&web(&format!("https://{}/metric", down.trim_start_matches("http://")))),
        ),
        (
            "prometheus answer not JSON",
            run(&format!(
                "    provider:\n      prometheus:\n        address: http://{html}\n        query: up\n"
            )),
        ),
        (
            "skywalking answer not JSON",
            run(&format!(
                "    provider:\n      skywalking:\n        address: http://{html}\n        interval: 3m\n        query: q\n"
            )),
        ),
    ];
    let mut names = Vec::new();
    for (what, yaml) in &cases {
        names.push((*what, world.create_run(yaml).await));
    }
    // The good run, created after the bad ones.
    let good = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    interval: 1s\n    count: 3\n    successCondition: result == 1\n{}",
            web(&good_url)
        ))
        .await;

    // Read as JSON: a run that does not decode has no typed form.
    let mut got = Vec::new();
    for (what, name) in &names {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            let run = world.store.get(&rt("analysisruns"), Some(NS), name).await.expect("run");
            let status = run.to_value()["status"].clone();
            if status["phase"] == "Error" {
                break status;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {status:#}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let measurement = &status["metricResults"][0]["measurements"][0]["message"];
        let text = measurement.as_str().or(status["message"].as_str()).unwrap_or("");
        got.push((*what, text.to_owned()));
    }
    let expect: [(&str, &MessageCheck<'_>); 14] = [
        ("unknown provider", &|m| {
            m.starts_with("Analysis spec invalid: ") && m.contains("carrierPigeon")
        }),
        ("two providers", &|m| {
            m == "Analysis spec invalid: metrics[0]: multiple providers specified"
        }),
        ("count without interval", &|m| {
            m == "Analysis spec invalid: metrics[0]: interval must be specified when count > 1"
        }),
        ("bad interval", &|m| {
            m.starts_with("Analysis spec invalid: metrics[0]: invalid interval string: ")
        }),
        ("bad initialDelay", &|m| {
            m.starts_with("Analysis spec invalid: metrics[0]: invalid startDelay string: ")
        }),
        ("bad skywalking interval", &|m| {
            m.starts_with("skywalking: invalid interval \"3 minutes\": ")
        }),
        ("bad range step", &|m| m.starts_with("failed to parse rangeQuery.step as duration: ")),
        ("condition that does not compile", &|m| {
            m.starts_with("could not evaluate successCondition \"result >\": ")
        }),
        ("condition that is not a bool", &|m| m.contains("expected bool, but got")),
        ("unreachable address", &|m| {
            m.starts_with(&format!("Get \"{down}/metric\": "))
                && m.to_lowercase().contains("connection refused")
        }),
        ("not a URL", &|m| m == "Get \"reviews metrics please\": relative URL without a base"),
        ("unreachable https address", &|m| {
            m.starts_with(&format!(
                "Get \"https://{}/metric\": ",
                down.trim_start_matches("http://")
            )) && m.to_lowercase().contains("connection refused")
        }),
        ("prometheus answer not JSON", &|m| {
            m.starts_with(&format!(
                "bad_response: the answer of http://{html}/api/v1/query is not JSON ("
            )) && m.ends_with("): <html>maintenance</html>")
        }),
        ("skywalking answer not JSON", &|m| {
            m.starts_with("decoding response: ") && m.ends_with(": <html>maintenance</html>")
        }),
    ];
    for ((what, text), (want_what, ok)) in got.iter().zip(expect.iter()) {
        assert_eq!(what, want_what);
        assert!(ok(text), "{what}: unexpected message {text:?}");
    }

    let r = world.completed(&good, 60).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(result(&r, "m").count, Some(3));
}
