//! The Rollout controller: the reconcile runtime wiring (Rollouts, owned ReplicaSets and
//! AnalysisRuns, referenced Deployments) and one reconcile pass: resolve, validate, observe,
//! decide (pure engine), act, persist the status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use weir_cluster::{Cluster, Error, ListParams, Object, ObjectRef};
use weir_controller::{
    Action, Context, Controller, Mapper, Reconciler, RefusalRecorder, Refusals, Shutdown,
};
use weir_model::rollouts::{PodTemplateMetadata, Rollout, RolloutStatus};
use weir_rollout::{Command, Observed, Reconciled};

use crate::execute::rt;
use crate::observe::{analysis_run_view, controlled_by, replica_set_view};
use crate::{
    analysis, execute, overlap, references, refused, release, replicaset, restart, traffic,
    workload,
};

/// How soon a pass whose status write lost a race runs again.
const CONFLICT_RETRY: Duration = Duration::from_millis(100);

/// Runs the Rollout controller until `shutdown`: every Rollout in every namespace, triggered
/// by changes to it, to the ReplicaSets and AnalysisRuns it owns, and to the Deployment its
/// `workloadRef` names.
pub async fn run_rollout_controller<C: Cluster>(cluster: Arc<C>, shutdown: Shutdown) {
    let controller = Controller::new(cluster.clone(), rt("rollouts"))
        .owns(rt("replicasets"))
        .owns(rt("analysisruns"));
    let rollouts = controller.primary_cache();
    let referencing: Mapper = Arc::new(move |o: &Object| {
        rollouts
            .list()
            .iter()
            .filter(|ro| ro.namespace() == o.namespace())
            .filter(|ro| {
                let wref = ro.field("spec").and_then(|s| s.get("workloadRef"));
                let field = |k: &str| wref.and_then(|w| w.get(k)).and_then(|v| v.as_str());
                field("kind") == Some(o.kind.as_str()) && field("name") == Some(o.name())
            })
            .map(|ro| ro.object_ref())
            .collect()
    });
    let mut controller = controller.watches(rt("deployments"), referencing);
    // The objects a Rollout names wake it: a missing one reported as InvalidSpec is picked up
    // as soon as it appears (the 20 s requeue is only the fallback).
    for plural in ["services", "analysistemplates", "virtualservices", "destinationrules"] {
        let rollouts = controller.primary_cache();
        let naming: Mapper = Arc::new(move |o: &Object| {
            rollouts
                .list()
                .iter()
                .filter(|ro| ro.namespace() == o.namespace())
                .filter(|ro| references::names(ro, &o.kind, o.name()))
                .map(|ro| ro.object_ref())
                .collect()
        });
        controller = controller.watches(rt(plural), naming);
    }
    controller.run(Arc::new(RolloutReconciler::new(cluster)), 2, shutdown).await;
}

/// Reconciles one Rollout; holds the cluster (the status is the state) and the memory of
/// refused passes (their backoff and log lines).
#[derive(Debug)]
pub struct RolloutReconciler<C> {
    cluster: Arc<C>,
    refusals: Refusals,
}

impl<C: Cluster> RolloutReconciler<C> {
    /// A reconciler of the Rollouts of `cluster`.
    pub fn new(cluster: Arc<C>) -> Self {
        RolloutReconciler { cluster, refusals: Refusals::new() }
    }

    /// One pass of the Rollout `namespace/name` at `now`, as a worker of
    /// [`run_rollout_controller`] runs it (without the caches: objects are read from the
    /// backend), refusals (`403 Forbidden`) included: reported on the Rollout and retried
    /// after a long backoff.
    pub async fn reconcile_at(
        &self,
        namespace: Option<&str>,
        name: &str,
        now: Timestamp,
    ) -> Result<Action, String> {
        let key = ObjectRef {
            kind: "Rollout".to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        };
        self.guarded(&key, None, now).await
    }

