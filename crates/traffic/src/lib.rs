//! weir's traffic routers: how a rollout's canary weight, header and mirror routes and
//! pod-template hashes become changes to the mesh objects users already have (Istio
//! VirtualServices and DestinationRules), reproducing Argo Rollouts' behaviour exactly.
//!
//! What it is: pure functions from the objects a router reads to the objects it must write,
//! behind the [`TrafficRouter`] trait so more routers (Gateway API HTTPRoute, SMI, Nginx) can
//! follow. An operation that changes nothing returns no write.
//!
//! What it is not: it does no I/O, has no clock and no async runtime. The rollout controller
//! reads the objects named by [`TrafficRouter::reads`] into an [`ObjectSnapshot`], calls the
//! operation, and writes the returned [`ObjectUpdate`]s; deciding *which* weight a step wants
//! is the rollout engine's job, and turning VirtualServices into proxy routes is the mesh
//! controller's.
//!
//! Read [`TrafficRouter`] first, then [`IstioRouter`].
//!
//! ```
//! use serde_json::json;
//! use weir_traffic::{IstioRouter, ObjectSnapshot, TrafficRouter};
//!
//! let rollout: weir_model::rollouts::Rollout = serde_json::from_value(json!({
//!     "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
//!     "metadata": {"name": "reviews", "namespace": "default"},
//!     "spec": {"strategy": {"canary": {
//!         "stableService": "reviews-stable", "canaryService": "reviews-canary",
//!         "trafficRouting": {"istio": {"virtualService": {"name": "reviews"}}}}}}
//! })).unwrap();
//! let router = IstioRouter::new(&rollout).unwrap();
//!
//! let mut objects = ObjectSnapshot::new();
//! objects.insert(json!({
//!     "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
//!     "metadata": {"name": "reviews", "namespace": "default"},
//!     "spec": {"http": [{"route": [
//!         {"destination": {"host": "reviews-stable"}, "weight": 100},
//!         {"destination": {"host": "reviews-canary"}, "weight": 0}]}]}
//! }));
//! let updates = router.set_weight(&objects, 20, &[]).unwrap();
//! assert_eq!(updates[0].object["spec"]["http"][0]["route"][1]["weight"], 20);
//! objects.apply(&updates[0]);
//! assert!(router.set_weight(&objects, 20, &[]).unwrap().is_empty()); // nothing to write
//! ```

mod error;
mod istio;
mod router;

pub use error::RouterError;
pub use istio::{DEFAULT_ISTIO_API_VERSION, IstioRouter, multiple_virtual_services_configured};
pub use router::{
    Lookup, ObjectKey, ObjectSnapshot, ObjectUpdate, Operation, ReplicaSetAvailability,
    TrafficRouter,
};
