//! An AnalysisRun metric's measurements as an inline SVG chart: value over time, one dot per
//! measurement coloured by its phase, the value range on the axis. Pure: measurements in,
//! markup out.

use std::fmt::Write as _;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::html::{esc, status_class};

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 28.0;

/// The first number in a measurement's value (`"0.97"`, `"[0.97]"`, `"[0.97, 1]"`).
pub(crate) fn numeric(value: &str) -> Option<f64> {
    value
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .find(|part| !part.is_empty())
        .and_then(|part| part.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

struct Point {
    at: f64,
    value: Option<f64>,
    phase: String,
    label: String,
}

fn time_of(m: &Value) -> Option<f64> {
    let at = m.get("finishedAt").or_else(|| m.get("startedAt"))?.as_str()?;
    let ts: Timestamp = at.parse().ok()?;
    Some(ts.as_millisecond() as f64 / 1000.0)
}

/// The chart of `measurements` (the `measurements` array of a metric result).
pub(crate) fn metric_chart(measurements: &[Value]) -> String {
    let points: Vec<Point> = measurements
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let raw = m.get("value").and_then(Value::as_str).unwrap_or("");
            let phase = m.get("phase").and_then(Value::as_str).unwrap_or("").to_owned();
            Point {
                at: time_of(m).unwrap_or(i as f64),
                value: numeric(raw),
                label: format!(
                    "{phase} {raw} {}",
                    m.get("finishedAt").and_then(Value::as_str).unwrap_or("")
                ),
                phase,
            }
        })
        .collect();
    if points.is_empty() {
        return r#"<p class="muted">no measurements yet</p>"#.to_owned();
    }
    let values: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
    let (mut lo, mut hi) =
        values.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    if values.is_empty() {
        (lo, hi) = (0.0, 1.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let (t0, t1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.at), b.max(p.at)));
    let span = if t1 > t0 { t1 - t0 } else { 1.0 };
    let x = |at: f64| PAD + (at - t0) / span * (WIDTH - 2.0 * PAD);
    let y = |v: f64| HEIGHT - PAD / 2.0 - (v - lo) / (hi - lo) * (HEIGHT - PAD);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="measurements">"#
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{PAD}" y1="{top}" x2="{PAD}" y2="{bottom}"/><line class="axis" x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}"/><text x="2" y="{top_text}">{hi}</text><text x="2" y="{bottom}">{lo}</text>"#,
        top = PAD / 2.0,
        bottom = HEIGHT - PAD / 2.0,
        right = WIDTH - PAD,
        top_text = PAD / 2.0 + 4.0,
        hi = trim(hi),
        lo = trim(lo),
    );
    let line: Vec<String> = points
        .iter()
        .filter_map(|p| p.value.map(|v| format!("{:.1},{:.1}", x(p.at), y(v))))
        .collect();
    if line.len() > 1 {
        let _ = write!(svg, r#"<polyline class="line" points="{}"/>"#, line.join(" "));
    }
    for p in &points {
        let cy = p.value.map_or(HEIGHT - PAD / 2.0, y);
        let _ = write!(
            svg,
            r#"<circle class="dot {}" cx="{:.1}" cy="{:.1}" r="4"><title>{}</title></circle>"#,
            status_class(&p.phase),
            x(p.at),
            cy,
            esc(&p.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_from_prometheus_style_results() {
        assert_eq!(numeric("0.97"), Some(0.97));
        assert_eq!(numeric("[0.5, 1]"), Some(0.5));
        assert_eq!(numeric("[]"), None);
        assert_eq!(numeric("NaN"), None);
    }

    #[test]
    fn each_measurement_is_a_dot_coloured_by_phase() {
        let svg = metric_chart(&[
            json!({"phase": "Successful", "value": "[0.99]", "finishedAt": "2026-01-01T00:00:00Z"}),
            json!({"phase": "Failed", "value": "[0.5]", "finishedAt": "2026-01-01T00:00:10Z"}),
        ]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"class="dot ok""#) && svg.contains(r#"class="dot bad""#), "{svg}");
        assert!(svg.contains("<polyline"));
        assert!(metric_chart(&[]).contains("no measurements"));
    }
}