    /// A pass through a [`RefusalRecorder`]: a pass that failed on a refused call is reported
    /// ([`refused::report`]) instead of being retried hot.
    async fn guarded(
        &self,
        key: &ObjectRef,
        ctx: Option<&Context>,
        now: Timestamp,
    ) -> Result<Action, String> {
        let recorder = RefusalRecorder::new(self.cluster.clone());
        let result = async {
            let ns = key.namespace.as_deref();
            let Some(object) = read_rollout(&recorder, ns, &key.name).await? else {
                return gone(&recorder, ns, &key.name).await;
            };
            let Some(ro) = typed(&object) else {
                return Ok(Action::await_change());
            };
            pass(&recorder, ctx, &object, &ro, now).await
        }
        .await;
        match (result, recorder.refusal()) {
            (Err(_), Some(refusal)) => {
                Ok(refused::report(self.cluster.as_ref(), &self.refusals, key, &refusal, now).await)
            }
            (result, _) => {
                if result.is_ok() {
                    self.refusals.allowed(key);
                }
                result
            }
        }
    }
}

impl<C: Cluster> Reconciler for RolloutReconciler<C> {
    type Error = String;

    async fn reconcile(&self, key: &ObjectRef, ctx: &Context) -> Result<Action, String> {
        self.guarded(key, Some(ctx), now()).await
    }
}

/// One reconcile pass of the Rollout `namespace/name` at `now`: what every worker of
/// [`run_rollout_controller`] does for a key, exposed so tests and benchmarks can drive the
/// controller step by step with their own clock. A missing or unparsable Rollout waits for a
/// change; an `Err` is retried with backoff by the runtime.
pub async fn reconcile_rollout<C: Cluster>(
    cluster: &C,
    namespace: Option<&str>,
    name: &str,
    now: Timestamp,
) -> Result<Action, String> {
    let Some(object) = read_rollout(cluster, namespace, name).await? else {
        return gone(cluster, namespace, name).await;
    };
    let Some(ro) = typed(&object) else {
        return Ok(Action::await_change());
    };
    pass(cluster, None, &object, &ro, now).await
}

/// A Rollout that is gone (or going) gives back the DestinationRules it managed.
async fn gone<C: Cluster>(
    cluster: &C,
    namespace: Option<&str>,
    name: &str,
) -> Result<Action, String> {
    release::destination_rules(cluster, namespace, name, None).await?;
    Ok(Action::await_change())
}

