//! `weir demo traffic`: sends requests through weir's gateway at a steady rate, as the demo's
//! curl loop does, and shows which version of a service answered them, so a canary's share
//! of traffic can be watched while it moves.
//!
//! Every second it prints a line such as
//! `  12s  reviews v1 36 (90%)  v2 4 (10%)   40 requests, 0 failed`; with `--output json` it
//! prints one JSON object per response instead (for scripts and tests). A failed request whose
//! response shows the sample service's own injected failure (`reviews-v3` fails 30% on
//! purpose) is counted apart from other failures, which are what a switch of traffic must
//! never cause.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use weir_server::DataDir;

use crate::args::Connection;
use crate::connect;

#[derive(Debug, Clone, Args)]
pub(crate) struct TrafficArgs {
    /// Requests per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// The `Host` header, a host of the Gateway's VirtualService.
    #[arg(long, default_value = "bookinfo.tetrate.com")]
    host: String,
    /// The request path.
    #[arg(long, default_value = "/api/v1/products/1/reviews")]
    path: String,
    /// The service whose answering version is counted (found anywhere in the response).
    #[arg(long, default_value = "reviews")]
    service: String,
    /// The gateway's URL (default: the running weir's, from its data directory).
    #[arg(long)]
    gateway: Option<String>,
    /// `text`: a summary line every second; `json`: one line per response.
    #[arg(long, value_enum, default_value_t = TrafficOutput::Text)]
    output: TrafficOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TrafficOutput {
    Text,
    Json,
}

/// What one request got back.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Outcome {
    /// When the response arrived, in milliseconds since the Unix epoch.
    at_ms: u64,
    /// The HTTP status, or 0 when no response arrived.
    status: u16,
    /// The version of the counted service that answered, when it did.
    version: Option<String>,
    /// The counted service answered with the sample service's injected failure.
    injected: bool,
    /// Why no response arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// For a failed response that is not the service's injected failure: the innermost failed
    /// call of the answer tree, e.g. `http://reviews:9080/reviews/1: 503 no healthy upstream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
}

impl Outcome {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub(crate) async fn run(connection: &Connection, args: TrafficArgs) -> Result<ExitCode> {
    if !(args.rate > 0.0 && args.rate <= 10_000.0) {
        bail!("--rate must be between 0 and 10000 requests per second, not {}", args.rate);
    }
    let gateway = match &args.gateway {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => gateway_of_running_weir(connection)?,
    };
    let url = format!("{gateway}{}", args.path);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let mut stdout = std::io::stdout();
    if args.output == TrafficOutput::Text {
        let rate = args.rate;
        writeln!(stdout, "sending {rate} requests/s to {url} (Host: {}); Ctrl-C stops", args.host)?;
    }
    let (sender, mut outcomes) = mpsc::unbounded_channel();
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let started = Instant::now();
    let stop_at = args.duration.map(|secs| started + Duration::from_secs_f64(secs.max(0.0)));
    let generator = {
        let (http, url, host, service) =
            (http.clone(), url.clone(), args.host.clone(), args.service.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if stop_at.is_some_and(|at| Instant::now() >= at) {
                    break;
                }
                let (http, url, host, service, sender) =
                    (http.clone(), url.clone(), host.clone(), service.clone(), sender.clone());
                tokio::spawn(async move {
                    let outcome = send(&http, &url, &host, &service).await;
                    let _ = sender.send(outcome);
                });
            }
        })
    };

    let mut window = Summary::default();
    let mut total = Summary::default();
    let mut report = tokio::time::interval(Duration::from_secs(1));
    report.tick().await;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            outcome = outcomes.recv() => {
                // The channel closes once the generator and every request it started are done.
                let Some(outcome) = outcome else { break };
                // A closed pipe (`| head`) ends the run instead of a panic.
                if args.output == TrafficOutput::Json
                    && writeln!(stdout, "{}", serde_json::to_string(&outcome)?).is_err()
                {
                    break;
                }
                window.add(&outcome);
                total.add(&outcome);
            }
            _ = report.tick(), if args.output == TrafficOutput::Text => {
                let secs = started.elapsed().as_secs();
                if writeln!(stdout, "{secs:>5}s  {}", window.line(&args.service)).is_err() {
                    break;
                }
                window = Summary::default();
            }
            _ = &mut ctrl_c => break,
        }
    }
    generator.abort();
    if args.output == TrafficOutput::Text {
        let _ = writeln!(stdout, "total  {}", total.line(&args.service));
    }
    Ok(if total.other_failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn gateway_of_running_weir(connection: &Connection) -> Result<String> {
    let data_dir = DataDir::at(connect::data_dir(connection)?);
    let endpoints = data_dir.read_endpoints().with_context(|| {
        format!(
            "no running weir found ({} is missing): start one with `weir up --demo`, or pass \
             --gateway",
            data_dir.endpoints_path().display()
        )
    })?;
    endpoints.gateway.context("the running weir has no gateway listener: pass --gateway")
}

async fn send(http: &reqwest::Client, url: &str, host: &str, service: &str) -> Outcome {
    let response = http.get(url).header(reqwest::header::HOST, host).send().await;
    let (status, body, error) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, body, None)
        }
        Err(e) => (0, Value::Null, Some(e.to_string())),
    };
    let answer = find_service(&body, service);
    let injected = answer.is_some_and(|a| a.get("error").and_then(Value::as_str).is_some());
    let cause = (status >= 300 && !injected).then(|| failed_call(&body)).flatten();
    Outcome {
        at_ms: epoch_ms(),
        status,
        version: answer.and_then(|a| a.get("version")).and_then(Value::as_str).map(str::to_owned),
        injected,
        error,
        cause,
    }
}

