//! Bounded upstream connection pools: one per backend (an Envoy cluster), with Envoy's
//! circuit-breaker semantics for HTTP/1.1.
//!
//! Without a bound, 10,000 concurrent requests opened 10,000 upstream connections and kept
//! them (issue 16 item 4). A [`Pool`] enforces a backend's [`ConnectionPool`] limits:
//!
//! - at most `max_connections` upstream connections are open at once, across the backend's
//!   endpoints. A connection's slot is released only when its socket is closed, so the
//!   upstream never sees more;
//! - HTTP/1.1 carries one request per connection at a time, so at most
//!   `min(max_connections, max_requests)` requests are in flight; a request over that waits
//!   (it is *pending*), and a request that would make more than `max_pending_requests` wait
//!   overflows: 503 with Envoy's `UO` flag (see [`admit`]);
//! - a connection that served `max_requests_per_connection` requests is closed (0: no limit);
//! - an idle connection is closed after `idle_timeout` ([`Pool::reap`], run by the proxy's
//!   reaper task, and checked again when a connection is taken from the idle list).
//!
//! A request in flight holds a request slot until its response body has been read (or
//! dropped); the connection goes back to the idle list before the slot is released, so a
//! request holding a slot always finds a connection: an idle one to its endpoint, a free
//! connection slot, or an idle connection to another endpoint to close.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::table::ConnectionPool;

/// Why a pooled request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// More than `max_pending_requests` requests would wait: Envoy's pending overflow.
    Overflow,
    /// No connection could be made, or the request was not sent (a pooled connection closed
    /// before it was written): safe to retry on any method.
    Connect,
    /// The connection broke after the request was sent, before response headers.
    Reset,
}

/// What [`admit`] decides for a request that found no free request slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Wait for a slot (the request is pending).
    Wait,
    /// Answer 503 `UO` now.
    Overflow,
}

/// Envoy's pending-request circuit breaker: a request that finds every request slot taken
/// waits if fewer than `max_pending` requests already wait, and overflows otherwise
/// (`max_pending` 0: never wait).
pub(crate) fn admit(already_pending: usize, max_pending: u32) -> Admission {
    if already_pending < max_pending as usize { Admission::Wait } else { Admission::Overflow }
}

/// Whether a connection idle since `since` has outlived `timeout` at `now`.
pub(crate) fn idle_expired(since: Instant, now: Instant, timeout: Duration) -> bool {
    now.saturating_duration_since(since) >= timeout
}

/// Whether a connection that served `served` requests may serve another one
/// (`max_per_connection` 0: no limit, as Istio's `maxRequestsPerConnection`).
pub(crate) fn reusable(served: u32, max_per_connection: u32) -> bool {
    max_per_connection == 0 || served < max_per_connection
}

/// An open upstream connection (its slot is held by the connection's task).
#[derive(Debug)]
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: Authority,
    served: u32,
    idle_since: Instant,
}

/// The bounded pool of one backend. Shared by successive routers while its limits stay the
/// same (see `router::EndpointCache`).
#[derive(Debug)]
pub(crate) struct Pool {
    limits: ConnectionPool,
    /// One permit per open connection; the connection's task holds it until the socket closes.
    connections: Arc<Semaphore>,
    /// One permit per request in flight.
    requests: Arc<Semaphore>,
    pending: AtomicUsize,
    idle: Mutex<Vec<Connection>>,
    /// Signalled when a connection goes back to the idle list.
    returned: Notify,
}

/// Counts a request as pending while it waits for a slot (also when the wait is cancelled).
struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request slot: the right to send one request on this pool.
#[derive(Debug)]
pub(crate) struct Slot {
    pool: Arc<Pool>,
    permit: OwnedSemaphorePermit,
}

