//! The blue-green strategy as one pure reconcile pass (Argo's `rolloutBlueGreen`, spec
//! §3.13): the new ReplicaSet comes up behind the preview service (at `previewReplicaCount`
//! if set), pre-promotion analysis runs, an optional pause (`autoPromotionEnabled: false`
//! or `autoPromotionSeconds`) waits, the active service switches, post-promotion analysis
//! decides whether the new ReplicaSet becomes stable, and old ReplicaSets are scaled down
//! after `scaleDownDelaySeconds`. An abort puts the active service back on stable.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_model::rollouts::{AnalysisPhase, BlueGreenStrategy, PauseCondition, RolloutAnalysis};

use crate::SCALE_DOWN_DEADLINE_ANNOTATION;
use crate::canary::{AnalysisKind, Command, Pass};
use crate::canary_analysis::{INCONCLUSIVE_PAUSE, create_or_wait, is_terminal, run_status};
use crate::replicas::ReplicaSetView;

/// Pause reason while waiting for a (manual or timed) promotion.
pub const BLUE_GREEN_PAUSE: &str = "BlueGreenPause";

/// What an analysis of this pass says.
enum Gate {
    Pass,
    Wait,
    Abort(String),
}

pub(crate) fn run(pass: &mut Pass<'_>) {
    let Some(bg) = pass.ro.spec.blue_green().cloned() else {
        return;
    };
    if template_changed(pass) {
        reset(pass);
        // Argo reconciles the preview service before it resets the status, so a new
        // template is previewed in the same pass (not on the initial deploy).
        let previewing = !selector(pass, true).is_empty() && !pass.ro.spec.is_paused();
        if let Some(preview) = bg.preview_service.as_deref().filter(|p| !p.is_empty() && previewing)
        {
            switch(pass, preview, false);
        }
        if previewing && let Some(reason) = fast_rollback(pass, &bg) {
            switch(pass, &bg.active_service, true);
            promote(pass, &reason);
        }
        return;
    }
    let Some(new) = pass.new_rs.clone() else {
        return;
    };
    let replicas = pass.ro.spec.replicas();
    let active = selector(pass, true);
    let stable = pass.stable_hash();

    // First deploy: no active selector yet, straight to the new ReplicaSet.
    if active.is_empty() || stable.is_empty() {
        if scale(pass, &new, replicas) {
            return;
        }
        if new.available_replicas >= replicas {
            switch(pass, &bg.active_service, true);
            if let Some(preview) = bg.preview_service.as_deref().filter(|p| !p.is_empty()) {
                switch(pass, preview, false);
            }
            promote(pass, "Initial deploy");
        }
        return;
    }

    if pass.aborted() {
        // As for a canary: runs from before the abort are not read again after a retry.
        if pass.status.aborted_at.is_none() {
            pass.status.aborted_at =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(pass.now()));
        }
        return abort(pass, &bg, &new);
    }
    if pass.ro.spec.is_paused() {
        return;
    }

    // The preview service follows the new ReplicaSet at once.
    if let Some(preview) = bg.preview_service.as_deref().filter(|p| !p.is_empty())
        && selector(pass, false) != pass.new_hash
    {
        switch(pass, preview, false);
    }
    let promote_full = pass.status.promote_full == Some(true);
    let checkpoint =
        pass.status.blue_green.as_ref().and_then(|b| b.scale_up_preview_check_point) == Some(true);
    let switched = active == pass.new_hash;
    let target = match bg.preview_replica_count {
        Some(preview) if !switched && !promote_full && !checkpoint => preview,
        _ => replicas,
    };
    if scale(pass, &new, target) {
        return;
    }
    let saturated = new.replicas() == target && new.available_replicas >= target;

    if !switched {
        if !saturated {
            return;
        }
        if !promote_full {
            match analysis_gate(
                pass,
                bg.pre_promotion_analysis.as_ref(),
                AnalysisKind::PrePromotion,
            ) {
                Gate::Pass => {}
                Gate::Wait => return,
                Gate::Abort(detail) => {
                    pass.set_abort(format!("PrePromotion analysis phase error/failed: {detail}"));
                    return;
                }
            }
            if !pause_done(pass, &bg) {
                return;
            }
            if bg.preview_replica_count.is_some() && !checkpoint {
                pass.status
                    .blue_green
                    .get_or_insert_with(Default::default)
                    .scale_up_preview_check_point = Some(true);
                if scale(pass, &new, replicas) {
                    return;
                }
                if new.available_replicas < replicas {
                    return;
                }
            }
        }
        switch(pass, &bg.active_service, true);
        return;
    }

    // Active is on the new ReplicaSet: post-promotion analysis decides.
    if !promote_full && !pass.fully_promoted() {
        match analysis_gate(pass, bg.post_promotion_analysis.as_ref(), AnalysisKind::PostPromotion)
        {
            Gate::Pass => {}
            Gate::Wait => return,
            Gate::Abort(detail) => {
                pass.set_abort(format!("PostPromotion analysis phase error/failed: {detail}"));
                return abort(pass, &bg, &new);
            }
        }
    }
    if !pass.fully_promoted() {
        promote(
            pass,
            if promote_full { "Full promotion requested" } else { "Completed blue-green update" },
        );
    }
    scale_down_old(pass, &bg);
}

