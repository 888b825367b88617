//! Go `time.Time` / `time.Duration` as far as conditions and range queries need them:
//! `time.ParseDuration`, `Duration.String()`, `time.Parse` for the common layout elements, and
//! Go's default `Time.String()` formatting. Times are kept in UTC.

use std::fmt;

use crate::value::go_quote;

/// A Go `time.Duration`: signed nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

/// A Go `time.Time`, as nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub unix_nanos: i128,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

impl Time {
    /// The current time.
    pub fn now() -> Time {
        let nanos = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Time { unix_nanos: nanos }
    }

    /// From Unix seconds.
    pub fn from_unix(secs: i64) -> Time {
        Time { unix_nanos: i128::from(secs) * NANOS_PER_SEC }
    }

    /// Whole seconds since the epoch (floor).
    pub fn unix(&self) -> i64 {
        self.unix_nanos.div_euclid(NANOS_PER_SEC) as i64
    }

    /// RFC 3339 in UTC with fractional seconds only when non-zero, e.g. `2023-08-13T23:00:00Z`.
    pub fn to_rfc3339(&self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            frac_digits(c.nanos)
        )
    }

    /// Shift by a duration (saturating far outside any realistic range).
    pub fn add(&self, d: Duration) -> Time {
        Time { unix_nanos: self.unix_nanos.saturating_add(i128::from(d.0)) }
    }

    /// `t - u` as a Go duration (saturating at the i64 range like Go's `Sub`).
    pub fn sub(&self, other: &Time) -> Duration {
        let d = self.unix_nanos.saturating_sub(other.unix_nanos);
        Duration(d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    fn civil(&self) -> Civil {
        let secs = self.unix_nanos.div_euclid(NANOS_PER_SEC);
        let nanos = self.unix_nanos.rem_euclid(NANOS_PER_SEC) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil { year, month, day, hour: sod / 3600, minute: sod / 60 % 60, second: sod % 60, nanos }
    }
}

struct Civil {
    year: i128,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

/// Go's default `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST` (always UTC here).
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} +0000 UTC",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            frac_digits(c.nanos)
        )
    }
}

fn frac_digits(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let s = format!(".{nanos:09}");
    s.trim_end_matches('0').to_owned()
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i128, m: u32, d: u32) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i128::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i128::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i128) -> (i128, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(year: i128, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Duration {
    /// Go `time.ParseDuration`, with Go's error texts.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let invalid = || format!("time: invalid duration {}", go_quote(s));
        let mut rest = s;
        let mut neg = false;
        if let Some(r) = rest.strip_prefix('-') {
            neg = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        if rest == "0" {
            return Ok(Duration(0));
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let b = rest.as_bytes();
            if !(b[0] == b'.' || b[0].is_ascii_digit()) {
                return Err(invalid());
            }
            let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut v: u128 = 0;
            for c in &b[..int_len] {
                v = v * 10 + u128::from(c - b'0');
                if v > 1 << 63 {
                    return Err(invalid());
                }
            }
            rest = &rest[int_len..];
            let mut frac: u128 = 0;
            let mut scale: f64 = 1.0;
            let mut post = false;
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
                let fb = rest.as_bytes();
                let flen = fb.iter().take_while(|c| c.is_ascii_digit()).count();
                post = flen > 0;
                let mut overflow = false;
                for c in &fb[..flen] {
                    if overflow || frac > (1 << 63) / 10 {
                        overflow = true;
                        continue;
                    }
                    frac = frac * 10 + u128::from(c - b'0');
                    scale *= 10.0;
                }
                rest = &rest[flen..];
            }
            if int_len == 0 && !post {
                return Err(invalid());
            }
            let unit_len =
                rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let mult: u128 = match unit {
                "" => return Err(format!("time: missing unit in duration {}", go_quote(s))),
                "ns" => 1,
                "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => {
                    return Err(format!(
                        "time: unknown unit {} in duration {}",
                        go_quote(unit),
                        go_quote(s)
                    ));
                }
            };
            if v > (1 << 63) / mult {
                return Err(invalid());
            }
            v *= mult;
            if frac > 0 {
                v += (frac as f64 * (mult as f64 / scale)) as u128;
                if v > 1 << 63 {
                    return Err(invalid());
                }
            }
            total += v;
            if total > 1 << 63 {
                return Err(invalid());
            }
        }
        if neg {
            return Ok(Duration((total as i128).wrapping_neg() as i64));
        }
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
        Ok(Duration(total as i64))
    }
}

