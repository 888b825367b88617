//! Phases as status strings, and their order: which of two completed phases is worse.

use weir_model::rollouts::AnalysisPhase;

/// A status phase string as a phase; `""` (not assessed yet) and unknown strings are `None`.
pub fn parse_phase(s: &str) -> Option<AnalysisPhase> {
    AnalysisPhase::parse(s)
}

/// Whether a status phase string is one of the completed phases.
pub(crate) fn completed(s: &str) -> bool {
    parse_phase(s).is_some_and(AnalysisPhase::completed)
}

fn rank(p: AnalysisPhase) -> u8 {
    match p {
        AnalysisPhase::Successful => 0,
        AnalysisPhase::Running => 1,
        AnalysisPhase::Pending => 2,
        AnalysisPhase::Inconclusive => 3,
        AnalysisPhase::Error => 4,
        AnalysisPhase::Failed => 5,
    }
}

/// Argo's `IsWorse(current, new)`: `new` is strictly worse than `current`, in the order
/// Successful < Running < Pending < Inconclusive < Error < Failed.
pub fn is_worse(current: AnalysisPhase, new: AnalysisPhase) -> bool {
    rank(new) > rank(current)
}

/// Argo's `Worst`: the worse of two phases.
pub fn worst(a: AnalysisPhase, b: AnalysisPhase) -> AnalysisPhase {
    if is_worse(a, b) { b } else { a }
}