/// Argo's fast-tracked rollback (`isBlueGreenFastTracked`, `shouldFullPromote`): the template
/// went back to a ReplicaSet that still runs all its pods, because it is within its
/// `scaleDownDelaySeconds` (a `scale-down-deadline`) or within `rollbackWindow`. It becomes
/// active and stable at once: no preview pause, no pre- or post-promotion analysis. Decided
/// on the pass that sees the template change (an abort's deadline on the new ReplicaSet, seen
/// after a retry, is no rollback). Returns the promotion's reason.
fn fast_rollback(pass: &mut Pass<'_>, bg: &BlueGreenStrategy) -> Option<String> {
    let new = pass.new_rs.clone().filter(|_| !pass.created_rs)?;
    let replicas = pass.ro.spec.replicas();
    if new.replicas() != replicas || new.available_replicas < replicas {
        return None;
    }
    let reason = if new.annotations.contains_key(SCALE_DOWN_DEADLINE_ANNOTATION) {
        if bg.post_promotion_analysis.is_some() {
            format!("Rollback to '{}' within scaleDownDelay", new.name)
        } else {
            "Completed blue-green update".to_owned()
        }
    } else if crate::canary::rollback_within_window(pass) {
        "Rollback within window".to_owned()
    } else {
        return None;
    };
    pass.commands.push(Command::SetScaleDownDeadline { name: new.name.clone(), deadline: None });
    Some(reason)
}

fn selector(pass: &Pass<'_>, active: bool) -> String {
    let bg = pass.status.blue_green.as_ref();
    let s = if active {
        bg.and_then(|b| b.active_selector.clone())
    } else {
        bg.and_then(|b| b.preview_selector.clone())
    };
    s.unwrap_or_default()
}

/// Points the active (or preview) service at the new ReplicaSet.
fn switch(pass: &mut Pass<'_>, service: &str, active: bool) {
    switch_to(pass, service, active, pass.new_hash.clone());
}

fn switch_to(pass: &mut Pass<'_>, service: &str, active: bool, hash: String) {
    if selector(pass, active) == hash {
        return;
    }
    pass.commands
        .push(Command::SetServiceSelector { service: service.to_owned(), hash: hash.clone() });
    let status = pass.status.blue_green.get_or_insert_with(Default::default);
    if active {
        status.active_selector = Some(hash);
    } else {
        status.preview_selector = Some(hash);
    }
    let what = if active { "active" } else { "preview" };
    pass.event(
        "SwitchService",
        format!("Switched selector for service '{service}' ({what})"),
        false,
    );
}

fn scale(pass: &mut Pass<'_>, rs: &ReplicaSetView, replicas: i32) -> bool {
    if rs.replicas() == replicas {
        return false;
    }
    for command in &mut pass.commands {
        if let Command::CreateReplicaSet { name, replicas: initial, .. } = command
            && *name == rs.name
        {
            *initial = replicas;
            return true;
        }
    }
    pass.commands.push(Command::ScaleReplicaSet { name: rs.name.clone(), replicas });
    true
}

