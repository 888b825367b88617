//! AnalysisRuns of a canary (Argo's `reconcileAnalysisRuns`): background analysis from
//! `startingStep`, the `analysis` step, their verdicts (Successful → continue,
//! Inconclusive → pause, Failed/Error → abort) and cancellation of runs no longer wanted.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_model::rollouts::{
    AnalysisPhase, PauseCondition, RolloutAnalysis, RolloutAnalysisRunStatus,
};

use crate::canary::{AnalysisKind, AnalysisRunView, Command, Pass};
use crate::hash::POD_TEMPLATE_HASH_LABEL;
use crate::steps;

/// Pause reason for an Inconclusive AnalysisRun.
pub(crate) const INCONCLUSIVE_PAUSE: &str = "InconclusiveAnalysisRun";

/// What the AnalysisRuns say about this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnalysisVerdict {
    /// Nothing stops the rollout.
    Continue,
    /// The current `analysis` step's run succeeded.
    StepSucceeded,
    /// An Inconclusive run paused the rollout.
    Paused,
    /// A run failed: abort with this message.
    Abort(String),
}

pub(crate) fn is_terminal(phase: Option<AnalysisPhase>) -> bool {
    matches!(
        phase,
        Some(
            AnalysisPhase::Successful
                | AnalysisPhase::Failed
                | AnalysisPhase::Error
                | AnalysisPhase::Inconclusive
        )
    )
}

pub(crate) fn run_status(run: &AnalysisRunView) -> RolloutAnalysisRunStatus {
    RolloutAnalysisRunStatus {
        name: run.name.clone(),
        status: run.phase.unwrap_or(AnalysisPhase::Pending).as_str().to_owned(),
        message: Some(run.message.clone()).filter(|m| !m.is_empty()),
    }
}

/// A run that belongs to the time before an abort: while `abortedAt` is set, one created no
/// later than it; after a retry, one that was cancelled and has finished (the retry cancels
/// every run from before the abort, see [`forget_runs_before_retry`]). Creation times have
/// whole seconds, so the time alone cannot tell the runs a retry starts within the second of
/// the abort from the runs the abort ended.
pub(crate) fn before_abort(run: &AnalysisRunView, aborted_at: Option<Timestamp>) -> bool {
    let created_before = match (run.created, aborted_at) {
        (Some(created), Some(aborted_at)) => created <= aborted_at,
        _ => false,
    };
    let cancelled = run.terminating && run.phase.is_some_and(AnalysisPhase::completed);
    created_before || cancelled
}

/// After a retry (no longer aborted, `abortedAt` still set): the runs of the current
/// template from before the abort are cancelled, which marks them for [`before_abort`] for
/// good, and `abortedAt` is cleared, as Argo clears it once the retry's runs exist.
pub(crate) fn forget_runs_before_retry(pass: &mut Pass<'_>) {
    let Some(aborted_at) = pass.status.aborted_at.as_ref().map(|t| t.0) else {
        return;
    };
    if pass.aborted() {
        return;
    }
    let old: Vec<String> = pass
        .observed
        .analysis_runs
        .iter()
        .filter(|r| r.pod_hash == pass.new_hash && !r.terminating)
        .filter(|r| r.created.is_some_and(|created| created <= aborted_at))
        .map(|r| r.name.clone())
        .collect();
    for name in old {
        pass.commands.push(Command::CancelAnalysisRun { name });
    }
    pass.status.aborted_at = None;
}

