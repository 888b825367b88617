//! `canary.trafficRouting`: Istio, Nginx, ALB, SMI, Ambassador, App Mesh, Traefik, Apisix and
//! traffic router plugins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `canary.trafficRouting`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutTrafficRouting {
    /// AWS ALB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<AlbTrafficRouting>,
    /// Ambassador.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambassador: Option<AmbassadorTrafficRouting>,
    /// Apache APISIX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apisix: Option<ApisixTrafficRouting>,
    /// AWS App Mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_mesh: Option<AppMeshTrafficRouting>,
    /// Istio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio: Option<IstioTrafficRouting>,
    /// Routes managed by the rollout, in precedence order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_routes: Option<Vec<ManagedRoute>>,
    /// The weight that means "all traffic" (default 100; Nginx and plugins only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_traffic_weight: Option<i32>,
    /// Nginx ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxTrafficRouting>,
    /// Traffic router plugins: `"<org>/<name>"` → free-form configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<BTreeMap<String, serde_json::Value>>,
    /// SMI TrafficSplit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smi: Option<SmiTrafficRouting>,
    /// Traefik.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traefik: Option<TraefikTrafficRouting>,
}

impl RolloutTrafficRouting {
    /// `maxTrafficWeight`, default 100.
    pub fn max_traffic_weight(&self) -> i32 {
        self.max_traffic_weight.unwrap_or(100)
    }

    /// Whether any traffic router plugin is configured (a non-empty `plugins` map).
    pub fn has_plugins(&self) -> bool {
        self.plugins.as_ref().is_some_and(|p| !p.is_empty())
    }
}

/// A route managed by the rollout (`setHeaderRoute` / `setMirrorRoute` names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedRoute {
    /// The route's name (required).
    #[serde(default)]
    pub name: String,
}

/// `trafficRouting.istio`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioTrafficRouting {
    /// Subset-level routing: the DestinationRule whose subsets get the hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_rule: Option<IstioDestinationRule>,
    /// The VirtualService whose weights are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<IstioVirtualService>,
    /// Several VirtualServices (names may be `name.namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_services: Option<Vec<IstioVirtualService>>,
}

/// A VirtualService reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioVirtualService {
    /// The VirtualService's name, optionally `name.namespace` (required).
    #[serde(default)]
    pub name: String,
    /// HTTP route names to manage (may be omitted if there is a single route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
    /// TCP routes to manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_routes: Option<Vec<TcpRoute>>,
    /// TLS routes to manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_routes: Option<Vec<TlsRoute>>,
}

/// A TCP route selected by port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRoute {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

/// A TLS route selected by port and SNI hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsRoute {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// SNI hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_hosts: Option<Vec<String>>,
}

/// A DestinationRule reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioDestinationRule {
    /// Subsets left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_subset_names: Option<Vec<String>>,
    /// The canary subset (required).
    #[serde(default)]
    pub canary_subset_name: String,
    /// The DestinationRule's name (required).
    #[serde(default)]
    pub name: String,
    /// The stable subset (required).
    #[serde(default)]
    pub stable_subset_name: String,
}

/// `trafficRouting.nginx`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NginxTrafficRouting {
    /// Annotations added to the canary ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_ingress_annotations: Option<BTreeMap<String, String>>,
    /// Annotation prefix (default `nginx.ingress.kubernetes.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_prefix: Option<String>,
    /// Annotations set on the canary ingress only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_ingress_annotations: Option<BTreeMap<String, String>>,
    /// The stable ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_ingress: Option<String>,
    /// Several stable ingresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_ingresses: Option<Vec<String>>,
}

/// `trafficRouting.alb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlbTrafficRouting {
    /// Annotation prefix (default `alb.ingress.kubernetes.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_prefix: Option<String>,
    /// The ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
    /// Several ingresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingresses: Option<Vec<String>>,
    /// The root service (required for ping-pong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_service: Option<String>,
    /// The service port (required).
    #[serde(default)]
    pub service_port: i32,
    /// Target group stickiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness_config: Option<StickinessConfig>,
}

/// `alb.stickinessConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StickinessConfig {
    /// Stickiness duration (required).
    #[serde(default)]
    pub duration_seconds: i64,
    /// Whether stickiness is on (required).
    #[serde(default)]
    pub enabled: bool,
}

/// `trafficRouting.smi`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SmiTrafficRouting {
    /// The root service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_service: Option<String>,
    /// The TrafficSplit's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_split_name: Option<String>,
}

/// `trafficRouting.ambassador`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmbassadorTrafficRouting {
    /// Mapping names (required).
    #[serde(default)]
    pub mappings: Vec<String>,
}

/// `trafficRouting.appMesh`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppMeshTrafficRouting {
    /// The virtual node group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_node_group: Option<AppMeshVirtualNodeGroup>,
    /// The virtual service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<AppMeshVirtualService>,
}

/// `appMesh.virtualNodeGroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppMeshVirtualNodeGroup {
    /// The canary virtual node (required).
    #[serde(default)]
    pub canary_virtual_node_ref: AppMeshVirtualNodeReference,
    /// The stable virtual node (required).
    #[serde(default)]
    pub stable_virtual_node_ref: AppMeshVirtualNodeReference,
}

/// A virtual node reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppMeshVirtualNodeReference {
    /// The virtual node's name (required).
    #[serde(default)]
    pub name: String,
}

/// `appMesh.virtualService`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppMeshVirtualService {
    /// The virtual service's name (required).
    #[serde(default)]
    pub name: String,
    /// Route names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
}

/// `trafficRouting.traefik`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TraefikTrafficRouting {
    /// The weighted TraefikService's name (required).
    #[serde(default)]
    pub weighted_traefik_service_name: String,
}

/// `trafficRouting.apisix`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApisixTrafficRouting {
    /// The ApisixRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<ApisixRoute>,
}

/// `apisix.route`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApisixRoute {
    /// The ApisixRoute's name (required).
    #[serde(default)]
    pub name: String,
    /// Rule names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}
