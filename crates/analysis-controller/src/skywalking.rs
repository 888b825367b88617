//! `provider.skywalking`: a GraphQL query POSTed to `<address>/graphql` with the variable
//! `duration = {start: now − interval, end: now, step: MINUTE}` in SkyWalking's minute format
//! (`2006-01-02 1504`, UTC: keep the OAP in UTC too).
//!
//! `result` is the decoded `data` object (numbers as float64, as Go decodes them) and the
//! measurement value is its JSON. A GraphQL error is an Error `graphql: <message>`, a null
//! `data` is an Error `no results returned from SkyWalking query` (Argo's texts).

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value as Json, json};
use weir_analysis::{
    BoxFuture, Conditions, MeasureRequest, MetricProvider, Observation, error_measurement,
};
use weir_expr::Value;
use weir_model::rollouts::{Measurement, Metric};

use crate::http::{body_excerpt, client, go_json, transport_error, wall_clock};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The SkyWalking provider (type name `SkyWalking`).
#[derive(Debug)]
pub struct SkyWalkingProvider {
    client: Result<reqwest::Client, String>,
}

impl Default for SkyWalkingProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// SkyWalking's `MINUTE` step format.
fn minute(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H%M").to_string()
}

impl SkyWalkingProvider {
    /// A provider with its own HTTP client.
    pub fn new() -> Self {
        SkyWalkingProvider { client: client() }
    }

    async fn measure(&self, metric: &Metric, now: Timestamp) -> Result<Observation, String> {
        let spec = metric.provider.skywalking.as_ref().ok_or("no skywalking provider")?;
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let interval = spec
            .interval
            .as_deref()
            .filter(|i| !i.is_empty())
            .ok_or("skywalking: interval must be specified")?;
        let nanos = weir_model::duration::parse_nanos(interval)
            .map_err(|e| format!("skywalking: invalid interval {interval:?}: {e}"))?;
        let start = now
            .checked_sub(SignedDuration::from_nanos(nanos))
            .map_err(|e| format!("skywalking: interval {interval:?}: {e}"))?;
        let address = spec
            .address
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or("skywalking: address must be specified")?
            .trim_end_matches('/');
        let url = format!("{address}/graphql");
        let body = json!({
            "query": spec.query.clone().unwrap_or_default(),
            "variables": {"duration": {"start": minute(start), "end": minute(now), "step": "MINUTE"}},
        });
        let response = client
            .post(&url)
            .timeout(TIMEOUT)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept", "application/json; charset=utf-8")
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("POST", &url, &e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport_error("POST", &url, &e))?;
        let envelope: Json = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) if status.is_success() => {
                return Err(format!("decoding response: {e}: {}", body_excerpt(&bytes)));
            }
            Err(_) => {
                return Err(format!(
                    "graphql: server returned a non-200 status code: {}",
                    status.as_u16()
                ));
            }
        };
        if let Some(first) = envelope.get("errors").and_then(Json::as_array).and_then(|e| e.first())
        {
            let msg = first.get("message").and_then(Json::as_str).unwrap_or("unknown error");
            return Err(format!("graphql: {msg}"));
        }
        match envelope.get("data") {
            None | Some(Json::Null) => Err("no results returned from SkyWalking query".to_owned()),
            Some(data) => Ok(Observation {
                result: Value::from_json_go(data),
                value: go_json(data),
                metadata: Default::default(),
            }),
        }
    }
}

impl MetricProvider for SkyWalkingProvider {
    fn kind(&self) -> &str {
        "SkyWalking"
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_formatted_in_utc() {
        let t: Timestamp = "2026-11-26T03:15:42Z".parse().expect("time");
        assert_eq!(minute(t), "2026-11-26 0315");
    }
}
