//! The [`TrafficRouter`] port: what every traffic router (Istio now; Gateway API, SMI, Nginx
//! later) does for a rollout, as pure functions from the objects it reads to the objects it
//! writes.
//!
//! The controller drives a router in three moves, and only the first and last do I/O:
//! 1. [`TrafficRouter::reads`] names the objects an operation needs; the controller gets them
//!    (from the cluster API or an informer cache) into an [`ObjectSnapshot`];
//! 2. the operation (`set_weight`, `update_hash`, ...) computes the desired objects;
//! 3. the controller writes each returned [`ObjectUpdate`] with a full update (optimistic
//!    concurrency on the `resourceVersion` it read) and records its event.
//!
//! An operation that changes nothing returns no update, so a level-triggered controller can
//! call it on every reconcile.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_model::rollouts::WeightDestination;

use crate::RouterError;

/// A traffic router for one rollout (it is built from the rollout, like Argo's reconcilers).
///
/// Every method is pure: `objects` holds what the controller read for that operation (see
/// [`TrafficRouter::reads`]), and the result is the list of objects to write back.
pub trait TrafficRouter: std::fmt::Debug {
    /// The router's type name as Argo reports it (`"Istio"`).
    fn type_name(&self) -> &'static str;

    /// The objects `operation` reads; the controller puts them (or their absence) in the
    /// snapshot it passes in. ReplicaSets are not listed: the snapshot always carries the
    /// rollout's ReplicaSets.
    fn reads(&self, operation: Operation) -> Vec<ObjectKey>;

    /// Sends `desired_weight` percent to the canary, each additional (experiment)
    /// destination its weight, and the rest to stable.
    fn set_weight(
        &self,
        objects: &ObjectSnapshot,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<Vec<ObjectUpdate>, RouterError>;

    /// Adds, replaces or (with no `match`) removes a managed header route.
    fn set_header_route(
        &self,
        objects: &ObjectSnapshot,
        route: &weir_model::rollouts::SetHeaderRoute,
    ) -> Result<Vec<ObjectUpdate>, RouterError>;

    /// Adds, replaces or (with no `match`) removes a managed mirror route.
    fn set_mirror_route(
        &self,
        objects: &ObjectSnapshot,
        route: &weir_model::rollouts::SetMirrorRoute,
    ) -> Result<Vec<ObjectUpdate>, RouterError>;

    /// Removes every route the rollout manages (header and mirror step routes and
    /// `managedRoutes`).
    fn remove_managed_routes(
        &self,
        objects: &ObjectSnapshot,
    ) -> Result<Vec<ObjectUpdate>, RouterError>;

    /// Points the router's notion of canary and stable at the given pod-template hashes
    /// (DestinationRule subsets for Istio). An empty hash removes the selector.
    fn update_hash(
        &self,
        objects: &ObjectSnapshot,
        canary_hash: &str,
        stable_hash: &str,
        additional: &[WeightDestination],
    ) -> Result<Vec<ObjectUpdate>, RouterError>;

    /// Whether the data plane really applies the weights: `Some(verified)`, or `None` when
    /// the router cannot tell (Istio), which the controller treats as verified.
    fn verify_weight(
        &self,
        objects: &ObjectSnapshot,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<Option<bool>, RouterError>;
}

/// The router operations, for [`TrafficRouter::reads`] and for wording messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// [`TrafficRouter::set_weight`].
    SetWeight,
    /// [`TrafficRouter::set_header_route`].
    SetHeaderRoute,
    /// [`TrafficRouter::set_mirror_route`].
    SetMirrorRoute,
    /// [`TrafficRouter::remove_managed_routes`].
    RemoveManagedRoutes,
    /// [`TrafficRouter::update_hash`].
    UpdateHash,
    /// [`TrafficRouter::verify_weight`].
    VerifyWeight,
}

impl Operation {
    /// Argo's name of the operation (`"SetWeight"`), as used in its messages.
    pub fn name(self) -> &'static str {
        match self {
            Operation::SetWeight => "SetWeight",
            Operation::SetHeaderRoute => "SetHeaderRoute",
            Operation::SetMirrorRoute => "SetMirrorRoute",
            Operation::RemoveManagedRoutes => "RemoveManagedRoutes",
            Operation::UpdateHash => "UpdateHash",
            Operation::VerifyWeight => "VerifyWeight",
        }
    }
}