/// The Rollout from the backend (never a cache: its status is what the pass builds on);
/// `None` when it is gone or being deleted.
async fn read_rollout<C: Cluster>(
    cluster: &C,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Object>, String> {
    match cluster.get(&rt("rollouts"), namespace, name).await {
        Ok(object) if object.metadata.deletion_timestamp.is_none() => Ok(Some(object)),
        Ok(_) | Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn typed(object: &Object) -> Option<Rollout> {
    match object.to_typed() {
        Ok(ro) => Some(ro),
        Err(e) => {
            tracing::warn!(rollout = %object.object_ref(), error = %e, "Rollout does not parse; waiting for a change");
            None
        }
    }
}

/// The wall clock (the engine takes `now` as an argument; loops read it here).
pub use weir_cluster::wall_clock as now;

/// The spec the engine sees, the workload's generation, and why the spec is invalid (if so).
struct Resolution {
    rollout: Rollout,
    workload_generation: Option<i64>,
    invalid: Option<String>,
}

async fn resolve<C: Cluster>(cluster: &C, ro: &Rollout) -> Result<Resolution, String> {
    let ns = ro.metadata.namespace.as_deref();
    let mut res = Resolution { rollout: ro.clone(), workload_generation: None, invalid: None };
    // Argo validates the spec as written first (e.g. a template next to a workloadRef).
    res.invalid = weir_model::validate::validate_rollout(ro).first().map(|d| format!("{d}"));
    if res.invalid.is_some() {
        return Ok(res);
    }
    match workload::workload_type(ro) {
        Err(message) => res.invalid = Some(message),
        Ok(None) => {}
        Ok(Some((wrt, name))) => match cluster.get(&wrt, ns, &name).await {
            Ok(w) => {
                res.workload_generation = w.metadata.generation;
                match workload::resolve(ro, &w) {
                    Ok(resolved) => res.rollout = resolved,
                    Err(message) => res.invalid = Some(message),
                }
            }
            Err(Error::NotFound { .. }) => {
                res.invalid = Some(format!("workloadRef: {} {name:?} not found", wrt.kind));
            }
            Err(e) => return Err(e.to_string()),
        },
    }
    if res.invalid.is_none() {
        res.invalid = references::check(cluster, &res.rollout).await?;
    }
    Ok(res)
}

/// The objects of `plural` in `ns` whose controller is `uid`: from the runtime's cache when
/// there is one for the type (as Argo reads its informers; a view a few events old only makes
/// a pass repeat idempotent work, and the next event runs it again), else from the backend.
async fn owned_cached<C: Cluster>(
    cluster: &C,
    caches: Option<&Context>,
    plural: &str,
    ns: Option<&str>,
    uid: &str,
) -> Result<Vec<Object>, String> {
    let Some(cache) = caches.and_then(|c| c.cache(&rt(plural))) else {
        return owned(cluster, plural, ns, uid).await;
    };
    Ok(cache
        .list()
        .iter()
        .filter(|o| o.namespace() == ns && controlled_by(o, uid))
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .map(|o| (**o).clone())
        .collect())
}

async fn owned<C: Cluster>(
    cluster: &C,
    plural: &str,
    ns: Option<&str>,
    uid: &str,
) -> Result<Vec<Object>, String> {
    let list = cluster.list(&rt(plural), ns, &ListParams::default()).await;
    let items = list.map_err(|e| e.to_string())?.items;
    Ok(items
        .into_iter()
        .filter(|o| controlled_by(o, uid) && o.metadata.deletion_timestamp.is_none())
        .collect())
}

/// One reconcile pass of `ro` (as read, in `object`) at `now`.
async fn pass<C: Cluster>(
    cluster: &C,
    caches: Option<&Context>,
    object: &Object,
    ro: &Rollout,
    now: Timestamp,
) -> Result<Action, String> {
    let ns = ro.metadata.namespace.as_deref();
    let res = resolve(cluster, ro).await?;
    let resolved = res.rollout;
    let replica_sets = owned_cached(cluster, caches, "replicasets", ns, object.uid()).await?;
    let runs = owned_cached(cluster, caches, "analysisruns", ns, object.uid()).await?;
    let rs_views: Vec<_> = replica_sets.iter().map(replica_set_view).collect();
    let run_views: Vec<_> = runs.iter().filter_map(analysis_run_view).collect();
    let observed = Observed {
        replica_sets: &rs_views,
        analysis_runs: &run_views,
        invalid_spec: res.invalid.clone(),
        now,
    };
    let out: Reconciled = weir_rollout::reconcile(&resolved, &observed);
    for event in &out.events {
        tracing::info!(rollout = %object.object_ref(), reason = %event.reason, warning = event.warning, "{}", event.message);
    }

    if res.invalid.is_none() {
        let collision = resolved.status.as_ref().and_then(|s| s.collision_count);
        let template = resolved.spec.template.clone().unwrap_or_default();
        let new_hash = weir_rollout::hash::pod_template_hash(&template, collision);
        let executed =
            execute::replica_sets(cluster, &resolved, object.uid(), &new_hash, &out.commands)
                .await?;
        if executed == execute::Executed::Collision {
            return record_collision(cluster, object, ro).await;
        }
        let mut after = resolved.clone();
        after.status = Some(out.status.clone());
        analysis::create_runs(cluster, &after, &out.commands).await?;
        let relabel = ephemeral_relabels(cluster, &after, &new_hash, &replica_sets).await?;
        relabel_pods(cluster, &relabel, Half::First).await?;
        traffic::reconcile(cluster, &after, &rs_views, &out.commands).await?;
        relabel_pods(cluster, &relabel, Half::Second).await?;
        for change in &relabel {
            record_ephemeral(cluster, ns, &change.replica_set, change.desired.as_ref()).await?;
        }
        let name = ro.metadata.name.as_deref().unwrap_or("");
        release::destination_rules(cluster, ns, name, Some(&resolved)).await?;
    }

    let mut status: RolloutStatus = out.status;
    if resolved.spec.workload_ref.is_none() {
        // Argo's `persistRolloutStatus`: a Rollout with its own template observes no workload.
        status.workload_observed_generation = None;
    } else if let Some(generation) = res.workload_generation {
        status.workload_observed_generation = Some(generation.to_string());
    }
    let mut events = out.events.clone();
    if res.invalid.is_none() {
        let found = overlap::find(cluster, &resolved).await?;
        if let Some(message) = overlap::apply(&mut status, found, now) {
            tracing::warn!(rollout = %object.object_ref(), "{message}");
            events.push(weir_rollout::Event {
                reason: overlap::REASON.to_owned(),
                message,
                warning: true,
            });
        }
    }
    let mut restart_requeue = None;
    if res.invalid.is_none() {
        let mut after = resolved.clone();
        after.status = Some(status.clone());
        scale_workload(cluster, &after).await?;
        let plan = restart_pods(cluster, &after, &replica_sets, now).await?;
        if let Some(at) = plan.done {
            status.restarted_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at));
        }
        restart_requeue = plan.requeue;
    }
    refused::clear(&mut status);
    if ro.status.as_ref() != Some(&status) {
        let mut updated = object.clone();
        let value = serde_json::to_value(&status).map_err(|e| e.to_string())?;
        updated.data.insert("status".into(), value);
        match cluster.update_status(&rt("rollouts"), updated).await {
            Ok(_) => record_events(cluster, object, &events, now).await,
            Err(Error::Conflict { .. }) => return Ok(Action::requeue(CONFLICT_RETRY)),
            Err(Error::NotFound { .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(format!("writing status: {e}")),
        }
    }
    let requeue = out
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::RequeueAfter(d) => Some(*d),
            _ => None,
        })
        .chain(restart_requeue)
        .min();
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Records on the ReplicaSet the ephemeral metadata its pods now carry. The ReplicaSet is
/// read again: this pass may have scaled it and relabelled pods make the ReplicaSet
/// controller write its status, and a conflict here would leave pods relabelled without the
/// traffic change that goes with it until the next pass.
async fn record_ephemeral<C: Cluster>(
    cluster: &C,
    ns: Option<&str>,
    name: &str,
    desired: Option<&PodTemplateMetadata>,
) -> Result<(), String> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let rs = match cluster.get(&rt("replicasets"), ns, name).await {
            Ok(rs) => rs,
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(format!("reading ReplicaSet {name}: {e}")),
        };
        let Some(updated) = replicaset::sync_ephemeral(&rs, desired) else {
            return Ok(());
        };
        match cluster.update(&rt("replicasets"), updated).await {
            Ok(_) | Err(Error::NotFound { .. }) => return Ok(()),
            Err(Error::Conflict { .. }) if attempts < 5 => continue,
            Err(e) => return Err(format!("updating ReplicaSet {name}: {e}")),
        }
    }
}

