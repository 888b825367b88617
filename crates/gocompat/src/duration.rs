//! Go's `time.ParseDuration` and `time.Duration.String()`, byte for byte.
//!
//! Argo reads metric `interval`/`initialDelay`, experiment `duration` and step durations with
//! Go's parser, so weir accepts exactly the same strings (`"1h30m"`, `"500ms"`, `"1.5h"`,
//! `"-1s"`, `"0"`, `".5s"`; units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`) and reports
//! the same error texts (`time: unknown unit "s-typo" in duration "60s-typo"`).

use std::fmt;
use std::time::Duration;

/// A string Go's `time.ParseDuration` rejects; `Display` is Go's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    message: String,
}

impl DurationError {
    fn invalid(orig: &str) -> Self {
        DurationError { message: format!("time: invalid duration {}", time_quote(orig)) }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DurationError {}

/// Go's `time` package `quote`: double quotes, `"` and `\` escaped, bytes of non-ASCII or
/// control characters written as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && c >= ' ' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
    }
    out.push('"');
    out
}

/// One second in nanoseconds.
pub const SECOND_NANOS: i64 = SECOND as i64;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NANOSECOND,
        "us" | "µs" | "μs" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

const LIMIT: u64 = 1 << 63;

/// Parses like Go's `time.ParseDuration` and returns signed nanoseconds.
pub fn parse_nanos(s: &str) -> Result<i64, DurationError> {
    let orig = s;
    let mut s = s.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(DurationError::invalid(orig));
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(DurationError::invalid(orig));
        }
        // Leading integer.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(DurationError::invalid(orig));
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(DurationError::invalid(orig));
            }
            i += 1;
        }
        let pre = i != 0;
        s = &s[i..];
        // Fraction.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i != 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(DurationError::invalid(orig));
        }
        // Unit.
        let i = s.iter().position(|&c| c == b'.' || c.is_ascii_digit()).unwrap_or(s.len());
        if i == 0 {
            return Err(DurationError {
                message: format!("time: missing unit in duration {}", time_quote(orig)),
            });
        }
        let u = String::from_utf8_lossy(&s[..i]).into_owned();
        s = &s[i..];
        let Some(unit) = unit(&u) else {
            return Err(DurationError {
                message: format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(&u),
                    time_quote(orig)
                ),
            });
        };
        if v > LIMIT / unit {
            return Err(DurationError::invalid(orig));
        }
        v *= unit;
        if f > 0 {
            // Same float arithmetic as Go, for nanosecond-exact fractions of hours.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(DurationError::invalid(orig));
            }
        }
        d += v;
        if d > LIMIT {
            return Err(DurationError::invalid(orig));
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(DurationError::invalid(orig));
    }
    Ok(d as i64)
}

/// Parses a Go duration that must not be negative into a [`Duration`].
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let nanos = parse_nanos(s)?;
    if nanos < 0 {
        return Err(DurationError { message: format!("negative duration {}", time_quote(s)) });
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats signed nanoseconds the way Go's `Duration.String()` does (`1h30m0s`, `500ms`,
/// `1.5s`, `0s`).
pub fn format(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < SECOND {
        let (unit, name) = if u < MICROSECOND {
            (NANOSECOND, "ns")
        } else if u < MILLISECOND {
            (MICROSECOND, "µs")
        } else {
            (MILLISECOND, "ms")
        };
        out.push_str(&format_frac(u, unit));
        out.push_str(name);
    } else {
        let h = u / HOUR;
        let m = (u % HOUR) / MINUTE;
        let s = u % MINUTE;
        if h > 0 {
            out.push_str(&format!("{h}h{m}m"));
        } else if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format_frac(s, SECOND));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn format_frac(v: u64, unit: u64) -> String {
    let whole = v / unit;
    let frac = v % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = unit.ilog10() as usize;
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("5s", 5 * SECOND as i64),
            ("1h30m", (90 * MINUTE) as i64),
            ("500ms", (500 * MILLISECOND) as i64),
            ("1.5h", (90 * MINUTE) as i64),
            ("-1s", -(SECOND as i64)),
            (".5s", (500 * MILLISECOND) as i64),
            ("1.s", SECOND as i64),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("10μs", 10_000),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (s, want) in ok {
            assert_eq!(parse_nanos(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn errors_like_go() {
        let bad = [
            ("", r#"time: invalid duration """#),
            ("3", r#"time: missing unit in duration "3""#),
            ("-", r#"time: invalid duration "-""#),
            ("s", r#"time: invalid duration "s""#),
            (".", r#"time: invalid duration ".""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            ("60s-typo", r#"time: unknown unit "s-typo" in duration "60s-typo""#),
            ("9223372036854775808ns", r#"time: invalid duration "9223372036854775808ns""#),
            ("3000000h", r#"time: invalid duration "3000000h""#),
        ];
        for (s, want) in bad {
            assert_eq!(parse_nanos(s).unwrap_err().to_string(), want, "{s}");
        }
    }

    #[test]
    fn std_duration_rejects_negative() {
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert!(parse("-1m").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(0), "0s");
        assert_eq!(format((90 * MINUTE) as i64), "1h30m0s");
        assert_eq!(format((1500 * MILLISECOND) as i64), "1.5s");
        assert_eq!(format((500 * MILLISECOND) as i64), "500ms");
        assert_eq!(format(-(SECOND as i64)), "-1s");
        assert_eq!(format(1_500), "1.5µs");
        // time.Duration.String()'s documented examples.
        for (nanos, expected) in [
            (5, "5ns"),
            (300_000_000, "300ms"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (9_930_500_000_000, "2h45m30.5s"),
            (-2_000_000_000, "-2s"),
        ] {
            assert_eq!(format(nanos), expected, "{nanos}");
        }
    }
}
