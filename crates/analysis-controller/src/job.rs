//! `provider.job` in embedded mode: a measurement is a Pod built from the Job's pod template
//! (one try; restartPolicy `Never` unless set), owned by the AnalysisRun, named
//! `<run uid>.<metric>.<n>` (DNS-safe, at most 63 characters) and run by the node agent. Pod `Succeeded` → Successful, `Failed` → Failed; a container stuck on a
//! terminal waiting reason (bad image, bad config) → Inconclusive. The measurement stays in
//! flight (no `finishedAt`) with a `resumeAt` back-off of `sqrt(2·elapsed)` seconds (1–30 s);
//! the Pod's changes also trigger the run. A Pod that already exists (the controller
//! restarted after creating it) is adopted, not created twice.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value as Json;
use weir_analysis::{BoxFuture, MeasureRequest, MetricProvider, error_measurement};
use weir_cluster::{Cluster, DeleteParams, Error, Object, OwnerReference, Registry, ResourceType};
use weir_model::rollouts::{AnalysisPhase, AnalysisRun, Measurement, Metric};

/// Measurement metadata key with the Pod's name (Argo's `job-name`).
const JOB_NAME: &str = "job-name";
/// Measurement metadata key with the Pod's namespace.
const JOB_NAMESPACE: &str = "job-namespace";
/// Label on measurement Pods naming their run.
const RUN_LABEL: &str = "analysisrun.weir.dev/name";
/// Waiting reasons that will not resolve by themselves (`ImageNotMapped`: the node agent has
/// no command for the image, embedded mode's image pull error).
const TERMINAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "ImageNotMapped",
];

/// The job provider (type name `Job`) over a cluster.
pub struct JobProvider<C> {
    cluster: Arc<C>,
    pods: ResourceType,
}

impl<C> fmt::Debug for JobProvider<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobProvider").finish_non_exhaustive()
    }
}

impl<C: Cluster> JobProvider<C> {
    /// A provider creating its Pods in `cluster`.
    pub fn new(cluster: Arc<C>) -> Self {
        let pods =
            Registry::builtin().for_name("pods").expect("Pod is a built-in resource type").clone();
        JobProvider { cluster, pods }
    }

    async fn start(&self, run: &AnalysisRun, metric: &Metric, now: Timestamp) -> Measurement {
        let Some(job) = metric.provider.job.as_ref() else {
            return error_measurement("no job provider", now, now);
        };
        let ns = run.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let name = pod_name(run, metric);
        let mut pod = Object::new("v1", "Pod", Some(&ns), &name);
        let template = job.spec.template.clone();
        let mut labels =
            template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        let mut annotations =
            template.metadata.as_ref().and_then(|m| m.annotations.clone()).unwrap_or_default();
        if let Some(meta) = &job.metadata {
            labels.extend(meta.labels.clone().unwrap_or_default());
            annotations.extend(meta.annotations.clone().unwrap_or_default());
        }
        if let Some(run_name) = &run.metadata.name {
            labels.insert(RUN_LABEL.to_owned(), run_name.chars().take(63).collect());
        }
        pod.metadata.labels = Some(labels);
        pod.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
        pod.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "argoproj.io/v1alpha1".to_owned(),
            kind: "AnalysisRun".to_owned(),
            name: run.metadata.name.clone().unwrap_or_default(),
            uid: run.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        let mut spec = template.spec.unwrap_or_default();
        if spec.restart_policy.as_deref().is_none_or(str::is_empty) {
            spec.restart_policy = Some("Never".to_owned());
        }
        match serde_json::to_value(&spec) {
            Ok(spec) => {
                pod.data.insert("spec".to_owned(), spec);
            }
            Err(e) => return error_measurement(format!("invalid job spec: {e}"), now, now),
        }
        match self.cluster.create(&self.pods, pod).await {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(e) => {
                return error_measurement(
                    format!("failed to create job pod {name}: {e}"),
                    now,
                    now,
                );
            }
        }
        Measurement {
            phase: AnalysisPhase::Running.as_str().to_owned(),
            started_at: Some(Time(now)),
            resume_at: Some(Time(resume_at(now, now))),
            metadata: Some(BTreeMap::from([
                (JOB_NAME.to_owned(), name),
                (JOB_NAMESPACE.to_owned(), ns),
            ])),
            ..Measurement::default()
        }
    }

