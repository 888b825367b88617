//! weir-kube: the cluster API ([`weir_cluster::Cluster`]) over a Kubernetes API server, with
//! kube-rs, so that weir's controllers and CLI run against any cluster unchanged.
//!
//! The mapping is the one ARCHITECTURE.md sketches: an [`weir_cluster::Object`] travels as a
//! kube-rs `DynamicObject`; a [`weir_cluster::ResourceType`] becomes an `ApiResource` directly,
//! without discovery (discovery is used only for kinds weir does not know:
//! [`KubeCluster::discover`], [`KubeCluster::missing`]); each trait method is one
//! `Api<DynamicObject>` call; a `Status` error becomes the same [`weir_cluster::Error`] variant
//! `weir-client` derives from the same body (403 → `Forbidden`, which is not transient).
//!
//! What a real cluster needs on top, all here:
//! - client-side throttling, a token bucket of `qps`/`burst` (`limit`);
//! - a per-request timeout and retries with exponential backoff, only where repeating the
//!   request cannot do harm (`retry` has the rule and its table);
//! - watches that resume from the last resourceVersion (bookmarks requested) when the server
//!   closes them, ending only with an error, `Expired` for 410 Gone (`watch`);
//! - one clear error line for a missing or unreadable kubeconfig, an unreachable server or
//!   refused credentials ([`connect`]).
//!
//! What it is not: a reimplementation of what the cluster's own controllers do (garbage
//! collection, defaulting, ReplicaSets → Pods); the backend relies on the server for those.
//!
//! Read [`connect`] and [`KubeCluster`] first.

mod client_extras;
mod cluster;
mod connect;
mod convert;
mod errors;
mod limit;
mod retry;
mod watch;

pub use cluster::KubeCluster;
pub use connect::{ConnectError, ConnectOptions, connect};
