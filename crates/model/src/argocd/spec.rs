//! Argo CD `Application.spec`: destination, sync policy, ignore rules and the source hydrator.
//!
//! Follows `crds/argo-cd/*.yaml` field for field (derived mechanically from the schema; the
//! schema coverage test in `tests/fixtures.rs` fails on any missing or misnamed field).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{
    ApplicationSource, ApplicationSourceDirectory, ApplicationSourceHelm,
    ApplicationSourceKustomize, ApplicationSourcePlugin,
};

/// ApplicationSpec represents desired application state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// Destination is a reference to the target Kubernetes server and namespace
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// IgnoreDifferences is a list of resources and their fields which should be ignored during comparison
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_differences: Option<Vec<ResourceIgnoreDifferences>>,
    /// Info contains a list of information (URLs, email addresses, and plain text) that relates to the application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<Info>>,
    /// Project is a reference to the project this application belongs to.
    #[serde(default)]
    pub project: String,
    /// RevisionHistoryLimit limits the number of items kept in the application's revision history, which is used for informational purposes as well as for rollbacks…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    /// Source is a reference to the location of the application's manifests or chart
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// SourceHydrator provides a way to push hydrated manifests back to git before syncing them to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hydrator: Option<SourceHydrator>,
    /// Sources is a reference to the location of the application's manifests or chart
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
    /// SyncPolicy controls when and how a sync will be performed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
}

/// Destination is a reference to the target Kubernetes server and namespace
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationDestination {
    /// Name is an alternate way of specifying the target cluster by its symbolic name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace specifies the target namespace for the application's resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Server specifies the URL of the target cluster's Kubernetes control plane API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// ResourceIgnoreDifferences contains resource filter and list of json paths which should be ignored during comparison with live state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq_path_expressions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointers: Option<Vec<String>>,
    #[serde(default)]
    pub kind: String,
    /// ManagedFieldsManagers is a list of trusted managers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_fields_managers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `Application.spec.info[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Info {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// SourceHydrator provides a way to push hydrated manifests back to git before syncing them to the cluster.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceHydrator {
    /// DrySource specifies where the dry "don't repeat yourself" manifest source lives.
    #[serde(default)]
    pub dry_source: DrySource,
    /// HydrateTo specifies an optional "staging" location to push hydrated manifests to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hydrate_to: Option<HydrateTo>,
    /// SyncSource specifies where to sync hydrated manifests from.
    #[serde(default)]
    pub sync_source: SyncSource,
}

/// DrySource specifies where the dry "don't repeat yourself" manifest source lives.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DrySource {
    /// Directory specifies path/directory specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// Helm specifies helm specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    /// Kustomize specifies kustomize specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    /// Path is a directory path within the Git repository where the manifests are located
    #[serde(default)]
    pub path: String,
    /// Plugin specifies config management plugin specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ApplicationSourcePlugin>,
    /// RepoURL is the URL to the git repository that contains the application manifests
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    /// TargetRevision defines the revision of the source to hydrate
    #[serde(default)]
    pub target_revision: String,
}

/// HydrateTo specifies an optional "staging" location to push hydrated manifests to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HydrateTo {
    /// TargetBranch is the branch to which hydrated manifests should be committed
    #[serde(default)]
    pub target_branch: String,
}

/// SyncSource specifies where to sync hydrated manifests from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncSource {
    /// Path is a directory path within the git repository where hydrated manifests should be committed to and synced from.
    #[serde(default)]
    pub path: String,
    /// RepoURL is the URL to the git repository that contains the hydrated manifests.
    #[serde(rename = "repoURL", default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    /// TargetBranch is the branch from which hydrated manifests will be synced.
    #[serde(default)]
    pub target_branch: String,
}

/// SyncPolicy controls when and how a sync will be performed
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Automated will keep an application synced to the target revision
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    /// ManagedNamespaceMetadata controls metadata in the given namespace (if CreateNamespace=true)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
    /// Retry controls failed sync retry behavior
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    /// Options allow you to specify whole app sync-options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_options: Option<Vec<String>>,
}

/// Automated will keep an application synced to the target revision
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    /// AllowEmpty allows apps have zero live resources (default: false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_empty: Option<bool>,
    /// Enable allows apps to explicitly control automated sync
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Prune specifies whether to delete resources from the cluster that are not found in the sources anymore as part of automated sync (default: false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// SelfHeal specifies whether to revert resources back to their desired state upon modification in the cluster (default: false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_heal: Option<bool>,
}

/// ManagedNamespaceMetadata controls metadata in the given namespace (if CreateNamespace=true)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManagedNamespaceMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Retry controls failed sync retry behavior
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryStrategy {
    /// Backoff controls how to backoff on subsequent retries of failed syncs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Limit is the maximum number of attempts for retrying a failed sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Refresh indicates if the latest revision should be used on retry instead of the initial one (default: false)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<bool>,
}

/// Backoff controls how to backoff on subsequent retries of failed syncs
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Backoff {
    /// Duration is the amount to back off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Factor is a factor to multiply the base duration after each failed retry
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// MaxDuration is the maximum amount of time allowed for the backoff strategy
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}