/// Which object: apiVersion, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// `group/version`, e.g. `networking.istio.io/v1alpha3`.
    pub api_version: String,
    /// The kind, e.g. `VirtualService`.
    pub kind: String,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a JSON object from its `apiVersion`, `kind` and `metadata`; `None` when one
    /// of them is missing.
    pub fn of(object: &Value) -> Option<ObjectKey> {
        let meta = object.get("metadata")?;
        Some(ObjectKey {
            api_version: object.get("apiVersion")?.as_str()?.to_owned(),
            kind: object.get("kind")?.as_str()?.to_owned(),
            namespace: meta.get("namespace").and_then(Value::as_str).unwrap_or("").to_owned(),
            name: meta.get("name")?.as_str()?.to_owned(),
        })
    }
}

/// The result of reading one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The object as read (any JSON; routers keep fields they do not understand).
    Found(Value),
    /// The object does not exist.
    Missing,
    /// The read failed for another reason; the text is the cause.
    Failed(String),
}

/// The availability of one of the rollout's ReplicaSets, as far as routers care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaSetAvailability {
    /// The ReplicaSet's name.
    pub name: String,
    /// Its `rollouts-pod-template-hash` label (empty when unlabelled).
    pub pod_template_hash: String,
    /// `spec.replicas` (Kubernetes defaults it to 1).
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available_replicas: i32,
}

impl ReplicaSetAvailability {
    /// Argo's `IsReplicaSetAvailable`: wants pods, and all of them are available.
    pub fn is_fully_available(&self) -> bool {
        self.replicas != 0
            && self.available_replicas != 0
            && self.replicas <= self.available_replicas
    }
}

/// What the controller read for one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectSnapshot {
    objects: BTreeMap<ObjectKey, Lookup>,
    /// The rollout's ReplicaSets.
    pub replica_sets: Vec<ReplicaSetAvailability>,
}

impl ObjectSnapshot {
    /// An empty snapshot: every object is missing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an object; its key comes from its own `apiVersion`, `kind` and `metadata`.
    /// Returns `false` (and records nothing) when those are missing.
    pub fn insert(&mut self, object: Value) -> bool {
        match ObjectKey::of(&object) {
            Some(key) => {
                self.objects.insert(key, Lookup::Found(object));
                true
            }
            None => false,
        }
    }

    /// Records the outcome of reading `key`.
    pub fn record(&mut self, key: ObjectKey, lookup: Lookup) {
        self.objects.insert(key, lookup);
    }

    /// The outcome of reading `key`; a key never recorded is [`Lookup::Missing`].
    pub fn get(&self, key: &ObjectKey) -> &Lookup {
        const MISSING: &Lookup = &Lookup::Missing;
        self.objects.get(key).unwrap_or(MISSING)
    }

    /// Applies an update to the snapshot (what the object looks like after the write).
    pub fn apply(&mut self, update: &ObjectUpdate) {
        self.objects.insert(update.key.clone(), Lookup::Found(update.object.clone()));
    }
}

/// One object to write back with a full update, and the event to record once it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectUpdate {
    /// Which object.
    pub key: ObjectKey,
    /// The whole desired object (unknown fields of the object read are kept).
    pub object: Value,
    /// The operation that produced it.
    pub operation: Operation,
    /// The event reason to record on the rollout after a successful write.
    pub event_reason: &'static str,
    /// The event message.
    pub event_message: String,
}

impl ObjectUpdate {
    /// The error to report when writing this update failed with `cause`, worded as Argo does.
    pub fn failed(&self, cause: impl std::fmt::Display) -> RouterError {
        let what = match (self.operation, self.key.kind.as_str()) {
            (Operation::RemoveManagedRoutes, _) => "failed to update kubernetes virtual service",
            (Operation::SetHeaderRoute, _) => "failed to update routes",
            (Operation::SetMirrorRoute, _) => "failed to update virtual service",
            (_, "DestinationRule") => "failed to update destination rule",
            _ => "failed to update virtual service",
        };
        RouterError::Api(format!("[{}] {what}: {cause}", self.operation.name()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn snapshot_keys_come_from_the_object() {
        let mut s = ObjectSnapshot::new();
        let vs = json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
            "metadata": {"name": "vsvc", "namespace": "default"}});
        assert!(s.insert(vs.clone()));
        assert!(!s.insert(json!({"kind": "VirtualService"})));
        let key = ObjectKey::of(&vs).expect("complete object");
        assert_eq!(s.get(&key), &Lookup::Found(vs));
        let other = ObjectKey { name: "other".into(), ..key };
        assert_eq!(s.get(&other), &Lookup::Missing);
    }

    #[test]
    fn availability_needs_every_wanted_pod() {
        let rs = |replicas, available_replicas| ReplicaSetAvailability {
            replicas,
            available_replicas,
            ..Default::default()
        };
        assert!(rs(2, 2).is_fully_available());
        assert!(!rs(2, 1).is_fully_available());
        assert!(!rs(0, 0).is_fully_available());
    }
}
