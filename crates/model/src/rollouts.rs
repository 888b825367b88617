//! Argo Rollouts' `argoproj.io/v1alpha1` kinds, typed field for field after the CRD schemas.
//!
//! | kind | scope | spec | status |
//! |---|---|---|---|
//! | [`Rollout`] | namespaced | [`RolloutSpec`] | [`RolloutStatus`] |
//! | [`AnalysisTemplate`] | namespaced | [`AnalysisTemplateSpec`] | — |
//! | [`ClusterAnalysisTemplate`] | cluster | [`AnalysisTemplateSpec`] | — |
//! | [`AnalysisRun`] | namespaced | [`AnalysisRunSpec`] | [`AnalysisRunStatus`] |
//! | [`Experiment`] | namespaced | [`ExperimentSpec`] | [`ExperimentStatus`] |
//!
//! Conventions shared by every type here:
//! - optional schema fields are `Option`s that stay absent when written back, so a manifest
//!   round-trips unchanged; Argo's defaults are applied by accessor methods (for example
//!   [`RolloutSpec::progress_deadline_seconds`]) and never by (de)serialization;
//! - fields the schema requires are plain values that read as Go's zero value when missing
//!   (as Argo's own decoder does), so [`crate::validate`] can report them;
//! - unknown fields are rejected (`deny_unknown_fields`), so typos surface with their path;
//! - free-form JSON (plugin configs, `jsonBody`, step plugin status) is `serde_json::Value`.
//!
//! Every top-level kind implements [`k8s_openapi::Resource`] and [`k8s_openapi::Metadata`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

mod analysis;
mod analysis_run;
mod experiment;
mod providers;
mod rollout;
mod rollout_status;
mod steps;
mod strategy;
mod traffic;

pub use analysis::{
    AnalysisTemplateSpec, Argument, DryRun, MeasurementRetention, Metric, SecretKeyRef,
    TemplateRef, ValueFrom,
};
pub use analysis_run::{
    AnalysisPhase, AnalysisRunSpec, AnalysisRunStatus, Measurement, MetricResult, RunSummary,
    TtlStrategy,
};
pub use experiment::{
    ExperimentAnalysisRunStatus, ExperimentAnalysisTemplateRef, ExperimentCondition,
    ExperimentSpec, ExperimentStatus, TemplateService, TemplateSpec, TemplateStatus,
};
pub use providers::{
    Authentication, BasicAuth, CloudWatchMetric, CloudWatchMetricDataQuery, CloudWatchMetricStat,
    CloudWatchMetricStatMetric, CloudWatchMetricStatMetricDimension, DatadogMetric, GraphiteMetric,
    InfluxdbMetric, JobMetadata, JobMetric, KayentaMetric, KayentaScope, KayentaThreshold,
    MetricProvider, NewRelicMetric, OAuth2Config, PrometheusMetric, PrometheusRangeQueryArgs,
    ScopeDetail, SecretRef, Sigv4Config, SkyWalkingMetric, WavefrontMetric, WebMetric,
    WebMetricHeader,
};
pub use rollout::{AnalysisRunStrategy, ObjectRef, RollbackWindowSpec, RolloutSpec};
pub use rollout_status::{
    AlbStatus, AwsResourceRef, BlueGreenStatus, CanaryStatus, PauseCondition,
    RolloutAnalysisRunStatus, RolloutCondition, RolloutStatus, RolloutStatusDuration,
    StepPluginStatus, TrafficWeights, WeightDestination,
};
pub use steps::{
    CanaryStep, HeaderRoutingMatch, PluginStep, RolloutExperimentStep,
    RolloutExperimentStepAnalysisTemplateRef, RolloutExperimentTemplate, RolloutMirrorRoute,
    RolloutPause, RouteMatch, SetCanaryScale, SetHeaderRoute, SetMirrorRoute, StringMatch,
    TemplateServiceRef,
};
pub use strategy::{
    AnalysisRunArgument, AnalysisRunMetadata, AntiAffinity, ArgumentValueFrom, BlueGreenStrategy,
    CanaryStrategy, FieldRef, PingPongSpec, PodTemplateMetadata,
    PreferredDuringSchedulingIgnoredDuringExecution, ReplicaProgressThreshold,
    RequiredDuringSchedulingIgnoredDuringExecution, RolloutAnalysis, RolloutAnalysisBackground,
    RolloutAnalysisTemplate, RolloutStrategy, get_int_or_percent,
};
pub use traffic::{
    AlbTrafficRouting, AmbassadorTrafficRouting, ApisixRoute, ApisixTrafficRouting,
    AppMeshTrafficRouting, AppMeshVirtualNodeGroup, AppMeshVirtualNodeReference,
    AppMeshVirtualService, IstioDestinationRule, IstioTrafficRouting, IstioVirtualService,
    ManagedRoute, NginxTrafficRouting, RolloutTrafficRouting, SmiTrafficRouting, StickinessConfig,
    TcpRoute, TlsRoute, TraefikTrafficRouting,
};

