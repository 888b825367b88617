//! The metric provider port and the measurement it produces.
//!
//! [`MetricProvider`] is the trait the providers crate implements (Prometheus, SkyWalking,
//! web, job, builtin). It is asynchronous without depending on a runtime: each method returns
//! a boxed `std::future::Future` ([`BoxFuture`]), so this crate stays free of tokio and I/O,
//! and the controller can measure several metrics concurrently on whatever runtime it uses.
//!
//! A provider that queries something turns its answer into an [`Observation`] (the `result`
//! the conditions see, the value string, metadata) and calls [`Observation::measure`] with
//! the metric's [`Conditions`], compiled once per metric, to get Argo's phase and messages.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_expr::argo::{Phase, evaluate_program, is_nil_or_empty};
use weir_expr::{Program, Value, compile};
use weir_model::rollouts::{AnalysisPhase, AnalysisRun, Measurement, Metric};

use weir_gocompat::quote as go_quote;

/// A boxed, sendable future (what [`MetricProvider`]'s methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a provider is asked to measure.
#[derive(Debug, Clone, Copy)]
pub struct MeasureRequest<'a> {
    /// The run (namespace, name and uid name Jobs and scope Secrets).
    pub run: &'a AnalysisRun,
    /// The metric, with every `{{args.x}}` (secrets included) substituted.
    pub metric: &'a Metric,
    /// The instant of this reconcile (e.g. the end of a query window).
    pub now: Timestamp,
}

/// A metric provider (Argo's `metric.Provider`). Every method returns a measurement, never
/// an error: a failure is a measurement in phase Error with a message.
pub trait MetricProvider: Send + Sync + fmt::Debug {
    /// The provider's type name (`Prometheus`, `SkyWalking`, `Web`, `Job`, …).
    fn kind(&self) -> &str;

    /// Takes a new measurement. A measurement without `finishedAt` is in flight and will be
    /// resumed at its `resumeAt` (or on the next reconcile).
    fn run<'a>(&'a self, req: MeasureRequest<'a>) -> BoxFuture<'a, Measurement>;

    /// Checks on an in-flight measurement. The default returns it unchanged.
    fn resume<'a>(&'a self, req: MeasureRequest<'a>, m: Measurement) -> BoxFuture<'a, Measurement> {
        let _ = req;
        Box::pin(async move { m })
    }

    /// Stops an in-flight measurement because the run is terminating. The engine then marks
    /// it "Metric Terminated" (Inconclusive unless the provider completed it). The default
    /// does nothing else.
    fn terminate<'a>(
        &'a self,
        req: MeasureRequest<'a>,
        m: Measurement,
    ) -> BoxFuture<'a, Measurement> {
        let _ = req;
        Box::pin(async move { m })
    }

    /// Cleans up after measurements dropped by retention (e.g. deletes their Jobs).
    fn garbage_collect<'a>(
        &'a self,
        req: MeasureRequest<'a>,
        dropped: &'a [Measurement],
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = (req, dropped);
        Box::pin(async { Ok(()) })
    }

    /// Metadata stored on a new metric result (e.g. the resolved query).
    fn metadata(&self, metric: &Metric) -> BTreeMap<String, String> {
        let _ = metric;
        BTreeMap::new()
    }
}

#[derive(Debug, Clone)]
struct Condition {
    source: String,
    program: Result<Program, String>,
}

/// A metric's `successCondition` and `failureCondition`, compiled once. A condition that
/// does not compile makes every measurement an Error with Argo's message.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    success: Option<Condition>,
    failure: Option<Condition>,
}

impl Conditions {
    /// Compiles the metric's conditions (empty strings count as unset).
    pub fn new(metric: &Metric) -> Self {
        let compile_one = |s: Option<&String>| {
            s.filter(|s| !s.is_empty()).map(|s| Condition {
                source: s.clone(),
                program: compile(s).map_err(|e| e.to_string()),
            })
        };
        Conditions {
            success: compile_one(metric.success_condition.as_ref()),
            failure: compile_one(metric.failure_condition.as_ref()),
        }
    }

