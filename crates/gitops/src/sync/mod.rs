//! The sync plan of an Application, as gitops-engine builds it: one task per resource and
//! phase (hooks in PreSync/Sync/PostSync/SyncFail, plain resources in Sync, prune tasks for
//! live objects without a target), ordered by phase, wave, Helm's kind order and name, with
//! Namespaces and CRDs moved before their first dependent, prune waves mirrored and PruneLast
//! tasks after the last wave.
//!
//! Read [`SyncTask`] and [`plan`] first; [`annotations`] parses the annotations involved;
//! [`deletion`] decides the PreDelete/PostDelete hooks and the cascade of an app's deletion.

pub mod annotations;
pub mod deletion;
pub mod images;
pub mod machine;
pub mod messages;
mod order;

pub use order::{
    HookNames, KIND_ORDER, PlanOptions, SyncPhase, SyncTask, is_multi_step, kind_rank,
    out_of_sync_only, plan, plan_with_hook_names, sort_tasks, sync_phases,
};