pub(crate) fn reconcile(pass: &mut Pass<'_>) -> AnalysisVerdict {
    let ro = pass.ro;
    let Some(canary) = ro.spec.canary() else {
        return AnalysisVerdict::Continue;
    };
    let view = pass.view();
    let aborted_at = pass.status.aborted_at.as_ref().map(|t| t.0);
    // Runs of the current template, ignoring those from before a retried abort.
    let current: Vec<&AnalysisRunView> = pass
        .observed
        .analysis_runs
        .iter()
        .filter(|r| r.pod_hash == pass.new_hash)
        .filter(|r| !before_abort(r, aborted_at))
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    let mut verdict = AnalysisVerdict::Continue;
    let stopping =
        pass.aborted() || pass.fully_promoted() || pass.status.promote_full == Some(true);

    // Background analysis.
    let background =
        canary.analysis.as_ref().filter(|a| a.templates.as_ref().is_some_and(|t| !t.is_empty()));
    if let Some(bg) = background
        && !stopping
        && !pass.stable_hash().is_empty()
        && !steps::before_starting_step(&view)
    {
        let analysis = RolloutAnalysis {
            analysis_run_metadata: bg.analysis_run_metadata.clone(),
            args: bg.args.clone(),
            dry_run: bg.dry_run.clone(),
            measurement_retention: bg.measurement_retention.clone(),
            templates: bg.templates.clone(),
        };
        match current.iter().find(|r| r.kind == AnalysisKind::Background) {
            None if !pass.has_pause_condition(INCONCLUSIVE_PAUSE) => {
                let recorded = pass
                    .status
                    .canary
                    .as_ref()
                    .and_then(|c| c.current_background_analysis_run_status.as_ref())
                    .map(|s| s.name.clone());
                let base = format!("{}-{}-{}", ro_name(pass), pass.new_hash, pass.revision);
                wanted.push(create_or_wait(
                    pass,
                    base,
                    recorded,
                    AnalysisKind::Background,
                    analysis,
                ));
            }
            None => {}
            Some(run) => {
                wanted.push(run.name.clone());
                canary_status_mut(pass).current_background_analysis_run_status =
                    Some(run_status(run));
                verdict = judge(pass, run, "Background");
            }
        }
    }

    // The analysis step.
    let (step, index) = steps::current_step(&view);
    if let (Some(step), Some(index)) = (step, index)
        && let Some(analysis) = step.analysis.clone()
        && !stopping
    {
        match current.iter().find(|r| r.kind == AnalysisKind::Step(index)) {
            None if pass.status.pause_conditions.as_ref().is_none_or(Vec::is_empty) => {
                let recorded = pass
                    .status
                    .canary
                    .as_ref()
                    .and_then(|c| c.current_step_analysis_run_status.as_ref())
                    .map(|s| s.name.clone());
                let base =
                    format!("{}-{}-{}-{}", ro_name(pass), pass.new_hash, pass.revision, index);
                wanted.push(create_or_wait(
                    pass,
                    base,
                    recorded,
                    AnalysisKind::Step(index),
                    analysis,
                ));
            }
            None => {}
            Some(run) => {
                wanted.push(run.name.clone());
                canary_status_mut(pass).current_step_analysis_run_status = Some(run_status(run));
                let step_verdict = judge(pass, run, "Step-based");
                if run.phase == Some(AnalysisPhase::Successful) {
                    if verdict == AnalysisVerdict::Continue {
                        verdict = AnalysisVerdict::StepSucceeded;
                    }
                } else if step_verdict != AnalysisVerdict::Continue
                    && !matches!(verdict, AnalysisVerdict::Abort(_))
                {
                    verdict = step_verdict;
                }
            }
        }
    }

    // Cancel every other run still going.
    let cancel: Vec<String> = pass
        .observed
        .analysis_runs
        .iter()
        .filter(|r| !r.terminating && !is_terminal(r.phase) && !wanted.contains(&r.name))
        .map(|r| r.name.clone())
        .collect();
    for name in cancel {
        pass.commands.push(Command::CancelAnalysisRun { name });
    }
    verdict
}

fn ro_name<'a>(pass: &Pass<'a>) -> &'a str {
    pass.ro.metadata.name.as_deref().unwrap_or("")
}

fn canary_status_mut<'p>(pass: &'p mut Pass<'_>) -> &'p mut weir_model::rollouts::CanaryStatus {
    pass.status.canary.get_or_insert_with(Default::default)
}

