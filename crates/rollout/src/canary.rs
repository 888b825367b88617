//! One pure reconcile pass of a Rollout (Argo's `rolloutCanary` plus `persistRolloutStatus`;
//! the blue-green path is in [`crate::bluegreen`]): from the Rollout, the observed ReplicaSets and AnalysisRuns and
//! `now`, the new status and the commands that move the world towards it.
//!
//! The pass is level-triggered: everything is decided from what is observed, at most one
//! scaling group moves per pass, and a step completes only once the observed ReplicaSets
//! are at the step's counts. Reconciling again with nothing new yields the same status and
//! no new commands, so a controller can crash anywhere and simply run the pass again.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use weir_model::rollouts::{
    AnalysisPhase, Rollout, RolloutAnalysis, RolloutStatus, SetHeaderRoute, SetMirrorRoute,
};

use crate::canary_analysis::{self, AnalysisVerdict};
use crate::canary_status;
use crate::conditions::{self, INVALID_SPEC, reason};
use crate::hash;
use crate::replicas::ReplicaSetView;
use crate::steps;

/// Requeue of a Rollout with an invalid spec.
pub const INVALID_SPEC_REQUEUE: Duration = Duration::from_secs(20);

/// Which AnalysisRun of a Rollout this is (label `rollout-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisKind {
    /// Runs alongside the steps (`strategy.canary.analysis`).
    Background,
    /// Runs as the `analysis` step at this index.
    Step(i32),
    /// Blue-green analysis before the active service switches.
    PrePromotion,
    /// Blue-green analysis after the active service switched.
    PostPromotion,
}

impl AnalysisKind {
    /// The `rollout-type` label value.
    pub fn label(self) -> &'static str {
        match self {
            AnalysisKind::Background => "Background",
            AnalysisKind::Step(_) => "Step",
            AnalysisKind::PrePromotion => "PrePromotion",
            AnalysisKind::PostPromotion => "PostPromotion",
        }
    }
}

/// What the engine needs to know about one AnalysisRun owned by the Rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRunView {
    /// `metadata.name`.
    pub name: String,
    /// From the `rollout-type` and `step-index` labels.
    pub kind: AnalysisKind,
    /// The `rollouts-pod-template-hash` label.
    pub pod_hash: String,
    /// `status.phase` (`None` while unset: pending).
    pub phase: Option<AnalysisPhase>,
    /// `status.message`.
    pub message: String,
    /// `spec.terminate` is set.
    pub terminating: bool,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
}

/// Everything observed for one reconcile pass.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// Every ReplicaSet the Rollout owns.
    pub replica_sets: &'a [ReplicaSetView],
    /// Every AnalysisRun the Rollout owns.
    pub analysis_runs: &'a [AnalysisRunView],
    /// The first validation error (`weir_model::validate`), if the spec is invalid.
    pub invalid_spec: Option<String>,
    /// The current time.
    pub now: Timestamp,
}

/// An action the controller must carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create the ReplicaSet of the current template (labels and selector get the hash).
    CreateReplicaSet {
        /// `<rollout>-<hash>`.
        name: String,
        /// The pod-template hash.
        hash: String,
        /// Its `rollout.argoproj.io/revision`.
        revision: i64,
        /// Initial `spec.replicas`.
        replicas: i32,
    },
    /// Set `spec.replicas` (and the `desired-replicas` annotation to `spec.replicas` of the
    /// Rollout).
    ScaleReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// The new `spec.replicas`.
        replicas: i32,
    },
    /// Raise an existing ReplicaSet's `rollout.argoproj.io/revision`: its template came back
    /// (a rollback in git, an undo), and as in Argo that makes it the newest revision.
    SetRevision {
        /// The ReplicaSet.
        name: String,
        /// Its new revision.
        revision: i64,
    },
    /// Set (`Some`) or remove (`None`) the `scale-down-deadline` annotation.
    SetScaleDownDeadline {
        /// The ReplicaSet.
        name: String,
        /// When it may be scaled to 0.
        deadline: Option<Timestamp>,
    },
    /// Delete an old ReplicaSet beyond `revisionHistoryLimit`.
    DeleteReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// Route traffic: `canary` percent to the canary hash, `stable` to the stable hash.
    SetWeight {
        /// Canary weight.
        canary: i32,
        /// Stable weight.
        stable: i32,
        /// Pod-template hash the canary subset/service selects.
        canary_hash: String,
        /// Pod-template hash the stable subset/service selects.
        stable_hash: String,
    },
    /// Apply a `setHeaderRoute` step (traffic routing).
    SetHeaderRoute(SetHeaderRoute),
    /// Apply a `setMirrorRoute` step (traffic routing).
    SetMirrorRoute(SetMirrorRoute),
    /// Remove every managed route (promotion, abort).
    RemoveManagedRoutes,
    /// Point a Service's `rollouts-pod-template-hash` selector at `hash` (blue-green active
    /// and preview services).
    SetServiceSelector {
        /// The Service.
        service: String,
        /// The pod-template hash to select.
        hash: String,
    },
    /// Create an AnalysisRun from the templates (name collisions get `.1`, `.2`, …).
    CreateAnalysisRun {
        /// `<rollout>-<hash>-<revision>[-<step>]`.
        name: String,
        /// Background or step.
        kind: AnalysisKind,
        /// Templates, args, dry-run and metadata to build it from.
        analysis: RolloutAnalysis,
        /// Labels: `rollout-type`, `rollouts-pod-template-hash`, `step-index`, the selector's.
        labels: BTreeMap<String, String>,
        /// The `rollout.argoproj.io/revision` annotation.
        revision: i64,
    },
    /// Set `spec.terminate: true` on a running AnalysisRun.
    CancelAnalysisRun {
        /// The AnalysisRun.
        name: String,
    },
    /// Reconcile again after this long (pause expiry, deadlines), if nothing else does.
    RequeueAfter(Duration),
}

