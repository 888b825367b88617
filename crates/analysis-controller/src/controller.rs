//! The AnalysisRun controller: one reconcile of the pure engine per run, with the I/O around
//! it (Secrets, providers, status write, TTL delete).
//!
//! Restart safety: the status is the only state. A measurement is written together with the
//! verdicts in one status update guarded by the resourceVersion the reconcile read; a
//! conflict drops the reconcile's measurements and requeues, so nothing is written twice. An
//! in-flight measurement (a job) is found again from the status and resumed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use weir_analysis::{MeasureRequest, Task, TaskAction, TaskOutcome, error_measurement, plan};
use weir_cluster::{
    Cluster, DeleteParams, Error, Object, ObjectRef, Patch, Registry, ResourceType, Subresource,
};
use weir_controller::{Action, Context, Controller, Reconciler, Refusals, Shutdown};
use weir_model::rollouts::AnalysisRun;

use crate::http::wall_clock;
use crate::providers::Providers;
use crate::secrets::read_secrets;

/// How long one measurement may take at most, whatever the provider's own timeout.
const MEASUREMENT_GUARD: Duration = Duration::from_secs(120);
/// Delay before retrying a status write that lost a race.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// Margin after the engine's requeue time (its schedule compares strictly).
const REQUEUE_MARGIN: Duration = Duration::from_millis(20);
/// Bounds of the delay before a measurement dropped by the restart rule is taken again.
const RETAKE_MIN: Duration = Duration::from_secs(1);
const RETAKE_MAX: Duration = Duration::from_secs(10);
/// Runs reconciled at once. A worker is held while its run's measurements are taken (up to
/// [`MEASUREMENT_GUARD`]), so this many slow providers are needed to delay other runs; Argo's
/// analysis controller runs 30 as well. Workers are tasks, not threads.
const WORKERS: usize = 30;

/// Runs the AnalysisRun controller until `shutdown`: every run in every namespace, with the
/// Pods it owns (job measurements) as triggers.
pub async fn run_analysis_controller<C: Cluster>(
    cluster: Arc<C>,
    providers: Providers,
    shutdown: Shutdown,
) {
    let registry = Registry::builtin();
    let (Some(runs), Some(pods)) = (registry.for_name("analysisruns"), registry.for_name("pods"))
    else {
        tracing::error!("the built-in registry lacks analysisruns or pods");
        return;
    };
    let reconciler = Arc::new(AnalysisReconciler::new(cluster.clone(), providers));
    Controller::new(cluster, runs.clone())
        .owns(pods.clone())
        .run(reconciler, WORKERS, shutdown)
        .await;
}

/// The [`Reconciler`] of AnalysisRuns (exposed to run it on a custom [`Controller`]).
#[derive(Debug)]
pub struct AnalysisReconciler<C> {
    cluster: Arc<C>,
    providers: Providers,
    runs: ResourceType,
    refusals: Refusals,
    /// When this reconciler was made (weir's start in `weir up`): a bad measurement whose
    /// window reaches back before it is taken again (`weir_analysis::retake_after_restart`).
    started: Timestamp,
}

impl<C: Cluster> AnalysisReconciler<C> {
    /// A reconciler measuring with `providers`.
    pub fn new(cluster: Arc<C>, providers: Providers) -> Self {
        let runs = Registry::builtin()
            .for_name("analysisruns")
            .expect("AnalysisRun is a built-in resource type")
            .clone();
        AnalysisReconciler {
            cluster,
            providers,
            runs,
            refusals: Refusals::new(),
            started: wall_clock(),
        }
    }

    async fn measure(&self, run: &AnalysisRun, task: &Task, now: Timestamp) -> TaskOutcome {
        let metric = &task.metric;
        let req = MeasureRequest { run, metric, now };
        let (measurement, metadata) = match self.providers.for_metric(metric) {
            None => {
                let message = match metric.provider.type_name() {
                    Some(kind) => format!("provider {kind} is not supported by weir"),
                    None => format!("no valid provider in metric '{}'", metric.name),
                };
                (error_measurement(message, now, wall_clock()), BTreeMap::new())
            }
            Some(provider) => {
                let future = match &task.action {
                    TaskAction::Run => provider.run(req),
                    TaskAction::Resume(m) => provider.resume(req, m.clone()),
                    TaskAction::Terminate(m) => provider.terminate(req, m.clone()),
                };
                let m = match tokio::time::timeout(MEASUREMENT_GUARD, future).await {
                    Ok(m) => m,
                    Err(_) => error_measurement(
                        format!("measurement did not finish within {MEASUREMENT_GUARD:?}"),
                        now,
                        wall_clock(),
                    ),
                };
                (m, provider.metadata(metric))
            }
        };
        TaskOutcome { metric: metric.name.clone(), measurement, metadata }
    }

