//! weir-controller: a small, kube-runtime-like reconcile runtime over the
//! [`weir_cluster::Cluster`] port, shared by every controller weir runs (workload controllers,
//! node agent, and later rollout, analysis and application controllers).
//!
//! What it is: reflectors that keep a [`Cache`] of one resource type up to date by list + watch
//! (relisting on [`weir_cluster::Error::Expired`], retrying transient errors with backoff), a
//! de-duplicating [`WorkQueue`] keyed by [`ObjectRef`] with delayed requeue, `N` workers that call
//! a [`Reconciler`], an error policy with exponential backoff per key, triggers from owned
//! objects (a change to an object enqueues its controller owner found through
//! `ownerReferences`) and from arbitrary mappers, and cooperative shutdown through [`Shutdown`].
//!
//! Also [`refusal`]: what a controller does with a `403 Forbidden` (report it, back off, log
//! once), and [`leader`]: leader election with a `coordination.k8s.io/v1` Lease, so that two replicas
//! of `weir controller` are safe.
//!
//! What it is not: a decision engine (reconcilers keep their logic in pure functions), or a
//! client: it talks to the backend only through the `Cluster` trait, and time
//! only through `tokio::time` (tests may run with a paused clock).
//!
//! Read [`Controller`] first, then [`Reconciler`] and [`Action`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use weir_cluster::{Cluster, ObjectRef, Registry};
//! # use weir_controller::{Action, Context, Controller, Reconciler, Shutdown};
//! struct Hello;
//! impl Reconciler for Hello {
//!     type Error = weir_cluster::Error;
//!     async fn reconcile(&self, key: &ObjectRef, ctx: &Context) -> Result<Action, Self::Error> {
//!         let _object = ctx.primary().get(key);
//!         Ok(Action::await_change())
//!     }
//! }
//! # async fn demo<C: Cluster>(cluster: Arc<C>) {
//! let registry = Registry::builtin();
//! let shutdown = Shutdown::new();
//! let controller = Controller::new(cluster, registry.for_name("replicasets").unwrap().clone())
//!     .owns(registry.for_name("pods").unwrap().clone());
//! controller.run(Arc::new(Hello), 2, shutdown.clone()).await;
//! # }
//! ```

mod backoff;
mod cache;
mod controller;
pub mod leader;
mod queue;
mod reflector;
pub mod refusal;
mod shutdown;

pub use backoff::Backoff;
pub use cache::Cache;
pub use controller::{Action, Context, Controller, Mapper, Reconciler, owner_refs};
pub use queue::WorkQueue;
pub use reflector::reflect;
pub use refusal::{RefusalRecorder, Refusals};
pub use shutdown::Shutdown;

pub use weir_cluster::ObjectRef;
