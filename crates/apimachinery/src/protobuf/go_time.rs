//! Times written as Go's encoders write them (`metav1.Time`, `metav1.MicroTime`), without a
//! date-time crate: the decoder needs only these formats. (Durations are
//! `weir_gocompat::duration::format`.)

/// Seconds since the Unix epoch as RFC 3339 in UTC (years 0001–9999, as Go's encoder allows).
pub(super) fn rfc3339(seconds: i64, nanos: i64, micro: bool) -> Option<String> {
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let (hour, minute, second) =
        (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let fraction = if micro { format!(".{:06}", nanos / 1000) } else { String::new() };
    Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values: Go's `time.Time.Format(time.RFC3339)` and `metav1.RFC3339Micro`.
    #[test]
    fn times_are_written_as_go_writes_them() {
        let cases = [
            (0, 1, false, Some("1970-01-01T00:00:00Z")),
            (1_796_307_105, 0, false, Some("2026-12-03T14:11:45Z")),
            (951_782_400, 0, false, Some("2000-02-29T00:00:00Z")),
            (1_796_307_105, 123_456_789, true, Some("2026-12-03T14:11:45.123456Z")),
            (-62_135_596_800, 0, false, Some("0001-01-01T00:00:00Z")),
            (253_402_300_799, 0, false, Some("9999-12-31T23:59:59Z")),
            // Outside what Go's encoder writes, and a negative fraction.
            (-62_135_596_801, 0, false, None),
            (253_402_300_800, 0, false, None),
            (0, -1, false, None),
        ];
        for (seconds, nanos, micro, expected) in cases {
            assert_eq!(rfc3339(seconds, nanos, micro).as_deref(), expected, "{seconds} {nanos}");
        }
    }
}
