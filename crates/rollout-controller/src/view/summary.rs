//! The summary block of `get rollout`, the `list rollouts` table and the `status` line.

use serde_json::Value;
use weir_cluster::Object;
use weir_model::rollouts::Rollout;
use weir_rollout::phase::RolloutPhase;
use weir_rollout::steps::current_set_weight;

use super::{RolloutTree, columns, icon, phase, typed_or_empty};

/// Step (`3/8`), set weight and actual weight of a canary; `None` for blue-green.
pub fn canary_progress(ro: &Rollout, tree: Option<&RolloutTree>) -> Option<(String, i32, i32)> {
    let canary = ro.spec.canary()?;
    let len = i32::try_from(canary.steps().len()).unwrap_or(i32::MAX);
    let status = ro.status.clone().unwrap_or_default();
    let index = status.current_step_index.unwrap_or(0);
    let step = if len == 0 { String::new() } else { format!("{index}/{len}") };
    let set_weight = if len == 0 || index >= len { 100 } else { current_set_weight(ro) };
    let actual = match status.canary.as_ref().and_then(|c| c.weights.as_ref()) {
        _ if len > 0 && index >= len => 100,
        Some(w) => w.canary.weight,
        None => {
            let available = status.available_replicas.unwrap_or(0);
            let current = status.current_pod_hash.as_deref().unwrap_or("");
            let canary_available = tree
                .into_iter()
                .flat_map(|t| &t.replica_sets)
                .filter(|rs| rs.label(weir_rollout::hash::POD_TEMPLATE_HASH_LABEL) == Some(current))
                .map(|rs| int(rs.field("status").and_then(|s| s.get("availableReplicas"))))
                .sum::<i32>();
            if available > 0 { canary_available * 100 / available } else { 0 }
        }
    };
    Some((step, set_weight, actual))
}

fn int(value: Option<&Value>) -> i32 {
    value.and_then(Value::as_i64).and_then(|v| i32::try_from(v).ok()).unwrap_or(0)
}

/// The tags `get rollout` puts on a ReplicaSet (`stable`, `canary`, `active`, `preview`).
pub fn tags(ro: &Rollout, hash: &str) -> Vec<&'static str> {
    let status = ro.status.clone().unwrap_or_default();
    let stable = status.stable_rs.as_deref() == Some(hash);
    let current = status.current_pod_hash.as_deref() == Some(hash);
    let mut tags = Vec::new();
    if ro.spec.blue_green().is_some() {
        let bg = status.blue_green.unwrap_or_default();
        if stable {
            tags.push("stable");
        }
        if bg.active_selector.as_deref() == Some(hash) {
            tags.push("active");
        }
        if bg.preview_selector.as_deref() == Some(hash) {
            tags.push("preview");
        }
    } else {
        if stable {
            tags.push("stable");
        }
        if current && !stable {
            tags.push("canary");
        }
    }
    tags
}

fn images(tree: &RolloutTree, ro: &Rollout) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for rs in &tree.replica_sets {
        let hash = rs.label(weir_rollout::hash::POD_TEMPLATE_HASH_LABEL).unwrap_or("");
        let tags = tags(ro, hash);
        if tags.is_empty() {
            continue;
        }
        let containers = rs.field("spec").and_then(|s| s.pointer("/template/spec/containers"));
        for c in containers.and_then(Value::as_array).into_iter().flatten() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            lines.push(format!("{image} ({})", tags.join(", ")));
        }
    }
    lines.sort();
    lines.dedup();
    lines
}

/// The summary block above the tree.
pub(crate) fn render_summary(tree: &RolloutTree) -> String {
    let ro = tree.typed();
    let (ph, message) = phase(&ro);
    let status = ro.status.clone().unwrap_or_default();
    let mut rows: Vec<(String, String)> = vec![
        ("Name:".into(), tree.rollout.name().to_owned()),
        ("Namespace:".into(), tree.rollout.namespace().unwrap_or("").to_owned()),
        ("Status:".into(), format!("{} {}", icon(ph.as_str()), ph.as_str())),
    ];
    if !message.is_empty() {
        rows.push(("Message:".into(), message));
    }
    match canary_progress(&ro, Some(tree)) {
        Some((step, set_weight, actual)) => {
            rows.push(("Strategy:".into(), "Canary".into()));
            if !step.is_empty() {
                rows.push(("  Step:".into(), step));
            }
            rows.push(("  SetWeight:".into(), set_weight.to_string()));
            rows.push(("  ActualWeight:".into(), actual.to_string()));
        }
        None => rows.push(("Strategy:".into(), "BlueGreen".into())),
    }
    for (i, image) in images(tree, &ro).into_iter().enumerate() {
        rows.push((if i == 0 { "Images:".into() } else { String::new() }, image));
    }
    rows.push(("Replicas:".into(), String::new()));
    let n = |v: Option<i32>| v.unwrap_or(0).to_string();
    rows.push(("  Desired:".into(), ro.spec.replicas().to_string()));
    rows.push(("  Current:".into(), n(status.replicas)));
    rows.push(("  Updated:".into(), n(status.updated_replicas)));
    rows.push(("  Ready:".into(), n(status.ready_replicas)));
    rows.push(("  Available:".into(), n(status.available_replicas)));
    let mut out = String::new();
    for (label, value) in rows {
        let line = format!("{label:<17}{value}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `list rollouts`: one row per Rollout (`NAMESPACE` first with `all_namespaces`).
pub fn render_list(rollouts: &[Object], all_namespaces: bool) -> String {
    let mut header: Vec<String> = [
        "NAME",
        "STRATEGY",
        "STATUS",
        "STEP",
        "SET-WEIGHT",
        "READY",
        "DESIRED",
        "UP-TO-DATE",
        "AVAILABLE",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if all_namespaces {
        header.insert(0, "NAMESPACE".into());
    }
    let mut rows = vec![header];
    for object in rollouts {
        let ro = typed_or_empty(object);
        let (ph, _) = phase(&ro);
        let status = ro.status.clone().unwrap_or_default();
        let n = |v: Option<i32>| v.unwrap_or(0).to_string();
        let (strategy, step, weight) = match canary_progress(&ro, None) {
            Some((step, w, _)) => {
                ("Canary", if step.is_empty() { "-".into() } else { step }, w.to_string())
            }
            None => ("BlueGreen", "-".to_owned(), "-".to_owned()),
        };
        let mut row = vec![
            object.name().to_owned(),
            strategy.to_owned(),
            ph.as_str().to_owned(),
            step,
            weight,
            format!("{}/{}", n(status.ready_replicas), n(status.replicas)),
            ro.spec.replicas().to_string(),
            n(status.updated_replicas),
            n(status.available_replicas),
        ];
        if all_namespaces {
            row.insert(0, object.namespace().unwrap_or("").to_owned());
        }
        rows.push(row);
    }
    if rows.len() == 1 {
        return "No resources found.\n".to_owned();
    }
    columns(&rows)
}

/// `status`: the phase, and the line printed for it (`Paused - CanaryPauseStep`).
pub fn status_line(ro: &Rollout) -> (RolloutPhase, String) {
    let (ph, message) = phase(ro);
    let line = if message.is_empty() {
        ph.as_str().to_owned()
    } else {
        format!("{} - {message}", ph.as_str())
    };
    (ph, line)
}
