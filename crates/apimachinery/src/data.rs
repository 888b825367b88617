//! The documents compiled into weir (see `data/README.md` for their origin):
//! the Kubernetes OpenAPI v2 document and the CustomResourceDefinitions served out of the box.

/// The Kubernetes API's OpenAPI v2 document (release 1.36), minified JSON.
pub const KUBERNETES_SWAGGER: &str = include_str!("../data/kubernetes-swagger.json");

/// The built-in CustomResourceDefinitions (Argo Rollouts, Argo CD, Istio, Gateway API) as one
/// JSON array.
pub const BUILTIN_CRDS: &str = include_str!("../data/crds.json");
