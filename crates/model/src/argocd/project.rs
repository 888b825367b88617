//! Argo CD `AppProject.spec` and `.status`: allowed sources, destinations, resource kinds, roles, sync windows.
//!
//! Follows `crds/argo-cd/*.yaml` field for field (derived mechanically from the schema; the
//! schema coverage test in `tests/fixtures.rs` fails on any missing or misnamed field).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ApplicationDestination;

/// AppProjectSpec is the specification of an AppProject
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppProjectSpec {
    /// ClusterResourceBlacklist contains list of blacklisted cluster level resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_resource_blacklist: Option<Vec<ClusterResourceRestrictionItem>>,
    /// ClusterResourceWhitelist contains list of whitelisted cluster level resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_resource_whitelist: Option<Vec<ClusterResourceRestrictionItem>>,
    /// Description contains optional project description
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// DestinationServiceAccounts holds information about the service accounts to be impersonated for the application sync operation for each destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_service_accounts: Option<Vec<ApplicationDestinationServiceAccount>>,
    /// Destinations contains list of destinations available for deployment
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<ApplicationDestination>>,
    /// NamespaceResourceBlacklist contains list of blacklisted namespace level resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_resource_blacklist: Option<Vec<GroupKind>>,
    /// NamespaceResourceWhitelist contains list of whitelisted namespace level resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_resource_whitelist: Option<Vec<GroupKind>>,
    /// OrphanedResources specifies if controller should monitor orphaned resources of apps in this project
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphaned_resources: Option<OrphanedResourcesMonitorSettings>,
    /// PermitOnlyProjectScopedClusters determines whether destinations can only reference clusters which are project-scoped
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_only_project_scoped_clusters: Option<bool>,
    /// Roles are user defined RBAC roles associated with this project
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<ProjectRole>>,
    /// SignatureKeys contains a list of PGP key IDs that commits in Git must be signed with in order to be allowed for sync Deprecated: Use SourceIntegrity instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_keys: Option<Vec<SignatureKey>>,
    /// SourceIntegrity represents a constraint on manifest sources integrity to be met before they can be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_integrity: Option<SourceIntegrity>,
    /// SourceNamespaces defines the namespaces application resources are allowed to be created in
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_namespaces: Option<Vec<String>>,
    /// SourceRepos contains list of repository URLs which can be used for deployment
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repos: Option<Vec<String>>,
    /// SyncWindows controls when syncs can be run for apps in this project
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<Vec<SyncWindow>>,
}

/// ClusterResourceRestrictionItem is a cluster resource that is restricted by the project's whitelist or blacklist
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterResourceRestrictionItem {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    /// Name is the name of the restricted resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// ApplicationDestinationServiceAccount holds information about the service account to be impersonated for the application sync operation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationDestinationServiceAccount {
    /// DefaultServiceAccount to be used for impersonation during the sync operation
    #[serde(default)]
    pub default_service_account: String,
    /// Namespace specifies the target namespace for the application's resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Server specifies the URL of the target cluster's Kubernetes control plane API.
    #[serde(default)]
    pub server: String,
}

/// GroupKind specifies a Group and a Kind, but does not force a version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
}

/// OrphanedResources specifies if controller should monitor orphaned resources of apps in this project
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrphanedResourcesMonitorSettings {
    /// Ignore contains a list of resources that are to be excluded from orphaned resources monitoring
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<OrphanedResourceKey>>,
    /// Warn indicates if warning condition should be created for apps which have orphaned resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<bool>,
}

/// OrphanedResourceKey is a reference to a resource to be ignored from
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrphanedResourceKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// ProjectRole represents a role that has access to a project
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectRole {
    /// Description is a description of the role
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Groups are a list of OIDC group claims bound to this role
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// JWTTokens are a list of generated JWT tokens bound to this role
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_tokens: Option<Vec<JwtToken>>,
    /// Name is a name for this role
    #[serde(default)]
    pub name: String,
    /// Policies Stores a list of casbin formatted strings that define access policies for the role in the project
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
}

/// JWTToken holds the issuedAt and expiresAt values of a token
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// SignatureKey is the specification of a key required to verify commit signatures with Deprecated: Use SourceIntegrity instead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignatureKey {
    /// The ID of the key in hexadecimal notation
    #[serde(rename = "keyID", default)]
    pub key_id: String,
}

/// SourceIntegrity represents a constraint on manifest sources integrity to be met before they can be used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceIntegrity {
    /// Git - policies for git source verification
    #[serde(default)]
    pub git: SourceIntegrityGit,
}

/// Git - policies for git source verification
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceIntegrityGit {
    #[serde(default)]
    pub policies: Vec<SourceIntegrityGitPolicy>,
}

/// `AppProject.spec.sourceIntegrity.git.policies[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceIntegrityGitPolicy {
    /// Verify GPG commit/tag signatures
    #[serde(default)]
    pub gpg: SourceIntegrityGitPolicyGpg,
    /// List of repository criteria restricting repositories the policy will apply to
    #[serde(default)]
    pub repos: Vec<SourceIntegrityGitPolicyRepo>,
}

/// Verify GPG commit/tag signatures
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceIntegrityGitPolicyGpg {
    /// List of key IDs to trust.
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub mode: String,
}

/// `AppProject.spec.sourceIntegrity.git.policies[].repos[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceIntegrityGitPolicyRepo {
    /// URL specifier, glob.
    #[serde(default)]
    pub url: String,
}

/// SyncWindow contains the kind, time, duration and attributes that are used to assign the syncWindows to apps
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncWindow {
    /// UseAndOperator use AND operator for matching applications, namespaces and clusters instead of the default OR operator
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and_operator: Option<bool>,
    /// Applications contains a list of applications that the window will apply to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications: Option<Vec<String>>,
    /// Clusters contains a list of clusters that the window will apply to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<String>>,
    /// Description of the sync that will be applied to the schedule, can be used to add any information such as a ticket number for example
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Duration is the amount of time the sync window will be open
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Kind defines if the window allows or blocks syncs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// ManualSync enables manual syncs when they would otherwise be blocked
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_sync: Option<bool>,
    /// Namespaces contains a list of namespaces that the window will apply to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Schedule is the time the window will begin, specified in cron format
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// SyncOverrun allows ongoing syncs to continue in two scenarios: For deny windows: allows syncs that started before the deny window became active to continue…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_overrun: Option<bool>,
    /// TimeZone of the sync that will be applied to the schedule
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// AppProjectStatus contains status information for AppProject CRs
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppProjectStatus {
    /// JWTTokensByRole contains a list of JWT tokens issued for a given role
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_tokens_by_role: Option<BTreeMap<String, JwtTokens>>,
}

/// JWTTokens represents a list of JWT tokens
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtTokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<JwtToken>>,
}
