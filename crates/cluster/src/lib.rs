//! The cluster API: the one port between weir's controllers and a backend.
//!
//! Everything above this crate (rollout, analysis and application controllers, the HTTP API,
//! the CLI) talks to objects through the [`Cluster`] trait. Two backends implement it: the
//! embedded SQLite store (`weir-store`) and, later, a kube-rs adapter for a real API server.
//! The concepts are Kubernetes' own so that the kube adapter is a thin mapping:
//!
//! | here                         | Kubernetes / kube-rs                                  |
//! |------------------------------|-------------------------------------------------------|
//! | [`Object`]                   | `DynamicObject` (apiVersion, kind, metadata, rest)    |
//! | [`ResourceType`]             | `ApiResource` (group, version, kind, plural, scope)   |
//! | [`ListParams`]               | `ListParams` (labelSelector, fieldSelector)           |
//! | [`WatchParams`]              | `WatchParams` + resourceVersion                       |
//! | [`Patch`]                    | `Patch::Merge` / `Json` / `Strategic` / `Apply`       |
//! | [`Subresource::Status`]      | `/status` subresource (`replace_status`, `patch_status`) |
//! | [`DeleteParams`]             | `DeleteParams` (propagationPolicy, preconditions)     |
//! | [`WatchEvent`]               | `WatchEvent` (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR)  |
//! | [`Error`]                    | `Status` reasons: NotFound, AlreadyExists, Conflict, Invalid, Expired (410) |
//!
//! Read [`Cluster`] first, then [`Object`].

mod apply;
mod clock;
mod dry_run;
mod error;
mod event;
mod object;
mod params;
mod patch;
mod resource;
pub mod selector;
pub mod validation;
mod watch;

use std::future::Future;

pub use apply::{ApplyOutcome, LAST_APPLIED_ANNOTATION, apply, merge as apply_merge};
pub use clock::wall_clock;
pub use dry_run::DryRun;
pub use error::{Error, FieldError, Result, StatusParts};
pub use event::{EventRecord, event_object, record_event};
pub use object::{Object, ObjectList, ObjectRef};
pub use params::{
    DeleteParams, INITIAL_EVENTS_END, ListParams, PropagationPolicy, Subresource, VersionMatch,
    WatchParams,
};
pub use patch::{PATCH_MEDIA_TYPES, Patch, PatchParams, apply_patch};
pub use resource::{Registry, ResourceType, Scope};
pub use selector::{FieldSelector, LabelSelector};
pub use watch::{WatchEvent, WatchStream};

/// Embedded mode: the annotation the node agent writes on each pod it runs, with every
/// container's host-port map `{"<container>": {"<containerPort>": <hostPort>}}`; the mesh
/// reads it to find endpoints.
pub const HOST_PORTS_ANNOTATION: &str = "weir.dev/host-ports";

/// Re-exported so that users of the trait name the same metadata type the backends use.
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// What a delete did: removed the object at once, or marked it for deletion because finalizers
/// (or a foreground deletion waiting for dependents) still hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; this is its last state.
    Deleted(Object),
    /// The object has a `deletionTimestamp` and waits for its finalizers to be removed.
    Pending(Object),
}

/// The cluster API: a Kubernetes-like store of typed and dynamic objects.
///
/// Semantics every implementation keeps (the embedded store's tests pin them down):
/// - `resourceVersion` is an opaque string that grows with every write; `update` with a
///   `resourceVersion` set fails with [`Error::Conflict`] if the stored one differs.
/// - `metadata.generation` starts at 1 and grows only when anything outside `metadata` and
///   `status` changes. Status writes go through [`Subresource::Status`] and never touch spec.
/// - `watch` replays every change after `WatchParams::resource_version`, then streams live
///   changes; a version older than what the backend retains yields [`Error::Expired`] and the
///   caller must list again.
/// - `delete` honours finalizers and `ownerReferences` garbage collection as Kubernetes does.
///
/// Methods return `Send` futures so controllers can be spawned on a multi-threaded runtime.
pub trait Cluster: Send + Sync + 'static {
    /// Reads one object.
    fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> impl Future<Output = Result<Object>> + Send;

    /// Lists objects of one type, in one namespace (`Some`) or all (`None`).
    fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> impl Future<Output = Result<ObjectList>> + Send;

    /// Creates an object; fills uid, resourceVersion, generation and creationTimestamp.
    /// `metadata.generateName` is honoured when `name` is empty.
    fn create(
        &self,
        rt: &ResourceType,
        object: Object,
    ) -> impl Future<Output = Result<Object>> + Send;

    /// Replaces an object's main resource (everything but `status`).
    fn update(
        &self,
        rt: &ResourceType,
        object: Object,
    ) -> impl Future<Output = Result<Object>> + Send;

    /// Replaces an object's `status` and nothing else.
    fn update_status(
        &self,
        rt: &ResourceType,
        object: Object,
    ) -> impl Future<Output = Result<Object>> + Send;

    /// Patches an object or its status subresource.
    fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> impl Future<Output = Result<Object>> + Send;

    /// Deletes an object, honouring finalizers and the propagation policy.
    fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> impl Future<Output = Result<DeleteOutcome>> + Send;

    /// Streams changes to objects of one type after a resourceVersion.
    fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> impl Future<Output = Result<WatchStream>> + Send;
}
