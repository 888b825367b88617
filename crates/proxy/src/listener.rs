//! Accept loops: HTTP/1.1 connections served by hyper, graceful stop on shutdown.
//!
//! A proxy listener hands every request to `Shared::serve`; the admin listener answers
//! `GET /metrics` (Prometheus text) and `GET /ready`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::proxy::{METRICS_CONTENT_TYPE, Role, Shared};

/// What a listener serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Proxy { role: Role, source: u8 },
    Admin,
}

pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Resolves once shutdown is requested (or the sender is gone); holds no borrow afterwards.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Accepts until `shutdown` turns true (or its sender is dropped).
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    kind: Kind,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut shutdown) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, shared.clone(), kind, shutdown.clone()));
            }
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    kind: Kind,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = TokioIo::new(stream);
    let mut builder = http1::Builder::new();
    // The timer enables hyper's default 30 s header read timeout (slow clients).
    builder.keep_alive(true).timer(TokioTimer::new());
    match kind {
        Kind::Proxy { role, source } => {
            let svc = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { shared.serve(role, source, req).await }
            });
            let conn = builder.serve_connection(io, svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut shutdown) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
        Kind::Admin => {
            let svc = service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(admin(&shared, &req)) }
            });
            let conn = builder.serve_connection(io, svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut shutdown) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
    }
}

fn admin(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" | "/stats/prometheus" => {
            (StatusCode::OK, METRICS_CONTENT_TYPE, shared.metrics_text())
        }
        "/ready" => (StatusCode::OK, "text/plain", "LIVE\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    resp
}
