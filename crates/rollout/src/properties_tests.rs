//! Property tests of the canary engine over random rollouts and random histories (pods
//! turning ready, users promoting and aborting, analysis verdicts, time passing, lost
//! passes), on the simulated cluster of [`crate::test_world`]. The invariants:
//! - traffic weights always sum to 100 (status and every `SetWeight` command);
//! - once an analysis run of the update has Failed, that update is never promoted;
//! - an abort always ends with 100 % of traffic and all replicas on stable;
//! - reconcile is idempotent: the same input gives the same output, and a settled world
//!   reconciled again changes nothing; a pass lost after acting (crash before the status
//!   write) converges to the same state as the uninterrupted history.

use proptest::prelude::*;
use weir_model::rollouts::{AnalysisPhase, Rollout};

use crate::canary::Command;
use crate::test_world::{World, basic_rollout, hash_of, json, seed_rollout};

/// A step of the generated rollout.
#[derive(Debug, Clone)]
enum StepSpec {
    Weight(i32),
    Pause,
    TimedPause(i32),
    Analysis,
}

/// Something that happens to the world between passes.
#[derive(Debug, Clone)]
enum Op {
    /// One reconcile whose commands are executed and status persisted.
    Pass,
    /// One reconcile that executes only its first `n` commands and loses its status write.
    LostPass(usize),
    /// Every pod becomes ready.
    PodsReady,
    /// Reconcile with pods turning ready until nothing changes.
    Settle,
    /// A user clears the pause conditions (`promote` while paused).
    Promote,
    /// Time passes.
    Advance(i64),
    /// Every running analysis run of the update reaches this phase.
    Verdict(AnalysisPhase),
}

fn step_spec() -> impl Strategy<Value = StepSpec> {
    prop_oneof![
        3 => (0..=100i32).prop_map(StepSpec::Weight),
        1 => Just(StepSpec::Pause),
        1 => (1..120i32).prop_map(StepSpec::TimedPause),
        1 => Just(StepSpec::Analysis),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Pass),
        1 => (0..4usize).prop_map(Op::LostPass),
        2 => Just(Op::PodsReady),
        2 => Just(Op::Settle),
        2 => Just(Op::Promote),
        1 => (1..200i64).prop_map(Op::Advance),
        1 => prop_oneof![
            Just(AnalysisPhase::Successful),
            Just(AnalysisPhase::Failed),
            Just(AnalysisPhase::Inconclusive),
            Just(AnalysisPhase::Error),
        ]
        .prop_map(Op::Verdict),
    ]
}

/// How the generated rollout routes traffic.
#[derive(Debug, Clone, Copy)]
enum Routing {
    Basic,
    Istio,
    IstioDynamic,
}

fn routing() -> impl Strategy<Value = Routing> {
    prop_oneof![Just(Routing::Basic), Just(Routing::Istio), Just(Routing::IstioDynamic)]
}

fn steps_json(steps: &[StepSpec]) -> serde_json::Value {
    steps
        .iter()
        .map(|s| match s {
            StepSpec::Weight(w) => json!({"setWeight": w}),
            StepSpec::Pause => json!({"pause": {}}),
            StepSpec::TimedPause(d) => json!({"pause": {"duration": d}}),
            StepSpec::Analysis => json!({"analysis": {"templates": [{"templateName": "t"}]}}),
        })
        .collect()
}

fn rollout(routing: Routing, replicas: i32, steps: &[StepSpec], background: bool) -> Rollout {
    let steps = steps_json(steps);
    let mut ro = match routing {
        Routing::Basic => basic_rollout(steps.clone()),
        Routing::Istio | Routing::IstioDynamic => seed_rollout(),
    };
    ro.spec.replicas = Some(replicas);
    let canary = ro.spec.strategy.as_mut().and_then(|s| s.canary.as_mut()).expect("canary");
    canary.steps = Some(serde_json::from_value(steps).expect("steps"));
    canary.analysis = background
        .then(|| serde_json::from_value(json!({"templates": [{"templateName": "bg"}]})))
        .transpose()
        .expect("analysis");
    if matches!(routing, Routing::IstioDynamic) {
        canary.dynamic_stable_scale = Some(true);
        canary.scale_down_delay_seconds = None;
    }
    ro
}

