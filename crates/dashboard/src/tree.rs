//! Resource tree nodes shared by the application and rollout pages: a ReplicaSet with its pods,
//! each a small card coloured by its status.

use std::fmt::Write as _;

use weir_cluster::Object;

pub(crate) use weir_rollout_controller::view::replica_set_status;
use weir_rollout_controller::view::{PodSummary, pod_summary};

use crate::html::{badge, esc, status_class};

/// Whether `child` names an owner of `kind` called `name`.
pub(crate) fn owned_by(child: &Object, kind: &str, name: &str) -> bool {
    child.metadata.owner_references.iter().flatten().any(|o| o.kind == kind && o.name == name)
}

/// A tree node: kind, name (linked when `href` is set), badges and extra text.
pub(crate) fn node(
    kind: &str,
    name: &str,
    href: Option<&str>,
    status: &str,
    badges: &str,
    info: &str,
) -> String {
    let name = match href {
        Some(href) => format!(r#"<a href="{}">{}</a>"#, esc(href), esc(name)),
        None => esc(name),
    };
    format!(
        r#"<div class="node {}"><span class="kind">{}</span> <span class="name">{name}</span> {badges} <span class="muted">{}</span></div>"#,
        status_class(status),
        esc(kind),
        esc(info)
    )
}

/// The pods of `rs` (from `pods`) as a nested list.
pub(crate) fn pods_of(rs: &Object, pods: &[Object]) -> String {
    let mut out = String::new();
    let mine: Vec<&Object> = pods.iter().filter(|p| owned_by(p, "ReplicaSet", rs.name())).collect();
    if mine.is_empty() {
        return out;
    }
    out.push_str("<ul>");
    for pod in mine {
        let PodSummary { word, ready, containers, restarts } = pod_summary(pod);
        let mut info = format!("ready {ready}/{containers}");
        if restarts > 0 {
            let _ = write!(info, ", restarts {restarts}");
        }
        let _ =
            write!(out, "<li>{}</li>", node("Pod", pod.name(), None, &word, &badge(&word), &info));
    }
    out.push_str("</ul>");
    out
}