/// An event to record on the Rollout.
pub use weir_model::Event;

/// The result of one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The status to persist (unchanged status → no write needed).
    pub status: RolloutStatus,
    /// What to do, in order.
    pub commands: Vec<Command>,
    /// Events to record.
    pub events: Vec<Event>,
}

/// Working state of one pass.
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    pub(crate) ro: &'a Rollout,
    pub(crate) observed: &'a Observed<'a>,
    pub(crate) old: RolloutStatus,
    pub(crate) status: RolloutStatus,
    pub(crate) commands: Vec<Command>,
    pub(crate) events: Vec<Event>,
    pub(crate) requeue: Option<Duration>,
    pub(crate) new_hash: String,
    pub(crate) new_rs: Option<ReplicaSetView>,
    pub(crate) created_rs: bool,
    pub(crate) revision: i64,
    /// A reason the update stopped this pass (abort message), if any.
    pub(crate) abort_detail: Option<String>,
}

impl Pass<'_> {
    pub(crate) fn event(&mut self, reason: &str, message: impl Into<String>, warning: bool) {
        self.events.push(Event { reason: reason.to_owned(), message: message.into(), warning });
    }

    pub(crate) fn requeue_after(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.observed.now
    }

    /// The Rollout as seen with the status of this pass (for the step/replica helpers).
    pub(crate) fn view(&self) -> Rollout {
        Rollout { status: Some(self.status.clone()), ..self.ro.clone() }
    }

    pub(crate) fn stable_hash(&self) -> String {
        self.status.stable_rs.clone().unwrap_or_default()
    }

    pub(crate) fn stable_rs(&self) -> Option<&ReplicaSetView> {
        let stable = self.status.stable_rs.as_deref().filter(|s| !s.is_empty())?;
        self.observed.replica_sets.iter().find(|rs| rs.hash == stable)
    }

    pub(crate) fn other_rss(&self) -> Vec<ReplicaSetView> {
        let stable = self.stable_hash();
        self.observed
            .replica_sets
            .iter()
            .filter(|rs| rs.hash != self.new_hash && rs.hash != stable)
            .cloned()
            .collect()
    }

    pub(crate) fn aborted(&self) -> bool {
        self.status.abort.unwrap_or(false)
    }

    pub(crate) fn fully_promoted(&self) -> bool {
        self.status.stable_rs.as_deref() == Some(self.new_hash.as_str())
    }

    pub(crate) fn steps_len(&self) -> i32 {
        i32::try_from(steps::steps(self.ro).len()).unwrap_or(i32::MAX)
    }

    pub(crate) fn set_abort(&mut self, detail: String) {
        if !self.aborted() {
            self.status.abort = Some(true);
            self.abort_detail = Some(detail);
        }
    }

    pub(crate) fn has_pause_condition(&self, reason: &str) -> bool {
        self.status.pause_conditions.as_deref().unwrap_or(&[]).iter().any(|p| p.reason == reason)
    }
}

