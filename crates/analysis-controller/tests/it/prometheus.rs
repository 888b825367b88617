//! The Prometheus provider against a real Prometheus scraping a tiny /metrics target served by
//! the test. Skipped, loudly, only when the `prometheus` binary is not on PATH.

use std::process::Stdio;
use std::time::Duration;

use axum::routing::get;
use weir_analysis_controller::Providers;

use crate::support::{World, closed_port, eventually, last, phase, serve};

const METRICS: &str = "# TYPE test_success_ratio gauge\n\
test_success_ratio{version=\"canary\"} 0.99\n\
test_success_ratio{version=\"stable\"} 0.5\n";

/// A Prometheus process scraping a local target every second; killed on drop.
pub(crate) struct Prometheus {
    child: tokio::process::Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
}

pub(crate) async fn start_prometheus() -> Option<Prometheus> {
    if !on_path("prometheus") {
        eprintln!(
            "\n!!!!!!!! SKIPPED: `prometheus` is not on PATH; the Prometheus provider tests \
             did not run (apt-get install -y prometheus) !!!!!!!!\n"
        );
        return None;
    }
    let target = serve(axum::Router::new().route("/metrics", get(|| async { METRICS }))).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n\
             - job_name: test\n  static_configs:\n  - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let port = closed_port().await;
    let child = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start prometheus");
    let url = format!("http://127.0.0.1:{port}");
    let prom = Prometheus { child, url: url.clone(), _dir: dir };
    let client = reqwest::Client::new();
    eventually(40, "the first scrape", || {
        let client = client.clone();
        let url = url.clone();
        async move {
            let q = format!("{url}/api/v1/query?query=up%7Bjob%3D%22test%22%7D");
            let Ok(resp) = client.get(q).timeout(Duration::from_secs(2)).send().await else {
                return false;
            };
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            body["data"]["result"][0]["value"][1] == "1"
        }
    })
    .await;
    Some(prom)
}

pub(crate) fn run(address: &str, query: &str, condition: &str, extra: &str) -> String {
    format!(
        "spec:\n  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n    successCondition: {condition:?}\n    provider:\n      prometheus:\n        address: {address}\n        query: {query:?}\n{extra}"
    )
}

#[tokio::test]
async fn prometheus_vector_scalar_empty_nan_bad_query_range_and_server_down() {
    let Some(prom) = start_prometheus().await else {
        return;
    };
    let world = World::start(Providers::standard()).await;
    let a = &prom.url;
    let vector = world
        .create_run(&run(a, "test_success_ratio{version=\"canary\"}", "result[0] >= 0.95", ""))
        .await;
    let scalar = world
        .create_run(&run(a, "scalar(test_success_ratio{version=\"stable\"})", "result == 0.5", ""))
        .await;
    let empty = world
        .create_run(&run(a, "test_success_ratio{version=\"none\"}", "result[0] >= 0.95", ""))
        .await;
    let guarded = world
        .create_run(&run(
            a,
            "test_success_ratio{version=\"none\"}",
            "len(result) == 0 || result[0] >= 0.95",
            "",
        ))
        .await;
    let nan = world.create_run(&run(a, "vector(0) / 0", "isNaN(result[0])", "")).await;
    let bad = world.create_run(&run(a, "sum(", "true", "")).await;
    let range = world
        .create_run(&run(
            a,
            "test_success_ratio{version=\"canary\"}",
            "len(result) > 0 && all(result, {# == 0.99})",
            "        rangeQuery:\n          start: 'now() - duration(\"10s\")'\n          end: 'now()'\n          step: 1s\n",
        ))
        .await;
    let down_addr = format!("http://127.0.0.1:{}", closed_port().await);
    let down = world.create_run(&run(&down_addr, "up", "true", "")).await;

    let r = world.completed(&vector, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("[0.99]"));
    let r = world.completed(&scalar, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("0.5"));
    let r = world.completed(&empty, 20).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(last(&r, "m").value.as_deref(), Some("[]"));
    assert_eq!(
        last(&r, "m").message.as_deref(),
        Some(
            "could not evaluate successCondition \"result[0] >= 0.95\": metric result is nil or \
             empty: no data returned from the metric provider"
        )
    );
    let r = world.completed(&guarded, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let r = world.completed(&nan, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("[NaN]"));
    let r = world.completed(&bad, 20).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.starts_with("bad_data: invalid parameter \"query\": "), "{msg}");
    let r = world.completed(&range, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert!(last(&r, "m").value.as_deref().unwrap_or("").starts_with("[0.99"), "{:?}", r.status);
    let r = world.completed(&down, 20).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.starts_with(&format!("Post \"{down_addr}/api/v1/query\": ")), "{msg}");
    assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
    drop(prom);
}
