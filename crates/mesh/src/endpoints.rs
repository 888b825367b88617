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

pub use weir_cluster::HOST_PORTS_ANNOTATION;

/// The endpoint a pod offers, from its labels, readiness, owner and the node agent's port map.
/// A pod without the port map (not started yet) has no ports and so serves nothing.
pub fn endpoint_of_pod(pod: &k8s_openapi::api::core::v1::Pod) -> Endpoint {
    let ready = pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let host_ports: BTreeMap<String, BTreeMap<String, u16>> = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HOST_PORTS_ANNOTATION))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let mut ports = Vec::new();
    for container in pod.spec.iter().flat_map(|s| &s.containers) {
        let Some(mapped) = host_ports.get(&container.name) else { continue };
        for port in container.ports.iter().flatten() {
            if let Some(host) = mapped.get(&port.container_port.to_string()) {
                ports.push(EndpointPort {
                    name: port.name.clone(),
                    container_port: port.container_port,
                    address: SocketAddr::from(([127, 0, 0, 1], *host)),
                });
            }
        }
    }
    Endpoint {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        workload: workload_of(pod, &labels),
        labels,
        ready,
        ports,
    }
}

/// The Deployment or Rollout behind a pod: its ReplicaSet owner's name without the template
/// hash suffix (`reviews-v1-7f9c6d` → `reviews-v1`).
fn workload_of(pod: &k8s_openapi::api::core::v1::Pod, labels: &BTreeMap<String, String>) -> String {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.name.as_str());
    let Some(owner) = owner else { return pod.metadata.name.clone().unwrap_or_default() };
    ["rollouts-pod-template-hash", "pod-template-hash"]
        .iter()
        .filter_map(|key| labels.get(*key))
        .find_map(|hash| owner.strip_suffix(&format!("-{hash}")))
        .unwrap_or(owner)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_become_endpoints_at_their_host_ports() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "reviews-v1-abc12-xyz", "namespace": "bookinfo",
                "labels": {"app": "reviews", "pod-template-hash": "abc12"},
                "annotations": {"weir.dev/host-ports": "{\"reviews\":{\"9080\":41234}}"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v1-abc12", "uid": "u", "controller": true}]
            },
            "spec": {"containers": [{"name": "reviews", "ports": [{"containerPort": 9080, "name": "http"}]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let endpoint = endpoint_of_pod(&pod);
        assert!(endpoint.ready);
        assert_eq!(endpoint.workload, "reviews-v1");
        assert_eq!(endpoint.ports[0].address, SocketAddr::from(([127, 0, 0, 1], 41234)));
        assert_eq!(
            endpoint.address_for(&TargetPort::Name("http".into())),
            Some(endpoint.ports[0].address)
        );
    }
}
