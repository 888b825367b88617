//! Pure Job decisions: how many pods to start, and the status Kubernetes writes (counts,
//! `Complete`/`Failed` conditions with their reasons, start and completion times).

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::kube::{is_active, is_ready, seconds_between};

/// Kubernetes' default `backoffLimit`.
pub(crate) const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// What the controller does for a Job in one pass.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobPlan {
    /// Pods to create now.
    pub(crate) create: usize,
    /// Delete the active pods (the Job has failed or is suspended).
    pub(crate) delete_active: bool,
    /// The status to write.
    pub(crate) status: JobStatus,
    /// Seconds until the active deadline passes, when one is set and the Job is running.
    pub(crate) recheck_in: Option<f64>,
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The plan for `job` owning `pods` (every pod it controls, finished ones included) at `now`.
pub(crate) fn plan(job: &Job, pods: &[Pod], now: &Timestamp) -> JobPlan {
    let spec = job.spec.clone().unwrap_or_default();
    let previous = job.status.clone().unwrap_or_default();
    let completions = spec.completions.unwrap_or(1).max(0);
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT).max(0);
    let succeeded = pods.iter().filter(|p| phase(p) == Some("Succeeded")).count();
    let failed = pods.iter().filter(|p| phase(p) == Some("Failed")).count();
    let active: Vec<&Pod> = pods.iter().filter(|p| is_active(p)).collect();
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let active = active.len();
    let start = previous.start_time.clone().unwrap_or(Time(*now));
    let mut status = JobStatus {
        active: (active > 0).then(|| count(active)),
        succeeded: (succeeded > 0).then(|| count(succeeded)),
        failed: (failed > 0).then(|| count(failed)),
        start_time: Some(start.clone()),
        completion_time: previous.completion_time.clone(),
        conditions: previous.conditions.clone(),
        ready: Some(count(ready)),
        ..JobStatus::default()
    };
    let finished = |s: &JobStatus, kind: &str| {
        s.conditions.iter().flatten().any(|c| c.type_ == kind && c.status == "True")
    };
    if finished(&status, "Complete") || finished(&status, "Failed") {
        return JobPlan { create: 0, delete_active: active > 0, status, recheck_in: None };
    }
    let condition = |kind: &str, reason: Option<&str>, message: Option<&str>| JobCondition {
        type_: kind.to_owned(),
        status: "True".to_owned(),
        reason: reason.map(str::to_owned),
        message: message.map(str::to_owned),
        last_probe_time: Some(Time(*now)),
        last_transition_time: Some(Time(*now)),
    };
    if count(succeeded) >= completions {
        status.conditions.get_or_insert_with(Vec::new).push(condition("Complete", None, None));
        status.completion_time = Some(Time(*now));
        return JobPlan { create: 0, delete_active: active > 0, status, recheck_in: None };
    }
    if count(failed) > backoff_limit {
        let c = condition(
            "Failed",
            Some("BackoffLimitExceeded"),
            Some("Job has reached the specified backoff limit"),
        );
        status.conditions.get_or_insert_with(Vec::new).push(c);
        return JobPlan { create: 0, delete_active: true, status, recheck_in: None };
    }
    let elapsed = seconds_between(&start.0, now);
    if let Some(deadline) = spec.active_deadline_seconds
        && elapsed >= deadline as f64
    {
        let c = condition(
            "Failed",
            Some("DeadlineExceeded"),
            Some("Job was active longer than specified deadline"),
        );
        status.conditions.get_or_insert_with(Vec::new).push(c);
        return JobPlan { create: 0, delete_active: true, status, recheck_in: None };
    }
    if spec.suspend == Some(true) {
        return JobPlan { create: 0, delete_active: true, status, recheck_in: None };
    }
    let remaining = usize::try_from(completions - count(succeeded)).unwrap_or(0);
    let room = usize::try_from(parallelism).unwrap_or(0).min(remaining);
    let create = room.saturating_sub(active);
    let recheck_in = spec.active_deadline_seconds.map(|d| (d as f64 - elapsed).max(0.0));
    JobPlan { create, delete_active: false, status, recheck_in }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::PodStatus;

    use super::*;

    fn job(completions: Option<i32>, backoff: Option<i32>, deadline: Option<i64>) -> Job {
        Job {
            spec: Some(JobSpec {
                completions,
                backoff_limit: backoff,
                active_deadline_seconds: deadline,
                ..JobSpec::default()
            }),
            ..Job::default()
        }
    }

    fn pod(phase: &str) -> Pod {
        Pod {
            status: Some(PodStatus { phase: Some(phase.into()), ..PodStatus::default() }),
            ..Pod::default()
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("ts")
    }

    fn condition(plan: &JobPlan) -> Option<(String, Option<String>)> {
        plan.status.conditions.as_ref()?.last().map(|c| (c.type_.clone(), c.reason.clone()))
    }

    #[test]
    fn a_new_job_starts_one_pod_and_records_its_start() {
        let plan = plan(&job(None, None, None), &[], &at(100));
        assert_eq!(plan.create, 1);
        assert_eq!(plan.status.start_time, Some(Time(at(100))));
        assert_eq!(condition(&plan), None);
        let running = super::plan(&job(None, None, None), &[pod("Running")], &at(101));
        assert_eq!((running.create, running.status.active), (0, Some(1)));
    }

    #[test]
    fn a_succeeded_pod_completes_the_job() {
        let plan = plan(&job(None, None, None), &[pod("Failed"), pod("Succeeded")], &at(100));
        assert_eq!(condition(&plan), Some(("Complete".into(), None)));
        assert_eq!((plan.status.succeeded, plan.status.failed), (Some(1), Some(1)));
        assert_eq!(plan.status.completion_time, Some(Time(at(100))));
        assert_eq!(plan.create, 0);
    }

    #[test]
    fn failures_are_retried_up_to_the_backoff_limit() {
        let retried = plan(&job(None, Some(1), None), &[pod("Failed")], &at(100));
        assert_eq!((retried.create, condition(&retried)), (1, None));
        let failed = plan(&job(None, Some(1), None), &[pod("Failed"), pod("Failed")], &at(100));
        assert_eq!(
            condition(&failed),
            Some(("Failed".into(), Some("BackoffLimitExceeded".into())))
        );
        assert_eq!(failed.create, 0);
    }

    #[test]
    fn the_active_deadline_fails_the_job_and_stops_its_pods() {
        let mut j = job(None, None, Some(30));
        j.status = Some(JobStatus { start_time: Some(Time(at(100))), ..JobStatus::default() });
        let early = plan(&j, &[pod("Running")], &at(110));
        assert_eq!(early.recheck_in, Some(20.0));
        let late = plan(&j, &[pod("Running")], &at(130));
        assert_eq!(condition(&late), Some(("Failed".into(), Some("DeadlineExceeded".into()))));
        assert!(late.delete_active);
    }

    #[test]
    fn a_finished_job_is_left_alone() {
        let done = plan(&job(None, None, None), &[pod("Succeeded")], &at(100));
        let mut j = job(None, None, None);
        j.status = Some(done.status.clone());
        let again = plan(&j, &[pod("Succeeded")], &at(200));
        assert_eq!(again.status, done.status, "idempotent: no second condition, same times");
        assert_eq!(again.create, 0);
    }

    #[test]
    fn completions_and_parallelism_bound_the_pods_started() {
        let mut j = job(Some(3), None, None);
        j.spec.as_mut().unwrap().parallelism = Some(2);
        assert_eq!(plan(&j, &[], &at(1)).create, 2);
        assert_eq!(
            plan(&j, &[pod("Succeeded"), pod("Succeeded"), pod("Running")], &at(1)).create,
            0
        );
        assert_eq!(plan(&j, &[pod("Succeeded"), pod("Succeeded")], &at(1)).create, 1);
    }
}
