//! A listener's connection cap: at most `max` open connections; past it, new ones wait in the
//! kernel's backlog and one warning is logged per burst. Used by the proxy's listeners and by
//! weir's API listener, so both behave (and log) the same way when flooded.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The places of one listener's connections.
#[derive(Debug)]
pub struct ConnectionCap {
    permits: Arc<Semaphore>,
    max: usize,
    /// Names the listener in the warning (`proxy`, `API`).
    listener: &'static str,
    at_cap: bool,
}

impl ConnectionCap {
    /// A cap of `max` connections (at least one) for the listener called `listener`.
    pub fn new(max: usize, listener: &'static str) -> Self {
        let max = max.max(1);
        ConnectionCap { permits: Arc::new(Semaphore::new(max)), max, listener, at_cap: false }
    }

    /// A place for the next connection, held until the returned permit is dropped; waits while
    /// the cap is reached (warning once per burst), or returns `None` if `stop` resolves first.
    pub async fn place(
        &mut self,
        addr: Option<SocketAddr>,
        stop: impl Future<Output = ()>,
    ) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            self.at_cap = false;
            return Some(permit);
        }
        if !self.at_cap {
            self.at_cap = true;
            tracing::warn!(
                ?addr,
                max_connections = self.max,
                "{} connection limit reached: new connections wait until open ones close",
                self.listener
            );
        }
        tokio::select! {
            // The semaphore is never closed, so an error cannot happen; stop if it did.
            permit = self.permits.clone().acquire_owned() => permit.ok(),
            () = stop => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_at_the_cap_and_stops_on_request() {
        let mut cap = ConnectionCap::new(1, "test");
        let first = cap.place(None, std::future::pending()).await;
        assert!(first.is_some());
        // At the cap: the stop signal wins.
        assert!(cap.place(None, async {}).await.is_none());
        drop(first);
        assert!(cap.place(None, std::future::pending()).await.is_some());
    }
}