    /// Argo's `EvaluateResult`: the phase of a measurement whose result is `result`, and
    /// the message when it is an Error.
    pub fn evaluate(&self, result: &Value) -> (AnalysisPhase, Option<String>) {
        let run = |which: &str, c: &Condition| -> Result<bool, String> {
            let outcome = match &c.program {
                Ok(p) => evaluate_program(p, result),
                Err(e) => Err(e.clone()),
            };
            outcome.map_err(|cause| {
                let cause = if is_nil_or_empty(result) {
                    "metric result is nil or empty: no data returned from the metric provider"
                        .to_owned()
                } else {
                    cause
                };
                format!("could not evaluate {which} {}: {cause}", go_quote(&c.source))
            })
        };
        let success = match self.success.as_ref().map(|c| run("successCondition", c)) {
            Some(Err(e)) => return (AnalysisPhase::Error, Some(e)),
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let failure = match self.failure.as_ref().map(|c| run("failureCondition", c)) {
            Some(Err(e)) => return (AnalysisPhase::Error, Some(e)),
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let phase = match (success, failure) {
            (None, None) => Phase::Successful,
            (Some(s), None) => {
                if s {
                    Phase::Successful
                } else {
                    Phase::Failed
                }
            }
            (None, Some(f)) => {
                if f {
                    Phase::Failed
                } else {
                    Phase::Successful
                }
            }
            (Some(s), Some(f)) => {
                if f {
                    Phase::Failed
                } else if s {
                    Phase::Successful
                } else {
                    Phase::Inconclusive
                }
            }
        };
        (analysis_phase(phase), None)
    }
}

/// The measurement phase of an expression verdict.
pub fn analysis_phase(p: Phase) -> AnalysisPhase {
    match p {
        Phase::Successful => AnalysisPhase::Successful,
        Phase::Failed => AnalysisPhase::Failed,
        Phase::Inconclusive => AnalysisPhase::Inconclusive,
        Phase::Error => AnalysisPhase::Error,
    }
}

/// What a provider read: the `result` conditions see, the value string stored on the
/// measurement, and metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// `result` in the conditions (built as the provider's Go code would, see
    /// [`weir_expr::argo`]).
    pub result: Value,
    /// The measurement's `value` (e.g. `[0.99]`, `0.5`, the JSON of a SkyWalking `data`).
    pub value: String,
    /// Measurement metadata (e.g. Prometheus warnings).
    pub metadata: BTreeMap<String, String>,
}

impl Observation {
    /// A completed measurement judged by `conditions`, started at `started_at` and finished
    /// at `finished_at`.
    pub fn measure(
        self,
        conditions: &Conditions,
        started_at: Timestamp,
        finished_at: Timestamp,
    ) -> Measurement {
        let (phase, message) = conditions.evaluate(&self.result);
        Measurement {
            finished_at: Some(Time(finished_at)),
            message,
            metadata: (!self.metadata.is_empty()).then_some(self.metadata),
            phase: phase.as_str().to_owned(),
            resume_at: None,
            started_at: Some(Time(started_at)),
            value: Some(self.value),
        }
    }
}

/// A completed measurement in phase Error with `message` (a provider that could not
/// measure: unreachable address, bad response…).
pub fn error_measurement(
    message: impl Into<String>,
    started_at: Timestamp,
    finished_at: Timestamp,
) -> Measurement {
    Measurement {
        finished_at: Some(Time(finished_at)),
        message: Some(message.into()),
        metadata: None,
        phase: AnalysisPhase::Error.as_str().to_owned(),
        resume_at: None,
        started_at: Some(Time(started_at)),
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(success: &str, failure: &str) -> Metric {
        Metric {
            success_condition: Some(success.to_owned()),
            failure_condition: Some(failure.to_owned()),
            ..Metric::default()
        }
    }

    #[test]
    fn compiled_conditions_agree_with_evaluate_result() {
        let results = [
            Value::Float(0.95),
            Value::float_array(&[0.5]),
            Value::float_array(&[]),
            Value::Nil,
            Value::String("x".into()),
        ];
        let conds = [
            ("result[0] > 0.9", ""),
            ("", "result[0] < 0.9"),
            ("result > 0.9", "result < 0.5"),
            ("result >", ""),
            ("", ""),
            ("len(result) == 0", "false"),
            ("result", ""),
        ];
        for r in &results {
            for (s, f) in conds {
                let (p, m) = weir_expr::argo::evaluate_result(r, s, f);
                assert_eq!(Conditions::new(&metric(s, f)).evaluate(r), (analysis_phase(p), m));
            }
        }
    }

    #[test]
    fn observations_become_measurements() {
        let t = Timestamp::from_second(100).unwrap();
        let obs =
            Observation { result: Value::Float(1.0), value: "1".into(), ..Default::default() };
        let m = obs.measure(&Conditions::new(&metric("result == 1", "")), t, t);
        assert_eq!(m.phase, "Successful");
        assert_eq!(m.value.as_deref(), Some("1"));
        assert_eq!(error_measurement("boom", t, t).phase, "Error");
    }
}
