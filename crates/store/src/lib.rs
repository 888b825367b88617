//! weir-store: the embedded object store `weir up` runs on — the [`weir_cluster::Cluster`]
//! API implemented on SQLite, with Kubernetes' semantics.
//!
//! Start with [`Store`]: [`Store::open`] a data directory, then use it through the
//! [`Cluster`](weir_cluster::Cluster) trait like any other backend.
//!
//! What it does:
//! - objects keyed by group, kind, namespace and name (not version: every served version of a
//!   type reads the same objects, rendered with the `apiVersion` the caller asked for);
//! - one global, monotonically increasing resourceVersion (like etcd's revision), optimistic
//!   concurrency, `generation`, server-owned metadata, no-op writes that change nothing;
//! - the status subresource: `update` never changes `status`, `update_status` changes nothing
//!   else, and `create` drops `status` as Kubernetes does for kinds with a status subresource
//!   (unless [`StoreOptions::keep_status_on_create`]);
//! - merge, JSON and strategic merge patches and server-side apply (schemas from
//!   `weir-apimachinery`, see [`patch_value`]), finalizers, owner-reference garbage collection (background,
//!   foreground, orphan), resumable watches with `Expired` when history is pruned;
//! - durability: WAL with `synchronous=FULL` (an acknowledged write survives `kill -9` and
//!   power loss), an exclusive lock on the data directory, an integrity check on open.
//!
//! - what an API server adds: defaults of built-in kinds on every write, field selectors on
//!   list and watch, list versions (`resourceVersionMatch`), streaming-list watches, dry runs
//!   ([`Store::dry_run`](weir_cluster::DryRun), writes run and rolled back), namespace
//!   deletion (Terminating, contents deleted, then the namespace).
//!
//! What it does not: server-side apply, admission/validation of specs, namespace existence
//! checks on create (the HTTP API enforces them; embedded writers may use implicit
//! namespaces), graceful deletion periods. An object
//! written with owner references that name no existing object is kept until the next
//! [`Store::open`], whose sweep collects it (Kubernetes' collector would do so within seconds).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weir_cluster::{Cluster, Object, Registry};
//! use weir_store::{Store, StoreOptions};
//!
//! let store = Store::open_with(std::path::Path::new("/var/lib/weir"), StoreOptions::default())?;
//! let pods = Registry::builtin().for_name("pods").expect("built-in").clone();
//! let pod = store.create(&pods, Object::new("v1", "Pod", Some("default"), "web")).await?;
//! assert_eq!(pod.metadata.generation, Some(1));
//! # Ok(()) }
//! ```
//!
//! Layout: [`store`](crate::Store) (open, connections, calls), `tx` (rows, resourceVersions,
//! events), `gc` (deletion and garbage collection), `list` (selectors and versions),
//! `dry_run` ([`DryRunStore`]), `watch`, `object` (keys and rules),
//! `schema` (DDL and migrations), `lock` (data directory lock), `error`, `options`.

mod dry_run;
mod error;
mod gc;
mod immutable;
mod list;
mod lock;
mod object;
mod options;
mod patching;
mod schema;
mod store;
mod tx;
mod validation;
mod watch;

pub use dry_run::DryRunStore;
pub use error::StoreError;
pub use object::MAX_OBJECT_BYTES;
pub use options::{Clock, StoreOptions, SystemClock};
pub use patching::{check_apply_identity, crd_name, patch_value};
pub use store::{DB_FILE, Store};

/// File name of the data directory's lock file.
pub const LOCK_FILE: &str = lock::LOCK_FILE;
