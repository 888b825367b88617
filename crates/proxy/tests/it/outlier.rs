//! Outlier detection with real upstreams: an endpoint answering 503 to everything is ejected
//! after a few failures, the healthy one serves alone, and the ejected one comes back later.

use std::time::{Duration, Instant};

use weir_proxy::{OutlierDetection, Role, Route, RouteTable, VirtualHost};

use crate::support::{self, Behavior, Upstream, backend, client, get, mesh_hosts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_ejected_and_comes_back() {
    let bad = Upstream::with("bad", Behavior { fail_every: 1, ..Behavior::default() }).await;
    let good = Upstream::start("good").await;
    let mut reviews = backend(&[bad.addr, good.addr], "v1");
    reviews.outlier = Some(OutlierDetection {
        consecutive_5xx_errors: 3,
        interval: Duration::from_millis(200),
        base_ejection_time: Duration::from_secs(1),
        ..OutlierDetection::default()
    });
    let mut table = RouteTable::default();
    table.backends.insert("reviews".into(), reviews);
    // no retries: every try on the bad endpoint is a 503 the client sees
    table.mesh.push(VirtualHost {
        name: "reviews".into(),
        hosts: mesh_hosts("reviews"),
        port: None,
        routes: vec![Route::to("reviews")],
    });
    let proxy = support::proxy(&table).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();

    // Round-robin: the bad endpoint gets every other request until its third 503.
    let mut failures = 0;
    for _ in 0..40 {
        if bad.hits() >= 3 {
            break;
        }
        if get(&c, mesh, "reviews", "/", &[]).await.expect("reply").status == 503 {
            failures += 1;
        }
    }
    assert_eq!((bad.hits(), failures), (3, 3));

    // Ejected: only the healthy endpoint serves.
    let good_before = good.hits();
    for _ in 0..20 {
        let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
        assert_eq!((r.status, r.body.as_str()), (200, "good"));
    }
    assert_eq!(bad.hits(), 3, "no traffic to the ejected endpoint");
    assert_eq!(good.hits(), good_before + 20);

    // After the ejection time it is back in rotation (and fails again).
    let deadline = Instant::now() + Duration::from_secs(10);
    while bad.hits() == 3 {
        assert!(Instant::now() < deadline, "the ejected endpoint never came back");
        let _ = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bad.stop().await;
    good.stop().await;
}
