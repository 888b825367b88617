//! Argo's pause-duration rule, over Go's `time.ParseDuration` (which lives in
//! `weir-gocompat` and is re-exported here for the crates that read Argo's specs).
//!
//! Argo reads metric `interval`/`initialDelay`, experiment `duration` and step durations with
//! Go's parser, so weir accepts exactly the same strings and reports the same error texts.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weir_gocompat::duration::SECOND_NANOS;
pub use weir_gocompat::duration::{DurationError, format as format_go, parse, parse_nanos};

/// Argo's `RolloutPause.DurationSeconds()`: unset → 0; an int → itself; a string → the
/// base-10 int32 it spells if it does, else a Go duration truncated to whole seconds, else
/// -1 (which validation rejects with "Duration needs to be greater than 0").
pub fn pause_duration_seconds(duration: Option<&IntOrString>) -> i32 {
    match duration {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            if let Ok(i) = s.parse::<i32>() {
                return i;
            }
            match parse_nanos(s) {
                Ok(n) => (n / SECOND_NANOS) as i32,
                Err(_) => -1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_rule() {
        let s = |v: &str| pause_duration_seconds(Some(&IntOrString::String(v.to_owned())));
        assert_eq!(pause_duration_seconds(None), 0);
        assert_eq!(pause_duration_seconds(Some(&IntOrString::Int(10))), 10);
        assert_eq!(s("10"), 10);
        assert_eq!(s("10s"), 10);
        assert_eq!(s("1h"), 3600);
        assert_eq!(s("1h30m"), 5400);
        assert_eq!(s("1ms"), 0);
        assert_eq!(s("1500ms"), 1);
        assert_eq!(s("-1500ms"), -1);
        assert_eq!(s("1z"), -1);
        assert_eq!(s("20000000000"), -1);
        assert_eq!(s(""), -1);
    }
}