/// The API group of every kind here.
pub const GROUP: &str = "argoproj.io";
/// The API version of every kind here.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// A Rollout: a Deployment replacement with canary and blue-green strategies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Rollout`, as written.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The desired state.
    pub spec: RolloutSpec,
    /// The observed state, written by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RolloutStatus>,
}

/// A namespaced analysis template: metrics and the arguments they take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisTemplate {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `AnalysisTemplate`, as written.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: AnalysisTemplateSpec,
}

/// A cluster-scoped analysis template (same spec as [`AnalysisTemplate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterAnalysisTemplate {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `ClusterAnalysisTemplate`, as written.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: AnalysisTemplateSpec,
}

/// One execution of a set of metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRun {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `AnalysisRun`, as written.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What to measure.
    pub spec: AnalysisRunSpec,
    /// Measurements and results, written by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AnalysisRunStatus>,
}

/// A set of ReplicaSets run side by side for a while, optionally analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Experiment`, as written.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The experiment.
    pub spec: ExperimentSpec,
    /// Template and analysis statuses, written by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ExperimentStatus>,
}

macro_rules! resource {
    ($ty:ident, $kind:literal, $plural:literal, $scope:ty) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::ListableResource for $ty {
            const LIST_KIND: &'static str = concat!($kind, "List");
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

resource!(Rollout, "Rollout", "rollouts", k8s_openapi::NamespaceResourceScope);
resource!(
    AnalysisTemplate,
    "AnalysisTemplate",
    "analysistemplates",
    k8s_openapi::NamespaceResourceScope
);
resource!(
    ClusterAnalysisTemplate,
    "ClusterAnalysisTemplate",
    "clusteranalysistemplates",
    k8s_openapi::ClusterResourceScope
);
resource!(AnalysisRun, "AnalysisRun", "analysisruns", k8s_openapi::NamespaceResourceScope);
resource!(Experiment, "Experiment", "experiments", k8s_openapi::NamespaceResourceScope);

impl Rollout {
    /// A new Rollout with the given name and spec, `apiVersion` and `kind` filled in.
    pub fn new(name: impl Into<String>, spec: RolloutSpec) -> Self {
        Rollout {
            api_version: API_VERSION.to_owned(),
            kind: "Rollout".to_owned(),
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec,
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_accessors_not_serialized() {
        let spec = RolloutSpec::default();
        assert_eq!(spec.replicas(), 1);
        assert_eq!(spec.revision_history_limit(), 10);
        assert_eq!(spec.progress_deadline_seconds(), 600);
        assert_eq!(spec.min_ready_seconds(), 0);
        assert_eq!(spec.successful_run_history_limit(), 5);
        assert_eq!(spec.unsuccessful_run_history_limit(), 5);
        let canary = CanaryStrategy::default();
        assert_eq!(canary.max_surge(), IntOrString::String("25".into()));
        assert_eq!(canary.max_unavailable(), IntOrString::String("25".into()));
        assert_eq!(canary.scale_down_delay_seconds(), 30);
        assert_eq!(canary.abort_scale_down_delay_seconds(), 30);
        assert_eq!(canary.max_traffic_weight(), 100);
        let bg = BlueGreenStrategy::default();
        assert!(bg.auto_promotion_enabled());
        assert_eq!(bg.scale_down_delay_seconds(), 30);
        assert_eq!(bg.abort_scale_down_delay_seconds(), 30);
        assert_eq!(Metric::default().consecutive_error_limit(), 4);
        assert_eq!(Metric::default().failure_limit(), 0);
        let ro = Rollout::new("r", RolloutSpec::default());
        assert_eq!(
            serde_json::to_value(&ro).unwrap(),
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                   "metadata": {"name": "r"}, "spec": {}})
        );
    }

    #[test]
    fn int_or_percent_like_argo() {
        let s = |v: &str| IntOrString::String(v.to_owned());
        assert_eq!(get_int_or_percent(&s("25"), 10, true), Some(3));
        assert_eq!(get_int_or_percent(&s("25%"), 10, false), Some(2));
        assert_eq!(get_int_or_percent(&IntOrString::Int(2), 10, true), Some(2));
        assert_eq!(get_int_or_percent(&s("x"), 10, true), None);
    }

    #[test]
    fn statuses_round_trip() {
        let ro = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
            "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "1h"}}, {"pause": {}}]}}},
            "status": {
                "HPAReplicas": 5, "stableRS": "abc", "currentPodHash": "def", "currentStepIndex": 1,
                "observedGeneration": "3", "phase": "Paused", "message": "CanaryPauseStep",
                "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2024-05-01T10:00:00Z"}],
                "canary": {"weights": {"canary": {"weight": 20, "podTemplateHash": "def", "serviceName": "c"},
                                        "stable": {"weight": 80}}},
                "conditions": [{"type": "Paused", "status": "True", "reason": "RolloutPaused", "message": "m",
                                "lastTransitionTime": "2024-05-01T10:00:00Z", "lastUpdateTime": "2024-05-01T10:00:00Z"}]
            }
        });
        let typed: Rollout = serde_json::from_value(ro.clone()).unwrap();
        assert_eq!(
            typed.spec.canary().unwrap().steps()[1].pause.as_ref().unwrap().duration_seconds(),
            3600
        );
        assert_eq!(serde_json::to_value(&typed).unwrap(), ro);

        let ar = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "a"},
            "spec": {"metrics": [{"name": "m", "interval": "30s", "count": 3, "failureLimit": "{{args.limit}}",
                                  "provider": {"plugin": {"argoproj-labs/x": {"k": 1}}}}],
                     "args": [{"name": "limit", "value": "1"}]},
            "status": {"phase": "Running", "startedAt": "2024-05-01T10:00:00Z",
                       "metricResults": [{"name": "m", "phase": "Running", "count": 1, "successful": 1,
                                          "measurements": [{"phase": "Successful", "value": "[0.99]",
                                                            "startedAt": "2024-05-01T10:00:00Z",
                                                            "finishedAt": "2024-05-01T10:00:01Z"}]}],
                       "runSummary": {"count": 1, "successful": 1}}
        });
        let typed: AnalysisRun = serde_json::from_value(ar.clone()).unwrap();
        assert_eq!(typed.spec.metrics[0].provider.type_name(), Some("argoproj-labs/x"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), ar);
    }

    #[test]
    fn unknown_fields_are_reported_with_their_path() {
        let ro = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {},
                        "spec": {"strategy": {"canary": {"steps": [{"setWieght": 20}]}}}});
        let err = serde_path_to_error::deserialize::<_, Rollout>(ro).unwrap_err();
        assert_eq!(err.path().to_string(), "spec.strategy.canary.steps[0].setWieght");
    }
}
