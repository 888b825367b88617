//! `provider.web`: an HTTP request (method, headers, `body` or `jsonBody`, basic auth,
//! `timeoutSeconds` default 10) whose JSON answer is narrowed with `jsonPath` (default `{$}`).
//!
//! A non-2xx status is an Error; a JSON body gives the match (any type, numbers as float64)
//! as `result` and its JSON as the value; a body that is not JSON is a string `result`.

use serde_json::Value as Json;
use weir_analysis::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, error_measurement,
};
use weir_expr::Value;
use weir_model::rollouts::{Measurement, Metric};

use crate::http::{decorate, go_json, timeout_secs, transport_error, wall_clock};
use crate::jsonpath;
use crate::tls::Clients;

const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The web provider (type name `Web`).
#[derive(Debug)]
pub struct WebProvider {
    /// Verifying and `insecure: true` clients.
    clients: Clients,
}

impl Default for WebProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl WebProvider {
    /// A provider with its own HTTP clients (TLS with the system's roots).
    pub fn new() -> Self {
        WebProvider { clients: Clients::new() }
    }

    async fn measure(&self, metric: &Metric) -> Result<Observation, String> {
        let spec = metric.provider.web.as_ref().ok_or("no web provider")?;
        let client = self.clients.get(spec.insecure == Some(true))?;
        let method_name = spec.method.as_deref().filter(|m| !m.is_empty()).unwrap_or("GET");
        let method = reqwest::Method::from_bytes(method_name.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid method {method_name:?}"))?;
        let mut req = client
            .request(method.clone(), &spec.url)
            .timeout(timeout_secs(spec.timeout_seconds, DEFAULT_TIMEOUT_SECS));
        if let Some(json) = &spec.json_body {
            req = req.header("Content-Type", "application/json").body(json.to_string());
        } else if let Some(body) = spec.body.as_ref().filter(|b| !b.is_empty()) {
            req = req.body(body.clone());
        }
        req = decorate(req, spec.headers.as_deref(), spec.authentication.as_ref());
        let url = &spec.url;
        let response = req.send().await.map_err(|e| transport_error(method.as_str(), url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("received non 2xx response code: {}", status.as_u16()));
        }
        let bytes =
            response.bytes().await.map_err(|e| transport_error(method.as_str(), url, &e))?;
        let data: Json = match serde_json::from_slice(&bytes) {
            Ok(d) => d,
            Err(_) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                return Ok(Observation {
                    result: Value::String(text.clone()),
                    value: text,
                    metadata: Default::default(),
                });
            }
        };
        let path = spec.json_path.as_deref().filter(|p| !p.is_empty()).unwrap_or("{$}");
        let found = jsonpath::find(path, &data)
            .map_err(|e| format!("Could not find JSONPath in body: {e}"))?;
        Ok(Observation {
            result: Value::from_json_go(found),
            value: go_json(found),
            metadata: Default::default(),
        })
    }
}

impl MetricProvider for WebProvider {
    fn kind(&self) -> &str {
        "Web"
    }

    fn run<'a>(&'a self, req: MeasureRequest<'a>) -> BoxFuture<'a, Measurement> {
        Box::pin(async move {
            let started = wall_clock();
            match self.measure(req.metric).await {
                Ok(obs) => obs.measure(&Conditions::new(req.metric), started, wall_clock()),
                Err(e) => error_measurement(e, started, wall_clock()),
            }
        })
    }
}