    async fn check(&self, run: &AnalysisRun, mut m: Measurement, now: Timestamp) -> Measurement {
        let (ns, name) = pod_of(run, &m);
        let pod = match self.cluster.get(&self.pods, Some(&ns), &name).await {
            Ok(p) => p,
            Err(Error::NotFound { .. }) => {
                let mut e = error_measurement(format!("job pod {name} not found"), now, now);
                e.started_at = m.started_at.clone();
                e.metadata = m.metadata.clone();
                return e;
            }
            Err(e) => {
                m.resume_at = Some(Time(resume_at(started(&m, now), now)));
                m.message = Some(format!("cannot read job pod {name}: {e}"));
                return m;
            }
        };
        let status = pod.field("status");
        let phase = status.and_then(|s| s.get("phase")).and_then(Json::as_str).unwrap_or("");
        let waiting = status
            .and_then(|s| s.get("containerStatuses"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer("/state/waiting/reason").and_then(Json::as_str))
            .find(|r| TERMINAL_WAITING.contains(r));
        let done = |phase: AnalysisPhase, message: Option<String>, mut m: Measurement| {
            m.phase = phase.as_str().to_owned();
            m.finished_at = Some(Time(now));
            m.resume_at = None;
            m.message = message;
            m
        };
        match (phase, waiting) {
            ("Succeeded", _) => done(AnalysisPhase::Successful, None, m),
            ("Failed", _) => done(AnalysisPhase::Failed, Some(format!("job pod {name} failed")), m),
            (_, Some(reason)) => {
                done(AnalysisPhase::Inconclusive, Some(format!("job pod {name}: {reason}")), m)
            }
            _ => {
                m.resume_at = Some(Time(resume_at(started(&m, now), now)));
                m
            }
        }
    }

    async fn delete_pod(&self, ns: &str, name: &str) -> Result<(), String> {
        match self.cluster.delete(&self.pods, Some(ns), name, &DeleteParams::default()).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(format!("cannot delete job pod {name}: {e}")),
        }
    }
}

fn started(m: &Measurement, now: Timestamp) -> Timestamp {
    m.started_at.as_ref().map_or(now, |t| t.0)
}

/// `sqrt(2·elapsed)` seconds after `now`, clamped to 1–30 s.
fn resume_at(started: Timestamp, now: Timestamp) -> Timestamp {
    let elapsed = now.duration_since(started).as_secs_f64().max(0.0);
    let wait = (2.0 * elapsed).sqrt().clamp(1.0, 30.0);
    now.checked_add(SignedDuration::from_secs_f64(wait)).unwrap_or(now)
}

/// The Pod of a measurement (from its metadata, else its name).
fn pod_of(run: &AnalysisRun, m: &Measurement) -> (String, String) {
    let meta = m.metadata.clone().unwrap_or_default();
    let ns = meta
        .get(JOB_NAMESPACE)
        .cloned()
        .or_else(|| run.metadata.namespace.clone())
        .unwrap_or_else(|| "default".to_owned());
    (ns, meta.get(JOB_NAME).cloned().unwrap_or_default())
}

/// `<run uid>.<metric>.<n>` where `n` counts this metric's measurements so far (completed
/// ones plus errors, so retention does not reuse a name), DNS-safe, truncated to 63.
fn pod_name(run: &AnalysisRun, metric: &Metric) -> String {
    let result = run
        .status
        .as_ref()
        .and_then(|s| s.metric_results.as_ref())
        .and_then(|r| r.iter().find(|r| r.name == metric.name));
    let taken = result.map_or(0, |r| {
        let in_flight =
            r.measurements.as_ref().and_then(|m| m.last()).is_some_and(|m| m.finished_at.is_none());
        r.count.unwrap_or(0) + r.error.unwrap_or(0) + i32::from(in_flight)
    });
    let uid = run.metadata.uid.as_deref().unwrap_or("run");
    let suffix = format!(".{}", taken + 1);
    let mut name: String = format!("{uid}.{}", metric.name)
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    name.truncate(63 - suffix.len());
    name.trim_end_matches(['-', '.']).to_owned() + &suffix
}

impl<C: Cluster> MetricProvider for JobProvider<C> {
    fn kind(&self) -> &str {
        "Job"
    }

    fn run<'a>(&'a self, req: MeasureRequest<'a>) -> BoxFuture<'a, Measurement> {
        Box::pin(self.start(req.run, req.metric, req.now))
    }

    fn resume<'a>(&'a self, req: MeasureRequest<'a>, m: Measurement) -> BoxFuture<'a, Measurement> {
        Box::pin(self.check(req.run, m, req.now))
    }

    fn terminate<'a>(
        &'a self,
        req: MeasureRequest<'a>,
        m: Measurement,
    ) -> BoxFuture<'a, Measurement> {
        Box::pin(async move {
            let (ns, name) = pod_of(req.run, &m);
            if !name.is_empty()
                && let Err(e) = self.delete_pod(&ns, &name).await
            {
                tracing::warn!("{e}");
            }
            m
        })
    }

    fn garbage_collect<'a>(
        &'a self,
        req: MeasureRequest<'a>,
        dropped: &'a [Measurement],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for m in dropped {
                let (ns, name) = pod_of(req.run, m);
                if !name.is_empty() {
                    self.delete_pod(&ns, &name).await?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_are_dns_safe_and_short() {
        let run: AnalysisRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "r", "uid": "0f2c8a34-1111-2222-3333-444455556666"},
            "spec": {"metrics": []}
        }))
        .expect("run");
        let metric =
            Metric { name: "Smoke_Test-with-a-very-long-name".into(), ..Metric::default() };
        let name = pod_name(&run, &metric);
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("0f2c8a34-1111-2222-3333-444455556666.smoke-test"), "{name}");
    }
}
