//! Argo CD's `argoproj.io/v1alpha1` kinds: [`Application`] and [`AppProject`].
//!
//! The structs follow `crds/argo-cd/{application,appproject}-crd.yaml` field for field, with the
//! exact camelCase JSON names (Go names for the types: `ApplicationSource`, `SyncPolicy`, …).
//! Conventions:
//! - optional schema fields are `Option`s that stay absent when written back, so a manifest
//!   round-trips unchanged; Argo CD's defaults live in accessor methods (for example
//!   [`ApplicationSpec::project_or_default`], [`RetryStrategy::backoff_duration`]);
//! - fields the schema requires are plain values that read as Go's zero value when missing (as
//!   Argo CD's decoder does), so [`crate::validate::application`] can report them;
//! - unknown fields are rejected (`deny_unknown_fields`), so typos surface with their path;
//! - free-form JSON (Helm `valuesObject`, `operation.info`, …) is `serde_json::Value`.
//!
//! Both kinds implement [`k8s_openapi::Resource`] and [`k8s_openapi::Metadata`].

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

mod operation;
mod project;
mod source;
mod spec;
mod status;

pub use operation::*;
pub use project::*;
pub use source::*;
pub use spec::*;
pub use status::*;

/// The API group of both kinds.
pub const GROUP: &str = "argoproj.io";
/// The API version of both kinds.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// The project an Application with `spec.project: ""` belongs to.
pub const DEFAULT_PROJECT: &str = "default";
/// `spec.revisionHistoryLimit` when unset.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i64 = 10;
/// `targetRevision` when unset or empty.
pub const DEFAULT_TARGET_REVISION: &str = "HEAD";
/// The in-cluster destination server.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// An Argo CD Application: a source of manifests, a destination cluster/namespace and a
/// sync policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Application`, as written.
    pub kind: String,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: ApplicationSpec,
    /// The observed state, written by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApplicationStatus>,
    /// A requested operation (a sync), consumed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

/// An Argo CD AppProject: which sources, destinations and kinds its Applications may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppProject {
    /// `argoproj.io/v1alpha1`, as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `AppProject`, as written.
    pub kind: String,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The project's rules.
    #[serde(default)]
    pub spec: AppProjectSpec,
    /// Observed state (issued JWT tokens by role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AppProjectStatus>,
}

