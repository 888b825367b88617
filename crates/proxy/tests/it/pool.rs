//! Bounded upstream pools (issue 16 item 4): an upstream that counts its open connections sees
//! no more than `maxConnections`, requests past the pending bound get Envoy's 503 `UO`
//! overflow, idle upstream connections are closed after the idle timeout, and
//! `maxRequestsPerConnection` closes connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use weir_proxy::{
    ConnectionPool, OVERFLOW, OVERLOADED_HEADER, Role, Route, RouteTable, VirtualHost,
};

use crate::support::{self, backend, client, get, mesh_hosts};

/// Connection counts an upstream saw.
#[derive(Debug, Default)]
struct Counts {
    open: AtomicUsize,
    max_open: AtomicUsize,
    accepted: AtomicUsize,
}

/// An upstream that answers after `delay` and counts its open connections. Its task ends with
/// the test's runtime.
async fn counting_upstream(delay: Duration) -> (SocketAddr, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.accepted.fetch_add(1, Ordering::SeqCst);
            let now_open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
            c.max_open.fetch_max(now_open, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    tokio::time::sleep(delay).await;
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                c.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, counts)
}

fn table(upstream: SocketAddr, pool: ConnectionPool) -> RouteTable {
    let mut table = RouteTable::default();
    let mut b = backend(&[upstream], "v1");
    b.connection_pool = pool;
    table.backends.insert("reviews".into(), b);
    table.mesh.push(VirtualHost {
        name: "reviews".into(),
        hosts: mesh_hosts("reviews"),
        port: None,
        routes: vec![Route::to("reviews")],
    });
    table
}

/// Waits until `done` holds, failing after a generous deadline (no timing assert).
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_stay_under_the_cap_and_pending_overflow_gets_503_uo() {
    let (upstream, counts) = counting_upstream(Duration::from_millis(300)).await;
    let limits =
        ConnectionPool { max_connections: 4, max_pending_requests: 6, ..ConnectionPool::default() };
    let proxy = support::proxy(&table(upstream, limits)).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    let requests: Vec<_> = (0..60)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { get(&c, mesh, "reviews", "/", &[]).await })
        })
        .collect();
    let (mut ok, mut overflow) = (0, 0);
    for r in requests {
        let reply = r.await.expect("task").expect("reply");
        match reply.status {
            200 => ok += 1,
            503 => {
                assert_eq!(reply.body, OVERFLOW, "Envoy's overflow body");
                let overloaded = reply.headers.get(OVERLOADED_HEADER).map(|v| v.as_bytes());
                assert_eq!(overloaded, Some(&b"true"[..]), "x-envoy-overloaded: true");
                overflow += 1;
            }
            s => panic!("unexpected status {s}: {}", reply.body),
        }
    }
    let max_open = counts.max_open.load(Ordering::SeqCst);
    assert!(max_open <= 4, "the upstream saw {max_open} connections at once (cap 4)");
    // 4 in flight + 6 pending are served; 60 requests at once cannot all fit.
    assert!(ok >= 4, "{ok} served");
    assert!(overflow >= 1, "no request overflowed ({ok} served)");
    let metrics = proxy.render_metrics();
    assert!(
        metrics.lines().any(|l| l.contains("response_code=\"503\"")
            && l.contains("response_flags=\"UO\"")
            && l.starts_with("istio_requests_total")),
        "istio_requests_total has the UO flag:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connections_close_after_the_idle_timeout() {
    let (upstream, counts) = counting_upstream(Duration::ZERO).await;
    let limits =
        ConnectionPool { idle_timeout: Duration::from_millis(200), ..ConnectionPool::default() };
    let proxy = support::proxy(&table(upstream, limits)).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { get(&c, mesh, "reviews", "/", &[]).await })
        })
        .collect();
    for r in requests {
        assert_eq!(r.await.expect("task").expect("reply").status, 200);
    }
    assert!(counts.accepted.load(Ordering::SeqCst) >= 1);
    eventually("every idle upstream connection closed", || counts.open.load(Ordering::SeqCst) == 0)
        .await;
    // The pool still works after its connections expired.
    assert_eq!(get(&c, mesh, "reviews", "/", &[]).await.expect("reply").status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_requests_per_connection_one_disables_keep_alive() {
    let (upstream, counts) = counting_upstream(Duration::ZERO).await;
    let limits = ConnectionPool { max_requests_per_connection: 1, ..ConnectionPool::default() };
    let proxy = support::proxy(&table(upstream, limits)).await;
    let mesh = proxy.addr(Role::Mesh).expect("mesh");
    let c = client();
    for _ in 0..5 {
        assert_eq!(get(&c, mesh, "reviews", "/", &[]).await.expect("reply").status, 200);
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 5, "one connection per request");
    eventually("each used connection closed", || counts.open.load(Ordering::SeqCst) == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_that_could_never_send_is_rejected() {
    let (upstream, _counts) = counting_upstream(Duration::ZERO).await;
    let limits = ConnectionPool { max_connections: 0, ..ConnectionPool::default() };
    let err = table(upstream, limits).validate().expect_err("maxConnections 0 is rejected");
    assert!(err.to_string().contains("connectionPool.maxConnections"), "{err}");
}