fn judge(pass: &mut Pass<'_>, run: &AnalysisRunView, what: &str) -> AnalysisVerdict {
    match run.phase {
        Some(AnalysisPhase::Failed | AnalysisPhase::Error) => {
            AnalysisVerdict::Abort(format!("{what} analysis phase error/failed: {}", run.message))
        }
        Some(AnalysisPhase::Inconclusive) => {
            let resumed = pass.status.controller_pause == Some(true)
                && pass.status.pause_conditions.as_ref().is_none_or(Vec::is_empty);
            if resumed {
                return AnalysisVerdict::Continue;
            }
            if !pass.has_pause_condition(INCONCLUSIVE_PAUSE) {
                let start_time = Time(pass.now());
                pass.status
                    .pause_conditions
                    .get_or_insert_with(Vec::new)
                    .push(PauseCondition { reason: INCONCLUSIVE_PAUSE.to_owned(), start_time });
                pass.status.controller_pause = Some(true);
            }
            AnalysisVerdict::Paused
        }
        _ => AnalysisVerdict::Continue,
    }
}

/// Creates the run unless the status already names one of this base that is not observed
/// yet (created by an earlier pass). A name taken by an observed run (one from before a
/// retry) gets Argo's `.1`, `.2`, … suffix.
pub(crate) fn create_or_wait(
    pass: &mut Pass<'_>,
    base: String,
    recorded: Option<String>,
    kind: AnalysisKind,
    analysis: RolloutAnalysis,
) -> String {
    let observed = |n: &str| pass.observed.analysis_runs.iter().any(|r| r.name == n);
    if let Some(recorded) = recorded
        && (recorded == base || recorded.starts_with(&format!("{base}.")))
        && !observed(&recorded)
    {
        return recorded;
    }
    let mut name = base.clone();
    let mut suffix = 0;
    while observed(&name) {
        suffix += 1;
        name = format!("{base}.{suffix}");
    }
    create(pass, &name, kind, analysis);
    name
}

fn create(pass: &mut Pass<'_>, name: &str, kind: AnalysisKind, analysis: RolloutAnalysis) {
    let mut labels = BTreeMap::new();
    if let Some(match_labels) = pass.ro.spec.selector.as_ref().and_then(|s| s.match_labels.as_ref())
    {
        labels.extend(match_labels.clone());
    }
    if let Some(meta_labels) =
        analysis.analysis_run_metadata.as_ref().and_then(|m| m.labels.as_ref())
    {
        labels.extend(meta_labels.clone());
    }
    labels.insert("rollout-type".to_owned(), kind.label().to_owned());
    labels.insert(POD_TEMPLATE_HASH_LABEL.to_owned(), pass.new_hash.clone());
    if let AnalysisKind::Step(i) = kind {
        labels.insert("step-index".to_owned(), i.to_string());
    }
    let status = RolloutAnalysisRunStatus {
        name: name.to_owned(),
        status: AnalysisPhase::Pending.as_str().to_owned(),
        message: None,
    };
    match kind {
        AnalysisKind::Background => {
            canary_status_mut(pass).current_background_analysis_run_status = Some(status);
        }
        AnalysisKind::Step(_) => {
            canary_status_mut(pass).current_step_analysis_run_status = Some(status);
        }
        AnalysisKind::PrePromotion => {
            let bg = pass.status.blue_green.get_or_insert_with(Default::default);
            bg.pre_promotion_analysis_run_status = Some(status);
        }
        AnalysisKind::PostPromotion => {
            let bg = pass.status.blue_green.get_or_insert_with(Default::default);
            bg.post_promotion_analysis_run_status = Some(status);
        }
    }
    pass.commands.push(Command::CreateAnalysisRun {
        name: name.to_owned(),
        kind,
        analysis,
        labels,
        revision: pass.revision,
    });
}
