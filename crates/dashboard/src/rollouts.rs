//! Rollout views: the list (strategy, status, step, set and actual weight), one rollout (steps
//! with the current one and a pause countdown, the live traffic split, revisions with their
//! ReplicaSets and pods, AnalysisRuns with a chart per metric) and the actions Promote /
//! Promote full / Abort / Retry / Restart / Pause / Undo, all through
//! `weir_rollout_controller::{ops, view}`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::{Cluster, ListParams, Object, Patch, Registry, ResourceType, Subresource};
use weir_model::rollouts::Rollout;
use weir_rollout_controller::view::{self, RolloutTree};
use weir_rollout_controller::{now, ops};

use crate::chart::metric_chart;
use crate::html::{Nav, Page, action_button, badge, esc, int, seg, text};
use crate::tree::{node, pods_of, replica_set_status};
use crate::{Fields, Shared, back_to, error_page, render_page};

const WATCH: &str = "Rollout,ReplicaSet,Pod,AnalysisRun";

fn rollouts_rt() -> ResourceType {
    Registry::builtin()
        .for_name("rollouts")
        .cloned()
        .unwrap_or_else(|| ResourceType::guess("argoproj.io/v1alpha1", "Rollout"))
}

fn href(ns: &str, name: &str) -> String {
    format!("/ui/rollouts/{}/{}", seg(ns), seg(name))
}

/// Status word, strategy, step, set weight and actual weight, as `list rollouts` computes them.
fn progress(
    ro: &Rollout,
    tree: Option<&RolloutTree>,
) -> (String, &'static str, String, String, String) {
    let (phase, _) = view::phase(ro);
    match view::canary_progress(ro, tree) {
        Some((step, set, actual)) => (
            phase.as_str().to_owned(),
            "Canary",
            if step.is_empty() { "-".to_owned() } else { step },
            set.to_string(),
            actual.to_string(),
        ),
        None => (phase.as_str().to_owned(), "BlueGreen", "-".into(), "-".into(), "-".into()),
    }
}