    /// Records the engine's events as core Events on the run (best effort: a failure is
    /// logged). Called only after the status write that they describe succeeded.
    async fn record_events(&self, run: &Object, events: &[weir_analysis::Event], now: Timestamp) {
        for event in events {
            let record = weir_cluster::EventRecord {
                reason: &event.reason,
                message: &event.message,
                warning: event.warning,
                component: "weir-analysis-controller",
            };
            let recorded = weir_cluster::record_event(&*self.cluster, run, record, now).await;
            if let Err(e) = recorded {
                tracing::warn!(run = %run.name(), "cannot record event {}: {e}", event.reason);
            }
        }
    }

    /// A run whose manifest does not decode: an Error status, once.
    async fn invalid(&self, object: &Object, error: &Error) -> Result<Action, Error> {
        let phase = object.field("status").and_then(|s| s.get("phase")).and_then(|p| p.as_str());
        if phase == Some("Error") {
            return Ok(Action::await_change());
        }
        let patch = Patch::Merge(serde_json::json!({"status": {
            "phase": "Error",
            "message": format!("Analysis spec invalid: {error}"),
        }}));
        let ns = object.namespace();
        self.cluster.patch(&self.runs, ns, object.name(), &patch, Subresource::Status).await?;
        Ok(Action::await_change())
    }
}

impl<C: Cluster> Reconciler for AnalysisReconciler<C> {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectRef, _ctx: &Context) -> Result<Action, Error> {
        let result = self.reconcile_run(key).await;
        match &result {
            Err(Error::Forbidden(message)) => self.report_refusal(key, message).await,
            Ok(_) => self.refusals.allowed(key),
            Err(_) => {}
        }
        result
    }

    fn is_refusal(&self, error: &Error) -> bool {
        matches!(error, Error::Forbidden(_))
    }
}

/// The prefix of `status.message` of a run whose reconcile was refused.
const REFUSED_PREFIX: &str = "forbidden: ";

impl<C: Cluster> AnalysisReconciler<C> {
    /// A refused reconcile (`403`): the run's `status.message` says so and a Warning Event is
    /// recorded, once per streak (the runtime retries it with the long refusal backoff); a
    /// report that is itself refused is logged once.
    async fn report_refusal(&self, key: &ObjectRef, message: &str) {
        if !self.refusals.first_time(key, message) {
            return;
        }
        let ns = key.namespace.as_deref();
        let text = format!("{REFUSED_PREFIX}{message}");
        let patch = Patch::Merge(serde_json::json!({"status": {"message": text}}));
        let reported = async {
            let mut run = self.cluster.get(&self.runs, ns, &key.name).await?;
            // A finished run keeps its verdict's message (a refused TTL delete is only an
            // Event).
            let phase = run.field("status").and_then(|s| s.get("phase")).and_then(|p| p.as_str());
            let finished = phase.is_some_and(|p| p != "Pending" && p != "Running");
            if !finished {
                run = self
                    .cluster
                    .patch(&self.runs, ns, &key.name, &patch, Subresource::Status)
                    .await?;
            }
            let record = weir_cluster::EventRecord {
                reason: weir_controller::refusal::FORBIDDEN_REASON,
                message: &text,
                warning: true,
                component: "weir-analysis-controller",
            };
            weir_cluster::record_event(&*self.cluster, &run, record, wall_clock()).await
        };
        if let Err(e) = reported.await {
            tracing::warn!(run = %key, "{text} (not reported on the run: {e})");
        }
    }

