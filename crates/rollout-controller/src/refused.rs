//! A Rollout pass the API server refused (`403 Forbidden`, RBAC): reported on the Rollout as
//! a `ReconcileError` condition (reason `Forbidden`, the message naming the verb, resource and
//! namespace refused) and a Warning Event, then retried with the long
//! [`weir_controller::refusal::FORBIDDEN_BACKOFF`], never hot. A report that is itself
//! refused (the status write, the Event) is logged once per Rollout. The next pass that is not
//! refused removes the condition.

use k8s_openapi::jiff::Timestamp;
use weir_cluster::{Cluster, Error, ObjectRef};
use weir_controller::Action;
use weir_controller::refusal::{FORBIDDEN_REASON, Refusal, Refusals};
use weir_model::rollouts::Rollout;
use weir_rollout::conditions;

use crate::execute::rt;

/// The condition type of a pass that could not be carried out (weir's own: Argo Rollouts
/// only logs such errors).
pub(crate) const RECONCILE_ERROR: &str = "ReconcileError";

/// Reports `refusal` on the Rollout `key` and returns when to try again.
pub(crate) async fn report<C: Cluster>(
    cluster: &C,
    refusals: &Refusals,
    key: &ObjectRef,
    refusal: &Refusal,
    now: Timestamp,
) -> Action {
    let delay = refusals.refused(key);
    let message = refusal.to_string();
    if let Err(problem) = write_condition(cluster, key, &message, now).await
        && refusals.first_time(key, "status")
    {
        tracing::warn!(
            rollout = %key,
            "{message}; not reported on the Rollout ({problem}); retrying in {delay:?}"
        );
    }
    Action::requeue(delay)
}

/// Sets the condition (and records the Event) unless the Rollout already shows this message;
/// `Err` says why it could not.
async fn write_condition<C: Cluster>(
    cluster: &C,
    key: &ObjectRef,
    message: &str,
    now: Timestamp,
) -> Result<(), String> {
    let ns = key.namespace.as_deref();
    let object = match cluster.get(&rt("rollouts"), ns, &key.name).await {
        Ok(object) => object,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(format!("reading it: {e}")),
    };
    let ro: Rollout = object.to_typed().map_err(|e| e.to_string())?;
    let mut status = ro.status.unwrap_or_default();
    let shown = conditions::get_condition(&status, RECONCILE_ERROR)
        .is_some_and(|c| c.status == "True" && c.message == message);
    if shown {
        return Ok(());
    }
    conditions::remove_condition(&mut status, RECONCILE_ERROR);
    let condition =
        conditions::new_condition(RECONCILE_ERROR, "True", FORBIDDEN_REASON, message, now);
    status.conditions.get_or_insert_with(Vec::new).push(condition);
    let mut updated = object.clone();
    let value = serde_json::to_value(&status).map_err(|e| e.to_string())?;
    updated.data.insert("status".into(), value);
    // Guarded by the resourceVersion just read: a conflict leaves the other writer's status
    // alone, and the retry reports again.
    match cluster.update_status(&rt("rollouts"), updated).await {
        Ok(_) => {}
        Err(Error::Conflict { .. } | Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(format!("writing status: {e}")),
    }
    let record = weir_cluster::EventRecord {
        reason: FORBIDDEN_REASON,
        message,
        warning: true,
        component: "weir-rollout-controller",
    };
    weir_cluster::record_event(cluster, &object, record, now)
        .await
        .map(|_| ())
        .map_err(|e| format!("recording the Event: {e}"))
}

/// Removes the condition from a status the pass is about to write (the pass was not
/// refused).
pub(crate) fn clear(status: &mut weir_model::rollouts::RolloutStatus) {
    conditions::remove_condition(status, RECONCILE_ERROR);
}
