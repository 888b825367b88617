//! Parameters of list, watch and delete calls.

use serde::{Deserialize, Serialize};

use crate::LabelSelector;

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subresource {
    /// The object itself: spec, metadata, everything but `status`.
    #[default]
    Main,
    /// Only `status`.
    Status,
}

/// Filters of a list call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Only objects whose labels match.
    pub label_selector: Option<LabelSelector>,
}

impl ListParams {
    /// A list filtered by a label selector.
    pub fn labels(selector: LabelSelector) -> Self {
        ListParams { label_selector: Some(selector) }
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
    /// Send periodic `BOOKMARK` events so an idle watcher can resume without replay.
    pub bookmarks: bool,
}

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
