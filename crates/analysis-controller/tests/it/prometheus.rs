//! The Prometheus provider against a real Prometheus scraping a tiny /metrics target served by
//! the test. Skipped, loudly, only when the `prometheus` binary is not on PATH.

use std::process::Stdio;
use std::time::Duration;

use axum::routing::get;
use weir_analysis_controller::Providers;

use weir_cluster::Cluster;

use crate::support::{NS, World, closed_port, eventually, last, phase, rt, serve};

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

/// The bcrypt hash of the password `test` (the one in Prometheus' basic-auth guide).
const TEST_PASSWORD_HASH: &str = "$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay";

pub(crate) async fn start_prometheus() -> Option<Prometheus> {
    start(false).await
}

/// A Prometheus whose API requires the user `admin` with the password `test`.
async fn start_prometheus_with_basic_auth() -> Option<Prometheus> {
    start(true).await
}

async fn start(basic_auth: bool) -> Option<Prometheus> {
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
    let mut command = tokio::process::Command::new("prometheus");
    if basic_auth {
        let web = dir.path().join("web.yml");
        std::fs::write(&web, format!("basic_auth_users:\n  admin: {TEST_PASSWORD_HASH}\n"))
            .expect("web config");
        command.arg(format!("--web.config.file={}", web.display()));
    }
    let child = command
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
            let mut req = client.get(q).timeout(Duration::from_secs(2));
            if basic_auth {
                req = req.basic_auth("admin", Some("test"));
            }
            let Ok(resp) = req.send().await else {
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

#[tokio::test]
async fn prometheus_basic_auth_with_a_password_from_a_secret() {
    let Some(prom) = start_prometheus_with_basic_auth().await else {
        return;
    };
    let world = World::start(Providers::standard()).await;
    let mut secret = weir_cluster::Object::new("v1", "Secret", Some(NS), "prom");
    secret
        .data
        .insert("stringData".into(), serde_json::json!({"password": "test", "wrong": "nope"}));
    world.store.create(&rt("secrets"), secret).await.expect("secret");
    let with_key = |key: &str| {
        format!(
            "spec:\n  args:\n  - name: pw\n    valueFrom:\n      secretKeyRef: {{name: prom, key: {key}}}\n{}",
            run(&prom.url, "test_success_ratio{version=\"canary\"}", "result[0] > 0.9", "")
                .trim_start_matches("spec:\n")
                .replace(
                    "        query:",
                    "        authentication:\n          basicAuth: {username: admin, password: '{{args.pw}}'}\n        query:"
                )
        )
    };
    let good = world.create_run(&with_key("password")).await;
    let wrong = world.create_run(&with_key("wrong")).await;
    let anonymous = world
        .create_run(&run(&prom.url, "test_success_ratio{version=\"canary\"}", "true", ""))
        .await;

    let r = world.completed(&good, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("[0.99]"));
    for name in [&wrong, &anonymous] {
        let r = world.completed(name, 30).await;
        assert_eq!(phase(&r), "Error");
        assert_eq!(
            last(&r, "m").message.as_deref(),
            Some("client_error: client error: 401: Unauthorized")
        );
    }
}

#[tokio::test]
async fn prometheus_timeout_and_headers() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new()
        .route(
            "/slow/api/v1/query",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/api/v1/query",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let record = record.clone();
                async move {
                    let org = headers.get("x-scope-orgid").and_then(|v| v.to_str().ok());
                    record.lock().expect("lock").push(org.unwrap_or("").to_owned());
                    r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#
                }
            }),
        );
    let addr = serve(app).await;
    let world = World::start(Providers::standard()).await;
    let slow = world
        .create_run(&run(&format!("http://{addr}/slow"), "up", "true", "        timeout: 1\n"))
        .await;
    let headers = world
        .create_run(&run(
            &format!("http://{addr}"),
            "up",
            "result == 1",
            "        headers:\n        - key: X-Scope-OrgID\n          value: team-a\n",
        ))
        .await;
    let r = world.completed(&slow, 30).await;
    assert_eq!(phase(&r), "Error");
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.contains("context deadline exceeded"), "{msg}");
    let r = world.completed(&headers, 30).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(*seen.lock().expect("lock"), ["team-a"]);
}