/// The innermost failed call in a sample-service answer tree (`calls` with a 5xx `status` or an
/// `error`), as `URL: STATUS BODY` or `URL: ERROR`.
fn failed_call(body: &Value) -> Option<String> {
    let calls = body.get("calls")?.as_array()?;
    calls.iter().find_map(|call| {
        let inner = call.get("body").and_then(failed_call);
        let url = call.get("url").and_then(Value::as_str).unwrap_or("?");
        let status = call.get("status").and_then(Value::as_u64);
        let error = call.get("error").and_then(Value::as_str);
        inner.or_else(|| match (status, error) {
            (_, Some(error)) => Some(format!("{url}: {error}")),
            (Some(status), None) if status >= 500 => {
                let text = match call.get("body") {
                    Some(Value::String(text)) => text.trim().to_owned(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                Some(format!("{url}: {status} {text}"))
            }
            _ => None,
        })
    })
}

/// The first object in a sample-service response tree (an answer and its `calls`) that
/// `service` wrote, depth first.
fn find_service<'v>(body: &'v Value, service: &str) -> Option<&'v Value> {
    match body {
        Value::Object(map) => {
            if map.get("service").and_then(Value::as_str) == Some(service) {
                return Some(body);
            }
            map.values().find_map(|value| find_service(value, service))
        }
        Value::Array(items) => items.iter().find_map(|item| find_service(item, service)),
        _ => None,
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Counts of a stretch of responses.
#[derive(Debug, Default)]
struct Summary {
    requests: u64,
    by_version: BTreeMap<String, u64>,
    injected_failures: u64,
    other_failures: u64,
}

impl Summary {
    fn add(&mut self, outcome: &Outcome) {
        self.requests += 1;
        if let Some(version) = &outcome.version {
            *self.by_version.entry(version.clone()).or_default() += 1;
        }
        if !outcome.ok() {
            if outcome.injected {
                self.injected_failures += 1;
            } else {
                self.other_failures += 1;
            }
        }
    }

    fn line(&self, service: &str) -> String {
        let answered: u64 = self.by_version.values().sum();
        let mut line = service.to_owned();
        for (version, count) in &self.by_version {
            let share = (*count as f64) * 100.0 / (answered.max(1) as f64);
            line.push_str(&format!("  {version} {count} ({share:.0}%)"));
        }
        line.push_str(&format!("   {} requests", self.requests));
        let failed = self.injected_failures + self.other_failures;
        line.push_str(&format!(", {failed} failed"));
        if self.injected_failures > 0 {
            line.push_str(&format!(" ({} injected by the service)", self.injected_failures));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_counted_service_is_found_in_nested_calls() {
        let body = json!({"service": "productpage", "version": "v1", "calls": [
            {"url": "http://details:9080/details/1", "status": 200,
             "body": {"service": "details", "version": "v1"}},
            {"url": "http://reviews:9080/reviews/1", "status": 503,
             "body": {"service": "reviews", "version": "v3", "error": "injected failure"}},
        ]});
        let reviews = find_service(&body, "reviews").unwrap();
        assert_eq!(reviews["version"], "v3");
        assert!(find_service(&body, "ratings").is_none());
    }

    #[test]
    fn a_failure_names_its_innermost_failed_call() {
        let body = json!({"service": "productpage", "version": "v1", "calls": [
            {"url": "http://details:9080/details/1", "status": 200,
             "body": {"service": "details", "version": "v1"}},
            {"url": "http://reviews:9080/reviews/1", "status": 503, "body": "no healthy upstream\n"},
        ]});
        assert_eq!(
            failed_call(&body).as_deref(),
            Some("http://reviews:9080/reviews/1: 503 no healthy upstream")
        );
        let nested = json!({"calls": [{"url": "http://reviews", "status": 502, "body":
            {"calls": [{"url": "http://ratings", "error": "connection refused"}]}}]});
        assert_eq!(failed_call(&nested).as_deref(), Some("http://ratings: connection refused"));
        assert_eq!(failed_call(&json!({"service": "x"})), None);
    }

    #[test]
    fn injected_failures_are_counted_apart() {
        let mut summary = Summary::default();
        let outcome = |status: u16, version: &str, injected: bool| Outcome {
            at_ms: 0,
            status,
            version: Some(version.to_owned()),
            injected,
            error: None,
            cause: None,
        };
        summary.add(&outcome(200, "v2", false));
        summary.add(&outcome(502, "v3", true));
        summary.add(&outcome(502, "v3", false));
        assert_eq!((summary.injected_failures, summary.other_failures), (1, 1));
        assert_eq!(
            summary.line("reviews"),
            "reviews  v2 1 (33%)  v3 2 (67%)   3 requests, 2 failed (1 injected by the service)"
        );
    }
}
