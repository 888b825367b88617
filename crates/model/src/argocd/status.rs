//! Argo CD `Application.status`: sync and health state, resources, history, conditions.
//!
//! Follows `crds/argo-cd/*.yaml` field for field (derived mechanically from the schema; the
//! schema coverage test in `tests/fixtures.rs` fails on any missing or misnamed field).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use super::{
    ApplicationDestination, ApplicationSource, OperationInitiator, OperationState,
    ResourceIgnoreDifferences, SourceHydrator,
};

/// ApplicationStatus contains status information for the application
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationStatus {
    /// Conditions is a list of currently observed application conditions
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ApplicationCondition>>,
    /// ControllerNamespace indicates the namespace in which the application controller is located
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_namespace: Option<String>,
    /// Health contains information about the application's current health status
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// History contains information about the application's sync history
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<RevisionHistory>>,
    /// ObservedAt indicates when the application state was updated without querying latest git state Deprecated: controller no longer updates ObservedAt field
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,
    /// OperationState contains information about any ongoing operations, such as a sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    /// ReconciledAt indicates when the application state was reconciled using the latest git version
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<Time>,
    /// ResourceHealthSource indicates where the resource health status is stored: inline if not set or appTree
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_health_source: Option<String>,
    /// Resources is a list of Kubernetes resources managed by this application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceStatus>>,
    /// SourceHydrator stores information about the current state of source hydration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hydrator: Option<SourceHydratorStatus>,
    /// SourceType specifies the type of this application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// SourceTypes specifies the type of the sources included in the application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_types: Option<Vec<String>>,
    /// Summary contains a list of URLs and container images used by this application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ApplicationSummary>,
    /// Sync contains information about the application's current sync status
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}

/// ApplicationCondition contains details about an application condition, which is usually an error or warning
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationCondition {
    /// LastTransitionTime is the time the condition was last observed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Message contains human-readable message indicating details about condition
    #[serde(default)]
    pub message: String,
    /// Type is an application condition type
    #[serde(default)]
    pub r#type: String,
}

/// Health contains information about the application's current health status
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthStatus {
    /// LastTransitionTime is the time the HealthStatus was set or updated
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Message is a human-readable informational message describing the health status
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Status holds the status code of the application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// RevisionHistory contains history information about a previous sync
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevisionHistory {
    /// DeployStartedAt holds the time the sync operation started
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_started_at: Option<Time>,
    /// DeployedAt holds the time the sync operation completed
    pub deployed_at: Time,
    /// ID is an auto incrementing identifier of the RevisionHistory
    #[serde(default)]
    pub id: i64,
    /// InitiatedBy contains information about who initiated the operations
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
    /// Revision holds the revision the sync was performed against
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Revisions holds the revision of each source in sources field the sync was performed against
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<String>>,
    /// Source is a reference to the application source used for the sync operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Sources is a reference to the application sources used for the sync operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
}

/// ResourceStatus holds the current synchronization and health status of a Kubernetes resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceStatus {
    /// Group represents the API group of the resource (e.g., "apps" for Deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Health indicates the health status of the resource (e.g., Healthy, Degraded, Progressing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// Hook is true if the resource is used as a lifecycle hook in an Argo CD application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<bool>,
    /// Kind specifies the type of the resource (e.g., "Deployment", "Service").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name is the unique name of the resource within the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace defines the Kubernetes namespace where the resource is located.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// RequiresDeletionConfirmation is true if the resource requires explicit user confirmation before deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_deletion_confirmation: Option<bool>,
    /// RequiresPruning is true if the resource needs to be pruned (deleted) as part of synchronization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_pruning: Option<bool>,
    /// Status represents the synchronization state of the resource (e.g., Synced, OutOfSync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// SyncWave determines the order in which resources are applied during a sync operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_wave: Option<i64>,
    /// Version indicates the API version of the resource (e.g., "v1", "v1beta1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// SourceHydrator stores information about the current state of source hydration
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceHydratorStatus {
    /// CurrentOperation holds the status of the hydrate operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<HydrateOperation>,
    /// LastComparedDryRevision holds the resolved revision from the most recent dry source comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compared_dry_revision: Option<String>,
    /// LastSuccessfulOperation holds info about the most recent successful hydration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_operation: Option<SuccessfulHydrateOperation>,
}

/// CurrentOperation holds the status of the hydrate operation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HydrateOperation {
    /// DrySHA holds the resolved revision (sha) of the dry source as of the most recent reconciliation
    #[serde(rename = "drySHA", default, skip_serializing_if = "Option::is_none")]
    pub dry_sha: Option<String>,
    /// FinishedAt indicates when the hydrate operation finished
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// HydratedSHA holds the resolved revision (sha) of the hydrated source as of the most recent reconciliation
    #[serde(rename = "hydratedSHA", default, skip_serializing_if = "Option::is_none")]
    pub hydrated_sha: Option<String>,
    /// Message contains a message describing the current status of the hydrate operation
    #[serde(default)]
    pub message: String,
    /// Phase indicates the status of the hydrate operation
    #[serde(default)]
    pub phase: String,
    /// SourceHydrator holds the hydrator config used for the hydrate operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hydrator: Option<SourceHydrator>,
    /// StartedAt indicates when the hydrate operation started
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
}

/// LastSuccessfulOperation holds info about the most recent successful hydration
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuccessfulHydrateOperation {
    /// DrySHA holds the resolved revision (sha) of the dry source as of the most recent reconciliation
    #[serde(rename = "drySHA", default, skip_serializing_if = "Option::is_none")]
    pub dry_sha: Option<String>,
    /// HydratedSHA holds the resolved revision (sha) of the hydrated source as of the most recent reconciliation
    #[serde(rename = "hydratedSHA", default, skip_serializing_if = "Option::is_none")]
    pub hydrated_sha: Option<String>,
    /// SourceHydrator holds the hydrator config used for the hydrate operation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hydrator: Option<SourceHydrator>,
}

/// Summary contains a list of URLs and container images used by this application
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSummary {
    /// ExternalURLs holds all external URLs of application child resources.
    #[serde(rename = "externalURLs", default, skip_serializing_if = "Option::is_none")]
    pub external_ur_ls: Option<Vec<String>>,
    /// Images holds all images of application child resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// IsAppOfApps holds true if the application has any application for child resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_app_of_apps: Option<bool>,
}

/// Sync contains information about the application's current sync status
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncStatus {
    /// ComparedTo contains information about what has been compared
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_to: Option<ComparedTo>,
    /// Revision contains information about the revision the comparison has been performed to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Revisions contains information about the revisions of multiple sources the comparison has been performed to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<String>>,
    /// Status is the sync state of the comparison
    #[serde(default)]
    pub status: String,
}

/// ComparedTo contains information about what has been compared
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComparedTo {
    /// Destination is a reference to the application's destination used for comparison
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// IgnoreDifferences is a reference to the application's ignored differences used for comparison
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_differences: Option<Vec<ResourceIgnoreDifferences>>,
    /// Source is a reference to the application's source used for comparison
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Sources is a reference to the application's multiple sources used for comparison
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
}
