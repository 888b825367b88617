//! What `weir rollouts get/list/status` print, as pure functions of objects read from the
//! cluster (`kubectl argo rollouts` layouts, spec §8): [`RolloutTree`] and [`render_get`]
//! for the summary and revision → ReplicaSet → Pod tree, [`render_list`] for the table,
//! [`status_line`] for `status`.

mod status;
mod summary;
mod tree;

use k8s_openapi::jiff::Timestamp;
use weir_cluster::{Cluster, Error, ListParams, Object};
use weir_model::rollouts::Rollout;
pub use weir_rollout::phase::RolloutPhase;
use weir_rollout::phase::get_rollout_phase;

use crate::execute::rt;
use crate::observe::controlled_by;

pub use status::{PodSummary, pod_summary, replica_set_status};
pub use summary::{canary_progress, render_list, status_line, tags};
pub use tree::render_get;

/// A Rollout with everything `get rollout` shows under it.
#[derive(Debug, Clone)]
pub struct RolloutTree {
    /// The Rollout as read.
    pub rollout: Object,
    /// The ReplicaSets it controls.
    pub replica_sets: Vec<Object>,
    /// The pods those ReplicaSets control.
    pub pods: Vec<Object>,
    /// The AnalysisRuns it controls.
    pub analysis_runs: Vec<Object>,
}

impl RolloutTree {
    /// Reads the Rollout `name` and what it owns.
    pub async fn read<C: Cluster>(cluster: &C, namespace: &str, name: &str) -> Result<Self, Error> {
        let ns = Some(namespace);
        let rollout = cluster.get(&rt("rollouts"), ns, name).await?;
        let params = ListParams::default();
        let uid = rollout.uid().to_owned();
        let owned = |items: Vec<Object>, uid: &str| -> Vec<Object> {
            items.into_iter().filter(|o| controlled_by(o, uid)).collect()
        };
        let replica_sets = owned(cluster.list(&rt("replicasets"), ns, &params).await?.items, &uid);
        let analysis_runs =
            owned(cluster.list(&rt("analysisruns"), ns, &params).await?.items, &uid);
        let all_pods = cluster.list(&rt("pods"), ns, &params).await?.items;
        let pods = all_pods
            .into_iter()
            .filter(|p| replica_sets.iter().any(|rs| controlled_by(p, rs.uid())))
            .collect();
        Ok(RolloutTree { rollout, replica_sets, pods, analysis_runs })
    }

    /// The Rollout, typed (a Rollout that does not parse shows as an empty one).
    pub fn typed(&self) -> Rollout {
        typed_or_empty(&self.rollout)
    }
}

/// `object` as a Rollout; one that does not parse shows as a Rollout with an empty spec.
pub(crate) fn typed_or_empty(object: &Object) -> Rollout {
    object.to_typed().unwrap_or_else(|_| {
        let empty = serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                       "metadata": {"name": object.name()}, "spec": {}});
        serde_json::from_value(empty).expect("a Rollout with an empty spec parses")
    })
}

/// The phase and message the CLI shows (Argo's `GetRolloutPhase`).
pub fn phase(ro: &Rollout) -> (RolloutPhase, String) {
    get_rollout_phase(ro)
}

/// The status icon of a phase or status word.
pub(crate) fn icon(status: &str) -> &'static str {
    match status {
        "Healthy" | "Running" | "Successful" | "Completed" => "✔",
        "Degraded" | "Failed" | "Error" | "Terminated" => "✖",
        "Progressing" | "Pending" | "ContainerCreating" | "Terminating" => "◌",
        "Paused" => "॥",
        "ScaledDown" => "•",
        "Inconclusive" | "Unknown" => "?",
        _ => "⚠",
    }
}

/// kubectl's `HumanDuration` of the time since `then`.
pub(crate) fn age(then: Option<Timestamp>, now: Timestamp) -> String {
    let Some(then) = then else {
        return "<unknown>".to_owned();
    };
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        match secs % 60 {
            0 => format!("{m}m"),
            s => format!("{m}m{s}s"),
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            rest => format!("{h}h{rest}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{d}d"),
            rest => format!("{d}d{rest}h"),
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// Lays out rows as columns separated by at least two spaces (tabwriter-like, by characters).
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; n];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2026-01-10T00:00:00Z".parse().expect("now");
        let ago = |s: i64| Some(Timestamp::from_second(now.as_second() - s).expect("ts"));
        assert_eq!(age(ago(5), now), "5s");
        assert_eq!(age(ago(150), now), "2m30s");
        assert_eq!(age(ago(3600), now), "60m");
        assert_eq!(age(ago(5 * 3600 + 60), now), "5h1m");
        assert_eq!(age(ago(7 * 86_400), now), "7d");
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn columns_pad_by_characters() {
        let rows = vec![
            vec!["NAME".to_owned(), "KIND".to_owned()],
            vec!["⟳ ro".to_owned(), "Rollout".to_owned()],
        ];
        assert_eq!(columns(&rows), "NAME  KIND\n⟳ ro  Rollout\n");
    }
}
