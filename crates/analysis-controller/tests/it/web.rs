//! The web provider against a local HTTP server.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;
use weir_analysis_controller::Providers;

use crate::support::{World, closed_port, last, phase, serve};

async fn server() -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route("/ok", get(|| async { Json(json!({"data": {"ok": true, "rate": 0.99}})) }))
        .route("/text", get(|| async { "healthy" }))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/auth",
            get(|headers: HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                Json(json!({"auth": auth.unwrap_or("")}))
            }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, Json(body): Json<serde_json::Value>| async move {
                let token = headers.get("x-token").and_then(|v| v.to_str().ok()).unwrap_or("");
                Json(json!({"token": token, "body": body}))
            }),
        );
    serve(app).await
}

fn run(url: &str, extra: &str) -> String {
    format!(
        "spec:\n  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n{extra}    provider:\n      web:\n        url: {url}\n"
    )
}

#[tokio::test]
async fn web_metrics_measure_json_text_errors_and_unreachable_servers() {
    let addr = server().await;
    let world = World::start(Providers::standard()).await;
    let ok = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    successCondition: result > 0.9\n    provider:\n      web:\n        url: http://{addr}/ok\n        jsonPath: \"{{$.data.rate}}\"\n"
        ))
        .await;
    let text = world
        .create_run(&run(
            &format!("http://{addr}/text"),
            "    successCondition: result == \"healthy\"\n",
        ))
        .await;
    let fail = world.create_run(&run(&format!("http://{addr}/fail"), "")).await;
    let down =
        world.create_run(&run(&format!("http://127.0.0.1:{}/x", closed_port().await), "")).await;
    let echo = world
        .create_run(&format!(
            "spec:\n  args:\n  - name: tok\n    value: abc\n  metrics:\n  - name: m\n    successCondition: result.token == 'abc' && result.body.n == 1\n    provider:\n      web:\n        method: POST\n        url: http://{addr}/echo\n        headers:\n        - key: x-token\n          value: \"{{{{args.tok}}}}\"\n        jsonBody: {{n: 1}}\n"
        ))
        .await;

    let slow = world
        .create_run(
            &run(&format!("http://{addr}/slow"), "")
                .replace("        url:", "        timeoutSeconds: 1\n        url:"),
        )
        .await;
    let auth = world
        .create_run(&format!(
            "spec:\n  metrics:\n  - name: m\n    successCondition: result == 'Basic dTpw'\n    provider:\n      web:\n        url: http://{addr}/auth\n        jsonPath: \"{{$.auth}}\"\n        authentication:\n          basicAuth: {{username: u, password: p}}\n"
        ))
        .await;
    let r = world.completed(&slow, 20).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.contains("context deadline exceeded"), "{msg}");
    let r = world.completed(&auth, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let r = world.completed(&ok, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("0.99"));
    let r = world.completed(&text, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("healthy"));
    let r = world.completed(&echo, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);

    let r = world.completed(&fail, 20).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(last(&r, "m").message.as_deref(), Some("received non 2xx response code: 500"));
    let r = world.completed(&down, 20).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.starts_with("Get \"http://127.0.0.1:"), "{msg}");
    assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
}