/// A ReplicaSet whose pods' ephemeral metadata must change: Argo's ephemeral metadata gives
/// the stable ReplicaSet's pods `stableMetadata` and the canary's `canaryMetadata`.
#[derive(Debug)]
struct Relabel {
    namespace: Option<String>,
    replica_set: String,
    desired: Option<PodTemplateMetadata>,
    patch: serde_json::Value,
    pods: Vec<String>,
}

/// Which of a ReplicaSet's pods [`relabel_pods`] patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    First,
    Second,
}

/// The ReplicaSets whose pods need new ephemeral metadata, with those pods.
async fn ephemeral_relabels<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    new_hash: &str,
    replica_sets: &[Object],
) -> Result<Vec<Relabel>, String> {
    let stable = ro.status.as_ref().and_then(|s| s.stable_rs.clone()).unwrap_or_default();
    let ns = ro.metadata.namespace.as_deref();
    let mut relabels = Vec::new();
    for rs in replica_sets {
        let hash = rs.label(weir_rollout::hash::POD_TEMPLATE_HASH_LABEL).unwrap_or("");
        if hash.is_empty() || (hash != new_hash && hash != stable) {
            continue;
        }
        let desired = replicaset::desired_ephemeral(ro, hash, new_hash);
        if replicaset::sync_ephemeral(rs, desired.as_ref()).is_none() {
            continue;
        }
        let previous = replicaset::recorded_ephemeral(rs);
        let patch = replicaset::pod_ephemeral_patch(previous.as_ref(), desired.as_ref());
        let pods = owned(cluster, "pods", ns, rs.uid()).await?;
        relabels.push(Relabel {
            namespace: ns.map(str::to_owned),
            replica_set: rs.name().to_owned(),
            desired,
            patch,
            pods: pods.iter().map(|p| p.name().to_owned()).collect(),
        });
    }
    Ok(relabels)
}