    /// Drops the bad verdicts of measurements whose window reaches back before this
    /// controller started (weir's restart; see `weir_analysis::retake_after_restart`), and
    /// says when to measure them again: their metric's interval (at least 1 s, at most 10 s,
    /// Argo's error retry interval).
    fn without_restart_artifacts(
        &self,
        run: &AnalysisRun,
        outcomes: Vec<TaskOutcome>,
        now: Timestamp,
    ) -> (Vec<TaskOutcome>, Option<Duration>) {
        let mut retake: Option<Duration> = None;
        let kept = outcomes
            .into_iter()
            .filter(|outcome| {
                let Some(metric) = run.spec.metrics.iter().find(|m| m.name == outcome.metric)
                else {
                    return true;
                };
                let lookback = weir_analysis::lookback(metric);
                let created = run.metadata.creation_timestamp.as_ref().map(|t| t.0);
                if !weir_analysis::retake_after_restart(
                    &outcome.measurement,
                    lookback,
                    created,
                    self.started,
                    now,
                ) {
                    return true;
                }
                tracing::info!(
                    run = %run.metadata.name.as_deref().unwrap_or(""),
                    metric = %outcome.metric,
                    phase = %outcome.measurement.phase,
                    "measurement window reaches back before weir started: taken again, not counted"
                );
                let interval = metric
                    .interval
                    .as_deref()
                    .and_then(|i| weir_model::duration::parse_nanos(i).ok())
                    .map_or(RETAKE_MAX, |n| Duration::from_nanos(n.unsigned_abs()));
                let delay = interval.clamp(RETAKE_MIN, RETAKE_MAX);
                retake = Some(retake.map_or(delay, |r| r.min(delay)));
                false
            })
            .collect();
        (kept, retake)
    }

    async fn reconcile_run(&self, key: &ObjectRef) -> Result<Action, Error> {
        let ns = key.namespace.as_deref();
        let object = match self.cluster.get(&self.runs, ns, &key.name).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        };
        let run: AnalysisRun = match object.to_typed() {
            Ok(r) => r,
            Err(e) => return self.invalid(&object, &e).await,
        };
        let now = wall_clock();
        let secrets = read_secrets(&*self.cluster, &run).await?;
        let step = plan(&run, &secrets, now);
        let outcomes = futures::future::join_all(
            step.tasks().iter().map(|task| self.measure(&run, task, now)),
        )
        .await;
        let done = wall_clock().max(now);
        let (outcomes, retake) = self.without_restart_artifacts(&run, outcomes, done);
        let mut reconciled = step.finish(&run, outcomes, done);
        // This pass was not refused: a refusal reported earlier is over.
        if reconciled.status.message.as_deref().is_some_and(|m| m.starts_with(REFUSED_PREFIX)) {
            reconciled.status.message = None;
            reconciled.changed = true;
        }
        for event in &reconciled.events {
            if event.warning {
                tracing::warn!(run = %key, reason = %event.reason, "{}", event.message);
            } else {
                tracing::info!(run = %key, reason = %event.reason, "{}", event.message);
            }
        }
        if reconciled.changed {
            let mut updated = object.clone();
            let status = serde_json::to_value(&reconciled.status)
                .map_err(|e| Error::Internal(format!("cannot encode status: {e}")))?;
            updated.data.insert("status".to_owned(), status);
            match self.cluster.update_status(&self.runs, updated).await {
                Ok(_) => self.record_events(&object, &reconciled.events, done).await,
                Err(Error::Conflict { .. }) => return Ok(Action::requeue(CONFLICT_RETRY)),
                Err(Error::NotFound { .. }) => return Ok(Action::await_change()),
                Err(e) => return Err(e),
            }
        }
        for (metric_name, dropped) in &reconciled.dropped {
            let metric = run.spec.metrics.iter().find(|m| &m.name == metric_name);
            let provider = metric.and_then(|m| Some((m, self.providers.for_metric(m)?)));
            if let Some((metric, provider)) = provider {
                let req = MeasureRequest { run: &run, metric, now: done };
                if let Err(e) = provider.garbage_collect(req, dropped).await {
                    tracing::warn!(run = %key, metric = %metric_name, "garbage collection: {e}");
                }
            }
        }
        if reconciled.delete {
            let params = DeleteParams::default();
            match self.cluster.delete(&self.runs, ns, &key.name, &params).await {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            return Ok(Action::await_change());
        }
        if let Some(retake) = retake {
            return Ok(Action::requeue(retake));
        }
        Ok(match reconciled.requeue_at {
            None => Action::await_change(),
            Some(at) => {
                let wait = at.duration_since(wall_clock());
                let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
                Action::requeue(wait + REQUEUE_MARGIN)
            }
        })
    }
}
