//! Pure Deployment status: replica counts and the Available / Progressing conditions with
//! Kubernetes' reasons and messages.

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Counts over the deployment's replica sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) replicas: i32,
    pub(crate) updated: i32,
    pub(crate) ready: i32,
    pub(crate) available: i32,
}

/// What happened in this sync that the Progressing condition reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// The deployment is paused.
    Paused,
    /// A new replica set was created in this sync.
    Created(String),
    /// The rollout of this (new) replica set goes on.
    Rolling(String),
}

/// Everything the status depends on.
#[derive(Debug, Clone)]
pub(crate) struct StatusInput<'a> {
    pub(crate) previous: Option<&'a DeploymentStatus>,
    pub(crate) generation: Option<i64>,
    pub(crate) desired: i32,
    pub(crate) max_unavailable: i32,
    pub(crate) progress_deadline_seconds: Option<i32>,
    pub(crate) counts: Counts,
    pub(crate) progress: Progress,
    pub(crate) now: Timestamp,
}

fn set_condition(
    conditions: &mut Vec<DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) {
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_.as_deref() == Some(type_)) {
        if existing.status.as_deref() == Some(status) && existing.reason.as_deref() == Some(reason)
        {
            if existing.message.as_deref() != Some(message.as_str()) {
                existing.message = Some(message);
                existing.last_update_time = Some(Time(now));
            }
            return;
        }
        let keep_transition = existing.status.as_deref() == Some(status);
        existing.reason = Some(reason.to_owned());
        existing.message = Some(message);
        existing.last_update_time = Some(Time(now));
        if !keep_transition {
            existing.status = Some(status.to_owned());
            existing.last_transition_time = Some(Time(now));
        }
        return;
    }
    conditions.push(DeploymentCondition {
        type_: Some(type_.to_owned()),
        status: Some(status.to_owned()),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

/// Whether the new status shows progress over the old one (`DeploymentProgressing`).
fn progressing(old: Option<&DeploymentStatus>, new: &Counts) -> bool {
    let old = old.cloned().unwrap_or_default();
    new.updated > old.updated_replicas.unwrap_or(0)
        || new.replicas < old.replicas.unwrap_or(0)
        || new.ready > old.ready_replicas.unwrap_or(0)
        || new.available > old.available_replicas.unwrap_or(0)
}

/// The deployment's status, and seconds until the progress deadline (to check it again).
pub(crate) fn deployment_status(input: &StatusInput<'_>) -> (DeploymentStatus, Option<f64>) {
    let c = input.counts;
    let mut conditions = input.previous.and_then(|s| s.conditions.clone()).unwrap_or_default();
    let now = input.now;
    if c.available >= input.desired - input.max_unavailable {
        set_condition(
            &mut conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            now,
        );
    } else {
        set_condition(
            &mut conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            now,
        );
    }
    let complete =
        c.updated == input.desired && c.replicas == input.desired && c.available == input.desired;
    let mut deadline_in = None;
    match &input.progress {
        Progress::Paused => set_condition(
            &mut conditions,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            now,
        ),
        Progress::Created(name) => set_condition(
            &mut conditions,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set \"{name}\""),
            now,
        ),
        Progress::Rolling(name) => {
            let current =
                conditions.iter().find(|c| c.type_.as_deref() == Some("Progressing")).cloned();
            let reason = current.as_ref().and_then(|c| c.reason.clone()).unwrap_or_default();
            if complete {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    format!("ReplicaSet \"{name}\" has successfully progressed."),
                    now,
                );
            } else if progressing(input.previous, &c)
                || current.is_none()
                || reason == "DeploymentPaused"
            {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    format!("ReplicaSet \"{name}\" is progressing."),
                    now,
                );
                // A progress update restarts the deadline even if the reason is unchanged.
                if let Some(p) =
                    conditions.iter_mut().find(|c| c.type_.as_deref() == Some("Progressing"))
                {
                    p.last_update_time = Some(Time(now));
                }
            } else if let (Some(deadline), Some(current)) =
                (input.progress_deadline_seconds, current)
                && reason != "ProgressDeadlineExceeded"
                && reason != "NewReplicaSetAvailable"
            {
                let since = current.last_update_time.map_or(now, |t| t.0);
                let elapsed = crate::kube::seconds_between(&since, &now);
                if elapsed > f64::from(deadline) {
                    set_condition(
                        &mut conditions,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        format!("ReplicaSet \"{name}\" has timed out progressing."),
                        now,
                    );
                } else {
                    deadline_in = Some(f64::from(deadline) - elapsed);
                }
            }
        }
    }
    let status = DeploymentStatus {
        observed_generation: input.generation,
        replicas: Some(c.replicas),
        updated_replicas: Some(c.updated),
        ready_replicas: Some(c.ready),
        available_replicas: Some(c.available),
        unavailable_replicas: Some((input.desired - c.available).max(0)),
        collision_count: input.previous.and_then(|s| s.collision_count),
        conditions: Some(conditions),
        terminating_replicas: None,
    };
    (status, deadline_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        previous: Option<&'a DeploymentStatus>,
        counts: Counts,
        now: i64,
    ) -> StatusInput<'a> {
        StatusInput {
            previous,
            generation: Some(2),
            desired: 3,
            max_unavailable: 0,
            progress_deadline_seconds: Some(600),
            counts,
            progress: Progress::Rolling("web-abc".into()),
            now: Timestamp::from_second(now).expect("ts"),
        }
    }

    fn reason(status: &DeploymentStatus, type_: &str) -> (String, String) {
        let c = status.conditions.iter().flatten().find(|c| c.type_.as_deref() == Some(type_));
        let c = c.expect("condition");
        (c.status.clone().unwrap_or_default(), c.reason.clone().unwrap_or_default())
    }

    #[test]
    fn progressing_then_complete_then_timeout_on_a_stuck_rollout() {
        let rolling = Counts { replicas: 4, updated: 1, ready: 3, available: 3 };
        let (s1, _) = deployment_status(&input(None, rolling, 100));
        assert_eq!(reason(&s1, "Progressing"), ("True".into(), "ReplicaSetUpdated".into()));
        assert_eq!(reason(&s1, "Available"), ("True".into(), "MinimumReplicasAvailable".into()));
        assert_eq!(s1.unavailable_replicas, Some(0));

        let (s2, left) = deployment_status(&input(Some(&s1), rolling, 400));
        assert_eq!(reason(&s2, "Progressing"), ("True".into(), "ReplicaSetUpdated".into()));
        assert_eq!(left, Some(300.0));
        let (s3, _) = deployment_status(&input(Some(&s2), rolling, 701));
        assert_eq!(reason(&s3, "Progressing"), ("False".into(), "ProgressDeadlineExceeded".into()));

        let done = Counts { replicas: 3, updated: 3, ready: 3, available: 3 };
        let (s4, _) = deployment_status(&input(Some(&s1), done, 200));
        assert_eq!(reason(&s4, "Progressing"), ("True".into(), "NewReplicaSetAvailable".into()));
        let msg =
            s4.conditions.iter().flatten().find(|c| c.type_.as_deref() == Some("Progressing"));
        assert_eq!(
            msg.and_then(|c| c.message.as_deref()),
            Some("ReplicaSet \"web-abc\" has successfully progressed.")
        );
    }

    #[test]
    fn unavailable_below_minimum() {
        let counts = Counts { replicas: 3, updated: 3, ready: 1, available: 1 };
        let (s, _) = deployment_status(&input(None, counts, 1));
        assert_eq!(reason(&s, "Available"), ("False".into(), "MinimumReplicasUnavailable".into()));
        assert_eq!(s.unavailable_replicas, Some(2));
    }
}
