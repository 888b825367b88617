//! Tunables of a store and the injected clock.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// Where the store gets "now" for `creationTimestamp` and `deletionTimestamp`.
///
/// Any `Fn() -> Timestamp + Send + Sync` closure is a clock, so a test can share an
/// `Arc<Mutex<Timestamp>>` with the store and move time by hand.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

impl<F> Clock for F
where
    F: Fn() -> Timestamp + Send + Sync + 'static,
{
    fn now(&self) -> Timestamp {
        self()
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        weir_cluster::wall_clock()
    }
}

/// Options of [`crate::Store::open_with`]. `StoreOptions::default()` is what `weir up` uses.
#[derive(Clone)]
pub struct StoreOptions {
    /// Source of timestamps. Default: [`SystemClock`].
    pub clock: Arc<dyn Clock>,
    /// How many watch events are kept for resuming watches (about; pruning runs in batches
    /// of 1/64 of this). A watch from an older resourceVersion gets `Expired`.
    /// Default: 100,000.
    pub event_retention: u64,
    /// How many of the latest changes are kept decoded in memory for live watchers (capped by
    /// `event_retention`); a watcher further behind reads the events table. Default: 4,096.
    pub watch_window: usize,
    /// How many idle read connections are kept open. Default: 4.
    pub read_connections: usize,
    /// How long a connection waits for a SQLite lock before failing with `Unavailable`.
    /// Default: 5 s.
    pub busy_timeout: Duration,
    /// How long a watch with `bookmarks` stays idle before it gets a `BOOKMARK`. Default: 10 s.
    pub bookmark_interval: Duration,
    /// Keep `status` from the body of `create` instead of dropping it as Kubernetes does for
    /// kinds with a status subresource. Default: `false` (Kubernetes behaviour).
    pub keep_status_on_create: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(SystemClock),
            event_retention: 100_000,
            watch_window: 4096,
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
            bookmark_interval: Duration::from_secs(10),
            keep_status_on_create: false,
        }
    }
}

impl StoreOptions {
    /// These options with another clock.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("clock", &"<dyn Clock>")
            .field("event_retention", &self.event_retention)
            .field("watch_window", &self.watch_window)
            .field("read_connections", &self.read_connections)
            .field("busy_timeout", &self.busy_timeout)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("keep_status_on_create", &self.keep_status_on_create)
            .finish()
    }
}
