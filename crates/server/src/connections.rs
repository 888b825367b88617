//! Serving the API's connections with hyper's HTTP/1 server, as `axum::serve` does, plus what
//! it lacks: a header-read timeout (hyper's, which also bounds how long a kept-alive connection
//! may stay idle between requests), so a client that sends part of a request head and then
//! nothing (slowloris) or keeps a connection idle is closed instead of holding a file descriptor
//! forever. The connection cap lives in the listener ([`DualListener`]).
//!
//! A response being streamed (a watch) is not subject to the timeout: only reading a request's
//! head is.

use std::future::Future;
use std::io;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;

use crate::tls::listener::{DualListener, ListenerLimits};

/// Serves `app` on `listener` until `signal` completes; then stops accepting, lets every
/// connection finish the request it is serving, and returns once all are closed.
pub(crate) async fn serve(
    mut listener: DualListener,
    app: Router,
    limits: ListenerLimits,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_sender, stop) = watch::channel(false);
    // Each connection task holds a clone; the last one gone means every connection closed.
    let (open_sender, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let timer = TokioTimer::new();
    tokio::pin!(signal);
    loop {
        let (connection, peer) = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut builder = http1::Builder::new();
        builder
            .timer(timer.clone())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        let mut stop = stop.clone();
        let open = open_sender.clone();
        tokio::spawn(async move {
            let served =
                builder.serve_connection(TokioIo::new(connection), service).with_upgrades();
            tokio::pin!(served);
            let result = tokio::select! {
                result = served.as_mut() => result,
                () = stopped(&mut stop) => {
                    served.as_mut().graceful_shutdown();
                    served.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "API connection closed");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_sender.send(true);
    drop(open_sender);
    let _ = all_closed.recv().await;
    Ok(())
}

/// Resolves once a stop is requested (or the sender is gone); holds no borrow afterwards.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