impl Pool {
    /// A pool enforcing `limits` (zeros are raised to 1 where 0 would block every request).
    pub(crate) fn new(limits: ConnectionPool) -> Arc<Self> {
        let connections = limits.max_connections.max(1) as usize;
        let requests = limits.max_requests.max(1).min(limits.max_connections.max(1)) as usize;
        Arc::new(Self {
            limits,
            connections: Arc::new(Semaphore::new(connections)),
            requests: Arc::new(Semaphore::new(requests)),
            pending: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            returned: Notify::new(),
        })
    }

    /// The limits this pool enforces.
    pub(crate) fn limits(&self) -> &ConnectionPool {
        &self.limits
    }

    /// Takes a request slot, waiting (as a pending request) if all are in use, or overflows.
    pub(crate) async fn admit(self: &Arc<Self>) -> Result<Slot, PoolError> {
        match self.requests.clone().try_acquire_owned() {
            Ok(permit) => return Ok(Slot { pool: self.clone(), permit }),
            Err(TryAcquireError::Closed) => return Err(PoolError::Overflow),
            Err(TryAcquireError::NoPermits) => {}
        }
        let before = self.pending.fetch_add(1, Ordering::Relaxed);
        let _pending = PendingGuard(&self.pending);
        if admit(before, self.limits.max_pending_requests) == Admission::Overflow {
            return Err(PoolError::Overflow);
        }
        match self.requests.clone().acquire_owned().await {
            Ok(permit) => Ok(Slot { pool: self.clone(), permit }),
            Err(_) => Err(PoolError::Overflow),
        }
    }

    /// Closes idle connections older than the idle timeout at `now`; returns how many.
    pub(crate) fn reap(&self, now: Instant) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let before = idle.len();
        let timeout = self.limits.idle_timeout;
        idle.retain(|c| !idle_expired(c.idle_since, now, timeout) && !c.sender.is_closed());
        before - idle.len()
    }

    /// Idle connections held now.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// An idle connection to `authority`, if one is usable; closes expired or dead ones met.
    fn take_idle(&self, authority: &Authority, now: Instant) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let timeout = self.limits.idle_timeout;
        idle.retain(|c| !idle_expired(c.idle_since, now, timeout) && !c.sender.is_closed());
        let i = idle.iter().rposition(|c| &c.authority == authority)?;
        Some(idle.swap_remove(i))
    }

    /// Closes the longest-idle connection to another endpoint; false if there is none.
    fn evict_other(&self, authority: &Authority) -> bool {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = idle
            .iter()
            .enumerate()
            .filter(|(_, c)| &c.authority != authority)
            .min_by_key(|(_, c)| c.idle_since)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                drop(idle.swap_remove(i));
                true
            }
            None => false,
        }
    }

    /// A connection to `authority`: idle, or new within `max_connections`.
    async fn connection(
        &self,
        authority: &Authority,
        connect_timeout: Duration,
    ) -> Result<Connection, PoolError> {
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(c) = self.take_idle(authority, Instant::now()) {
                return Ok(c);
            }
            let permit = match self.connections.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(TryAcquireError::Closed) => return Err(PoolError::Connect),
                Err(TryAcquireError::NoPermits) => {
                    // Every slot is held by an open connection: close an idle one to another
                    // endpoint (its slot comes back when its socket has closed) and wait.
                    self.evict_other(authority);
                    None
                }
            };
            let permit = match permit {
                Some(p) => p,
                None => tokio::select! {
                    p = self.connections.clone().acquire_owned() => {
                        p.map_err(|_| PoolError::Connect)?
                    }
                    () = returned => continue,
                },
            };
            return connect(authority, connect_timeout, permit).await;
        }
    }

    /// Puts a connection that finished its exchange back on the idle list (or closes it).
    fn put_back(&self, mut c: Connection) {
        if !reusable(c.served, self.limits.max_requests_per_connection) || c.sender.is_closed() {
            return;
        }
        c.idle_since = Instant::now();
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(c);
        self.returned.notify_waiters();
    }
}

