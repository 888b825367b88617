//! The mesh controller's brain: a pure translation of Kubernetes Services, pod endpoints and
//! Istio `VirtualService` / `DestinationRule` / `Gateway` objects into the proxy's
//! [`weir_proxy::RouteTable`], with Istio's semantics.
//!
//! What it is not: it does no I/O and keeps no state. The controller that watches the objects,
//! keeps the last valid version of each object, and hands the table to the proxy lives with the
//! other embedded-mode controllers.
//!
//! Read [`translate`] first.

mod endpoints;
mod hosts;
mod routes;
mod translate;

pub use endpoints::{Endpoint, EndpointPort, HOST_PORTS_ANNOTATION, endpoint_of_pod};
pub use hosts::{service_fqdn, service_hosts};
pub use translate::{MeshObjects, ObjectProblems, Translation, translate};
