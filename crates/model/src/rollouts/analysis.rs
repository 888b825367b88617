//! Analysis templates and metrics: the spec shared by AnalysisTemplate and
//! ClusterAnalysisTemplate, [`Metric`] and the template arguments.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use super::providers::MetricProvider;
use super::strategy::FieldRef;

/// `spec` of an AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    /// Arguments the metrics use as `{{args.NAME}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Argument>>,
    /// Metrics run in dry-run mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<DryRun>>,
    /// Measurements kept per metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_retention: Option<Vec<MeasurementRetention>>,
    /// The metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<Metric>>,
    /// Other templates whose metrics are included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<TemplateRef>>,
}

impl AnalysisTemplateSpec {
    /// The metrics, `[]` when unset.
    pub fn metrics(&self) -> &[Metric] {
        self.metrics.as_deref().unwrap_or(&[])
    }
}

/// A reference to another analysis template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateRef {
    /// A ClusterAnalysisTemplate rather than an AnalysisTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// The template's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

/// An argument of a template or run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Argument {
    /// The argument's name (required).
    #[serde(default)]
    pub name: String,
    /// A literal value (a default in templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A value from a secret or a field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// `valueFrom` of an analysis argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValueFrom {
    /// A field of the owning object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
    /// A key of a Secret in the run's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
}

/// A key of a Secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The key (required).
    #[serde(default)]
    pub key: String,
    /// The Secret's name (required).
    #[serde(default)]
    pub name: String,
}

/// A metric run in dry-run mode (its result does not count); `metricName` may be a regex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DryRun {
    /// Metric name or regular expression (required).
    #[serde(default)]
    pub metric_name: String,
}

/// How many measurements to keep for matching metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeasurementRetention {
    /// Measurements kept (required).
    #[serde(default)]
    pub limit: i32,
    /// Metric name or regular expression (required).
    #[serde(default)]
    pub metric_name: String,
}

/// One metric: a provider query measured `count` times every `interval`, judged by
/// `successCondition` / `failureCondition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metric {
    /// Consecutive errors tolerated (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    /// Consecutive successes that end the metric early (default 0 = not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<IntOrString>,
    /// Measurements to take (default: 1 without interval, unlimited with one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    /// Expression that marks a measurement Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    /// Failed measurements tolerated (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    /// Inconclusive measurements tolerated (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    /// Delay before the first measurement (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    /// Time between measurements (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The metric's name (required).
    #[serde(default)]
    pub name: String,
    /// Where the measurement comes from (required).
    #[serde(default)]
    pub provider: MetricProvider,
    /// Expression that marks a measurement Successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
}

/// Go's `IntOrString.IntValue()`: the int, or the string parsed as a base-10 int (0 if it
/// does not parse).
pub(crate) fn int_value(v: &IntOrString) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => s.parse().unwrap_or(0),
    }
}

impl Metric {
    /// Argo's default `consecutiveErrorLimit`.
    pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;

    /// `count` as an int (Go `IntValue()`), 0 when unset (= 1 without interval, unlimited
    /// with one).
    pub fn count(&self) -> i32 {
        self.count.as_ref().map_or(0, int_value)
    }

    /// `failureLimit`, default 0.
    pub fn failure_limit(&self) -> i32 {
        self.failure_limit.as_ref().map_or(0, int_value)
    }

    /// `inconclusiveLimit`, default 0.
    pub fn inconclusive_limit(&self) -> i32 {
        self.inconclusive_limit.as_ref().map_or(0, int_value)
    }

    /// `consecutiveErrorLimit`, default 4.
    pub fn consecutive_error_limit(&self) -> i32 {
        self.consecutive_error_limit
            .as_ref()
            .map_or(Self::DEFAULT_CONSECUTIVE_ERROR_LIMIT, int_value)
    }

    /// `consecutiveSuccessLimit`, default 0 (not used).
    pub fn consecutive_success_limit(&self) -> i32 {
        self.consecutive_success_limit.as_ref().map_or(0, int_value)
    }
}
