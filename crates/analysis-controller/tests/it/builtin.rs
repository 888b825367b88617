//! The built-in provider against a real proxy with two upstreams, the canary failing a known
//! fraction of requests: reading the proxy in process (`weir up`), and reading the same proxy's
//! admin listener over HTTP (`weir controller --proxy-stats-url`), with the same expectations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::routing::get;
use weir_analysis_controller::{BuiltinProvider, Providers, ProxyStats};
use weir_proxy::{
    Backend, DestinationLabels, ListenerConfig, Proxy, ProxyConfig, Role, Route, RouteTable,
    VirtualHost,
};

use crate::support::{World, last, phase, serve};

fn labels(version: &str) -> DestinationLabels {
    DestinationLabels {
        service: "reviews.bookinfo.svc.cluster.local".into(),
        service_name: "reviews".into(),
        service_namespace: "bookinfo".into(),
        workload: format!("reviews-{version}"),
        version: version.into(),
        pod_template_hash: format!("{version}-hash"),
        ..DestinationLabels::default()
    }
}

fn run(metric: &str, subset: &str, condition: &str) -> String {
    format!(
        "spec:\n  metrics:\n  - name: m\n    successCondition: {condition:?}\n    provider:\n      plugin:\n        weir/builtin:\n          metric: {metric}\n          service: reviews\n          namespace: bookinfo\n          subset: {subset}\n          window: 1m\n"
    )
}

/// Where the provider under test reads the proxy.
#[derive(Debug, Clone, Copy)]
enum Reading {
    InProcess,
    AdminListener,
}

#[tokio::test]
async fn builtin_metrics_read_the_proxy_statistics_in_process() {
    builtin_metrics_read_the_proxy_statistics(Reading::InProcess).await;
}

#[tokio::test]
async fn builtin_metrics_read_the_proxy_statistics_over_its_admin_listener() {
    builtin_metrics_read_the_proxy_statistics(Reading::AdminListener).await;
}

async fn builtin_metrics_read_the_proxy_statistics(reading: Reading) {
    let stable = serve(axum::Router::new().route("/", get(|| async { "ok" }))).await;
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let canary = serve(axum::Router::new().route(
        "/",
        get(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n.is_multiple_of(4) {
                    (StatusCode::INTERNAL_SERVER_ERROR, "no")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    ))
    .await;
    let table = RouteTable {
        mesh: vec![VirtualHost {
            name: "bookinfo/reviews".into(),
            hosts: vec!["reviews".into()],
            port: None,
            routes: vec![Route::weighted(&[("stable", 50), ("canary", 50)])],
        }],
        backends: BTreeMap::from([
            (
                "stable".to_owned(),
                Backend { endpoints: vec![stable], labels: labels("stable"), ..Backend::default() },
            ),
            (
                "canary".to_owned(),
                Backend { endpoints: vec![canary], labels: labels("canary"), ..Backend::default() },
            ),
        ]),
        ..RouteTable::default()
    };
    let config = ProxyConfig {
        listeners: vec![ListenerConfig::mesh("127.0.0.1:0".parse().expect("addr"))],
        admin: Some("127.0.0.1:0".parse().expect("addr")),
        ..ProxyConfig::default()
    };
    let proxy = Arc::new(Proxy::start(config, &table).await.expect("proxy"));
    let mesh = proxy.addr(Role::Mesh).expect("mesh listener");
    let client = reqwest::Client::new();
    for _ in 0..80 {
        let resp = client.get(format!("http://{mesh}/")).header("host", "reviews").send().await;
        resp.expect("request through the proxy");
    }
    assert_eq!(counter.load(Ordering::SeqCst), 40, "smooth weighted round-robin splits 50/50");

    let provider = match reading {
        Reading::InProcess => {
            let stats: Arc<dyn ProxyStats> = proxy.clone();
            BuiltinProvider::new(stats)
        }
        Reading::AdminListener => {
            let admin = proxy.admin_addr().expect("admin listener");
            BuiltinProvider::remote(format!("http://{admin}/stats/window")).expect("client")
        }
    };
    let world = World::start(Providers::standard().with(Arc::new(provider))).await;
    let canary_rate =
        world.create_run(&run("request-success-rate", "canary", "result >= 99")).await;
    let stable_rate =
        world.create_run(&run("request-success-rate", "stable", "result >= 99")).await;
    let latency = world.create_run(&run("request-duration", "stable", "result < 1000")).await;
    let apdex = world.create_run(&run("apdex", "canary", "result == 7500")).await;
    let idle = world.create_run(&run("request-success-rate", "other", "isNaN(result)")).await;
    let by_hash = world
        .create_run(
            &run("request-success-rate", "x", "result == 75")
                .replace("          subset: x\n", "          podTemplateHash: canary-hash\n"),
        )
        .await;
    let bad = |from: &str, to: &str| {
        run("request-success-rate", "canary", "true")
            .replace(from, to)
            .replace("    successCondition:", "    consecutiveErrorLimit: 0\n    successCondition:")
    };
    let unknown_metric =
        world.create_run(&bad("metric: request-success-rate", "metric: error-budget")).await;
    let unknown_field =
        world.create_run(&bad("window: 1m", "window: 1m\n          percentile: 95")).await;
    let bad_window = world.create_run(&bad("window: 1m", "window: a minute")).await;

    let r = world.completed(&canary_rate, 20).await;
    assert_eq!(phase(&r), "Failed");
    assert_eq!(last(&r, "m").value.as_deref(), Some("75"));
    let r = world.completed(&stable_rate, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("100"));
    let r = world.completed(&latency, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let r = world.completed(&apdex, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    let r = world.completed(&idle, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("NaN"));
    let r = world.completed(&by_hash, 20).await;
    assert_eq!(phase(&r), "Successful", "{:?}", r.status);
    assert_eq!(last(&r, "m").value.as_deref(), Some("75"));

    let r = world.completed(&unknown_metric, 20).await;
    assert_eq!(phase(&r), "Error");
    assert_eq!(
        last(&r, "m").message.as_deref(),
        Some(
            "unknown weir/builtin metric \"error-budget\" (request-success-rate, \
             request-duration, apdex)"
        )
    );
    let r = world.completed(&unknown_field, 20).await;
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("invalid weir/builtin configuration: unknown field `percentile`"),
        "{msg}"
    );
    let r = world.completed(&bad_window, 20).await;
    let msg = last(&r, "m").message.clone().unwrap_or_default();
    assert!(msg.starts_with("invalid window \"a minute\": "), "{msg}");

    if let Reading::AdminListener = reading {
        // A proxy that cannot be reached is an Error measurement naming the URL, not a NaN.
        let unreachable =
            BuiltinProvider::remote("http://127.0.0.1:1/stats/window").expect("client");
        let world = World::start(Providers::standard().with(Arc::new(unreachable))).await;
        let run = world.create_run(&bad("window: 1m", "window: 1m")).await;
        let r = world.completed(&run, 20).await;
        assert_eq!(phase(&r), "Error", "{:?}", r.status);
        let msg = last(&r, "m").message.clone().unwrap_or_default();
        assert!(msg.contains("127.0.0.1:1/stats/window"), "{msg}");
    }
}
