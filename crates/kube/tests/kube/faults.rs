//! Faults between the backend and the API: a TCP proxy in front of `weir up` that refuses the
//! first requests with a status of the test's choice, then passes everything through. Checks
//! the retry rule end to end: reads and 429s are retried; a create answered 503 is not (it may
//! have landed), and the caller sees `Unavailable`. It can also pass a request on and then
//! break the connection instead of answering: a replace whose answer was lost that way is
//! reported as the success it was, not as the 409 Conflict its replay gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use weir_cluster::{Cluster, Error, ListParams, WatchEvent, WatchParams};
use weir_kube::ConnectOptions;

use crate::harness::{Weir, config_map, namespace, rt, write_kubeconfig};

type Body = BoxBody<Bytes, hyper::Error>;

/// An HTTP proxy answering the next `refusals` requests with `code` and forwarding every other
/// request to `upstream` (per request, so pooled connections cannot slip past it).
struct FlakyProxy {
    addr: String,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    refusals: AtomicUsize,
    code: AtomicUsize,
    refused: AtomicUsize,
    /// When non-zero, watch responses end after this many milliseconds, as an API server
    /// ends a watch at its `timeoutSeconds` (or a load balancer cuts an idle stream).
    cut_watches_ms: AtomicUsize,
    watches: AtomicUsize,
    /// The next this many requests reach the server, then the connection breaks before the
    /// answer (a write lands; its caller cannot know).
    break_after_acting: AtomicUsize,
    broken: AtomicUsize,
}

impl FlakyProxy {
    async fn start(upstream: String) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(State::default());
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (state, client, upstream) =
                        (state.clone(), client.clone(), upstream.clone());
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (state, client, upstream) =
                            (state.clone(), client.clone(), upstream.clone());
                        async move {
                            let break_it = state
                                .break_after_acting
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            let response = handle(&state, &client, &upstream, request).await;
                            if break_it {
                                state.broken.fetch_add(1, Ordering::SeqCst);
                                // An error from the service: hyper closes the connection
                                // without an answer.
                                return Err(std::io::Error::other("injected break"));
                            }
                            Ok(response)
                        }
                    });
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        FlakyProxy { addr, state }
    }

    fn refuse_next(&self, count: usize, code: usize) {
        self.state.code.store(code, Ordering::SeqCst);
        self.state.refused.store(0, Ordering::SeqCst);
        self.state.refusals.store(count, Ordering::SeqCst);
    }

    fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }
}

async fn handle(
    state: &State,
    client: &Client<HttpConnector, Incoming>,
    upstream: &str,
    mut request: Request<Incoming>,
) -> Response<Body> {
    let refuse = state
        .refusals
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refuse {
        state.refused.fetch_add(1, Ordering::SeqCst);
        let code = state.code.load(Ordering::SeqCst);
        let reason = if code == 429 { "TooManyRequests" } else { "ServiceUnavailable" };
        let body = format!(
            r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected {code}","reason":"{reason}","code":{code}}}"#
        );
        return Response::builder()
            .status(u16::try_from(code).unwrap_or(503))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed())
            .expect("response");
    }
    let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    *request.uri_mut() = format!("{upstream}{path}").parse().expect("upstream uri");
    let is_watch = path.contains("watch=true") || path.contains("watch=1");
    if is_watch {
        state.watches.fetch_add(1, Ordering::SeqCst);
    }
    let cut = state.cut_watches_ms.load(Ordering::SeqCst) as u64;
    match client.request(request).await {
        Ok(response) if is_watch && cut > 0 => {
            let (parts, body) = response.into_parts();
            let frames = http_body_util::BodyStream::new(body)
                .take_until(tokio::time::sleep(std::time::Duration::from_millis(cut)));
            Response::from_parts(parts, BodyExt::boxed(http_body_util::StreamBody::new(frames)))
        }
        Ok(response) => response.map(BodyExt::boxed),
        Err(e) => Response::builder()
            .status(502)
            .body(Full::new(Bytes::from(e.to_string())).map_err(|never| match never {}).boxed())
            .expect("response"),
    }
}

