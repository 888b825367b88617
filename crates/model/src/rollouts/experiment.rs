//! Experiment: ReplicaSets from full pod templates run side by side with analyses.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use serde::{Deserialize, Serialize};

use super::analysis::{Argument, DryRun, MeasurementRetention};
use super::strategy::AnalysisRunMetadata;

/// `spec` of an [`Experiment`](super::Experiment).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExperimentSpec {
    /// Analyses run during the experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyses: Option<Vec<ExperimentAnalysisTemplateRef>>,
    /// Labels and annotations for the AnalysisRuns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<AnalysisRunMetadata>,
    /// Metrics run in dry-run mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<DryRun>>,
    /// How long the experiment runs (Go duration; unset = until the analyses finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Measurements kept per metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_retention: Option<Vec<MeasurementRetention>>,
    /// Seconds without progress before the experiment fails (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Seconds before the ReplicaSets are scaled down at the end (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// The ReplicaSets (required).
    #[serde(default)]
    pub templates: Vec<TemplateSpec>,
    /// Stop the experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate: Option<bool>,
}

impl ExperimentSpec {
    /// `progressDeadlineSeconds`, default 600.
    pub fn progress_deadline_seconds(&self) -> i32 {
        self.progress_deadline_seconds.unwrap_or(600)
    }

    /// `scaleDownDelaySeconds`, default 30.
    pub fn scale_down_delay_seconds(&self) -> i32 {
        self.scale_down_delay_seconds.unwrap_or(30)
    }
}

/// An analysis of an experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExperimentAnalysisTemplateRef {
    /// Arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Argument>>,
    /// A ClusterAnalysisTemplate rather than an AnalysisTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// The analysis' name (required).
    #[serde(default)]
    pub name: String,
    /// The experiment waits for this analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_for_completion: Option<bool>,
    /// The template's name (required).
    #[serde(default)]
    pub template_name: String,
}

/// A ReplicaSet of an experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateSpec {
    /// Seconds a pod must be ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// The template's name (required).
    #[serde(default)]
    pub name: String,
    /// Replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pod selector (required).
    #[serde(default)]
    pub selector: LabelSelector,
    /// A service to create for the ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<TemplateService>,
    /// The pod template (required).
    #[serde(default)]
    pub template: PodTemplateSpec,
}

impl TemplateSpec {
    /// `replicas`, default 1.
    pub fn replicas(&self) -> i32 {
        self.replicas.unwrap_or(1)
    }
}

/// `service` of an experiment template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateService {
    /// The service's name (default: generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `status` of an [`Experiment`](super::Experiment).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// The analyses' runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_runs: Option<Vec<ExperimentAnalysisRunStatus>>,
    /// When all templates became available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<Time>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ExperimentCondition>>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Phase (an analysis phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// One status per template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_statuses: Option<Vec<TemplateStatus>>,
}

/// The run of one experiment analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExperimentAnalysisRunStatus {
    /// The AnalysisRun's name (required).
    #[serde(default)]
    pub analysis_run: String,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The analysis' name (required).
    #[serde(default)]
    pub name: String,
    /// The run's phase (required).
    #[serde(default)]
    pub phase: String,
}

/// An experiment condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExperimentCondition {
    /// Last status change (required).
    pub last_transition_time: Time,
    /// Last update (required).
    pub last_update_time: Time,
    /// Message (required).
    #[serde(default)]
    pub message: String,
    /// Reason (required).
    #[serde(default)]
    pub reason: String,
    /// `True`, `False` or `Unknown` (required).
    #[serde(default)]
    pub status: String,
    /// Condition type (required).
    #[serde(rename = "type", default)]
    pub type_: String,
}

/// The state of one experiment template's ReplicaSet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateStatus {
    /// Available pods (required).
    #[serde(default)]
    pub available_replicas: i32,
    /// Hash collisions so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Last status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The template's name (required).
    #[serde(default)]
    pub name: String,
    /// Pod template hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_hash: Option<String>,
    /// Ready pods (required).
    #[serde(default)]
    pub ready_replicas: i32,
    /// Pods (required).
    #[serde(default)]
    pub replicas: i32,
    /// The created service's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `Progressing`, `Running`, `Successful`, `Failed`, `Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Pods with the current template (required).
    #[serde(default)]
    pub updated_replicas: i32,
}
