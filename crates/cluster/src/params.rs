//! Parameters of list, watch and delete calls.

use serde::{Deserialize, Serialize};

use crate::{FieldSelector, LabelSelector};

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subresource {
    /// The object itself: spec, metadata, everything but `status`.
    #[default]
    Main,
    /// Only `status`.
    Status,
}

/// How a list's `resource_version` is read (Kubernetes' `resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionMatch {
    /// Not given: `resource_version` `"0"` means any version, another one "not older than".
    #[default]
    Unset,
    /// Data at least as new as `resource_version`.
    NotOlderThan,
    /// Data exactly at `resource_version` (a backend that no longer has it answers
    /// [`Error::Expired`](crate::Error::Expired)).
    Exact,
}

/// Filters of a list call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Only objects whose labels match.
    pub label_selector: Option<LabelSelector>,
    /// Only objects whose fields match (the fields the kind supports, see
    /// [`FieldSelector::check`]; another field is a `BadRequest`).
    pub field_selector: Option<FieldSelector>,
    /// Which version of the data to read: `None` (or `""`) is the latest; see
    /// [`VersionMatch`] for the others.
    pub resource_version: Option<String>,
    /// How `resource_version` is matched.
    pub version_match: VersionMatch,
}

impl ListParams {
    /// A list filtered by a label selector.
    pub fn labels(selector: LabelSelector) -> Self {
        ListParams { label_selector: Some(selector), ..ListParams::default() }
    }

    /// A list filtered by a field selector.
    pub fn fields(selector: FieldSelector) -> Self {
        ListParams { field_selector: Some(selector), ..ListParams::default() }
    }
}

/// Where a watch starts and what it sees.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchParams {
    /// Changes strictly after this version are sent. `None` (or `"0"`) starts with an `ADDED`
    /// event for every existing object, then streams live changes.
    pub resource_version: Option<String>,
    /// Only objects whose labels match.
    pub label_selector: Option<LabelSelector>,
    /// Only objects whose fields match. A change that makes an object start matching is sent
    /// as `ADDED`, one that makes it stop matching as `DELETED`, as Kubernetes' watch cache does.
    pub field_selector: Option<FieldSelector>,
    /// Send periodic `BOOKMARK` events so an idle watcher can resume without replay.
    pub bookmarks: bool,
    /// Start with an `ADDED` event for every existing object (also from a given
    /// `resource_version`: the state then is at least that new), then a `BOOKMARK` annotated
    /// `k8s.io/initial-events-end: "true"` ([`INITIAL_EVENTS_END`]), then live changes:
    /// Kubernetes' streaming list (`sendInitialEvents=true`).
    pub send_initial_events: bool,
}

/// The annotation of the `BOOKMARK` that ends a watch's initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// What happens to an object's dependents (objects whose `ownerReferences` name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PropagationPolicy {
    /// The owner goes now; dependents are collected right after.
    #[default]
    Background,
    /// The owner stays (with the `foregroundDeletion` finalizer) until its blocking dependents
    /// are gone.
    Foreground,
    /// Dependents stay, with the owner reference removed.
    Orphan,
}

/// Options of a delete call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteParams {
    /// How dependents are treated.
    pub propagation_policy: PropagationPolicy,
    /// Delete only if the stored uid is this one.
    pub precondition_uid: Option<String>,
    /// Delete only if the stored resourceVersion is this one.
    pub precondition_resource_version: Option<String>,
}
