//! Cooperative shutdown: a cloneable token every loop selects on.

use tokio::sync::watch;

/// A shutdown signal shared by every task of a controller (a small `CancellationToken`).
///
/// Clones share the signal; [`Shutdown::trigger`] wakes every [`Shutdown::wait`]er, and the
/// signal stays set.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that is not set yet.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Shutdown { tx: std::sync::Arc::new(tx), rx }
    }

    /// Sets the signal; every waiter wakes.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal is set.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the signal is set (at once if it already is).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which cannot happen while `self` holds one.
        let _ = rx.wait_for(|set| *set).await;
    }

    /// A child signal: set when this one is, and settable on its own without affecting the
    /// parent (for stopping one task of many).
    pub fn child(&self) -> Shutdown {
        let child = Shutdown::new();
        let parent = self.clone();
        let weak = std::sync::Arc::downgrade(&child.tx);
        let mut child_rx = child.rx.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = parent.wait() => {
                    if let Some(tx) = weak.upgrade() {
                        tx.send_replace(true);
                    }
                }
                _ = child_rx.wait_for(|set| *set) => {}
            }
        });
        child
    }

    /// Sleeps for `duration` unless the signal comes first; returns `false` on shutdown.
    pub async fn sleep(&self, duration: std::time::Duration) -> bool {
        tokio::select! {
            () = self.wait() => false,
            () = tokio::time::sleep(duration) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn trigger_wakes_waiters_and_children() {
        let root = Shutdown::new();
        let child = root.child();
        let other = root.child();
        other.trigger();
        other.wait().await;
        assert!(!root.is_triggered());
        assert!(!child.is_triggered());
        let waiter = tokio::spawn({
            let child = child.clone();
            async move { child.wait().await }
        });
        root.trigger();
        waiter.await.expect("waiter");
        assert!(child.is_triggered());
        assert!(!root.sleep(std::time::Duration::from_secs(60)).await);
    }
}
