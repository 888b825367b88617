//! Istio's `networking.istio.io` kinds: [`VirtualService`], [`DestinationRule`], [`Gateway`].
//!
//! `v1alpha3`, `v1beta1` and `v1` share one schema (`crds/istio/istio-crds.yaml`); the
//! `apiVersion` is kept as written so objects round-trip unchanged, and [`k8s_openapi::Resource`]
//! names `v1`, the version Istio stores. Conventions as in [`crate::argocd`]: optional fields are
//! `Option`s that stay absent, unknown fields are rejected, `status` is free-form JSON. Istio's
//! `oneOf` groups (e.g. [`StringMatch`]'s `exact`/`prefix`/`regex`) are plain optional fields;
//! their exclusivity is a validation rule, not a type.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod destination_rule;
mod gateway;
mod virtual_service;

pub use destination_rule::*;
pub use gateway::*;
pub use virtual_service::*;

/// The API group of the three kinds.
pub const GROUP: &str = "networking.istio.io";
/// The preferred (stored) version.
pub const VERSION: &str = "v1";
/// Every version served, preferred first; all share one schema.
pub const VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha3"];
/// `apiVersion` of the preferred version.
pub const API_VERSION: &str = "networking.istio.io/v1";

macro_rules! kind {
    ($(#[$doc:meta])* $ty:ident, $spec:ident, $kind:literal, $plural:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $ty {
            /// `networking.istio.io/<version>`, as written.
            #[serde(rename = "apiVersion")]
            pub api_version: String,
            #[doc = concat!("`", $kind, "`, as written.")]
            pub kind: String,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: ObjectMeta,
            /// The desired configuration (`{}` when absent).
            #[serde(default)]
            pub spec: $spec,
            /// Free-form status written by istiod (conditions, validation messages).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<Value>,
        }

        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

kind!(
    /// Routing rules for traffic to a set of hosts: matches, weighted destinations, retries.
    VirtualService,
    VirtualServiceSpec,
    "VirtualService",
    "virtualservices"
);
kind!(
    /// Policies applied after routing: subsets by label, load balancing, TLS, outlier detection.
    DestinationRule,
    DestinationRuleSpec,
    "DestinationRule",
    "destinationrules"
);
kind!(
    /// A load balancer at the mesh edge: ports, hosts and TLS of its servers.
    Gateway,
    GatewaySpec,
    "Gateway",
    "gateways"
);

/// Whether `networking.istio.io/<version>` is one of the served versions.
pub fn is_served_version(version: &str) -> bool {
    VERSIONS.contains(&version)
}

impl HttpRouteDestination {
    /// The route weight; Istio treats an absent weight as 0, except that a single destination
    /// gets all traffic (100).
    pub fn weight_or_default(&self, destinations_in_route: usize) -> i32 {
        match self.weight {
            Some(w) => w,
            None if destinations_in_route == 1 => 100,
            None => 0,
        }
    }
}

impl RouteDestination {
    /// As [`HttpRouteDestination::weight_or_default`], for TCP/TLS routes.
    pub fn weight_or_default(&self, destinations_in_route: usize) -> i32 {
        match self.weight {
            Some(w) => w,
            None if destinations_in_route == 1 => 100,
            None => 0,
        }
    }
}

impl Percent {
    /// The percentage as a float (the schema's `double`).
    pub fn as_f64(&self) -> Option<f64> {
        self.value.as_ref().and_then(serde_json::Number::as_f64)
    }
}

impl VirtualServiceSpec {
    /// The HTTP route named `name`.
    pub fn http_route(&self, name: &str) -> Option<&HttpRoute> {
        self.http.as_ref()?.iter().find(|r| r.name.as_deref() == Some(name))
    }
}

impl DestinationRuleSpec {
    /// The subset named `name`.
    pub fn subset(&self, name: &str) -> Option<&Subset> {
        self.subsets.as_ref()?.iter().find(|s| s.name.as_deref() == Some(name))
    }
}