/// Go `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            let (prec, unit) = match u {
                0..1_000 => (0, "ns"),
                1_000..1_000_000 => (3, "µs"),
                _ => (6, "ms"),
            };
            let (int, frac) = split_frac(u, prec);
            return write!(f, "{sign}{int}{frac}{unit}");
        }
        let (secs, frac) = split_frac(u, 9);
        let (s, mins) = (secs % 60, secs / 60);
        let (m, hours) = (mins % 60, mins / 60);
        if hours > 0 {
            write!(f, "{sign}{hours}h{m}m{s}{frac}s")
        } else if mins > 0 {
            write!(f, "{sign}{m}m{s}{frac}s")
        } else {
            write!(f, "{sign}{s}{frac}s")
        }
    }
}

fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let p = 10u64.pow(prec);
    let (int, frac) = (v / p, v % p);
    if frac == 0 {
        return (int, String::new());
    }
    let s = format!(".{frac:0width$}", width = prec as usize);
    (int, s.trim_end_matches('0').to_owned())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The layouts expr's `date(s)` tries when no layout is given.
pub(crate) const DEFAULT_LAYOUTS: [&str; 7] = [
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",
    "02 Jan 06 15:04 MST",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    Lit(char),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    TzName,
    /// ISO (`Z` allowed) and the separator style: 0 = `-07`, 1 = `-0700`, 2 = `-07:00`.
    Tz(bool, u8),
    Frac,
}

fn layout_chunks(layout: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut s = layout;
    let table: [(&str, Chunk); 27] = [
        ("January", Chunk::LongMonth),
        ("Jan", Chunk::Month),
        ("Monday", Chunk::LongWeekDay),
        ("Mon", Chunk::WeekDay),
        ("MST", Chunk::TzName),
        ("01", Chunk::ZeroMonth),
        ("02", Chunk::ZeroDay),
        ("03", Chunk::ZeroHour12),
        ("04", Chunk::ZeroMinute),
        ("05", Chunk::ZeroSecond),
        ("06", Chunk::Year),
        ("15", Chunk::Hour),
        ("1", Chunk::NumMonth),
        ("2006", Chunk::LongYear),
        ("2", Chunk::Day),
        ("_2", Chunk::UnderDay),
        ("3", Chunk::Hour12),
        ("4", Chunk::Minute),
        ("5", Chunk::Second),
        ("PM", Chunk::Pm),
        ("pm", Chunk::Pm),
        ("-07:00", Chunk::Tz(false, 2)),
        ("-0700", Chunk::Tz(false, 1)),
        ("-07", Chunk::Tz(false, 0)),
        ("Z07:00", Chunk::Tz(true, 2)),
        ("Z0700", Chunk::Tz(true, 1)),
        ("Z07", Chunk::Tz(true, 0)),
    ];
    'outer: while let Some(c) = s.chars().next() {
        // Fractional seconds: '.' or ',' followed by a run of 0s or 9s not followed by a digit.
        if (c == '.' || c == ',') && s.len() > 1 {
            let b = s.as_bytes();
            if b[1] == b'0' || b[1] == b'9' {
                let run = b[1..].iter().take_while(|x| **x == b[1]).count();
                if !b.get(1 + run).is_some_and(u8::is_ascii_digit) {
                    out.push(Chunk::Frac);
                    s = &s[1 + run..];
                    continue;
                }
            }
        }
        for (pat, chunk) in &table {
            if let Some(rest) = s.strip_prefix(pat) {
                out.push(*chunk);
                s = rest;
                continue 'outer;
            }
        }
        out.push(Chunk::Lit(c));
        s = &s[c.len_utf8()..];
    }
    out
}