macro_rules! resource {
    ($ty:ident, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
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

resource!(Application, "Application", "applications");
resource!(AppProject, "AppProject", "appprojects");

impl Application {
    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }
}

impl ApplicationSpec {
    /// The project, `"default"` when `spec.project` is empty.
    pub fn project_or_default(&self) -> &str {
        if self.project.is_empty() { DEFAULT_PROJECT } else { &self.project }
    }

    /// `revisionHistoryLimit`, 10 when unset.
    pub fn revision_history_limit_or_default(&self) -> i64 {
        self.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
    }

    /// Whether `sources` is used (non-empty), in which case `source` is ignored.
    pub fn has_multiple_sources(&self) -> bool {
        self.sources.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// The sources that are generated: `sources` when non-empty, else `source` (if any).
    pub fn effective_sources(&self) -> Vec<&ApplicationSource> {
        match &self.sources {
            Some(sources) if !sources.is_empty() => sources.iter().collect(),
            _ => self.source.iter().collect(),
        }
    }

    /// Whether automated sync is on: `syncPolicy.automated` present and not `enabled: false`.
    pub fn is_automated(&self) -> bool {
        self.sync_policy.as_ref().is_some_and(SyncPolicy::is_automated)
    }
}

impl ApplicationSource {
    /// `targetRevision`, `"HEAD"` when unset or empty.
    pub fn target_revision_or_default(&self) -> &str {
        match self.target_revision.as_deref() {
            None | Some("") => DEFAULT_TARGET_REVISION,
            Some(rev) => rev,
        }
    }

    /// `path`, `""` (the repository root) when unset.
    pub fn path_or_root(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }

    /// Whether this source names a Helm chart from a Helm/OCI repository (`chart` set).
    pub fn is_helm_chart(&self) -> bool {
        self.chart.as_deref().is_some_and(|c| !c.is_empty())
    }
}

impl SyncPolicy {
    /// `automated` present and `automated.enabled` not `false`.
    pub fn is_automated(&self) -> bool {
        self.automated.as_ref().is_some_and(|a| a.enabled != Some(false))
    }

    /// Whether `syncOptions` holds `option` (e.g. `"CreateNamespace=true"`), compared as Argo
    /// CD does: exact `Key=Value` text.
    pub fn has_sync_option(&self, option: &str) -> bool {
        self.sync_options.as_ref().is_some_and(|opts| opts.iter().any(|o| o == option))
    }
}

impl SyncPolicyAutomated {
    /// `prune`, false when unset.
    pub fn prune_or_default(&self) -> bool {
        self.prune.unwrap_or(false)
    }

    /// `selfHeal`, false when unset.
    pub fn self_heal_or_default(&self) -> bool {
        self.self_heal.unwrap_or(false)
    }

    /// `allowEmpty`, false when unset.
    pub fn allow_empty_or_default(&self) -> bool {
        self.allow_empty.unwrap_or(false)
    }
}

/// `retry.backoff.duration` when unset.
pub const DEFAULT_BACKOFF_DURATION: Duration = Duration::from_secs(5);
/// `retry.backoff.factor` when unset.
pub const DEFAULT_BACKOFF_FACTOR: i64 = 2;
/// `retry.backoff.maxDuration` when unset.
pub const DEFAULT_BACKOFF_MAX_DURATION: Duration = Duration::from_secs(180);
/// `retry.limit` of automated syncs that set no `retry` (Argo CD's `autoSync`).
pub const AUTOMATED_SYNC_RETRY_LIMIT: i64 = 5;

impl RetryStrategy {
    /// `limit`: 0 (unset) means no retries, negative means unlimited.
    pub fn limit_or_default(&self) -> i64 {
        self.limit.unwrap_or(0)
    }

    /// `backoff.duration` (5s when unset; bare integers are seconds). `None` if unparsable.
    pub fn backoff_duration(&self) -> Option<Duration> {
        match self.backoff.as_ref().and_then(|b| b.duration.as_deref()) {
            None | Some("") => Some(DEFAULT_BACKOFF_DURATION),
            Some(text) => parse_backoff_duration(text),
        }
    }

    /// `backoff.factor`, 2 when unset.
    pub fn backoff_factor(&self) -> i64 {
        self.backoff.as_ref().and_then(|b| b.factor).unwrap_or(DEFAULT_BACKOFF_FACTOR)
    }

    /// `backoff.maxDuration` (3m when unset; bare integers are seconds). `None` if unparsable.
    pub fn backoff_max_duration(&self) -> Option<Duration> {
        match self.backoff.as_ref().and_then(|b| b.max_duration.as_deref()) {
            None | Some("") => Some(DEFAULT_BACKOFF_MAX_DURATION),
            Some(text) => parse_backoff_duration(text),
        }
    }
}

/// Parses an Argo CD backoff duration: a bare integer (seconds) or a Go duration such as
/// `5s`, `3m`, `1h30m`, `500ms`.
pub fn parse_backoff_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(value * scale).ok()?;
    }
    Some(total)
}

impl AppProject {
    /// The `default` project Argo CD creates: any source repository, any destination, any
    /// cluster-scoped kind.
    pub fn default_project(namespace: &str) -> Self {
        AppProject {
            api_version: API_VERSION.to_owned(),
            kind: "AppProject".to_owned(),
            metadata: ObjectMeta {
                name: Some(DEFAULT_PROJECT.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            spec: AppProjectSpec {
                source_repos: Some(vec!["*".to_owned()]),
                destinations: Some(vec![ApplicationDestination {
                    server: Some("*".to_owned()),
                    namespace: Some("*".to_owned()),
                    name: None,
                }]),
                cluster_resource_whitelist: Some(vec![ClusterResourceRestrictionItem {
                    group: "*".to_owned(),
                    kind: "*".to_owned(),
                    name: None,
                }]),
                ..AppProjectSpec::default()
            },
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_durations_parse_like_argo_cd() {
        assert_eq!(parse_backoff_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_backoff_duration("3m"), Some(Duration::from_secs(180)));
        assert_eq!(parse_backoff_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_backoff_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_backoff_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_backoff_duration("five"), None);
        assert_eq!(parse_backoff_duration(""), None);
    }

    #[test]
    fn defaults_are_accessors() {
        let spec = ApplicationSpec::default();
        assert_eq!(spec.project_or_default(), "default");
        assert_eq!(spec.revision_history_limit_or_default(), 10);
        assert!(!spec.is_automated());
        let retry = RetryStrategy::default();
        assert_eq!(retry.backoff_duration(), Some(Duration::from_secs(5)));
        assert_eq!(retry.backoff_factor(), 2);
        assert_eq!(retry.backoff_max_duration(), Some(Duration::from_secs(180)));
        let policy =
            SyncPolicy { automated: Some(SyncPolicyAutomated::default()), ..SyncPolicy::default() };
        assert!(policy.is_automated());
        let disabled = SyncPolicy {
            automated: Some(SyncPolicyAutomated { enabled: Some(false), ..Default::default() }),
            ..SyncPolicy::default()
        };
        assert!(!disabled.is_automated());
        assert_eq!(ApplicationSource::default().target_revision_or_default(), "HEAD");
    }
}
