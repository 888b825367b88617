//! Client-side rate limiting: a token bucket of `qps` tokens a second holding at most `burst`,
//! as client-go's `flowcontrol.NewTokenBucketRateLimiter` (Argo Rollouts and Argo CD expose it
//! as `--qps`/`--burst`; Argo Rollouts' defaults are 40 and 80).
//!
//! Written here rather than taken from `governor`: the whole algorithm is [`TokenBucket::reserve`]
//! (a dozen lines, pure, tested with explicit instants), while governor brings its own clock
//! abstraction, `quanta` and lock-free state that one client with one mutex does not need.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The bucket's state; every decision is a pure function of it and `now`.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Tokens added per second; `<= 0` means no limit.
    qps: f64,
    /// Most tokens the bucket holds (requests allowed at once after an idle period).
    burst: f64,
    /// Tokens available at `last` (negative: requests already promised a future token).
    tokens: f64,
    /// When `tokens` was computed.
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub(crate) fn new(qps: f32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket { qps: f64::from(qps), burst, tokens: burst, last: now }
    }

    /// Takes one token for a request made at `now` and returns how long the request must wait
    /// before it is sent (zero when a token was there). Like `rate.Limiter.Reserve`, a waiting
    /// request owns its future token, so concurrent callers are spaced `1/qps` apart.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        if self.qps <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.last = now.max(self.last);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// A token bucket shared by every request of one client.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    bucket: Mutex<TokenBucket>,
}

impl RateLimiter {
    /// A limiter of `qps` requests a second with bursts of `burst`.
    pub(crate) fn new(qps: f32, burst: u32) -> Self {
        RateLimiter { bucket: Mutex::new(TokenBucket::new(qps, burst, Instant::now())) }
    }

    /// Waits until the next request may be sent.
    pub(crate) async fn acquire(&self) {
        let wait = {
            let mut bucket = self.bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            bucket.reserve(Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Expected waits follow from the definition: `burst` requests pass at once, then one per
    /// `1/qps` seconds (qps 10 → 100 ms apart), each waiter owning the next token.
    #[test]
    fn burst_passes_then_requests_are_spaced_by_one_over_qps() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3, t0);
        let waits: Vec<Duration> = (0..6).map(|_| bucket.reserve(t0)).collect();
        assert_eq!(waits, [ms(0), ms(0), ms(0), ms(100), ms(200), ms(300)]);
    }

    #[test]
    fn idle_time_refills_up_to_burst_only() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 2, t0);
        bucket.reserve(t0);
        bucket.reserve(t0);
        // 10 s idle would be 100 tokens: the bucket holds 2.
        let later = t0 + Duration::from_secs(10);
        let waits: Vec<Duration> = (0..3).map(|_| bucket.reserve(later)).collect();
        assert_eq!(waits, [ms(0), ms(0), ms(100)]);
        // 50 ms later half a token came back: the next request waits the other 50 ms… plus
        // the 100 ms the previous waiter took.
        assert_eq!(bucket.reserve(later + ms(50)), ms(150));
    }

    #[test]
    fn zero_or_negative_qps_means_unlimited() {
        let t0 = Instant::now();
        for qps in [0.0, -1.0] {
            let mut bucket = TokenBucket::new(qps, 1, t0);
            assert!((0..1000).all(|_| bucket.reserve(t0).is_zero()));
        }
    }
}