pub(crate) async fn list<C: Cluster + Clone>(
    axum::extract::State(state): Shared<C>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match state.page_session(&headers) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let page = Page {
        title: "Rollouts",
        nav: Nav::Rollouts,
        watch: "Rollout",
        flash: query.get("flash").map(String::as_str),
        csrf: &session.csrf,
    };
    let items = match state.cluster.list(&rollouts_rt(), None, &ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => return error_page(&headers, &page, &e),
    };
    // The actual weight of a canary without traffic routing comes from its ReplicaSets;
    // they are read only when such a canary is mid-update.
    let mut owned: HashMap<String, Vec<Object>> = HashMap::new();
    let rs_needed = items.iter().any(needs_replica_sets);
    if let Some(rt) = Registry::builtin().for_name("replicasets").filter(|_| rs_needed) {
        match state.cluster.list(rt, None, &ListParams::default()).await {
            Ok(list) => {
                for rs in list.items {
                    let owner = rs
                        .metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .find(|o| o.controller == Some(true));
                    if let Some(owner) = owner.filter(|o| o.kind == "Rollout") {
                        owned.entry(owner.uid.clone()).or_default().push(rs);
                    }
                }
            }
            Err(e) => return error_page(&headers, &page, &e),
        }
    }
    let mut body = format!("<h1>Rollouts <span class=\"muted\">{}</span></h1>", items.len());
    if items.is_empty() {
        body.push_str(r#"<p class="muted">No rollouts.</p>"#);
        return render_page(&headers, &page, &body);
    }
    body.push_str(r#"<table class="list"><thead><tr><th>Name</th><th>Strategy</th><th>Status</th><th>Step</th><th>Set weight</th><th>Actual weight</th><th>Ready</th></tr></thead><tbody>"#);
    for object in &items {
        let ns = object.namespace().unwrap_or("");
        let link = format!(
            r#"<a href="{}">{}/{}</a>"#,
            esc(&href(ns, object.name())),
            esc(ns),
            esc(object.name())
        );
        let ro: Rollout = match object.to_typed() {
            Ok(ro) => ro,
            Err(e) => {
                let _ = write!(
                    body,
                    r#"<tr><td>{link}</td><td colspan="6" class="warn-text">{}</td></tr>"#,
                    esc(&e.to_string())
                );
                continue;
            }
        };
        let tree = RolloutTree {
            rollout: object.clone(),
            replica_sets: owned.remove(object.uid()).unwrap_or_default(),
            pods: Vec::new(),
            analysis_runs: Vec::new(),
        };
        let (status, strategy, step, set, actual) = progress(&ro, Some(&tree));
        let st = ro.status.clone().unwrap_or_default();
        let _ = write!(
            body,
            r#"<tr data-name="{}"><td>{link}</td><td>{strategy}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td></tr>"#,
            esc(object.name()),
            badge(&status),
            esc(&step),
            esc(&set),
            esc(&actual),
            st.ready_replicas.unwrap_or(0),
            ro.spec.replicas(),
        );
    }
    body.push_str("</tbody></table>");
    render_page(&headers, &page, &body)
}

/// Whether a Rollout is a canary between its first and last step without
/// `status.canary.weights` (so its actual weight is read from its ReplicaSets).
fn needs_replica_sets(object: &Object) -> bool {
    let spec = object.field("spec");
    let steps = spec
        .and_then(|s| s.pointer("/strategy/canary/steps"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let status = object.field("status");
    let index = usize::try_from(int(status, "/currentStepIndex")).unwrap_or(0);
    steps > 0 && index < steps && status.and_then(|s| s.pointer("/canary/weights")).is_none()
}

pub(crate) async fn show<C: Cluster + Clone>(
    axum::extract::State(state): Shared<C>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = match state.page_session(&headers) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let title = format!("{ns}/{name}");
    let page = Page {
        title: &title,
        nav: Nav::Rollouts,
        watch: WATCH,
        flash: query.get("flash").map(String::as_str),
        csrf: &session.csrf,
    };
    let tree = match RolloutTree::read(&state.cluster, &ns, &name).await {
        Ok(tree) => tree,
        Err(e) => return error_page(&headers, &page, &e),
    };
    let ro = tree.typed();
    let mut body = summary(&tree, &ro, &page);
    body.push_str(&steps(&tree, &ro));
    body.push_str(&traffic(&ro, &tree));
    body.push_str(&revisions(&tree, &ro, &page));
    body.push_str(&analysis(&tree));
    render_page(&headers, &page, &body)
}

fn summary(tree: &RolloutTree, ro: &Rollout, page: &Page<'_>) -> String {
    let (ns, name) = (tree.rollout.namespace().unwrap_or(""), tree.rollout.name());
    let (status, strategy, step, set, actual) = progress(ro, Some(tree));
    let (_, message) = view::phase(ro);
    let st = ro.status.clone().unwrap_or_default();
    let mut out = format!(
        r#"<h1><span class="kind">Rollout</span> {}</h1><div class="summary"><div class="big">{} <span class="message">{}</span></div><dl>"#,
        esc(&format!("{ns}/{name}")),
        badge(&status).replace("badge ", "badge big "),
        esc(&message),
    );
    let rows = [
        ("Strategy", strategy.to_owned()),
        ("Step", step),
        ("Set weight", set),
        ("Actual weight", actual),
        (
            "Replicas",
            format!(
                "{} desired, {} current, {} updated, {} ready, {} available",
                ro.spec.replicas(),
                st.replicas.unwrap_or(0),
                st.updated_replicas.unwrap_or(0),
                st.ready_replicas.unwrap_or(0),
                st.available_replicas.unwrap_or(0)
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = write!(
            out,
            r#"<dt>{k}</dt><dd data-field="{}">{}</dd>"#,
            esc(&k.to_lowercase().replace(' ', "-")),
            esc(&v)
        );
    }
    out.push_str("</dl></div><div class=\"actions\">");
    let base = href(ns, name);
    for (action, label, class) in [
        ("promote", "Promote", "primary"),
        ("promote-full", "Promote full", ""),
        ("abort", "Abort", "danger"),
        ("retry", "Retry", ""),
        ("restart", "Restart", ""),
        ("pause", "Pause", ""),
    ] {
        out.push_str(&action_button(&format!("{base}/{action}"), label, page.csrf, &[], class));
    }
    out.push_str("</div>");
    out
}

/// A step as a short label (`setWeight 50`, `pause 30s`, `pause (until promoted)`…).
fn step_label(step: &Value) -> String {
    let Some(map) = step.as_object() else { return step.to_string() };
    let mut parts = Vec::new();
    for (key, value) in map {
        let text = match (key.as_str(), value) {
            ("setWeight", v) => format!("setWeight {v}"),
            ("pause", Value::Object(p)) => match p.get("duration") {
                Some(Value::String(d)) => format!("pause {d}"),
                Some(Value::Number(n)) => format!("pause {n}s"),
                _ => "pause (until promoted)".to_owned(),
            },
            ("analysis", a) => {
                let names: Vec<&str> = a
                    .get("templates")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.get("templateName").and_then(Value::as_str))
                    .collect();
                format!("analysis {}", names.join(", "))
            }
            (k, v) => format!("{k} {v}"),
        };
        parts.push(text);
    }
    parts.join(" · ")
}

/// When the pause of `step` that started at `start` ends (`None`: no duration).
fn pause_end(step: &Value, start: &str) -> Option<i64> {
    let duration = step.pointer("/pause/duration")?;
    let seconds = match duration {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => match s.parse::<i64>() {
            Ok(n) => n,
            Err(_) => i64::try_from(weir_model::duration::parse(s).ok()?.as_secs()).ok()?,
        },
        _ => return None,
    };
    let start: Timestamp = start.parse().ok()?;
    Some(start.as_second() + seconds)
}

fn steps(tree: &RolloutTree, ro: &Rollout) -> String {
    let steps: Vec<Value> = tree
        .rollout
        .field("spec")
        .and_then(|s| s.pointer("/strategy/canary/steps"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if steps.is_empty() {
        return String::new();
    }
    let st = ro.status.clone().unwrap_or_default();
    let current = usize::try_from(st.current_step_index.unwrap_or(0)).unwrap_or(0);
    let pause_start = tree
        .rollout
        .field("status")
        .and_then(|s| s.get("pauseConditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| text(Some(c), "/reason") == "CanaryPauseStep")
        .map(|c| text(Some(c), "/startTime").to_owned());
    let mut out = String::from(r#"<h2>Steps</h2><ol class="steps">"#);
    for (i, step) in steps.iter().enumerate() {
        let class = match i.cmp(&current) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal => "current",
            std::cmp::Ordering::Greater => "todo",
        };
        let mut extra = String::new();
        if i == current && step.get("pause").is_some() {
            match (&pause_start, pause_start.as_deref().and_then(|s| pause_end(step, s))) {
                (_, Some(end)) => {
                    let _ = write!(
                        extra,
                        r#" <span class="countdown" data-countdown="{end}">paused</span>"#
                    );
                }
                (Some(_), None) => {
                    extra.push_str(r#" <span class="countdown">paused: press Promote</span>"#)
                }
                (None, _) => {}
            }
        }
        let aria = if class == "current" { r#" aria-current="step""# } else { "" };
        let _ = write!(out, r#"<li class="{class}"{aria}>{}{extra}</li>"#, esc(&step_label(step)));
    }
    out.push_str("</ol>");
    out
}

fn traffic(ro: &Rollout, tree: &RolloutTree) -> String {
    let status = tree.rollout.field("status");
    if ro.spec.blue_green().is_some() {
        let (active, preview) =
            (text(status, "/blueGreen/activeSelector"), text(status, "/blueGreen/previewSelector"));
        let shown = |hash: &str| if hash.is_empty() { "—".to_owned() } else { esc(hash) };
        return format!(
            r#"<h2>Traffic</h2><p class="legend"><span class="swatch stable"></span> active <b data-field="active">{}</b> <span class="swatch canary"></span> preview <b data-field="preview">{}</b></p>"#,
            shown(active),
            shown(preview)
        );
    }
    let (canary, stable) = match status.and_then(|s| s.pointer("/canary/weights")) {
        Some(w) => (int(Some(w), "/canary/weight"), int(Some(w), "/stable/weight")),
        None => match view::canary_progress(ro, Some(tree)) {
            Some((_, _, actual)) => (i64::from(actual), 100 - i64::from(actual)),
            None => return String::new(),
        },
    };
    let total = (canary + stable).max(1);
    let width = 600.0;
    let stable_w = width * stable as f64 / total as f64;
    format!(
        r#"<h2>Traffic</h2><svg class="split" viewBox="0 0 {width} 28" width="100%" height="28" preserveAspectRatio="none" role="img" aria-label="stable {stable}%, canary {canary}%"><rect class="stable" x="0" y="0" width="{stable_w:.1}" height="28"/><rect class="canary" x="{stable_w:.1}" y="0" width="{canary_w:.1}" height="28"/></svg><p class="legend"><span class="swatch stable"></span> stable <b data-field="stable-weight">{stable}%</b> <span class="swatch canary"></span> canary <b data-field="canary-weight">{canary}%</b></p>"#,
        canary_w = width - stable_w,
    )
}

fn revisions(tree: &RolloutTree, ro: &Rollout, page: &Page<'_>) -> String {
    let mut by_revision: BTreeMap<i64, Vec<&Object>> = BTreeMap::new();
    for rs in &tree.replica_sets {
        let revision =
            rs.annotation("rollout.argoproj.io/revision").and_then(|r| r.parse().ok()).unwrap_or(0);
        by_revision.entry(revision).or_default().push(rs);
    }
    let base = href(tree.rollout.namespace().unwrap_or(""), tree.rollout.name());
    let newest = by_revision.keys().next_back().copied();
    let mut out = String::from(r#"<h2>Revisions</h2><ul class="tree">"#);
    for (revision, sets) in by_revision.iter().rev() {
        let undo = if Some(*revision) == newest {
            String::new()
        } else {
            action_button(
                &format!("{base}/undo"),
                "Undo to this revision",
                page.csrf,
                &[("revision", &revision.to_string())],
                "",
            )
        };
        let _ = write!(out, r#"<li><div class="revision">revision {revision} {undo}</div><ul>"#);
        for rs in sets {
            let hash = rs.label("rollouts-pod-template-hash").unwrap_or("");
            let tags: String = view::tags(ro, hash)
                .iter()
                .map(|t| format!(r#"<span class="tag">{t}</span>"#))
                .collect();
            let status = replica_set_status(rs);
            let image: Vec<&str> = rs
                .field("spec")
                .and_then(|s| s.pointer("/template/spec/containers"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .collect();
            let info = format!(
                "{}/{} available {}",
                int(rs.field("status"), "/availableReplicas"),
                int(rs.field("spec"), "/replicas"),
                image.join(", ")
            );
            let _ = write!(
                out,
                "<li>{}{}</li>",
                node(
                    "ReplicaSet",
                    rs.name(),
                    None,
                    status,
                    &format!("{} {tags}", badge(status)),
                    &info
                ),
                pods_of(rs, &tree.pods)
            );
        }
        out.push_str("</ul></li>");
    }
    out.push_str("</ul>");
    out
}

fn analysis(tree: &RolloutTree) -> String {
    if tree.analysis_runs.is_empty() {
        return String::new();
    }
    let mut runs: Vec<&Object> = tree.analysis_runs.iter().collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.metadata.creation_timestamp.as_ref().map(|t| t.0)));
    let mut out = String::from("<h2>Analysis</h2>");
    for run in runs {
        let status = run.field("status");
        let phase = text(status, "/phase");
        let _ = write!(
            out,
            r#"<section class="run"><h3>{} {} <span class="muted">{}</span></h3>"#,
            esc(run.name()),
            badge(if phase.is_empty() { "Pending" } else { phase }),
            esc(text(status, "/message"))
        );
        let metrics: Vec<&Value> = run
            .field("spec")
            .and_then(|s| s.get("metrics"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let results: Vec<&Value> = status
            .and_then(|s| s.get("metricResults"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        out.push_str(r#"<div class="metrics">"#);
        for metric in metrics {
            let name = text(Some(metric), "/name");
            let result = results.iter().find(|r| text(Some(r), "/name") == name);
            let measurements: Vec<Value> = result
                .and_then(|r| r.get("measurements"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut conditions = String::new();
            for (label, key) in [("success", "/successCondition"), ("failure", "/failureCondition")]
            {
                let c = text(Some(metric), key);
                if !c.is_empty() {
                    let _ = write!(conditions, "<div>{label}: <code>{}</code></div>", esc(c));
                }
            }
            let counts = result.map_or(String::new(), |r| {
                format!(
                    "✔ {} ✖ {} ? {} ⚠ {}",
                    int(Some(r), "/successful"),
                    int(Some(r), "/failed"),
                    int(Some(r), "/inconclusive"),
                    int(Some(r), "/error")
                )
            });
            let metric_phase = result.map_or("Pending", |r| text(Some(r), "/phase"));
            let _ = write!(
                out,
                r#"<figure class="metric"><figcaption>{} {} <span class="muted">{}</span>{conditions}</figcaption>{}</figure>"#,
                esc(name),
                badge(metric_phase),
                esc(&counts),
                metric_chart(&measurements)
            );
        }
        out.push_str("</div></section>");
    }
    out
}

pub(crate) async fn action<C: Cluster + Clone>(
    axum::extract::State(state): Shared<C>,
    headers: HeaderMap,
    Path((ns, name, action)): Path<(String, String, String)>,
    Fields(fields): Fields,
) -> Response {
    if let Err(refusal) = state.action_session(&headers, &fields) {
        return refusal.into_response();
    }
    let cluster = &state.cluster;
    let back = href(&ns, &name);
    let outcome: Result<String, String> = match action.as_str() {
        "promote" | "promote-full" => {
            let full = action == "promote-full";
            match cluster
                .get(&rollouts_rt(), Some(&ns), &name)
                .await
                .and_then(|o| o.to_typed::<Rollout>())
            {
                Ok(ro) => ops::apply(cluster, &ns, &name, &ops::promote(&ro, full))
                    .await
                    .map(|_| if full { "fully promoted" } else { "promoted" }.to_owned())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        "abort" => ops::apply(cluster, &ns, &name, &ops::abort())
            .await
            .map(|_| "aborted".into())
            .map_err(|e| e.to_string()),
        "retry" => ops::apply(cluster, &ns, &name, &ops::retry())
            .await
            .map(|_| "retried".into())
            .map_err(|e| e.to_string()),
        "pause" => ops::apply(cluster, &ns, &name, &ops::pause())
            .await
            .map(|_| "paused".into())
            .map_err(|e| e.to_string()),
        "restart" => ops::apply(cluster, &ns, &name, &ops::restart(now()))
            .await
            .map(|_| "restarting".into())
            .map_err(|e| e.to_string()),
        "undo" => {
            let to = match fields.get("revision").map(|r| r.parse::<i64>()) {
                Some(Ok(r)) => Some(r),
                None => None,
                Some(Err(_)) => return back_to(&back, "error: invalid revision"),
            };
            undo(cluster, &ns, &name, to).await
        }
        _ => return (StatusCode::NOT_FOUND, "no such action\n").into_response(),
    };
    match outcome {
        Ok(done) => back_to(&back, &format!("rollout {name} {done}")),
        Err(e) => back_to(&back, &format!("error: {e}")),
    }
}

/// `undo --to-revision`: the JSON patch `ops::undo` builds, sent to its target.
async fn undo<C: Cluster>(
    cluster: &C,
    ns: &str,
    name: &str,
    to: Option<i64>,
) -> Result<String, String> {
    let tree = RolloutTree::read(cluster, ns, name).await.map_err(|e| e.to_string())?;
    let ro: Rollout = tree.rollout.to_typed().map_err(|e| e.to_string())?;
    let undo = ops::undo(&ro, &tree.replica_sets, to)?;
    let (api_version, kind, target) = &undo.target;
    let target_rt = Registry::builtin()
        .for_object(api_version, kind)
        .ok_or_else(|| format!("no resource type for {api_version} {kind}"))?;
    let body = serde_json::to_vec(&undo.json_patch).map_err(|e| e.to_string())?;
    let patch =
        Patch::from_body("application/json-patch+json", &body).map_err(|e| e.to_string())?;
    cluster
        .patch(&target_rt, Some(ns), target, &patch, Subresource::Main)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("undone to revision {}", undo.revision))
}
