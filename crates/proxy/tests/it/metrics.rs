//! `/metrics` text and the in-memory stats query.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use weir_proxy::{DestinationSelector, Role, Route, RouteTable, VirtualHost};

use crate::support::{self, Behavior, Upstream, backend, client, get, mesh_hosts};

fn series<'a>(text: &'a str, prefix: &str, must: &[&str]) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix) && must.iter().all(|m| l.contains(m))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_istio_series_labels_and_counts() {
    let v1 = Upstream::start("v1").await;
    let v2 = Upstream::with("v2", Behavior { fail_every: 4, ..Behavior::default() }).await;
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    table.backends.insert("canary".into(), backend(&[v2.addr], "v2"));
    table.gateway.push(VirtualHost {
        name: "bookinfo".into(),
        hosts: vec!["bookinfo.tetrate.com".into()],
        port: None,
        routes: vec![Route::weighted(&[("stable", 50), ("canary", 50)])],
    });
    table.mesh.push(VirtualHost::service("reviews", mesh_hosts("reviews"), "stable"));
    let proxy = support::proxy(&table).await;
    let (gw, mesh) =
        (proxy.addr(Role::Gateway).expect("gw"), proxy.addr(Role::Mesh).expect("mesh"));
    let c = client();
    for _ in 0..40 {
        get(&c, gw, "bookinfo.tetrate.com", "/", &[]).await.expect("reply");
    }
    for _ in 0..7 {
        get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
    }
    for _ in 0..3 {
        assert_eq!(get(&c, gw, "nope.example", "/", &[]).await.expect("reply").status, 404);
    }
    let text = proxy.render_metrics();
    assert!(text.contains("# TYPE istio_requests_total counter\n"));
    assert!(text.contains("# TYPE istio_request_duration_milliseconds histogram\n"));
    assert!(text.ends_with('\n'));

    let gw_v1 = series(
        &text,
        "istio_requests_total{reporter=\"destination\"",
        &["source_workload=\"istio-ingressgateway\"", "destination_version=\"v1\""],
    );
    assert_eq!(gw_v1.len(), 1, "{gw_v1:?}");
    let line = gw_v1[0];
    for label in [
        "source_workload_namespace=\"istio-system\"",
        "destination_workload=\"reviews-v1\"",
        "destination_workload_namespace=\"bookinfo\"",
        "destination_service=\"reviews.bookinfo.svc.cluster.local\"",
        "destination_service_name=\"reviews\"",
        "destination_service_namespace=\"bookinfo\"",
        "destination_app=\"reviews\"",
        "destination_pod_template_hash=\"hash-v1\"",
        "request_protocol=\"http\"",
        "response_code=\"200\"",
        "response_flags=\"-\"",
        "connection_security_policy=\"none\"",
    ] {
        assert!(line.contains(label), "{label} missing in {line}");
    }
    assert!(line.ends_with("} 20"), "{line}");
    // the canary answered 503 to every 4th of its 20 requests
    let v2_ok = series(
        &text,
        "istio_requests_total{reporter=\"source\"",
        &["destination_version=\"v2\"", "response_code=\"200\""],
    );
    let v2_err = series(
        &text,
        "istio_requests_total{reporter=\"source\"",
        &["destination_version=\"v2\"", "response_code=\"503\""],
    );
    assert!(v2_ok[0].ends_with("} 15") && v2_err[0].ends_with("} 5"), "{v2_ok:?} {v2_err:?}");
    // mesh requests: source unknown
    let mesh_v1 = series(
        &text,
        "istio_requests_total{reporter=\"source\",source_workload=\"unknown\"",
        &["destination_version=\"v1\""],
    );
    assert!(mesh_v1.len() == 1 && mesh_v1[0].ends_with("} 7"), "{mesh_v1:?}");
    // no route: unknown destination, NR
    let nr = series(
        &text,
        "istio_requests_total{reporter=\"destination\"",
        &["response_flags=\"NR\"", "destination_service=\"unknown\"", "response_code=\"404\""],
    );
    assert!(nr.len() == 1 && nr[0].ends_with("} 3"), "{nr:?}");
    // histogram: buckets cumulative up to +Inf == count
    let v1_gw = "destination_version=\"v1\"";
    let inf = series(
        &text,
        "istio_request_duration_milliseconds_bucket{reporter=\"destination\",source_workload=\"istio-ingressgateway\"",
        &[v1_gw, "le=\"+Inf\""],
    );
    assert!(inf.len() == 1 && inf[0].ends_with("} 20"), "{inf:?}");
    let count = series(
        &text,
        "istio_request_duration_milliseconds_count{reporter=\"destination\",source_workload=\"istio-ingressgateway\"",
        &[v1_gw],
    );
    assert!(count.len() == 1 && count[0].ends_with("} 20"), "{count:?}");
    let buckets = series(
        &text,
        "istio_request_duration_milliseconds_bucket{reporter=\"destination\",source_workload=\"istio-ingressgateway\"",
        &[v1_gw],
    );
    let les: Vec<&str> =
        buckets.iter().filter_map(|l| l.split("le=\"").nth(1)?.split('"').next()).collect();
    assert_eq!(
        les,
        [
            "0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000",
            "10000", "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf"
        ]
    );

    // the admin listener serves the same text
    let admin = proxy.admin_addr().expect("admin");
    let resp = c
        .request(
            http::Request::get(format!("http://{admin}/metrics"))
                .body(Full::new(Bytes::new()))
                .expect("req"),
        )
        .await
        .expect("admin reply");
    assert_eq!(
        resp.headers().get("content-type").expect("ct"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("destination_pod_template_hash=\"hash-v2\""));

    // the in-memory stats the analysis provider reads
    let by_version =
        |v: &str| DestinationSelector { version: Some(v.into()), ..DestinationSelector::default() };
    let s1 = proxy.stats(&by_version("v1"), Duration::from_secs(60));
    assert_eq!((s1.requests, s1.successes), (27, 27));
    let s2 = proxy.stats(&by_version("v2"), Duration::from_secs(60));
    assert_eq!((s2.requests, s2.successes), (20, 15));
    assert_eq!(s2.success_rate(), Some(0.75));
    let p50 = s2.p(0.5).expect("latency");
    assert!(p50 > 0.0 && p50 < 1000.0, "{p50}");
    let svc =
        DestinationSelector { service: Some("reviews".into()), ..DestinationSelector::default() };
    assert_eq!(proxy.stats(&svc, Duration::from_secs(60)).requests, 47);
}
