//! Pure selection logic: weighted destination choice, endpoint balancing, percentages.
//!
//! Weighted choice uses a *smooth weighted round-robin* schedule (nginx's algorithm) computed
//! once when a table is installed: the route then walks the schedule with one atomic counter,
//! so a 90/10 split is exact over every 10 requests (no RNG variance, no lock). Endpoints are
//! picked by round-robin (atomic counter) or least-request (power of two choices on in-flight
//! counts, as Envoy does). Percentages (mirror, faults) use a thread-local xorshift RNG, so they
//! are independent of the weighted schedule.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Longest schedule kept; larger weight sums are scaled down (keeping every non-zero weight ≥ 1).
const MAX_SCHEDULE: u64 = 10_000;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The smooth weighted round-robin order of destination indexes for relative `weights`.
/// Zero weights never appear; a single destination always does; all-zero gives an empty schedule
/// (rejected at validation).
pub(crate) fn smooth_wrr_schedule(weights: &[u32]) -> Vec<u16> {
    if weights.len() == 1 {
        return vec![0];
    }
    let mut w: Vec<u64> = weights.iter().map(|&w| u64::from(w)).collect();
    let g = w.iter().copied().filter(|&x| x > 0).fold(0, gcd);
    if g == 0 {
        return Vec::new();
    }
    w.iter_mut().for_each(|x| *x /= g);
    let total: u64 = w.iter().sum();
    if total > MAX_SCHEDULE {
        w.iter_mut().filter(|x| **x > 0).for_each(|x| *x = (*x * MAX_SCHEDULE / total).max(1));
    }
    let total: i64 = w.iter().map(|&x| x as i64).sum();
    let mut current = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, c) in current.iter_mut().enumerate() {
            *c += w[i] as i64;
        }
        for i in 1..current.len() {
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        out.push(best as u16);
    }
    out
}

/// Walks a smooth WRR schedule with one atomic counter.
#[derive(Debug)]
pub(crate) struct WeightedPicker {
    schedule: Box<[u16]>,
    next: AtomicUsize,
}

impl WeightedPicker {
    pub(crate) fn new(weights: &[u32]) -> Self {
        Self { schedule: smooth_wrr_schedule(weights).into(), next: AtomicUsize::new(0) }
    }

    /// The next destination index; `None` only for an empty schedule (never in a valid table).
    pub(crate) fn pick(&self) -> Option<usize> {
        if self.schedule.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Some(usize::from(self.schedule[n % self.schedule.len()]))
    }
}

/// Next index of a strict rotation over `len` items (`len > 0`).
pub(crate) fn round_robin(counter: &AtomicUsize, len: usize) -> usize {
    counter.fetch_add(1, Ordering::Relaxed) % len
}

/// Power of two choices: two distinct random candidates, the less loaded wins (ties: first).
pub(crate) fn least_request(len: usize, random: u64, load: impl Fn(usize) -> usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let a = (random % len as u64) as usize;
    let b = (a + 1 + ((random >> 32) % (len as u64 - 1)) as usize) % len;
    if load(b) < load(a) { b } else { a }
}

/// Whether a request falls into `percent` (0..=100) given a uniform random `u64`.
pub(crate) fn percent_hit(percent: f64, random: u64) -> bool {
    if percent >= 100.0 {
        return true;
    }
    if percent <= 0.0 || percent.is_nan() {
        return false;
    }
    let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
    unit * 100.0 < percent
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        seed | 1
    });
}

/// A fast thread-local xorshift64* random number (not cryptographic).
pub(crate) fn random() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(schedule: &[u16], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &i in schedule {
            c[usize::from(i)] += 1;
        }
        c
    }

    #[test]
    fn schedule_is_exact_and_smooth() {
        let s = smooth_wrr_schedule(&[90, 10]);
        assert_eq!(s.len(), 10);
        assert_eq!(counts(&s, 2), vec![9, 1]);
        let s = smooth_wrr_schedule(&[3, 1]);
        assert_eq!(s, vec![0, 0, 1, 0]);
        let s = smooth_wrr_schedule(&[5, 1, 1]);
        assert_eq!(s, vec![0, 0, 1, 0, 2, 0, 0]);
        let s = smooth_wrr_schedule(&[0, 100]);
        assert_eq!(s, vec![1]);
        assert!(smooth_wrr_schedule(&[0, 0]).is_empty());
        assert_eq!(smooth_wrr_schedule(&[0]), vec![0]);
    }

    #[test]
    fn huge_weights_are_scaled() {
        let s = smooth_wrr_schedule(&[u32::MAX, 1, u32::MAX - 7]);
        assert!(s.len() <= 10_002);
        let c = counts(&s, 3);
        assert!(c[1] >= 1 && c[0] > 4000 && c[2] > 4000, "{c:?}");
    }

    #[test]
    fn picker_splits_exactly_over_2000() {
        let p = WeightedPicker::new(&[90, 10]);
        let mut c = [0usize; 2];
        for _ in 0..2000 {
            c[p.pick().unwrap()] += 1;
        }
        assert_eq!(c, [1800, 200]);
    }

    #[test]
    fn round_robin_and_least_request() {
        let ctr = AtomicUsize::new(0);
        let picks: Vec<usize> = (0..6).map(|_| round_robin(&ctr, 3)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        let loads = [5usize, 0, 9];
        for r in 0..200u64 {
            let r = r.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let i = least_request(3, r, |i| loads[i]);
            assert_ne!(i, 2, "the most loaded endpoint never wins a pair");
        }
        assert_eq!(least_request(1, 42, |_| 0), 0);
    }

    #[test]
    fn percentages() {
        assert!(percent_hit(100.0, 0) && percent_hit(100.0, u64::MAX));
        assert!(!percent_hit(0.0, 0));
        let hits = (0..10_000).filter(|_| percent_hit(25.0, random())).count();
        assert!((2200..2800).contains(&hits), "{hits}");
    }
}
