//! Exponential backoff: how long to wait after the n-th consecutive failure.

use std::time::Duration;

/// Exponential backoff between `base` and `max`: `base * 2^failures`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling to 60 s: the runtime's default for reconcile errors and watch retries.
    fn default() -> Self {
        Backoff { base: Duration::from_millis(100), max: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// A backoff between `base` and `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The delay after `failures` consecutive failures (`0` → `base`).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 2u32.checked_pow(failures.min(31)).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let delays: Vec<u64> = (0..7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(300));
    }
}
