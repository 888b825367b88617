//! `weir demo service`: a tiny HTTP service for the demo and for tests. It answers with its
//! name and version, calls other services through the mesh (`HTTP_PROXY`), and can be told to
//! fail a fraction of requests or to add latency, so canary behaviour is visible.
//!
//! Every path but `/healthz` is served the same way: wait `--delay-ms`, fail with 503 with
//! probability `--fail-rate`, call each `--call` URL (a 5xx there fails this request with 502),
//! then answer `{"service", "version", "pod", "path", "calls": [...]}`. Each request is logged
//! to standard output as `GET <path> <status>`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Args;
use serde_json::{Value, json};

#[derive(Debug, Clone, Args)]
pub(crate) struct ServiceArgs {
    /// The service's name, e.g. `reviews`.
    #[arg(long)]
    name: String,
    /// The version it reports, e.g. `v2`.
    #[arg(long, default_value = "v1")]
    version: String,
    /// Port on 127.0.0.1 (default: `$PORT`, as weir's node agent sets it).
    #[arg(long, env = "PORT")]
    port: u16,
    /// Fraction of requests answered with 503 (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// A URL to call for every request (through `HTTP_PROXY`); repeatable.
    #[arg(long = "call")]
    calls: Vec<String>,
}

struct Service {
    args: ServiceArgs,
    pod: String,
    http: reqwest::Client,
}

pub(crate) async fn run(args: ServiceArgs) -> Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        bail!("--fail-rate must be between 0 and 1, not {}", args.fail_rate);
    }
    // reqwest honours HTTP_PROXY, which is how calls reach other services through the mesh.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let pod = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| args.name.clone());
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let service = Arc::new(Service { args, pod, http });
    let app = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(answer)
        .with_state(service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    axum::serve(listener, app).with_graceful_shutdown(terminated()).await.context("serving")?;
    Ok(ExitCode::SUCCESS)
}

async fn answer(State(service): State<Arc<Service>>, uri: Uri) -> Response {
    let args = &service.args;
    if args.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(args.delay_ms)).await;
    }
    if args.fail_rate > 0.0 && rand::random::<f64>() < args.fail_rate {
        let body =
            json!({"service": args.name, "version": args.version, "error": "injected failure"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let mut calls = Vec::new();
    let mut failed = false;
    for url in &args.calls {
        let call = match service.http.get(url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                failed |= status >= 500;
                // A proxy's own reply (e.g. `no healthy upstream`) is plain text: keep it as
                // text, so whoever reads the answer can tell why the call failed.
                let text = response.text().await.unwrap_or_default();
                let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                json!({"url": url, "status": status, "body": body})
            }
            Err(e) => {
                failed = true;
                json!({"url": url, "error": e.to_string()})
            }
        };
        calls.push(call);
    }
    let body = json!({
        "service": args.name, "version": args.version, "pod": service.pod,
        "path": uri.path(), "calls": calls,
    });
    let status = if failed { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
    println!("GET {} {}", uri.path(), status.as_u16());
    (status, axum::Json(body)).into_response()
}

/// Completes on SIGTERM or SIGINT, so the node agent's graceful stop lets requests finish.
async fn terminated() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