/// One reconcile pass of a canary Rollout. `ro.spec.template` must hold the resolved pod
/// template (the controller copies it from `workloadRef`).
pub fn reconcile(ro: &Rollout, observed: &Observed<'_>) -> Reconciled {
    let old = ro.status.clone().unwrap_or_default();
    let template = ro.spec.template.clone().unwrap_or_default();
    let new_hash = hash::pod_template_hash(&template, old.collision_count);
    let new_rs = observed.replica_sets.iter().find(|rs| rs.hash == new_hash).cloned();
    // Argo's `SetNewReplicaSetAnnotations`: the new ReplicaSet's revision is one more than
    // every other's, so a template that comes back is a new revision (and its AnalysisRuns get
    // new names instead of finding the old, finished ones).
    let max_other = observed
        .replica_sets
        .iter()
        .filter(|rs| rs.hash != new_hash)
        .filter_map(ReplicaSetView::revision)
        .max()
        .unwrap_or(0);
    let revision = match &new_rs {
        Some(rs) => rs.revision().filter(|own| *own > max_other).unwrap_or(max_other + 1),
        None => max_other + 1,
    };
    let raise_revision = new_rs
        .as_ref()
        .filter(|rs| rs.revision() != Some(revision))
        .map(|rs| Command::SetRevision { name: rs.name.clone(), revision });
    let mut pass = Pass {
        ro,
        observed,
        status: old.clone(),
        old,
        commands: raise_revision.into_iter().collect(),
        events: Vec::new(),
        requeue: None,
        new_hash,
        new_rs,
        created_rs: false,
        revision,
        abort_detail: None,
    };
    run(&mut pass);
    canary_analysis::forget_runs_before_retry(&mut pass);
    canary_status::finish(&mut pass);
    if let Some(after) = pass.requeue {
        pass.commands.push(Command::RequeueAfter(after));
    }
    Reconciled { status: pass.status, commands: pass.commands, events: pass.events }
}

fn run(pass: &mut Pass<'_>) {
    let ro = pass.ro;
    if let Some(message) = pass.observed.invalid_spec.clone() {
        return invalid(pass, message);
    }
    if ro.spec.canary().is_none() && ro.spec.blue_green().is_none() {
        let message = "spec.strategy: a canary or blueGreen strategy is required".to_owned();
        return invalid(pass, message);
    }
    if let Some(message) = unsupported_step_message(ro) {
        return invalid(pass, message);
    }
    conditions::remove_condition(&mut pass.status, INVALID_SPEC);

    if pass.new_rs.is_none() {
        pass.created_rs = true;
        let name =
            hash::replica_set_name(ro.metadata.name.as_deref().unwrap_or(""), &pass.new_hash);
        pass.commands.push(Command::CreateReplicaSet {
            name: name.clone(),
            hash: pass.new_hash.clone(),
            revision: pass.revision,
            replicas: 0,
        });
        pass.new_rs = Some(ReplicaSetView {
            name,
            hash: pass.new_hash.clone(),
            spec_replicas: Some(0),
            ..ReplicaSetView::default()
        });
        pass.event(
            reason::NEW_RS_CREATED,
            format!("Created ReplicaSet {} (revision {})", pass.new_hash, pass.revision),
            false,
        );
    }

    // An abort of a finished update has nothing to undo. A first revision is stable at once
    // but not finished until its pods are available: a deadline abort of it stays.
    let finished =
        pass.new_rs.as_ref().is_some_and(|rs| rs.available_replicas >= ro.spec.replicas());
    if pass.fully_promoted() && pass.aborted() && finished {
        pass.status.abort = None;
    }
    if ro.spec.blue_green().is_some() {
        return crate::bluegreen::run(pass);
    }
    if template_or_steps_changed(pass) {
        reset_status(pass);
        return;
    }
    if pass.status.promote_full == Some(true) && !pass.fully_promoted() {
        // `promote --full` clears the pauses and the abort (Argo's rolloutCanary).
        pass.status.pause_conditions = None;
        pass.status.controller_pause = None;
        pass.status.abort = None;
    }
    if pass.aborted() && pass.status.aborted_at.is_none() {
        pass.status.aborted_at =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(pass.now()));
    }

    let verdict = canary_analysis::reconcile(pass);
    if let AnalysisVerdict::Abort(detail) = &verdict {
        pass.set_abort(detail.clone());
    }
    if pass.aborted() {
        apply_abort(pass);
    }
    if ro.spec.is_paused() {
        return;
    }
    crate::canary_scale::reconcile(pass);
    if !pass.aborted() && verdict != AnalysisVerdict::Paused {
        crate::canary_steps::progress(pass, verdict == AnalysisVerdict::StepSucceeded);
    }
}