/// Go `time.Parse(layout, value)` for the usual layout elements, interpreted in UTC
/// (a zone offset in the value is honoured).
pub(crate) fn parse_time(layout: &str, value: &str) -> Result<Time, String> {
    let fail = |rest: &str, what: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(value),
            go_quote(layout),
            go_quote(rest),
            go_quote(what)
        )
    };
    let chunks = layout_chunks(layout);
    let (mut year, mut month, mut day) = (1i128, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset: i64 = 0;
    let mut v = value;
    for (i, chunk) in chunks.iter().enumerate() {
        match chunk {
            Chunk::Lit(c) => match v.strip_prefix(*c) {
                Some(r) => v = r,
                None => return Err(fail(v, &c.to_string())),
            },
            Chunk::LongYear => {
                let (n, r) = take_digits(v, 4, 4).ok_or_else(|| fail(v, "2006"))?;
                year = i128::from(n);
                v = r;
            }
            Chunk::Year => {
                let (n, r) = take_digits(v, 2, 2).ok_or_else(|| fail(v, "06"))?;
                year = i128::from(if n >= 69 { 1900 + n } else { 2000 + n });
                v = r;
            }
            Chunk::LongMonth | Chunk::Month => {
                let long = *chunk == Chunk::LongMonth;
                let found = MONTHS.iter().enumerate().find_map(|(i, m)| {
                    let name = if long { m } else { &m[..3] };
                    starts_with_ci(v, name).then_some((i, name.len()))
                });
                let (idx, len) =
                    found.ok_or_else(|| fail(v, if long { "January" } else { "Jan" }))?;
                month = idx as u32 + 1;
                v = &v[len..];
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                let long = *chunk == Chunk::LongWeekDay;
                let found = DAYS.iter().find_map(|d| {
                    let name = if long { d } else { &d[..3] };
                    starts_with_ci(v, name).then_some(name.len())
                });
                let len = found.ok_or_else(|| fail(v, if long { "Monday" } else { "Mon" }))?;
                v = &v[len..];
            }
            Chunk::NumMonth | Chunk::ZeroMonth => {
                let min = if *chunk == Chunk::ZeroMonth { 2 } else { 1 };
                let (n, r) = take_digits(v, min, 2).ok_or_else(|| fail(v, "01"))?;
                if !(1..=12).contains(&n) {
                    return Err(range_err(value, "month"));
                }
                month = n;
                v = r;
            }
            Chunk::Day | Chunk::ZeroDay | Chunk::UnderDay => {
                if *chunk == Chunk::UnderDay {
                    v = v.strip_prefix(' ').unwrap_or(v);
                }
                let min = if *chunk == Chunk::ZeroDay { 2 } else { 1 };
                let (n, r) = take_digits(v, min, 2).ok_or_else(|| fail(v, "02"))?;
                day = n;
                v = r;
            }
            Chunk::Hour => {
                let (n, r) = take_digits(v, 2, 2).ok_or_else(|| fail(v, "15"))?;
                if n > 23 {
                    return Err(range_err(value, "hour"));
                }
                hour = n;
                v = r;
            }
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                let min = if *chunk == Chunk::ZeroHour12 { 2 } else { 1 };
                let (n, r) = take_digits(v, min, 2).ok_or_else(|| fail(v, "03"))?;
                if n > 12 {
                    return Err(range_err(value, "hour"));
                }
                hour = n;
                v = r;
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                let min = if *chunk == Chunk::ZeroMinute { 2 } else { 1 };
                let (n, r) = take_digits(v, min, 2).ok_or_else(|| fail(v, "04"))?;
                if n > 59 {
                    return Err(range_err(value, "minute"));
                }
                minute = n;
                v = r;
            }
            Chunk::Second | Chunk::ZeroSecond => {
                let min = if *chunk == Chunk::ZeroSecond { 2 } else { 1 };
                let (n, r) = take_digits(v, min, 2).ok_or_else(|| fail(v, "05"))?;
                if n > 59 {
                    return Err(range_err(value, "second"));
                }
                second = n;
                v = r;
                // A fractional second in the value although the layout has none.
                let next_is_frac = chunks.get(i + 1) == Some(&Chunk::Frac);
                let b = v.as_bytes();
                if !next_is_frac
                    && b.len() > 1
                    && (b[0] == b'.' || b[0] == b',')
                    && b[1].is_ascii_digit()
                {
                    let (ns, r) = take_frac(&v[1..]);
                    nanos = ns;
                    v = r;
                }
            }
            Chunk::Frac => {
                let b = v.as_bytes();
                if b.first().is_some_and(|c| *c == b'.' || *c == b',') {
                    let (ns, r) = take_frac(&v[1..]);
                    nanos = ns;
                    v = r;
                }
            }
            Chunk::Pm => {
                if starts_with_ci(v, "PM") {
                    pm = Some(true);
                } else if starts_with_ci(v, "AM") {
                    pm = Some(false);
                } else {
                    return Err(fail(v, "PM"));
                }
                v = &v[2..];
            }
            Chunk::TzName => {
                let len = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if len < 3 {
                    return Err(fail(v, "MST"));
                }
                v = &v[len..];
            }
            Chunk::Tz(iso, style) => {
                if *iso && let Some(r) = v.strip_prefix('Z') {
                    v = r;
                    continue;
                }
                let (off, r) = take_offset(v, *style).ok_or_else(|| fail(v, "-07:00"))?;
                offset = off;
                v = r;
            }
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {}: extra text: {}", go_quote(value), go_quote(v)));
    }
    if let Some(pm) = pm {
        if pm && hour < 12 {
            hour += 12;
        } else if !pm && hour == 12 {
            hour = 0;
        }
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(range_err(value, "day"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i128::from(hour * 3600 + minute * 60 + second) - i128::from(offset);
    Ok(Time { unix_nanos: secs * NANOS_PER_SEC + i128::from(nanos) })
}

fn range_err(value: &str, what: &str) -> String {
    format!("parsing time {}: {what} out of range", go_quote(value))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    let v = s[..n].parse().ok()?;
    Some((v, &s[n..]))
}

fn take_frac(s: &str) -> (u32, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut ns: u32 = 0;
    for (i, c) in s.bytes().take(n).enumerate() {
        if i < 9 {
            ns = ns * 10 + u32::from(c - b'0');
        }
    }
    for _ in n..9 {
        ns *= 10;
    }
    (ns, &s[n..])
}

fn take_offset(s: &str, style: u8) -> Option<(i64, &str)> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let s = &s[1..];
    let (h, mut rest) = take_digits(s, 2, 2)?;
    let mut m = 0;
    if style > 0 {
        if style == 2 {
            rest = rest.strip_prefix(':')?;
        }
        let (mm, r) = take_digits(rest, 2, 2)?;
        m = mm;
        rest = r;
    }
    Some((sign * i64::from(h * 3600 + m * 60), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        let ok = [
            ("5m", "5m0s"),
            ("1h", "1h0m0s"),
            ("1.5s", "1.5s"),
            ("-90s", "-1m30s"),
            ("100ns", "100ns"),
            ("1.5ms", "1.5ms"),
            ("2us", "2µs"),
            ("0", "0s"),
            ("72h3m0.5s", "72h3m0.5s"),
        ];
        for (input, want) in ok {
            let d = Duration::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(d.to_string(), want);
        }
        assert_eq!(Duration::parse("??").unwrap_err(), r#"time: invalid duration "??""#);
        assert_eq!(Duration::parse("1").unwrap_err(), r#"time: missing unit in duration "1""#);
        assert_eq!(
            Duration::parse("1d").unwrap_err(),
            r#"time: unknown unit "d" in duration "1d""#
        );
        assert!(Duration::parse("9999999999999h").is_err());
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse(".").is_err());
    }

    #[test]
    fn parse_and_format_times() {
        let t = parse_time("2006-01-02 15:04:05", "2023-08-14 00:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-08-14T00:00:00Z");
        assert_eq!(t.to_string(), "2023-08-14 00:00:00 +0000 UTC");
        let t = parse_time(DEFAULT_LAYOUTS[3], "2023-08-14T02:00:00.5+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-08-14T00:00:00.5Z");
        let t = parse_time(DEFAULT_LAYOUTS[6], "Mon, 14 Aug 2023 10:11:12 UTC").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-08-14T10:11:12Z");
        assert!(parse_time("2006-01-02", "2023-02-30").is_err());
        assert!(parse_time("2006-01-02", "2023-02-01x").is_err());
        assert_eq!(Time::from_unix(-1).to_rfc3339(), "1969-12-31T23:59:59Z");
    }
}
