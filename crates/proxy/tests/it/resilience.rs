//! Retries, timeouts, fault injection and mirroring.

use std::time::{Duration, Instant};

use weir_proxy::{
    Fault, FaultAbort, FaultDelay, Mirror, RetryOn, RetryPolicy, Role, Route, RouteTable,
    UPSTREAM_TIMEOUT, VirtualHost,
};

use crate::support::{self, Behavior, Upstream, backend, client, get, mesh_hosts, tally};

fn mesh_table(route: Route, backends: Vec<(&str, weir_proxy::Backend)>) -> RouteTable {
    let mut table = RouteTable::default();
    for (name, b) in backends {
        table.backends.insert(name.into(), b);
    }
    table.mesh.push(VirtualHost {
        name: "reviews".into(),
        hosts: mesh_hosts("reviews"),
        port: None,
        routes: vec![route],
    });
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_hide_a_503_returning_endpoint() {
    let bad = Upstream::with("bad", Behavior { fail_every: 1, ..Behavior::default() }).await;
    let good = Upstream::start("good").await;
    let route = Route {
        retries: Some(RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: RetryOn::parse("connect-failure,refused-stream,503").0,
        }),
        ..Route::to("reviews")
    };
    // round-robin over one failing and one good endpoint
    let table = mesh_table(route.clone(), vec![("reviews", backend(&[bad.addr, good.addr], "v1"))]);
    let proxy = support::proxy(&table).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    for _ in 0..40 {
        let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
        assert_eq!((r.status, r.body.as_str()), (200, "good"));
    }
    assert!(bad.hits() >= 19, "the bad endpoint was tried: {}", bad.hits());
    assert_eq!(good.hits(), 40);
    // without retries half the requests fail
    let no_retry =
        mesh_table(Route::to("reviews"), vec![("reviews", backend(&[bad.addr, good.addr], "v1"))]);
    proxy.update(&no_retry).expect("valid");
    let mut failed = 0;
    for _ in 0..40 {
        if get(&c, mesh, "reviews", "/", &[]).await.expect("reply").status == 503 {
            failed += 1;
        }
    }
    assert_eq!(failed, 20);
    // a backend whose only endpoint always fails: retries exhausted, upstream's 503 returned
    let only_bad = mesh_table(route, vec![("reviews", backend(&[bad.addr], "v1"))]);
    proxy.update(&only_bad).expect("valid");
    let before = bad.hits();
    let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
    assert_eq!((r.status, r.body.as_str()), (503, "bad"));
    assert_eq!(bad.hits() - before, 3, "1 try + 2 retries");
    assert!(proxy.render_metrics().contains("response_flags=\"URX\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_timeout_gives_504_and_per_try_timeout_retries_elsewhere() {
    let slow = Upstream::with(
        "slow",
        Behavior { delay: Duration::from_millis(800), ..Behavior::default() },
    )
    .await;
    let fast = Upstream::start("fast").await;
    let route = Route { timeout: Some(Duration::from_millis(150)), ..Route::to("slow") };
    let table = mesh_table(route, vec![("slow", backend(&[slow.addr], "v1"))]);
    let proxy = support::proxy(&table).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    let t0 = Instant::now();
    let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
    assert_eq!((r.status, r.body.as_str()), (504, UPSTREAM_TIMEOUT));
    assert!(t0.elapsed() < Duration::from_millis(700), "{:?}", t0.elapsed());

    let route = Route {
        timeout: Some(Duration::from_secs(3)),
        retries: Some(RetryPolicy {
            attempts: 2,
            per_try_timeout: Some(Duration::from_millis(100)),
            retry_on: RetryOn::parse("gateway-error").0,
        }),
        ..Route::to("mixed")
    };
    let table = mesh_table(route, vec![("mixed", backend(&[slow.addr, fast.addr], "v1"))]);
    proxy.update(&table).expect("valid");
    for _ in 0..6 {
        let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
        assert_eq!((r.status, r.body.as_str()), (200, "fast"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_abort_percentage_and_fixed_delay() {
    let v1 = Upstream::start("v1").await;
    let route = Route {
        fault: Some(Fault {
            delay: None,
            abort: Some(FaultAbort { http_status: 500, percentage: 30.0 }),
        }),
        ..Route::to("reviews")
    };
    let table = mesh_table(route, vec![("reviews", backend(&[v1.addr], "v1"))]);
    let proxy = support::proxy(&table).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    let mut aborted = 0;
    for _ in 0..400 {
        let r = get(&c, mesh, "reviews", "/", &[]).await.expect("reply");
        if r.status == 500 {
            assert_eq!(r.body, "fault filter abort");
            aborted += 1;
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert!((80..=160).contains(&aborted), "aborted {aborted} of 400 at 30%");
    assert_eq!(v1.hits(), 400 - aborted, "aborted requests never reach upstream");

    let route = Route {
        fault: Some(Fault {
            delay: Some(FaultDelay { fixed_delay: Duration::from_millis(120), percentage: 100.0 }),
            abort: None,
        }),
        ..Route::to("reviews")
    };
    proxy.update(&mesh_table(route, vec![("reviews", backend(&[v1.addr], "v1"))])).expect("valid");
    let t0 = Instant::now();
    assert_eq!(get(&c, mesh, "reviews", "/", &[]).await.expect("reply").status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(120));
    assert!(proxy.render_metrics().contains("response_flags=\"DI\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_duplicates_requests_without_affecting_responses() {
    let v1 = Upstream::start("v1").await;
    // the mirror is slow and always fails: the client must never notice
    let shadow =
        Upstream::with("shadow", Behavior { fail_every: 1, delay: Duration::from_millis(300) })
            .await;
    let route = Route {
        mirrors: vec![Mirror { backend: "preview".into(), percentage: 100.0 }],
        ..Route::to("stable")
    };
    let table = mesh_table(
        route,
        vec![("stable", backend(&[v1.addr], "v1")), ("preview", backend(&[shadow.addr], "v2"))],
    );
    let proxy = support::proxy(&table).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    let t0 = Instant::now();
    let mut bodies = Vec::new();
    for i in 0..20 {
        let r = get(&c, mesh, "reviews:9080", &format!("/r/{i}"), &[]).await.expect("reply");
        assert_eq!(r.status, 200);
        bodies.push(r.body);
    }
    assert_eq!(tally(&bodies, "v1"), 20);
    assert!(t0.elapsed() < Duration::from_secs(2), "mirrors never delay: {:?}", t0.elapsed());
    let deadline = Instant::now() + Duration::from_secs(5);
    while shadow.hits() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shadow.hits(), 20);
    let seen = shadow.seen();
    assert!(seen.iter().all(|s| s.headers.get("host").is_some_and(|h| h == "reviews-shadow:9080")));
    let mut paths: Vec<String> = seen.into_iter().map(|s| s.path).collect();
    paths.sort();
    assert_eq!(paths.len(), 20);
    assert!(paths.contains(&"/r/7".to_owned()));
    // mirrored requests are reported by the destination only
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let text = proxy.render_metrics();
        let mirror_lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("istio_requests_total{") && l.contains("destination_version=\"v2\"")
            })
            .collect();
        if mirror_lines.len() == 1 && mirror_lines[0].ends_with(" 20") {
            assert!(mirror_lines[0].contains("reporter=\"destination\""));
            assert!(mirror_lines[0].contains("response_code=\"503\""));
            break;
        }
        assert!(Instant::now() < deadline, "{mirror_lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads until the proxy closes the connection (end of stream or a reset).
async fn closed_by_proxy(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    // A guard so a regression fails instead of hanging; the proxy's timeout is far shorter.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                // hyper may answer 408 before closing.
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the proxy kept the connection open");
}

/// Issue 16, item 1: idle connections past the mesh listener's cap leave the gateway
/// serving (each listener has a cap of its own), every idle or slowloris connection is closed
/// after the header-read timeout, and the flooded listener then serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_one_listener_leaves_the_other_serving_and_slow_clients_are_closed() {
    use tokio::io::AsyncWriteExt;
    let good = Upstream::start("good").await;
    let mut table =
        mesh_table(Route::to("reviews"), vec![("reviews", backend(&[good.addr], "v1"))]);
    table.gateway.push(VirtualHost {
        name: "reviews".into(),
        hosts: vec!["reviews.example.com".into()],
        port: None,
        routes: vec![Route::to("reviews")],
    });
    let local: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = weir_proxy::ProxyConfig {
        listeners: vec![
            weir_proxy::ListenerConfig::gateway(local),
            weir_proxy::ListenerConfig::mesh(local),
        ],
        header_read_timeout: Duration::from_millis(300),
        max_connections_per_listener: 4,
        ..weir_proxy::ProxyConfig::default()
    };
    let proxy = weir_proxy::Proxy::start(config, &table).await.unwrap();
    let mesh = proxy.addr(Role::Mesh).unwrap();
    let gateway = proxy.addr(Role::Gateway).unwrap();

    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(tokio::net::TcpStream::connect(mesh).await.unwrap());
    }
    let mut slow = tokio::net::TcpStream::connect(gateway).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: reviews.example.com\r\nX-Slow: ").await.unwrap();

    let c = client();
    let through_gateway = get(&c, gateway, "reviews.example.com", "/", &[]).await.unwrap();
    assert_eq!((through_gateway.status, through_gateway.body.as_str()), (200, "good"));
    for stream in &mut idle {
        closed_by_proxy(stream).await;
    }
    closed_by_proxy(&mut slow).await;
    let through_mesh = get(&c, mesh, "reviews", "/", &[]).await.unwrap();
    assert_eq!((through_mesh.status, through_mesh.body.as_str()), (200, "good"));
    proxy.shutdown().await;
    good.stop().await;
}
