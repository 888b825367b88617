//! The wall clock, read in one place. Pure code never calls this: it takes `now` as an argument;
//! loops and backends call [`wall_clock`] and pass the value down.

use k8s_openapi::jiff::Timestamp;

/// The current time (jiff's own `Timestamp::now` needs its `std` feature, which k8s-openapi does
/// not enable).
pub fn wall_clock() -> Timestamp {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let nanos = i32::try_from(since.subsec_nanos()).unwrap_or(0);
    Timestamp::new(seconds, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
}
