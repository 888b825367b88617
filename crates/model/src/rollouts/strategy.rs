//! `spec.strategy`: the canary and blue-green strategies and what they share (analysis
//! references, ephemeral pod metadata, anti-affinity).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use super::analysis::{DryRun, MeasurementRetention};
use super::steps::CanaryStep;
use super::traffic::RolloutTrafficRouting;

/// `spec.strategy`: exactly one of `canary` and `blueGreen` must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStrategy {
    /// Blue-green: a preview stack, then a service switch.
    #[serde(rename = "blueGreen", default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
    /// Canary: steps shifting replicas or traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
}

/// `spec.strategy.blueGreen`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    /// Seconds before the preview RS is scaled down after an abort (default 30; 0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// Ephemeral metadata for the active pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_metadata: Option<PodTemplateMetadata>,
    /// The service switched to the promoted ReplicaSet (required).
    #[serde(default)]
    pub active_service: String,
    /// Anti-affinity between the new and the stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Promote automatically once ready (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_enabled: Option<bool>,
    /// Promote automatically this many seconds after the pause (0 = not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<i32>,
    /// Pods that may be unavailable during a restart (default 25%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Analysis run after the active service switched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<RolloutAnalysis>,
    /// Analysis run before the active service switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    /// Ephemeral metadata for the preview pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_metadata: Option<PodTemplateMetadata>,
    /// Replicas of the new RS before promotion (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_replica_count: Option<i32>,
    /// The service pointed at the new RS right away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_service: Option<String>,
    /// Old ReplicaSets left running during their scale-down delay (default: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Seconds before the old active RS is scaled down (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
}

impl BlueGreenStrategy {
    /// `autoPromotionEnabled`, default true.
    pub fn auto_promotion_enabled(&self) -> bool {
        self.auto_promotion_enabled.unwrap_or(true)
    }

    /// `autoPromotionSeconds`, default 0 (not used).
    pub fn auto_promotion_seconds(&self) -> i32 {
        self.auto_promotion_seconds.unwrap_or(0)
    }

    /// `scaleDownDelaySeconds`, default 30.
    pub fn scale_down_delay_seconds(&self) -> i32 {
        self.scale_down_delay_seconds.unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS)
    }

    /// `abortScaleDownDelaySeconds`, default 30.
    pub fn abort_scale_down_delay_seconds(&self) -> i32 {
        self.abort_scale_down_delay_seconds.unwrap_or(DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS)
    }

    /// `maxUnavailable`, default `"25%"`.
    pub fn max_unavailable(&self) -> IntOrString {
        self.max_unavailable.clone().unwrap_or_else(|| IntOrString::String("25%".to_owned()))
    }

    /// `previewService`, default `""`.
    pub fn preview_service(&self) -> &str {
        self.preview_service.as_deref().unwrap_or("")
    }
}

/// Argo's default scale-down delay (canary with traffic routing, and blue-green).
pub(crate) const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
/// Argo's default abort scale-down delay.
pub(crate) const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// `spec.strategy.canary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CanaryStrategy {
    /// Seconds before the canary is scaled down after an abort (default 30 with traffic
    /// routing; 0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// Background analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysisBackground>,
    /// Anti-affinity between the canary and the stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Ephemeral metadata for canary pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_metadata: Option<PodTemplateMetadata>,
    /// Service selecting only canary pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_service: Option<String>,
    /// Scale stable down as canary weight grows (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_stable_scale: Option<bool>,
    /// Extra pods allowed during a basic canary (default `"25"` = 25%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Pods that may be unavailable (default `"25"` = 25%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Minimum pods per ReplicaSet with traffic routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pods_per_replica_set: Option<i32>,
    /// Ping-pong services instead of stable/canary selector swaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_pong: Option<PingPongSpec>,
    /// When the canary counts as ready (default 100%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_progress_threshold: Option<ReplicaProgressThreshold>,
    /// Old ReplicaSets left running during their scale-down delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Seconds before the previous stable is scaled down (default 30, traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// Ephemeral metadata for stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_metadata: Option<PodTemplateMetadata>,
    /// Service selecting only stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_service: Option<String>,
    /// The steps (empty = rolling update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<CanaryStep>>,
    /// Traffic routing (nil = replica-weighted canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<RolloutTrafficRouting>,
}

impl CanaryStrategy {
    /// `maxSurge`, default `"25"` (read as 25%).
    pub fn max_surge(&self) -> IntOrString {
        self.max_surge.clone().unwrap_or_else(|| IntOrString::String("25".to_owned()))
    }

    /// `maxUnavailable`, default `"25"` (read as 25%).
    pub fn max_unavailable(&self) -> IntOrString {
        self.max_unavailable.clone().unwrap_or_else(|| IntOrString::String("25".to_owned()))
    }

