//! The end of a canary pass (Argo's `syncRolloutStatusCanary` and `persistRolloutStatus`):
//! replica counts, observed generation, the Available/Progressing/Paused/Completed/Healthy
//! conditions, the progress deadline, phase and message.

use std::time::Duration;

use weir_model::rollouts::RolloutStatus;

use crate::canary::Pass;
use crate::conditions::{
    self, AVAILABLE, COMPLETED, HEALTHY, PAUSED, PROGRESSING, new_condition, reason, set_condition,
};
use crate::phase::calculate_rollout_phase;
use crate::steps;

pub(crate) fn finish(pass: &mut Pass<'_>) {
    let ro = pass.ro;
    let now = pass.now();
    let rss = pass.observed.replica_sets;
    let new_name = pass.new_rs.as_ref().map(|rs| rs.name.clone()).unwrap_or_default();
    let st = &mut pass.status;
    st.replicas = Some(rss.iter().map(|r| r.status_replicas).sum());
    st.updated_replicas = Some(pass.new_rs.as_ref().map_or(0, |rs| rs.status_replicas));
    // Blue-green counts ready and available pods of the active ReplicaSet only.
    let active = ro.spec.blue_green().map(|_| {
        let hash =
            st.blue_green.as_ref().and_then(|b| b.active_selector.clone()).unwrap_or_default();
        rss.iter().filter(|r| r.hash == hash).collect::<Vec<_>>()
    });
    let counted: Vec<&crate::replicas::ReplicaSetView> =
        active.unwrap_or_else(|| rss.iter().collect());
    st.ready_replicas = Some(counted.iter().map(|r| r.ready_replicas).sum());
    st.available_replicas = Some(counted.iter().map(|r| r.available_replicas).sum());
    st.hpa_replicas = st.replicas;
    st.selector = selector_string(ro);
    st.observed_generation = Some(ro.metadata.generation.unwrap_or(0).to_string());

    let replicas = ro.spec.replicas();
    let available = st.available_replicas.unwrap_or(0);
    let (status, why, message) = if available >= replicas {
        ("True", reason::AVAILABLE, "Rollout has minimum availability")
    } else {
        ("False", reason::NOT_AVAILABLE, "Rollout does not have minimum availability")
    };
    set_condition(st, new_condition(AVAILABLE, status, why, message, now));

    progressing(pass, &new_name);

    let st = &mut pass.status;
    let paused = ro.spec.is_paused() || st.pause_conditions.as_ref().is_some_and(|p| !p.is_empty());
    if paused {
        set_condition(st, new_condition(PAUSED, "True", reason::PAUSED, "Rollout is paused", now));
    } else if conditions::get_condition(st, PAUSED).is_some_and(|c| c.status == "True") {
        set_condition(
            st,
            new_condition(PAUSED, "False", reason::RESUMED, "Rollout is resumed", now),
        );
    }
    let revision = pass.revision;
    let completed = conditions::rollout_completed(st);
    let (status, message) = if completed {
        ("True", format!("Rollout completed update to revision {revision}"))
    } else {
        ("False", format!("Rollout not completed update to revision {revision}"))
    };
    set_condition(st, new_condition(COMPLETED, status, reason::COMPLETED, message, now));
    let healthy = !paused && conditions::rollout_healthy(ro, st);
    let (status, message) =
        if healthy { ("True", "Rollout is healthy") } else { ("False", "Rollout is not healthy") };
    set_condition(st, new_condition(HEALTHY, status, reason::HEALTHY, message, now));

    let (phase, message) = calculate_rollout_phase(&ro.spec, st);
    st.phase = Some(phase.as_str().to_owned());
    st.message = Some(message);
}

