//! Argo CD operations: the requested `operation` (a sync) and `status.operationState` with its result.
//!
//! Follows `crds/argo-cd/*.yaml` field for field (derived mechanically from the schema; the
//! schema coverage test in `tests/fixtures.rs` fails on any missing or misnamed field).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use super::{ApplicationSource, Info, ManagedNamespaceMetadata, RetryStrategy};

/// InitiatedBy contains information about who initiated the operations
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperationInitiator {
    /// Automated is set to true if operation was initiated automatically by the application controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<bool>,
    /// Username contains the name of a user who started operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// OperationState contains information about any ongoing operations, such as a sync
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperationState {
    /// FinishedAt contains time of operation completion
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Message holds any pertinent messages when attempting to perform operation (typically errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Operation is the original requested operation
    #[serde(default)]
    pub operation: Operation,
    /// Phase is the current phase of the operation
    #[serde(default)]
    pub phase: String,
    /// RetryCount contains time of operation retries
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i64>,
    /// StartedAt contains time of operation start
    pub started_at: Time,
    /// SyncResult is the result of a Sync operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncOperationResult>,
}

/// Operation is the original requested operation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Operation {
    /// Info is a list of informational items for this operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<Info>>,
    /// InitiatedBy contains information about who initiated the operations
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
    /// Retry controls the strategy to apply if a sync fails
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    /// Sync contains parameters for the operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
}

/// Sync contains parameters for the operation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncOperation {
    /// SelfHealAttemptsCount contains the number of auto-heal attempts
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_heal_attempts_count: Option<i64>,
    /// DryRun specifies to perform a `kubectl apply --dry-run` without actually performing the sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Manifests is an optional field that overrides sync source with a local directory for development
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<String>>,
    /// Prune specifies to delete resources from the cluster that are no longer tracked in git
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Resources describes which resources shall be part of the sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<SyncOperationResource>>,
    /// Revision is the revision (Git) or chart version (Helm) which to sync the application to If omitted, will use the revision specified in app spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Revisions is the list of revision (Git) or chart version (Helm) which to sync each source in sources field for the application to If omitted, will use the…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<String>>,
    /// Source overrides the source definition set in the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Sources overrides the source definition set in the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
    /// SyncOptions provide per-sync sync-options, e.g.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_options: Option<Vec<String>>,
    /// SyncStrategy describes how to perform the sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_strategy: Option<SyncStrategy>,
}

/// SyncOperationResource contains resources to sync.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncOperationResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// SyncStrategy describes how to perform the sync
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncStrategy {
    /// Apply will perform a `kubectl apply` to perform the sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<SyncStrategyApply>,
    /// Hook will submit any referenced resources to perform the sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<SyncStrategyApply>,
}

/// Apply will perform a `kubectl apply` to perform the sync.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncStrategyApply {
    /// Force indicates whether or not to supply the --force flag to `kubectl apply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// SyncResult is the result of a Sync operation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncOperationResult {
    /// ManagedNamespaceMetadata contains the current sync state of managed namespace metadata
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
    /// Resources contains a list of sync result items for each individual resource in a sync operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceResult>>,
    /// Revision holds the revision this sync operation was performed to
    #[serde(default)]
    pub revision: String,
    /// Revisions holds the revision this sync operation was performed for respective indexed source in sources field
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<String>>,
    /// Source records the application source information of the sync, used for comparing auto-sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Source records the application source information of the sync, used for comparing auto-sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
}

/// ResourceResult holds the operation result details of a specific resource
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceResult {
    /// Group specifies the API group of the resource
    #[serde(default)]
    pub group: String,
    /// HookPhase contains the state of any operation associated with this resource OR hook This can also contain values for non-hook resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_phase: Option<String>,
    /// HookType specifies the type of the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_type: Option<String>,
    /// Images contains the images related to the ResourceResult
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// Kind specifies the API kind of the resource
    #[serde(default)]
    pub kind: String,
    /// Message contains an informational or error message for the last sync OR operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Name specifies the name of the resource
    #[serde(default)]
    pub name: String,
    /// Namespace specifies the target namespace of the resource
    #[serde(default)]
    pub namespace: String,
    /// Status holds the final result of the sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// SyncPhase indicates the particular phase of the sync that this result was acquired in
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_phase: Option<String>,
    /// Version specifies the API version of the resource
    #[serde(default)]
    pub version: String,
}
