//! The documents compiled into weir (see `data/README.md` for their origin):
//! the Kubernetes OpenAPI v2 document and the CustomResourceDefinitions served out of the box.

/// The Kubernetes API's OpenAPI v2 document (release 1.36), minified JSON.
pub const KUBERNETES_SWAGGER: &str = include_str!("../data/kubernetes-swagger.json");

/// The built-in CustomResourceDefinitions (Argo Rollouts, Argo CD, Istio, Gateway API) as one
/// JSON array.
pub const BUILTIN_CRDS: &str = include_str!("../data/crds.json");

/// The Kubernetes protobuf descriptors (a `FileDescriptorSet` of the stable API groups and the
/// apimachinery types they use, release 1.36).
pub const KUBERNETES_PROTOBUF_DESCRIPTORS: &[u8] = include_bytes!("../data/k8s-protobuf.binpb");

/// What the descriptors do not say about the Go types behind them (zero values Go writes,
/// embedded structs, JSON names, named slices), JSON.
pub const KUBERNETES_PROTOBUF_GO_FACTS: &str = include_str!("../data/k8s-protobuf-json.json");
