//! The mesh controller's brain: a pure translation of Kubernetes Services, pod endpoints and
//! Istio `VirtualService` / `DestinationRule` / `Gateway` objects into the proxy's
//! [`weir_proxy::RouteTable`], with Istio's semantics.
//!
//! The translation ([`translate`]) is pure: no I/O, no state, no clock. The controller
//! ([`run_mesh_controller`]) is the thin loop around it: it watches the inputs through the
//! cluster API, keeps the last valid version of each VirtualService, installs the table in the
//! proxy and reports problems in the objects' status. It runs only in embedded mode; on
//! Kubernetes, istiod does this job.
//!
//! Read [`translate`] first.

mod controller;
mod endpoints;
mod hosts;
mod pool;
mod routes;
mod translate;

pub use controller::run_mesh_controller;
pub use endpoints::{Endpoint, EndpointPort, HOST_PORTS_ANNOTATION, endpoint_of_pod};
pub use hosts::{service_fqdn, service_hosts};
pub use translate::{MeshObjects, ObjectProblems, Translation, translate};