fn selector_string(ro: &weir_model::rollouts::Rollout) -> Option<String> {
    let labels = ro.spec.selector.as_ref()?.match_labels.as_ref()?;
    Some(labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
}

/// The `Progressing` condition: aborted, paused, created, progressing, completed, or timed out.
fn progressing(pass: &mut Pass<'_>, new_name: &str) {
    let ro = pass.ro;
    let now = pass.now();
    let current = conditions::get_condition(&pass.status, PROGRESSING).cloned();
    if pass.status.abort == Some(true) {
        let detail = pass.abort_detail.clone().or_else(|| {
            current.as_ref().and_then(|c| {
                if c.reason == reason::TIMED_OUT {
                    // progressDeadlineAbort: the abort says why (the deadline's message).
                    return Some(c.message.clone());
                }
                (c.reason == reason::ABORTED).then(|| {
                    let prefix = conditions::aborted_message(pass.revision, "");
                    let detail = c.message.strip_prefix(&prefix).unwrap_or("");
                    detail.trim_start_matches(": ").to_owned()
                })
            })
        });
        let message = conditions::aborted_message(pass.revision, detail.as_deref().unwrap_or(""));
        replace(
            &mut pass.status,
            new_condition(PROGRESSING, "False", reason::ABORTED, message, now),
        );
        return;
    }
    if current.as_ref().is_some_and(|c| c.reason == reason::ABORTED) {
        let c = new_condition(
            PROGRESSING,
            "Unknown",
            reason::RETRY,
            "Retrying Rollout after abort",
            now,
        );
        replace(&mut pass.status, c);
        pass.event(reason::RETRY, "Retrying Rollout after abort", false);
        return;
    }
    if ro.spec.is_paused() {
        let c = new_condition(PROGRESSING, "Unknown", reason::PAUSED, "Rollout is paused", now);
        set_condition(&mut pass.status, c);
        return;
    }
    if current.as_ref().is_some_and(|c| c.reason == reason::PAUSED) {
        let c = new_condition(PROGRESSING, "Unknown", reason::RESUMED, "Rollout is resumed", now);
        replace(&mut pass.status, c);
        return;
    }
    let completed = conditions::rollout_completed(&pass.status)
        && pass.new_rs.as_ref().is_some_and(|rs| rs.available_replicas >= ro.spec.replicas());
    if completed {
        let c = new_condition(
            PROGRESSING,
            "True",
            reason::NEW_RS_AVAILABLE,
            conditions::available_message(new_name),
            now,
        );
        set_condition(&mut pass.status, c);
        return;
    }
    if pass.created_rs {
        let c = new_condition(
            PROGRESSING,
            "True",
            reason::NEW_RS_CREATED,
            format!("Created new replica set \"{new_name}\""),
            now,
        );
        replace(&mut pass.status, c);
        return;
    }
    let mut old = pass.old.clone();
    old.conditions = None;
    if current.is_none() || conditions::rollout_progressing(ro, &old, &pass.status) {
        // Argo names the Rollout when there is no new ReplicaSet (an invalid spec).
        let message = if new_name.is_empty() {
            conditions::rollout_progressing_message(ro.metadata.name.as_deref().unwrap_or(""))
        } else {
            conditions::progressing_message(new_name)
        };
        let c = new_condition(PROGRESSING, "True", reason::RS_UPDATED, message, now);
        replace(&mut pass.status, c);
        return;
    }
    deadline(pass, new_name);
}

/// Replaces the condition, refreshing `lastUpdateTime` (keeps the transition time when the
/// status does not change).
fn replace(status: &mut RolloutStatus, mut condition: weir_model::rollouts::RolloutCondition) {
    if let Some(current) = conditions::get_condition(status, &condition.type_) {
        if current.status == condition.status
            && current.reason == condition.reason
            && current.message == condition.message
        {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    conditions::remove_condition(status, &condition.type_);
    set_condition(status, condition);
}

/// Progress deadline (§3.10): suppressed at pause and analysis steps, while paused and once
/// the update has finished (`NewReplicaSetAvailable`). A first revision is promoted to stable
/// at once ("Initial deploy") but is not finished until its pods are available, so its
/// deadline counts as any other's.
fn deadline(pass: &mut Pass<'_>, new_name: &str) {
    let ro = pass.ro;
    let now = pass.now();
    let view = pass.view();
    let at_wait_step = steps::current_step(&view)
        .0
        .is_some_and(|s| s.pause.is_some() || s.analysis.is_some() || s.experiment.is_some());
    let paused = pass.status.pause_conditions.as_ref().is_some_and(|p| !p.is_empty());
    let finished = conditions::get_condition(&pass.status, PROGRESSING)
        .is_some_and(|c| c.reason == reason::NEW_RS_AVAILABLE);
    if at_wait_step || paused || finished {
        return;
    }
    if conditions::rollout_timed_out(ro, &pass.status, now) {
        let message = if new_name.is_empty() {
            conditions::rollout_timed_out_message(ro.metadata.name.as_deref().unwrap_or(""))
        } else {
            conditions::timed_out_message(new_name)
        };
        let c = new_condition(PROGRESSING, "False", reason::TIMED_OUT, message.clone(), now);
        replace(&mut pass.status, c);
        if ro.spec.progress_deadline_abort() {
            pass.set_abort(message);
        }
        return;
    }
    if let Some(c) = conditions::get_condition(&pass.status, PROGRESSING) {
        let due =
            c.last_update_time.0.as_second() + i64::from(ro.spec.progress_deadline_seconds()) + 1
                - now.as_second();
        pass.requeue_after(Duration::from_secs(u64::try_from(due.max(1)).unwrap_or(1)));
    }
}