fn template_changed(pass: &Pass<'_>) -> bool {
    pass.old.current_pod_hash.as_deref() != Some(pass.new_hash.as_str())
}

fn reset(pass: &mut Pass<'_>) {
    let st = &mut pass.status;
    st.current_pod_hash = Some(pass.new_hash.clone());
    st.current_step_hash = None;
    st.current_step_index = None;
    st.pause_conditions = None;
    st.controller_pause = None;
    st.abort = None;
    st.aborted_at = None;
    st.promote_full = None;
    if let Some(bg) = st.blue_green.as_mut() {
        bg.pre_promotion_analysis_run_status = None;
        bg.post_promotion_analysis_run_status = None;
        bg.scale_up_preview_check_point = None;
    }
}

/// The pre/post-promotion AnalysisRun of the new ReplicaSet.
fn analysis_gate(
    pass: &mut Pass<'_>,
    analysis: Option<&RolloutAnalysis>,
    kind: AnalysisKind,
) -> Gate {
    let Some(analysis) = analysis.filter(|a| a.templates.as_ref().is_some_and(|t| !t.is_empty()))
    else {
        return Gate::Pass;
    };
    let aborted_at = pass.status.aborted_at.as_ref().map(|t| t.0);
    let run = pass
        .observed
        .analysis_runs
        .iter()
        .filter(|r| r.kind == kind && r.pod_hash == pass.new_hash)
        .find(|r| !crate::canary_analysis::before_abort(r, aborted_at))
        .cloned();
    let Some(run) = run else {
        let bg = pass.status.blue_green.as_ref();
        let recorded = match kind {
            AnalysisKind::PrePromotion => {
                bg.and_then(|b| b.pre_promotion_analysis_run_status.as_ref())
            }
            _ => bg.and_then(|b| b.post_promotion_analysis_run_status.as_ref()),
        }
        .map(|s| s.name.clone());
        let infix = if kind == AnalysisKind::PrePromotion { "pre" } else { "post" };
        let name = pass.ro.metadata.name.as_deref().unwrap_or("");
        let base = format!("{name}-{}-{}-{infix}", pass.new_hash, pass.revision);
        create_or_wait(pass, base, recorded, kind, analysis.clone());
        return Gate::Wait;
    };
    let status = run_status(&run);
    let bg = pass.status.blue_green.get_or_insert_with(Default::default);
    match kind {
        AnalysisKind::PrePromotion => bg.pre_promotion_analysis_run_status = Some(status),
        _ => bg.post_promotion_analysis_run_status = Some(status),
    }
    match run.phase {
        Some(AnalysisPhase::Successful) => Gate::Pass,
        Some(AnalysisPhase::Failed | AnalysisPhase::Error) => Gate::Abort(run.message.clone()),
        Some(AnalysisPhase::Inconclusive) => {
            let resumed = pass.status.controller_pause == Some(true)
                && pass.status.pause_conditions.as_ref().is_none_or(Vec::is_empty);
            if resumed {
                return Gate::Pass;
            }
            add_pause(pass, INCONCLUSIVE_PAUSE);
            Gate::Wait
        }
        phase => {
            debug_assert!(!is_terminal(phase));
            Gate::Wait
        }
    }
}

fn add_pause(pass: &mut Pass<'_>, reason: &str) {
    if pass.has_pause_condition(reason) {
        return;
    }
    let start_time = Time(pass.now());
    pass.status
        .pause_conditions
        .get_or_insert_with(Vec::new)
        .push(PauseCondition { reason: reason.to_owned(), start_time });
    pass.status.controller_pause = Some(true);
}