#[tokio::test]
async fn reads_and_429s_are_retried_and_an_ambiguous_create_is_not() {
    let weir = Weir::start().await;
    let direct = weir.cluster().await;
    namespace(&direct, "faults").await;
    let proxy = FlakyProxy::start(weir.api.clone()).await;
    let path = weir.dir.path().join("flaky-kubeconfig");
    write_kubeconfig(&path, &proxy.addr, &weir.token());
    let cluster =
        weir_kube::connect(&ConnectOptions { kubeconfig: Some(path), ..ConnectOptions::default() })
            .await
            .expect("connect through the proxy");
    let cms = rt("configmaps");

    // A read through two 503s: retried, answered.
    direct.create(&cms, config_map("faults", "read", "1")).await.expect("create");
    proxy.refuse_next(2, 503);
    cluster.get(&cms, Some("faults"), "read").await.expect("read retried past two 503s");
    assert_eq!(proxy.refused(), 2);

    // A create answered 503 may have landed: not retried, the caller decides.
    proxy.refuse_next(1, 503);
    let error = cluster.create(&cms, config_map("faults", "once", "1")).await.expect_err("503");
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert!(error.is_transient());
    let absent = direct.get(&cms, Some("faults"), "once").await.expect_err("not created");
    assert!(matches!(absent, Error::NotFound { .. }), "{absent:?}");

    // 429 means "not done, come back later": even a create is retried.
    proxy.refuse_next(2, 429);
    cluster.create(&cms, config_map("faults", "later", "1")).await.expect("create after 429s");
    assert_eq!(proxy.refused(), 2);
    direct.get(&cms, Some("faults"), "later").await.expect("created once");
}

#[tokio::test]
async fn a_watch_the_server_ends_is_resumed_without_losing_or_repeating_events() {
    let weir = Weir::start().await;
    let direct = weir.cluster().await;
    namespace(&direct, "resume").await;
    let proxy = FlakyProxy::start(weir.api.clone()).await;
    let path = weir.dir.path().join("cutting-kubeconfig");
    write_kubeconfig(&path, &proxy.addr, &weir.token());
    let cluster =
        weir_kube::connect(&ConnectOptions { kubeconfig: Some(path), ..ConnectOptions::default() })
            .await
            .expect("connect through the proxy");
    let cms = rt("configmaps");
    proxy.state.cut_watches_ms.store(400, Ordering::SeqCst);

    let list = cluster.list(&cms, Some("resume"), &ListParams::default()).await.expect("list");
    let params = WatchParams {
        resource_version: Some(list.resource_version),
        bookmarks: true,
        ..WatchParams::default()
    };
    let mut stream = cluster.watch(&cms, Some("resume"), &params).await.expect("watch");
    let mut names = Vec::new();
    for i in 0..4 {
        direct.create(&cms, config_map("resume", &format!("c{i}"), "x")).await.expect("create");
        // Each object is created after the proxy has cut the previous watch response.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    while names.len() < 4 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), stream.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on across cuts")
            .expect("no error");
        if let WatchEvent::Added(o) = event {
            names.push(o.name().to_owned());
        }
    }
    assert_eq!(names, ["c0", "c1", "c2", "c3"], "each change once, in order");
    assert!(proxy.state.watches.load(Ordering::SeqCst) >= 2, "the watch was reopened");
}

#[tokio::test]
async fn a_replace_whose_answer_was_lost_is_not_taken_for_a_conflict() {
    let weir = Weir::start().await;
    let direct = weir.cluster().await;
    namespace(&direct, "landed").await;
    let proxy = FlakyProxy::start(weir.api.clone()).await;
    let path = weir.dir.path().join("breaking-kubeconfig");
    write_kubeconfig(&path, &proxy.addr, &weir.token());
    let cluster =
        weir_kube::connect(&ConnectOptions { kubeconfig: Some(path), ..ConnectOptions::default() })
            .await
            .expect("connect through the proxy");
    let cms = rt("configmaps");
    let created = direct.create(&cms, config_map("landed", "cm", "1")).await.expect("create");

    // The replace lands, its answer is lost; the retry's 409 is our own write's doing.
    let mut changed = created.clone();
    changed.data.insert("data".into(), serde_json::json!({"k": "2"}));
    proxy.state.break_after_acting.store(1, Ordering::SeqCst);
    let written = cluster.update(&cms, changed).await.expect("the write landed: no conflict");
    assert_eq!(proxy.state.broken.load(Ordering::SeqCst), 1, "the answer was lost once");
    assert_eq!(written.data["data"]["k"], "2");
    let stored = direct.get(&cms, Some("landed"), "cm").await.expect("get");
    assert_eq!(stored.resource_version(), written.resource_version(), "written once");

    // A write from a stale version whose 409 answer is lost is still a conflict: the object
    // does not hold it.
    let mut stale = created;
    stale.data.insert("data".into(), serde_json::json!({"k": "3"}));
    proxy.state.break_after_acting.store(1, Ordering::SeqCst);
    let error = cluster.update(&cms, stale).await.expect_err("a real conflict");
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    assert_eq!(proxy.state.broken.load(Ordering::SeqCst), 2);
    let stored = direct.get(&cms, Some("landed"), "cm").await.expect("get");
    assert_eq!(stored.data["data"]["k"], "2");
}
