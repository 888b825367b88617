//! Endpoints: the pods behind a Service, as the node agent reports them (labels, readiness and
//! the host address each container port is reachable at on this machine).

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One pod that may serve traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's labels (Service selectors and DestinationRule subsets match these).
    pub labels: BTreeMap<String, String>,
    /// Ready and not terminating: only such pods receive new requests.
    pub ready: bool,
    /// The workload that owns the pod (Deployment or Rollout name), for metrics.
    pub workload: String,
    /// Where each container port can be reached.
    pub ports: Vec<EndpointPort>,
}

/// A container port and the host address it is mapped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPort {
    /// The container port's name, if it has one.
    pub name: Option<String>,
    /// The `containerPort` number.
    pub container_port: i32,
    /// The address requests for it go to.
    pub address: SocketAddr,
}

impl Endpoint {
    /// The address serving a Service's `targetPort` (a number or a port name).
    pub(crate) fn address_for(&self, target: &TargetPort) -> Option<SocketAddr> {
        self.ports
            .iter()
            .find(|p| match target {
                TargetPort::Number(n) => p.container_port == *n,
                TargetPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
            })
            .map(|p| p.address)
    }

    /// Whether every `key=value` of `selector` is among the pod's labels.
    pub(crate) fn matches(&self, selector: &BTreeMap<String, String>) -> bool {
        selector.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

/// A Service port's `targetPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetPort {
    Number(i32),
    Name(String),
}