/// `autoPromotionEnabled: false` waits for a user; `autoPromotionSeconds` for the clock.
fn pause_done(pass: &mut Pass<'_>, bg: &BlueGreenStrategy) -> bool {
    let timed = bg.auto_promotion_seconds() > 0 && bg.auto_promotion_enabled();
    if bg.auto_promotion_enabled() && !timed {
        return true;
    }
    let started = pass
        .status
        .pause_conditions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|p| p.reason == BLUE_GREEN_PAUSE)
        .map(|p| p.start_time.0);
    match started {
        Some(start) if timed => {
            let end = start.as_second() + i64::from(bg.auto_promotion_seconds());
            let now = pass.now().as_second();
            if now >= end {
                pass.status.pause_conditions = None;
                pass.status.controller_pause = None;
                return true;
            }
            pass.requeue_after(Duration::from_secs(u64::try_from(end - now).unwrap_or(0)));
            false
        }
        Some(_) => false,
        None if pass.status.controller_pause == Some(true) => true,
        None => {
            add_pause(pass, BLUE_GREEN_PAUSE);
            if timed {
                let secs = u64::try_from(bg.auto_promotion_seconds()).unwrap_or(0);
                pass.requeue_after(Duration::from_secs(secs));
            }
            false
        }
    }
}

fn promote(pass: &mut Pass<'_>, reason: &str) {
    pass.status.stable_rs = Some(pass.new_hash.clone());
    pass.status.promote_full = None;
    pass.status.pause_conditions = None;
    pass.status.controller_pause = None;
    let (revision, hash) = (pass.revision, pass.new_hash.clone());
    pass.event(
        "RolloutCompleted",
        format!("Rollout completed update to revision {revision} ({hash}): {reason}"),
        false,
    );
}

/// Abort: active back on stable; the new ReplicaSet goes after `abortScaleDownDelaySeconds`
/// (0 keeps it).
fn abort(pass: &mut Pass<'_>, bg: &BlueGreenStrategy, new: &ReplicaSetView) {
    let stable = pass.stable_hash();
    switch_to(pass, &bg.active_service, true, stable);
    pass.status.pause_conditions = None;
    pass.status.controller_pause = None;
    let delay = i64::from(bg.abort_scale_down_delay_seconds());
    if delay == 0 || new.replicas() == 0 {
        return;
    }
    deadline_then_zero(pass, new, delay);
}

/// Sets `scale-down-deadline` once, scales to 0 when it has passed.
fn deadline_then_zero(pass: &mut Pass<'_>, rs: &ReplicaSetView, delay: i64) {
    let now = pass.now();
    let deadline: Option<Timestamp> =
        rs.annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION).and_then(|d| d.parse().ok());
    match deadline {
        None => {
            let at = Timestamp::from_second(now.as_second() + delay).unwrap_or(now);
            pass.commands
                .push(Command::SetScaleDownDeadline { name: rs.name.clone(), deadline: Some(at) });
            pass.requeue_after(Duration::from_secs(u64::try_from(delay).unwrap_or(0)));
        }
        Some(d) if d <= now => {
            scale(pass, rs, 0);
            pass.commands
                .push(Command::SetScaleDownDeadline { name: rs.name.clone(), deadline: None });
        }
        Some(d) => {
            let left = d.as_second() - now.as_second();
            pass.requeue_after(Duration::from_secs(u64::try_from(left).unwrap_or(0)));
        }
    }
}

/// After promotion: old ReplicaSets keep their pods for `scaleDownDelaySeconds` (the newest
/// `scaleDownDelayRevisionLimit` of them), the rest go to 0 at once.
fn scale_down_old(pass: &mut Pass<'_>, bg: &BlueGreenStrategy) {
    let mut old: Vec<ReplicaSetView> =
        pass.other_rss().into_iter().filter(|rs| rs.replicas() > 0).collect();
    old.sort_by_key(|rs| std::cmp::Reverse(rs.revision().unwrap_or(0)));
    let limit =
        bg.scale_down_delay_revision_limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(0));
    let delay = i64::from(bg.scale_down_delay_seconds());
    for (i, rs) in old.iter().enumerate() {
        if i >= limit || delay == 0 {
            scale(pass, rs, 0);
        } else {
            deadline_then_zero(pass, rs, delay);
        }
    }
}

#[cfg(test)]
#[path = "bluegreen_tests.rs"]
mod tests;
