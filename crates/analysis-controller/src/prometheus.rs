//! `provider.prometheus`: an instant query (`/api/v1/query`) or, with `rangeQuery`, a range
//! query (`/api/v1/query_range`, `start`/`end` evaluated as expr time expressions).
//!
//! `result` is what Argo's provider builds: a vector → `[]float64` (value `[10,11]`), a
//! scalar → `float64` (value `0.5`), a matrix → one flat `[]float64` of every sample. Sample
//! strings `NaN`/`+Inf` become floats. API errors read `<errorType>: <error>` as Prometheus'
//! Go client prints them; warnings go to the measurement's `metadata.warnings`.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value as Json;
use weir_analysis::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, error_measurement,
};
use weir_expr::Value;
use weir_model::rollouts::{Measurement, Metric, PrometheusMetric};

use crate::http::{body_excerpt, decorate, go_float, timeout_secs, transport_error, wall_clock};
use crate::tls::Clients;

/// Environment variable with the address used when a metric has none (as Argo).
pub(crate) const ADDRESS_ENV: &str = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS";
const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The Prometheus provider (type name `Prometheus`).
#[derive(Debug)]
pub struct PrometheusProvider {
    /// Verifying and `insecure: true` clients.
    clients: Clients,
}

impl Default for PrometheusProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusProvider {
    /// A provider with its own HTTP clients (TLS with the system's roots).
    pub fn new() -> Self {
        PrometheusProvider { clients: Clients::new() }
    }

    async fn measure(&self, metric: &Metric, now: Timestamp) -> Result<Observation, String> {
        let spec = metric.provider.prometheus.as_ref().ok_or("no prometheus provider")?;
        let client = self.clients.get(spec.insecure == Some(true))?;
        let address = spec
            .address
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| std::env::var(ADDRESS_ENV).ok())
            .ok_or("prometheus address is not configured")?;
        if spec.timeout.is_some_and(|t| t < 0) {
            return Err("timeout cannot be negative".to_owned());
        }
        let timeout = timeout_secs(spec.timeout, DEFAULT_TIMEOUT_SECS);
        let query = spec.query.clone().unwrap_or_default();
        let base = address.trim_end_matches('/');
        let (url, form) = match &spec.range_query {
            None => (format!("{base}/api/v1/query"), vec![("query", query), ("time", unix(now))]),
            Some(range) => {
                let at = |expr: Option<&String>, what: &str| -> Result<String, String> {
                    match expr.filter(|e| !e.is_empty()) {
                        None => Ok(unix(now)),
                        Some(e) => weir_expr::argo::evaluate_time(e)
                            .map(|t| format!("{:.3}", t.unix_nanos as f64 / 1e9))
                            .map_err(|err| {
                                format!("failed to parse rangeQuery.{what} as time: {err}")
                            }),
                    }
                };
                let step = range.step.as_deref().unwrap_or("1m");
                let step = weir_model::duration::parse_nanos(step)
                    .map_err(|e| format!("failed to parse rangeQuery.step as duration: {e}"))?;
                let step = Duration::from_nanos(step.unsigned_abs()).as_secs_f64().max(0.001);
                (
                    format!("{base}/api/v1/query_range"),
                    vec![
                        ("query", query),
                        ("start", at(range.start.as_ref(), "start")?),
                        ("end", at(range.end.as_ref(), "end")?),
                        ("step", step.to_string()),
                    ],
                )
            }
        };
        let req = decorate(
            client.post(&url).timeout(timeout).form(&form),
            spec.headers.as_deref(),
            spec.authentication.as_ref(),
        );
        let response = req.send().await.map_err(|e| transport_error("POST", &url, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport_error("POST", &url, &e))?;
        let envelope: Json = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) if status.is_success() => {
                let text = body_excerpt(&body);
                return Err(format!("bad_response: the answer of {url} is not JSON ({e}): {text}"));
            }
            Err(_) => {
                // As Prometheus' Go client names them.
                let code = status.as_u16();
                let kind = match code {
                    400..=499 => "client_error: client error",
                    500..=599 => "server_error: server error",
                    _ => "bad_response: unexpected status",
                };
                return Err(format!("{kind}: {code}: {}", body_excerpt(&body)));
            }
        };
        parse_response(&envelope)
    }
}

