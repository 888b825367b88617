//! Accept loops: HTTP/1.1 connections served by hyper, graceful stop on shutdown.
//!
//! A proxy listener hands every request to `Shared::serve`; the admin listener answers
//! `GET /metrics` (Prometheus text), `GET /ready` and `GET /stats/window` (the sliding-window
//! statistics weir's built-in analysis provider reads, as JSON: see [`window_stats_json`]).
//!
//! Each listener holds at most [`Limits::max_connections`] connections (past it, new ones
//! wait in the kernel's backlog and one warning is logged per burst), and hyper closes a
//! connection whose request head does not arrive within [`Limits::header_read_timeout`]
//! (which also bounds how long a kept-alive connection may stay idle).

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
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::cap::ConnectionCap;

use crate::metrics::{DestinationSelector, WindowStats};
use crate::proxy::{METRICS_CONTENT_TYPE, Role, Shared};

/// What a listener serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Proxy { role: Role, source: u8 },
    Admin,
}

impl Kind {
    /// The listener's name in logs.
    fn name(self) -> &'static str {
        match self {
            Kind::Proxy { .. } => "proxy",
            Kind::Admin => "proxy admin",
        }
    }
}

/// A listener's limits against slow, idle or too many clients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
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
    limits: Limits,
) {
    let mut cap = ConnectionCap::new(limits.max_connections, kind.name());
    let addr = listener.local_addr().ok();
    loop {
        let Some(permit) = cap.place(addr, stopped(&mut shutdown)).await else { return };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut shutdown) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                let shutdown = shutdown.clone();
                let timeout = limits.header_read_timeout;
                tokio::spawn(connection(stream, shared.clone(), kind, shutdown, timeout, permit));
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
    header_read_timeout: Duration,
    // Held until the connection closes: its place under the listener's cap.
    _permit: OwnedSemaphorePermit,
) {
    let io = TokioIo::new(stream);
    let mut builder = http1::Builder::new();
    builder.keep_alive(true).timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
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
        "/stats/window" => match window_query(req.uri().query().unwrap_or_default()) {
            Ok((selector, window)) => (
                StatusCode::OK,
                "application/json",
                window_stats_json(&shared.window_stats(&selector, window)),
            ),
            Err(message) => (StatusCode::BAD_REQUEST, "text/plain", format!("{message}\n")),
        },
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    resp
}

/// The selector and window of a `/stats/window` query: `service`, `namespace`, `workload`,
/// `version`, `podTemplateHash` (each optional, as in [`DestinationSelector`]) and `windowMs`
/// (required), or why the query is not one.
pub(crate) fn window_query(query: &str) -> Result<(DestinationSelector, Duration), String> {
    let mut selector = DestinationSelector::default();
    let mut window = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "service" => selector.service = Some(value),
            "namespace" => selector.namespace = Some(value),
            "workload" => selector.workload = Some(value),
            "version" => selector.version = Some(value),
            "podTemplateHash" => selector.pod_template_hash = Some(value),
            "windowMs" => {
                let ms: u64 =
                    value.parse().map_err(|_| format!("windowMs {value:?} is not a number"))?;
                window = Some(Duration::from_millis(ms));
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    let window = window.ok_or("windowMs is required")?;
    Ok((selector, window))
}

/// `{"requests":N,"successes":N,"latencyCounts":[…]}`: a [`WindowStats`] as the built-in
/// provider reads it back ([`crate::LatencyHistogram::from_counts`]).
pub(crate) fn window_stats_json(stats: &WindowStats) -> String {
    let counts: Vec<String> = stats.latency.counts().iter().map(u64::to_string).collect();
    format!(
        "{{\"requests\":{},\"successes\":{},\"latencyCounts\":[{}]}}",
        stats.requests,
        stats.successes,
        counts.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_queries() {
        let (selector, window) =
            window_query("service=reviews&namespace=book%20info&version=canary&windowMs=60000")
                .unwrap();
        assert_eq!(selector.service.as_deref(), Some("reviews"));
        assert_eq!(selector.namespace.as_deref(), Some("book info"));
        assert_eq!(selector.version.as_deref(), Some("canary"));
        assert_eq!(selector.workload, None);
        assert_eq!(window, Duration::from_secs(60));
        assert_eq!(window_query("service=x").unwrap_err(), "windowMs is required");
        assert!(window_query("windowMs=1m").unwrap_err().contains("not a number"));
        assert!(window_query("windowMs=1&colour=red").unwrap_err().contains("colour"));
    }

    #[test]
    fn window_stats_render_as_json() {
        let stats = WindowStats { requests: 3, successes: 2, ..WindowStats::default() };
        let json = window_stats_json(&stats);
        assert!(json.starts_with("{\"requests\":3,\"successes\":2,\"latencyCounts\":[0,0,"));
        assert_eq!(json.matches(',').count(), 2 + stats.latency.counts().len() - 1);
    }
}
