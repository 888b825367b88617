//! The work queue: de-duplicated keys, one worker per key at a time, delayed requeue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::Shutdown;

/// A queue of keys to reconcile, with client-go's workqueue semantics:
/// - a key queued twice is handed out once;
/// - a key being processed is never handed to a second worker; if it is added meanwhile it is
///   queued again when the worker calls [`WorkQueue::done`];
/// - [`WorkQueue::add_after`] queues a key later; of several delays the earliest wins.
#[derive(Debug)]
pub struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    notify: Arc<Notify>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue { state: self.state.clone(), notify: self.notify.clone() }
    }
}

#[derive(Debug)]
struct State<K> {
    queue: VecDeque<K>,
    queued: HashSet<K>,
    processing: HashSet<K>,
    dirty: HashSet<K>,
    delayed: HashMap<K, Instant>,
}

impl<K> Default for State<K> {
    fn default() -> Self {
        State {
            queue: VecDeque::new(),
            queued: HashSet::new(),
            processing: HashSet::new(),
            dirty: HashSet::new(),
            delayed: HashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        WorkQueue { state: Arc::default(), notify: Arc::new(Notify::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a key now.
    pub fn add(&self, key: K) {
        let mut state = self.lock();
        state.delayed.remove(&key);
        if state.processing.contains(&key) {
            state.dirty.insert(key);
            return;
        }
        if state.queued.insert(key.clone()) {
            state.queue.push_back(key);
            drop(state);
            self.notify.notify_one();
        }
    }

    /// Queues a key after `delay` (at once if `delay` is zero). An earlier pending delay wins.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let deadline = Instant::now() + delay;
        {
            let mut state = self.lock();
            match state.delayed.get(&key) {
                Some(existing) if *existing <= deadline => return,
                _ => {
                    state.delayed.insert(key.clone(), deadline);
                }
            }
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let due = {
                let mut state = queue.lock();
                if state.delayed.get(&key) == Some(&deadline) {
                    state.delayed.remove(&key);
                    true
                } else {
                    false
                }
            };
            if due {
                queue.add(key);
            }
        });
    }

    /// The next key to work on, or `None` on shutdown. Call [`WorkQueue::done`] after.
    pub async fn next(&self, shutdown: &Shutdown) -> Option<K> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(key) = state.queue.pop_front() {
                    state.queued.remove(&key);
                    state.processing.insert(key.clone());
                    let more = !state.queue.is_empty();
                    drop(state);
                    if more {
                        self.notify.notify_one();
                    }
                    return Some(key);
                }
            }
            tokio::select! {
                () = shutdown.wait() => return None,
                () = notified => {}
            }
        }
    }

    /// Marks a key handed out by [`WorkQueue::next`] as finished; requeues it if it was added
    /// while being processed.
    pub fn done(&self, key: &K) {
        let requeue = {
            let mut state = self.lock();
            state.processing.remove(key);
            state.dirty.remove(key)
        };
        if requeue {
            self.add(key.clone());
        }
    }

    /// How many keys wait to be handed out (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key waits to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn dedupes_and_serialises_a_key() {
        let q = WorkQueue::new();
        let stop = Shutdown::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.next(&stop).await;
        assert_eq!(a, Some("a"));
        q.add("a"); // while processing: deferred
        assert_eq!(q.next(&stop).await, Some("b"));
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.next(&stop).await, Some("a"));
        q.done(&"a");
        q.done(&"b");
        stop.trigger();
        assert_eq!(q.next(&stop).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_requeue_earliest_wins() {
        let q = WorkQueue::new();
        let stop = Shutdown::new();
        q.add_after("a", Duration::from_secs(30));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(q.next(&stop).await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        q.done(&"a");
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(q.is_empty());
    }
}
