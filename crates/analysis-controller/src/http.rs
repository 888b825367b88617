//! What the HTTP providers share: the client (TLS in [`crate::tls`]), headers and basic
//! authentication, Go-like error texts for transport failures, and Go's float formatting.

use std::error::Error as _;
use std::time::Duration;

use weir_model::rollouts::{Authentication, WebMetricHeader};

/// A reqwest client without a global timeout (each request sets its own) that speaks
/// `https://` with the system's roots (see [`crate::tls`]), or why none could be built.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    crate::tls::client(Some(crate::tls::system_roots()))
}

/// Adds `headers` and, if configured, basic authentication.
pub(crate) fn decorate(
    mut req: reqwest::RequestBuilder,
    headers: Option<&[WebMetricHeader]>,
    auth: Option<&Authentication>,
) -> reqwest::RequestBuilder {
    for h in headers.unwrap_or_default() {
        req = req.header(h.key.as_str(), h.value.as_str());
    }
    if let Some(basic) = auth.and_then(|a| a.basic_auth.as_ref()) {
        req = req.basic_auth(
            basic.username.clone().unwrap_or_default(),
            basic.password.clone().filter(|p| !p.is_empty()),
        );
    }
    req
}

/// The wall clock (the pure engine takes `now` as an argument; this is where it comes from).
pub(crate) use weir_cluster::wall_clock;

/// Seconds from a spec field (`None` or 0 → `default`).
pub(crate) fn timeout_secs(secs: Option<i64>, default: u64) -> Duration {
    match secs {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        _ => Duration::from_secs(default),
    }
}

/// A transport error the way Go's `net/http` prints it: `Post "<url>": <cause>`, with the
/// whole cause chain (reqwest hides the interesting part in `source()`).
pub(crate) fn transport_error(method: &str, url: &str, err: &reqwest::Error) -> String {
    let method = go_method(method);
    if let Some(tls) = crate::tls::describe(err) {
        return format!("{method} \"{url}\": {tls}");
    }
    if err.is_timeout() {
        return format!(
            "{method} \"{url}\": context deadline exceeded (Client.Timeout exceeded while \
             awaiting headers)"
        );
    }
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    if causes.is_empty() {
        causes.push(err.to_string());
    }
    format!("{method} \"{url}\": {}", causes.join(": "))
}

/// `GET` → `Get` (Go's `url.Error` prints the method that way).
fn go_method(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A response body for an error message: lossy UTF-8, trimmed, at most 200 characters.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, no exponent, `NaN`, `+Inf`.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

/// A JSON value encoded as Go's `json.Marshal` encodes the `any` it decoded: object keys
/// sorted, numbers as float64 (`1`, not `1.0`).
pub(crate) fn go_json(value: &serde_json::Value) -> String {
    fn normalize(v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            J::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                J::Object(keys.into_iter().map(|k| (k.clone(), normalize(&map[k]))).collect())
            }
            J::Array(items) => J::Array(items.iter().map(normalize).collect()),
            J::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => J::from(f as i64),
                _ => v.clone(),
            },
            other => other.clone(),
        }
    }
    normalize(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_excerpts_are_trimmed_and_capped_on_a_char_boundary() {
        assert_eq!(body_excerpt(b"  <html>x</html>\n"), "<html>x</html>");
        let long = "é".repeat(300);
        let excerpt = body_excerpt(long.as_bytes());
        assert_eq!(excerpt.chars().count(), 201);
        assert!(excerpt.ends_with("é…"));
        assert_eq!(body_excerpt(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn floats_format_like_go() {
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(f64::NAN), "NaN");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_method("POST"), "Post");
        let v = serde_json::json!({"b": 1.0, "a": [2.5, {"d": null, "c": "x"}]});
        assert_eq!(go_json(&v), r#"{"a":[2.5,{"c":"x","d":null}],"b":1}"#);
    }
}