/// Argo's `InvalidSpec` condition: `The Rollout "<name>" is invalid: <first problem>`.
pub(crate) fn invalid(pass: &mut Pass<'_>, message: String) {
    let name = pass.ro.metadata.name.as_deref().unwrap_or("");
    let message = format!("The Rollout \"{name}\" is invalid: {message}");
    let cond =
        conditions::new_condition(INVALID_SPEC, "True", reason::INVALID_SPEC, message, pass.now());
    let unchanged = conditions::get_condition(&pass.status, INVALID_SPEC)
        .is_some_and(|c| c.message == cond.message && c.status == "True");
    if !unchanged {
        conditions::remove_condition(&mut pass.status, INVALID_SPEC);
        conditions::set_condition(&mut pass.status, cond);
    }
    pass.requeue_after(INVALID_SPEC_REQUEUE);
}

/// Steps weir does not execute yet are reported, never skipped silently.
fn unsupported_step_message(ro: &Rollout) -> Option<String> {
    steps::steps(ro).iter().enumerate().find_map(|(i, s)| {
        let kind = if s.experiment.is_some() {
            "experiment"
        } else if s.plugin.is_some() {
            "plugin"
        } else {
            return None;
        };
        Some(format!(
            "spec.strategy.canary.steps[{i}].{kind}: {kind} steps are not supported by weir yet"
        ))
    })
}

/// `PodTemplateOrStepsChanged`.
fn template_or_steps_changed(pass: &Pass<'_>) -> bool {
    let step_hash = hash::step_hash(pass.ro);
    let old_step_hash = pass.old.current_step_hash.as_deref().unwrap_or("");
    let old_pod_hash = pass.old.current_pod_hash.as_deref().unwrap_or("");
    old_step_hash.is_empty()
        || old_step_hash != step_hash
        || (!old_pod_hash.is_empty() && old_pod_hash != pass.new_hash)
}

/// `resetRolloutStatus`: a new template or new steps start the steps again (or skip them
/// when going back to the stable template).
fn reset_status(pass: &mut Pass<'_>) {
    let len = pass.steps_len();
    let st = &mut pass.status;
    st.current_pod_hash = Some(pass.new_hash.clone());
    st.current_step_hash = Some(hash::step_hash(pass.ro));
    st.pause_conditions = None;
    st.controller_pause = None;
    st.abort = None;
    st.aborted_at = None;
    st.promote_full = None;
    if let Some(canary) = st.canary.as_mut() {
        canary.current_step_analysis_run_status = None;
        canary.current_background_analysis_run_status = None;
    }
    let to_stable = st.stable_rs.as_deref() == Some(pass.new_hash.as_str());
    let within_window = !to_stable && rollback_within_window(pass);
    let st = &mut pass.status;
    st.current_step_index = if len == 0 {
        None
    } else if to_stable || within_window {
        Some(len)
    } else {
        Some(0)
    };
    if len > 0 && to_stable && !st.stable_rs.as_deref().unwrap_or("").is_empty() {
        pass.event("SkipSteps", "Rollback to stable ReplicaSets", false);
    } else if len > 0 && within_window {
        pass.event("SkipSteps", "Rollback within window", false);
    }
}

/// `rollbackWindow.revisions`: the new template is an older ReplicaSet that still has
/// replicas, at most that many revisions behind stable (§3.3 b): its steps are skipped.
pub(crate) fn rollback_within_window(pass: &Pass<'_>) -> bool {
    let Some(window) = pass.ro.spec.rollback_window.as_ref().and_then(|w| w.revisions) else {
        return false;
    };
    let (Some(new), Some(stable)) = (pass.new_rs.as_ref(), pass.stable_rs()) else {
        return false;
    };
    if pass.created_rs || new.replicas() == 0 {
        return false;
    }
    match (new.revision(), stable.revision()) {
        (Some(n), Some(s)) => n < s && s - n <= i64::from(window),
        _ => false,
    }
}

/// Abort: back to the first step, pauses cleared, analysis cancelled, routes removed.
fn apply_abort(pass: &mut Pass<'_>) {
    let len = pass.steps_len();
    pass.status.current_step_index = if len == 0 {
        None
    } else if pass.fully_promoted() {
        Some(len)
    } else {
        Some(0)
    };
    pass.status.pause_conditions = None;
    pass.status.controller_pause = None;
    if pass.status.aborted_at.is_none() {
        pass.status.aborted_at =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(pass.now()));
    }
    let was_aborted = conditions::get_condition(&pass.old, conditions::PROGRESSING)
        .is_some_and(|c| c.reason == reason::ABORTED);
    if !was_aborted {
        let message =
            conditions::aborted_message(pass.revision, pass.abort_detail.as_deref().unwrap_or(""));
        pass.event(reason::ABORTED, message, true);
        if steps::has_traffic_routing(pass.ro) {
            pass.commands.push(Command::RemoveManagedRoutes);
        }
    }
}

#[cfg(test)]
#[path = "canary_tests.rs"]
mod tests;