/// Patches the ephemeral metadata onto half of each ReplicaSet's pods.
///
/// Make before break: the pass relabels the first half (rounded down), then drives traffic,
/// then relabels the rest, and only then records the change on the ReplicaSet (a pass cut
/// short is repeated whole). Subsets may select on ephemeral labels, as the demo's
/// DestinationRule does with `version: canary|stable`: when a promoted canary's pods become
/// stable, the subset traffic leaves keeps pods until the route has moved off it, and the one
/// it moves to already has pods, so no request meets an empty subset. (One pod cannot be in
/// both; with a single replica the switch is as short as two writes.)
async fn relabel_pods<C: Cluster>(
    cluster: &C,
    relabels: &[Relabel],
    half: Half,
) -> Result<(), String> {
    for relabel in relabels {
        let (first, second) = relabel.pods.split_at(relabel.pods.len() / 2);
        let pods = if half == Half::First { first } else { second };
        for pod in pods {
            let patch = weir_cluster::Patch::Merge(relabel.patch.clone());
            let ns = relabel.namespace.as_deref();
            let result =
                cluster.patch(&rt("pods"), ns, pod, &patch, weir_cluster::Subresource::Main).await;
            match result {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(format!("patching pod {pod}: {e}")),
            }
        }
    }
    Ok(())
}

/// `workloadRef.scaleDown`: the referenced Deployment's replicas follow the Rollout.
async fn scale_workload<C: Cluster>(cluster: &C, ro: &Rollout) -> Result<(), String> {
    let Some(replicas) = workload::workload_replicas(ro) else {
        return Ok(());
    };
    let Some(name) = ro.spec.workload_ref.as_ref().and_then(|w| w.name.clone()) else {
        return Ok(());
    };
    let ns = ro.metadata.namespace.as_deref();
    let deployments = rt("deployments");
    let current = cluster.get(&deployments, ns, &name).await.map_err(|e| e.to_string())?;
    let have = current.field("spec").and_then(|s| s.get("replicas")).and_then(|v| v.as_i64());
    if have == Some(i64::from(replicas)) {
        return Ok(());
    }
    let patch = weir_cluster::Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}}));
    cluster
        .patch(&deployments, ns, &name, &patch, weir_cluster::Subresource::Main)
        .await
        .map_err(|e| format!("scaling Deployment {name:?} to {replicas}: {e}"))?;
    Ok(())
}

/// `spec.restartAt`: deletes the pods [`restart::plan`] picks; returns the plan.
async fn restart_pods<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    replica_sets: &[Object],
    now: Timestamp,
) -> Result<restart::RestartPlan, String> {
    if ro.spec.restart_at.is_none() {
        return Ok(restart::RestartPlan::default());
    }
    let ns = ro.metadata.namespace.as_deref();
    let mut pods = Vec::new();
    for rs in replica_sets {
        pods.extend(owned(cluster, "pods", ns, rs.uid()).await?.iter().map(restart::PodView::of));
    }
    let plan = restart::plan(ro, &pods, now);
    for name in &plan.delete {
        let deleted =
            cluster.delete(&rt("pods"), ns, name, &weir_cluster::DeleteParams::default()).await;
        match deleted {
            Ok(_) | Err(Error::NotFound { .. }) => {
                tracing::info!(pod = %name, "restarting pod (created before spec.restartAt)");
            }
            Err(e) => return Err(format!("restarting pod {name}: {e}")),
        }
    }
    Ok(plan)
}

/// A hash collision: `status.collisionCount` grows (nothing else of this pass is kept) and
/// the next pass computes another hash.
async fn record_collision<C: Cluster>(
    cluster: &C,
    object: &Object,
    ro: &Rollout,
) -> Result<Action, String> {
    let mut status = ro.status.clone().unwrap_or_default();
    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
    let mut updated = object.clone();
    let value = serde_json::to_value(&status).map_err(|e| e.to_string())?;
    updated.data.insert("status".into(), value);
    match cluster.update_status(&rt("rollouts"), updated).await {
        Ok(_) | Err(Error::Conflict { .. }) => Ok(Action::requeue(CONFLICT_RETRY)),
        Err(Error::NotFound { .. }) => Ok(Action::await_change()),
        Err(e) => Err(format!("writing status: {e}")),
    }
}

/// Records `events` as core Events on the Rollout (best effort: a failure is logged). Called
/// only after the status write they describe succeeded, so a pass that lost its write does
/// not report what did not happen.
async fn record_events<C: Cluster>(
    cluster: &C,
    rollout: &Object,
    events: &[weir_rollout::Event],
    now: Timestamp,
) {
    for event in events {
        let record = weir_cluster::EventRecord {
            reason: &event.reason,
            message: &event.message,
            warning: event.warning,
            component: "weir-rollout-controller",
        };
        if let Err(e) = weir_cluster::record_event(cluster, rollout, record, now).await {
            tracing::warn!(rollout = %rollout.name(), "cannot record event {}: {e}", event.reason);
        }
    }
}