fn routed(ro: &Rollout) -> bool {
    crate::steps::has_traffic_routing(ro)
}

/// Checks the per-pass invariants on one reconcile output.
fn check_weights(w: &World, out: &crate::Reconciled) -> Result<(), TestCaseError> {
    for command in &out.commands {
        if let Command::SetWeight { canary, stable, .. } = command {
            prop_assert_eq!(canary + stable, 100, "SetWeight {:?}", command);
            prop_assert!((0..=100).contains(canary), "canary weight {}", canary);
        }
    }
    if let Some(weights) = out.status.canary.as_ref().and_then(|c| c.weights.as_ref()) {
        let additional: i32 = weights.additional.iter().flatten().map(|d| d.weight).sum();
        prop_assert_eq!(
            weights.canary.weight + weights.stable.weight + additional,
            100,
            "status weights {:?}",
            weights
        );
    } else {
        prop_assert!(!routed(&w.ro) || w.ro.status.is_none(), "a routed rollout reports weights");
    }
    Ok(())
}

/// The pass of `w` as the engine computes it, checked for determinism.
fn deterministic_pass(w: &mut World) -> Result<crate::Reconciled, TestCaseError> {
    let first = w.pass();
    let second = w.pass();
    prop_assert_eq!(&first, &second, "the same input gives the same output");
    Ok(first)
}

/// Runs `ops` on `w`; returns the update's hash if one of its analysis runs Failed.
fn run_ops(w: &mut World, ops: &[Op]) -> Result<Option<String>, TestCaseError> {
    let mut failed: Option<String> = None;
    for op in ops {
        match op {
            Op::Pass => {
                let out = deterministic_pass(w)?;
                check_weights(w, &out)?;
                w.step();
            }
            Op::LostPass(n) => {
                let out = deterministic_pass(w)?;
                check_weights(w, &out)?;
                for command in out.commands.iter().take(*n) {
                    w.apply(command);
                }
            }
            Op::PodsReady => w.pods_ready(),
            Op::Settle => {
                settle_checked(w)?;
                w.assert_fixed_point();
            }
            Op::Promote => {
                if let Some(st) = w.ro.status.as_mut() {
                    st.pause_conditions = None;
                }
            }
            Op::Advance(secs) => w.advance(*secs),
            Op::Verdict(phase) => {
                let current = w.status().current_pod_hash.unwrap_or_default();
                let promoted = w.status().stable_rs.as_deref() == Some(current.as_str());
                for run in &mut w.runs {
                    let running = matches!(run.phase, None | Some(AnalysisPhase::Running));
                    if running && !run.terminating && run.pod_hash == current {
                        run.phase = Some(*phase);
                        run.message = format!("Metric \"m\" assessed {phase:?}");
                        let bad = matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error);
                        if bad && !promoted {
                            failed = Some(current.clone());
                        }
                    }
                }
            }
        }
        if let Some(hash) = &failed {
            let stable = w.status().stable_rs.unwrap_or_default();
            prop_assert_ne!(&stable, hash, "promoted after a failed analysis ({:?})", op);
        }
    }
    Ok(failed)
}

/// [`World::settle`] with the weight invariant checked on every pass.
fn settle_checked(w: &mut World) -> Result<(), TestCaseError> {
    for _ in 0..80 {
        let before = (w.ro.status.clone(), w.rss.clone());
        let out = deterministic_pass(w)?;
        check_weights(w, &out)?;
        w.step();
        w.pods_ready();
        let busy = out.commands.iter().any(|c| !matches!(c, Command::RequeueAfter(_)));
        if !busy && (w.ro.status.clone(), w.rss.clone()) == before {
            return Ok(());
        }
    }
    Err(TestCaseError::fail(format!("did not settle: {:#?}", w.ro.status)))
}

/// Settles, letting time pass until no deadline is pending.
fn settle_over_time(w: &mut World) -> Result<(), TestCaseError> {
    for _ in 0..10 {
        settle_checked(w)?;
        w.advance(3_600);
    }
    settle_checked(w)
}