    /// `scaleDownDelaySeconds`, default 30 (only used with traffic routing).
    pub fn scale_down_delay_seconds(&self) -> i32 {
        self.scale_down_delay_seconds.unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS)
    }

    /// `abortScaleDownDelaySeconds`, default 30 (only used with traffic routing).
    pub fn abort_scale_down_delay_seconds(&self) -> i32 {
        self.abort_scale_down_delay_seconds.unwrap_or(DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS)
    }

    /// `dynamicStableScale`, default false.
    pub fn dynamic_stable_scale(&self) -> bool {
        self.dynamic_stable_scale.unwrap_or(false)
    }

    /// `canaryService`, default `""`.
    pub fn canary_service(&self) -> &str {
        self.canary_service.as_deref().unwrap_or("")
    }

    /// `stableService`, default `""`.
    pub fn stable_service(&self) -> &str {
        self.stable_service.as_deref().unwrap_or("")
    }

    /// The steps, `[]` when unset.
    pub fn steps(&self) -> &[CanaryStep] {
        self.steps.as_deref().unwrap_or(&[])
    }

    /// `trafficRouting.maxTrafficWeight`, default 100.
    pub fn max_traffic_weight(&self) -> i32 {
        self.traffic_routing.as_ref().and_then(|t| t.max_traffic_weight).unwrap_or(100)
    }
}

/// Resolves an int-or-percent value against `total` the way Argo does
/// (`GetValueFromIntOrPercent`): an int is used as is; any string is a percentage, with or
/// without a trailing `%`, rounded up or down. `None` if the string is not a number.
pub fn get_int_or_percent(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(i) => Some(*i),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%').unwrap_or(s).parse().ok()?;
            let product = percent * i64::from(total);
            let v = if round_up { (product + 99).div_euclid(100) } else { product.div_euclid(100) };
            i32::try_from(v).ok()
        }
    }
}

/// `pingPong`: two services swapped at promotion instead of selector changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PingPongSpec {
    /// The "ping" service (required).
    #[serde(default)]
    pub ping_service: String,
    /// The "pong" service (required).
    #[serde(default)]
    pub pong_service: String,
}

/// `replicaProgressThreshold`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaProgressThreshold {
    /// `Percent` or `Pods` (required).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The threshold (required).
    #[serde(default)]
    pub value: i32,
}

/// Labels and annotations added to pods (canary/stable/active/preview metadata,
/// experiment template metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodTemplateMetadata {
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Labels and annotations for the AnalysisRuns a rollout creates.
pub type AnalysisRunMetadata = PodTemplateMetadata;

/// `antiAffinity`: exactly one of the two must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AntiAffinity {
    /// Soft anti-affinity with a weight.
    #[serde(
        rename = "preferredDuringSchedulingIgnoredDuringExecution",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred: Option<PreferredDuringSchedulingIgnoredDuringExecution>,
    /// Hard anti-affinity.
    #[serde(
        rename = "requiredDuringSchedulingIgnoredDuringExecution",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub required: Option<RequiredDuringSchedulingIgnoredDuringExecution>,
}

/// `antiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredDuringSchedulingIgnoredDuringExecution {
    /// 1..100 (required).
    #[serde(default)]
    pub weight: i32,
}

/// `antiAffinity.requiredDuringSchedulingIgnoredDuringExecution` (an empty object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredDuringSchedulingIgnoredDuringExecution {}

/// An analysis reference in a rollout: blue-green pre/post analysis and canary
/// `analysis` steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutAnalysis {
    /// Labels and annotations for the AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<AnalysisRunMetadata>,
    /// Arguments passed to the templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<AnalysisRunArgument>>,
    /// Metrics run in dry-run mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<DryRun>>,
    /// Measurements kept per metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_retention: Option<Vec<MeasurementRetention>>,
    /// The templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<RolloutAnalysisTemplate>>,
}

/// `canary.analysis`: background analysis, with the step it starts at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutAnalysisBackground {
    /// Labels and annotations for the AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<AnalysisRunMetadata>,
    /// Arguments passed to the templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<AnalysisRunArgument>>,
    /// Metrics run in dry-run mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<DryRun>>,
    /// Measurements kept per metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_retention: Option<Vec<MeasurementRetention>>,
    /// Step index at which the analysis starts (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i32>,
    /// The templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<RolloutAnalysisTemplate>>,
}

/// A template reference in a rollout analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutAnalysisTemplate {
    /// A ClusterAnalysisTemplate rather than an AnalysisTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// The template's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

/// An argument a rollout passes to an analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalysisRunArgument {
    /// The argument's name (required).
    #[serde(default)]
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A value taken from the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ArgumentValueFrom>,
}

/// `valueFrom` of a rollout's analysis argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgumentValueFrom {
    /// A field of the Rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
    /// `Stable` or `Latest`: a pod template hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_hash_value: Option<String>,
}

/// A field path into an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldRef {
    /// e.g. `metadata.labels['app']` (required).
    #[serde(default)]
    pub field_path: String,
}