/// Opens a connection to `authority`; its task holds `permit` until the socket is closed.
async fn connect(
    authority: &Authority,
    timeout: Duration,
    permit: OwnedSemaphorePermit,
) -> Result<Connection, PoolError> {
    let addr = authority.as_str();
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, TcpStream::connect(addr)).await else {
        return Err(PoolError::Connect);
    };
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|_| PoolError::Connect)?;
    tokio::spawn(async move {
        let _slot = permit;
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection closed with an error");
        }
    });
    Ok(Connection { sender, authority: authority.clone(), served: 0, idle_since: Instant::now() })
}

impl Slot {
    /// Sends `req` to `authority` on a pooled connection. The slot and the connection are
    /// held by the returned body until it has been read or dropped.
    pub(crate) async fn send(
        self,
        authority: &Authority,
        req: Request<Full<Bytes>>,
        connect_timeout: Duration,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let mut conn = self.pool.connection(authority, connect_timeout).await?;
        if conn.sender.ready().await.is_err() {
            return Err(PoolError::Connect);
        }
        conn.served += 1;
        let resp = match conn.sender.send_request(req).await {
            Ok(r) => r,
            Err(e) if e.is_canceled() => return Err(PoolError::Connect),
            Err(_) => return Err(PoolError::Reset),
        };
        let (parts, body) = resp.into_parts();
        let lease = Lease { conn: Some(conn), slot: Some(self) };
        Ok(Response::from_parts(parts, UpstreamBody { inner: body, lease }))
    }
}

/// A connection and a request slot lent to one response body.
#[derive(Debug)]
struct Lease {
    conn: Option<Connection>,
    slot: Option<Slot>,
}

impl Lease {
    /// Gives the connection back (once it is ready for another request) and then the slot.
    fn release(&mut self) {
        let (Some(mut conn), Some(slot)) = (self.conn.take(), self.slot.take()) else { return };
        if conn.sender.is_closed()
            || !reusable(conn.served, slot.pool.limits.max_requests_per_connection)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if conn.sender.ready().await.is_ok() {
                slot.pool.put_back(conn);
            }
            drop(slot.permit);
        });
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

/// A response body streamed from upstream; its connection and request slot return to the
/// pool when it ends or is dropped.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Incoming,
    lease: Lease,
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.lease.release(),
            Poll::Ready(Some(Err(_))) => {
                // The connection is broken: close it rather than reuse it.
                self.lease.conn = None;
                self.lease.slot = None;
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_follows_envoys_pending_breaker() {
        // (already pending, max_pending_requests, decision). Envoy: a request is queued while
        // pending < max_pending_requests, else upstream_rq_pending_overflow (503 UO).
        let cases = [
            (0, 1024, Admission::Wait),
            (1023, 1024, Admission::Wait),
            (1024, 1024, Admission::Overflow),
            (0, 0, Admission::Overflow),
            (5, 2, Admission::Overflow),
        ];
        for (pending, max, want) in cases {
            assert_eq!(admit(pending, max), want, "pending {pending}, max {max}");
        }
    }

    #[test]
    fn idle_expiry_and_reuse() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        assert!(!idle_expired(t0, t0, s));
        assert!(idle_expired(t0, t0 + s, s));
        assert!(!idle_expired(t0 + s, t0, s), "a clock that went back never expires");
        // Istio's maxRequestsPerConnection: 0 unlimited, 1 disables keep-alive.
        assert!(reusable(1_000_000, 0));
        assert!(!reusable(1, 1));
        assert!(reusable(1, 2) && !reusable(2, 2));
    }

    #[tokio::test]
    async fn slots_overflow_past_pending() {
        let limits = ConnectionPool {
            max_connections: 1,
            max_pending_requests: 1,
            ..ConnectionPool::default()
        };
        let pool = Pool::new(limits);
        let first = pool.admit().await.expect("a free slot");
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.admit().await.map(drop) }
        });
        // Eventually the second request is pending; a third then overflows.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.pending.load(Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline, "the second request never became pending");
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.admit().await.err(), Some(PoolError::Overflow));
        drop(first);
        assert_eq!(waiting.await.ok(), Some(Ok(())), "the pending request gets the slot");
        assert_eq!(pool.idle_count(), 0);
    }
}