fn unix(t: Timestamp) -> String {
    format!("{:.3}", t.as_millisecond() as f64 / 1000.0)
}

/// Turns an API envelope into an observation (or the error Argo would record).
fn parse_response(envelope: &Json) -> Result<Observation, String> {
    if envelope.get("status").and_then(Json::as_str) != Some("success") {
        let kind = envelope.get("errorType").and_then(Json::as_str).unwrap_or("unknown");
        let msg = envelope.get("error").and_then(Json::as_str).unwrap_or("unknown error");
        return Err(format!("{kind}: {msg}"));
    }
    let data = envelope.get("data").ok_or("no data in the Prometheus response")?;
    let result = data.get("result").unwrap_or(&Json::Null);
    let sample = |v: &Json| -> f64 {
        match v.get(1) {
            Some(Json::String(s)) => parse_sample(s),
            Some(Json::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            _ => f64::NAN,
        }
    };
    let list = |floats: Vec<f64>| -> Observation {
        let text: Vec<String> = floats.iter().map(|f| go_float(*f)).collect();
        Observation {
            result: Value::float_array(&floats),
            value: format!("[{}]", text.join(",")),
            metadata: BTreeMap::new(),
        }
    };
    let mut obs = match data.get("resultType").and_then(Json::as_str) {
        Some("vector") => list(
            result
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s.get("value").map_or(f64::NAN, sample))
                .collect(),
        ),
        Some("matrix") => list(
            result
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s.get("values").and_then(Json::as_array).into_iter().flatten())
                .map(sample)
                .collect(),
        ),
        Some("scalar") => {
            let f = sample(result);
            Observation { result: Value::Float(f), value: go_float(f), metadata: BTreeMap::new() }
        }
        _ => return Err("Prometheus metric type not supported".to_owned()),
    };
    if let Some(warnings) = envelope.get("warnings").and_then(Json::as_array)
        && !warnings.is_empty()
    {
        let text: Vec<String> =
            warnings.iter().filter_map(Json::as_str).map(|w| format!("{w:?}")).collect();
        obs.metadata.insert("warnings".to_owned(), text.join(", "));
    }
    Ok(obs)
}

/// A sample string (`"0.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
fn parse_sample(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

impl MetricProvider for PrometheusProvider {
    fn kind(&self) -> &str {
        "Prometheus"
    }

    fn run<'a>(&'a self, req: MeasureRequest<'a>) -> BoxFuture<'a, Measurement> {
        Box::pin(async move {
            let started = wall_clock();
            match self.measure(req.metric, req.now).await {
                Ok(obs) => obs.measure(&Conditions::new(req.metric), started, wall_clock()),
                Err(e) => error_measurement(e, started, wall_clock()),
            }
        })
    }

    fn metadata(&self, metric: &Metric) -> BTreeMap<String, String> {
        let query =
            metric.provider.prometheus.as_ref().and_then(|p: &PrometheusMetric| p.query.clone());
        query.map(|q| ("ResolvedPrometheusQuery".to_owned(), q)).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn result_shapes_follow_argo() {
        let vector = json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1.0, "10"]}, {"metric": {}, "value": [1.0, "11.5"]}]}});
        let obs = parse_response(&vector).expect("vector");
        assert_eq!(obs.value, "[10,11.5]");
        assert_eq!(obs.result, Value::float_array(&[10.0, 11.5]));
        let scalar = json!({"status": "success", "data": {"resultType": "scalar",
            "result": [1.0, "NaN"]}, "warnings": ["w1"]});
        let obs = parse_response(&scalar).expect("scalar");
        assert_eq!(obs.value, "NaN");
        assert_eq!(obs.metadata.get("warnings").map(String::as_str), Some("\"w1\""));
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"], [2, "2"]]}, {"metric": {}, "values": [[1, "3"]]}]}});
        assert_eq!(parse_response(&matrix).expect("matrix").value, "[1,2,3]");
        let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        assert_eq!(parse_response(&empty).expect("empty").value, "[]");
        let error = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        assert_eq!(parse_response(&error), Err("bad_data: parse error".to_owned()));
        let string = json!({"status": "success", "data": {"resultType": "string",
            "result": [1, "x"]}});
        assert_eq!(parse_response(&string), Err("Prometheus metric type not supported".to_owned()));
    }
}
