//! Real upstream servers on 127.0.0.1, a real client, and table builders.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use weir_proxy::{
    Backend, DestinationLabels, ListenerConfig, LoadBalancer, Proxy, ProxyConfig, RouteTable,
};

/// How an upstream answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Behavior {
    /// Answer 503 to every n-th request (1 = all); 0 = never.
    pub(crate) fail_every: u64,
    /// Sleep before answering.
    pub(crate) delay: Duration,
}

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
}

/// A tiny HTTP server answering with its name.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    hits: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub(crate) async fn start(name: &str) -> Self {
        Self::with(name, Behavior::default()).await
    }

    pub(crate) async fn with(name: &str, behavior: Behavior) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, rx) = watch::channel(false);
        let name: Arc<str> = name.into();
        let (h, s) = (hits.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let mut rx_accept = rx.clone();
            loop {
                let stream = tokio::select! {
                    a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
                    _ = stopped(&mut rx_accept) => return,
                };
                let (name, hits, seen, behavior) =
                    (name.clone(), h.clone(), s.clone(), behavior.clone());
                let mut rx_conn = rx.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (name, hits, seen, behavior) =
                            (name.clone(), hits.clone(), seen.clone(), behavior.clone());
                        async move {
                            let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                            seen.lock().expect("seen").push(Seen {
                                path: req
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: req.headers().clone(),
                            });
                            let _ = req.into_body().collect().await;
                            if !behavior.delay.is_zero() {
                                tokio::time::sleep(behavior.delay).await;
                            }
                            let status = if behavior.fail_every > 0 && n % behavior.fail_every == 0
                            {
                                503
                            } else {
                                200
                            };
                            let mut resp = Response::new(Full::new(Bytes::from(name.to_string())));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            resp.headers_mut().insert("x-upstream", name.parse().expect("name"));
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stopped(&mut rx_conn) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        });
        Self { addr, hits, seen, stop, task }
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// Graceful stop: no new connections, idle keep-alive connections closed, in-flight finish.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

pub(crate) type TestClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A response as the test sees it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) headers: HeaderMap,
}

/// `GET http://{proxy}{path}` with `Host: {host}` and extra headers.
pub(crate) async fn get(
    client: &TestClient,
    proxy: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let mut req = Request::builder().uri(format!("http://{proxy}{path}")).header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply { status, body: String::from_utf8_lossy(&body).into_owned(), headers })
}

/// Sends a raw HTTP/1.1 request (must ask for `Connection: close`) and returns the response text.
pub(crate) async fn raw(proxy: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(proxy).await.expect("connect proxy");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn labels(service: &str, version: &str) -> DestinationLabels {
    DestinationLabels {
        service: format!("{service}.bookinfo.svc.cluster.local"),
        service_name: service.into(),
        service_namespace: "bookinfo".into(),
        workload: format!("{service}-{version}"),
        workload_namespace: "bookinfo".into(),
        app: service.into(),
        version: version.into(),
        pod_template_hash: format!("hash-{version}"),
    }
}

pub(crate) fn backend(addrs: &[SocketAddr], version: &str) -> Backend {
    Backend {
        endpoints: addrs.to_vec(),
        load_balancer: LoadBalancer::RoundRobin,
        labels: labels("reviews", version),
        outlier: None,
        connection_pool: weir_proxy::ConnectionPool::default(),
    }
}

pub(crate) fn mesh_hosts(service: &str) -> Vec<String> {
    vec![
        service.to_owned(),
        format!("{service}.bookinfo"),
        format!("{service}.bookinfo.svc.cluster.local"),
    ]
}

/// A proxy with one gateway, one mesh and one admin listener on 127.0.0.1.
pub(crate) async fn proxy(table: &RouteTable) -> Proxy {
    let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let config = ProxyConfig {
        listeners: vec![ListenerConfig::gateway(local), ListenerConfig::mesh(local)],
        admin: Some(local),
        ..ProxyConfig::default()
    };
    Proxy::start(config, table).await.expect("proxy starts")
}

/// Counts replies by body.
pub(crate) fn tally(bodies: &[String], name: &str) -> usize {
    bodies.iter().filter(|b| *b == name).count()
}