fn new_world(ro: Rollout) -> World {
    let mut w = World::new(ro);
    w.settle();
    w.set_image("reviews:v2");
    w.step(); // the update is observed (an abort before that is reset with the steps)
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Weights sum to 100 on every pass; a failed analysis never promotes; passes are
    /// deterministic and settled worlds are fixed points.
    #[test]
    fn random_histories_keep_the_invariants(
        routing in routing(),
        replicas in 1..8i32,
        steps in prop::collection::vec(step_spec(), 0..6),
        background in any::<bool>(),
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let mut w = new_world(rollout(routing, replicas, &steps, background));
        let failed = run_ops(&mut w, &ops)?;
        settle_checked(&mut w)?;
        w.assert_fixed_point();
        if let Some(hash) = failed {
            let st = w.status();
            prop_assert_ne!(st.stable_rs.as_deref(), Some(hash.as_str()));
            prop_assert_eq!(st.abort, Some(true), "a failed analysis aborts");
            prop_assert_eq!(w.phase().0, "Degraded");
        }
    }

    /// Whatever happened before, an abort ends with every replica and all traffic on stable.
    #[test]
    fn abort_ends_with_everything_on_stable(
        routing in routing(),
        replicas in 1..8i32,
        steps in prop::collection::vec(step_spec(), 1..6),
        ops in prop::collection::vec(op(), 0..30),
    ) {
        let mut w = new_world(rollout(routing, replicas, &steps, false));
        run_ops(&mut w, &ops)?;
        let st = w.status();
        let (stable, current) = (st.stable_rs.unwrap_or_default(), hash_of("reviews:v2"));
        prop_assume!(stable != current, "already promoted: nothing to abort");
        w.ro.status.as_mut().expect("status").abort = Some(true);
        settle_over_time(&mut w)?;
        w.assert_fixed_point();
        prop_assert_eq!(w.status().stable_rs.unwrap_or_default(), stable.clone());
        prop_assert_eq!(w.replicas_of(&stable), replicas, "stable back to full size");
        prop_assert_eq!(w.replicas_of(&current), 0, "canary scaled down");
        if routed(&w.ro) {
            prop_assert_eq!(w.weights(), Some((0, 100)), "all traffic on stable");
        }
        prop_assert_eq!(w.phase().0, "Degraded");
    }

    /// A pass whose status write is lost (after some of its commands ran) changes nothing in
    /// the end: the history converges to the same settled world as without the crash.
    #[test]
    fn a_lost_pass_converges_to_the_same_state(
        routing in routing(),
        replicas in 1..8i32,
        steps in prop::collection::vec(step_spec(), 0..6),
        ops in prop::collection::vec(op(), 0..30),
        crash_at in 0..30usize,
        keep in 0..4usize,
    ) {
        lost_pass_case(routing, replicas, &steps, &ops, crash_at, keep)?;
    }
}

fn lost_pass_case(
    routing: Routing,
    replicas: i32,
    steps: &[StepSpec],
    ops: &[Op],
    crash_at: usize,
    keep: usize,
) -> Result<(), TestCaseError> {
    let ro = rollout(routing, replicas, steps, false);
    let at = crash_at.min(ops.len());
    let mut plain_ops = ops.to_vec();
    plain_ops.insert(at, Op::Pass);
    let mut crashed_ops = ops.to_vec();
    crashed_ops.splice(at..at, [Op::LostPass(keep), Op::Pass]);
    let mut plain = new_world(ro.clone());
    let mut crashed = new_world(ro);
    run_ops(&mut plain, &plain_ops)?;
    run_ops(&mut crashed, &crashed_ops)?;
    for w in [&mut plain, &mut crashed] {
        // Promote through every pause so both end fully rolled out.
        for _ in 0..12 {
            settle_over_time(w)?;
            if let Some(st) = w.ro.status.as_mut() {
                st.pause_conditions = None;
            }
        }
        settle_over_time(w)?;
    }
    let summary = |w: &World| {
        let st = w.status();
        let mut rss: Vec<_> = w.rss.iter().map(|r| (r.hash.clone(), r.replicas())).collect();
        rss.sort();
        (st.stable_rs, st.current_pod_hash, st.current_step_index, st.abort, w.weights(), rss)
    };
    prop_assert_eq!(summary(&plain), summary(&crashed));
    Ok(())
}
