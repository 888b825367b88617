//! `Rollout.spec`: replicas, selector, pod template (or workload reference) and strategy.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use serde::{Deserialize, Serialize};

use super::strategy::{BlueGreenStrategy, CanaryStrategy, RolloutStrategy};

/// `spec` of a [`Rollout`](super::Rollout).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutSpec {
    /// History limits for AnalysisRuns and Experiments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRunStrategy>,
    /// Seconds a new pod must be ready to count as available (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Manual pause: no step progress and no canary/stable scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Abort the update when the progress deadline passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_abort: Option<bool>,
    /// Seconds without progress before the rollout is considered stuck (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Desired pod count (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pods created before this time are restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<Time>,
    /// Old ReplicaSets to keep (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Rollbacks within this many revisions skip steps and analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindowSpec>,
    /// Pod label selector; required unless `workloadRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Canary or blue-green.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RolloutStrategy>,
    /// The pod template; must be empty when `workloadRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateSpec>,
    /// A Deployment, ReplicaSet or PodTemplate to take the template from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<ObjectRef>,
}

/// Argo's defaults for the Rollout spec (`utils/defaults`).
impl RolloutSpec {
    /// Default of `spec.replicas`.
    pub const DEFAULT_REPLICAS: i32 = 1;
    /// Default of `spec.revisionHistoryLimit`.
    pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
    /// Default of `spec.progressDeadlineSeconds`.
    pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

    /// `spec.replicas`, default 1.
    pub fn replicas(&self) -> i32 {
        self.replicas.unwrap_or(Self::DEFAULT_REPLICAS)
    }

    /// `spec.revisionHistoryLimit`, default 10.
    pub fn revision_history_limit(&self) -> i32 {
        self.revision_history_limit.unwrap_or(Self::DEFAULT_REVISION_HISTORY_LIMIT)
    }

    /// `spec.progressDeadlineSeconds`, default 600.
    pub fn progress_deadline_seconds(&self) -> i32 {
        self.progress_deadline_seconds.unwrap_or(Self::DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }

    /// `spec.minReadySeconds`, default 0.
    pub fn min_ready_seconds(&self) -> i32 {
        self.min_ready_seconds.unwrap_or(0)
    }

    /// `spec.paused`, default false.
    pub fn is_paused(&self) -> bool {
        self.paused.unwrap_or(false)
    }

    /// `spec.progressDeadlineAbort`, default false.
    pub fn progress_deadline_abort(&self) -> bool {
        self.progress_deadline_abort.unwrap_or(false)
    }

    /// `spec.analysis.successfulRunHistoryLimit`, default 5.
    pub fn successful_run_history_limit(&self) -> i32 {
        self.analysis.as_ref().and_then(|a| a.successful_run_history_limit).unwrap_or(5)
    }

    /// `spec.analysis.unsuccessfulRunHistoryLimit`, default 5.
    pub fn unsuccessful_run_history_limit(&self) -> i32 {
        self.analysis.as_ref().and_then(|a| a.unsuccessful_run_history_limit).unwrap_or(5)
    }

    /// The canary strategy, if that is the strategy.
    pub fn canary(&self) -> Option<&CanaryStrategy> {
        self.strategy.as_ref().and_then(|s| s.canary.as_ref())
    }

    /// The blue-green strategy, if that is the strategy.
    pub fn blue_green(&self) -> Option<&BlueGreenStrategy> {
        self.strategy.as_ref().and_then(|s| s.blue_green.as_ref())
    }

    /// Argo's `EmptyTemplate()`: the template has no labels and no annotations.
    pub fn empty_template(&self) -> bool {
        let Some(meta) = self.template.as_ref().and_then(|t| t.metadata.as_ref()) else {
            return true;
        };
        meta.labels.as_ref().is_none_or(|l| l.is_empty())
            && meta.annotations.as_ref().is_none_or(|a| a.is_empty())
    }
}

/// `spec.analysis`: how many finished AnalysisRuns and Experiments to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalysisRunStrategy {
    /// Successful runs kept (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_run_history_limit: Option<i32>,
    /// Failed, Error and Inconclusive runs kept (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsuccessful_run_history_limit: Option<i32>,
}

/// `spec.rollbackWindow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollbackWindowSpec {
    /// How many revisions back a rollback is fast-tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<i32>,
}

/// `spec.workloadRef`: the workload the pod template is taken from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectRef {
    /// API version of the referent, e.g. `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Deployment`, `ReplicaSet` or `PodTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `never`, `onsuccess` or `progressively` (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<String>,
}
