//! Resource tree nodes shared by the application and rollout pages: a ReplicaSet with its pods,
//! each a small card coloured by its status.

use std::fmt::Write as _;

use serde_json::Value;
use weir_cluster::Object;

use crate::html::{badge, esc, int, status_class, text};

/// Whether `child` names an owner of `kind` called `name`.
pub(crate) fn owned_by(child: &Object, kind: &str, name: &str) -> bool {
    child.metadata.owner_references.iter().flatten().any(|o| o.kind == kind && o.name == name)
}

/// A pod's status word (`Running`, `Terminating`, a waiting reason…) and `ready/containers`.
pub(crate) fn pod_status(pod: &Object) -> (String, String) {
    let status = pod.field("status");
    let statuses: Vec<Value> = status
        .and_then(|s| s.get("containerStatuses"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let containers = pod
        .field("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    let ready = statuses.iter().filter(|c| c.get("ready") == Some(&Value::Bool(true))).count();
    let waiting =
        statuses.iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    let word = if pod.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else if let Some(reason) = waiting {
        reason.to_owned()
    } else {
        match text(status, "/phase") {
            "" => "Pending".to_owned(),
            phase => phase.to_owned(),
        }
    };
    (word, format!("{ready}/{containers}"))
}

/// A ReplicaSet's status word from its replicas: `ScaledDown`, `Healthy` or `Progressing`.
pub(crate) fn replica_set_status(rs: &Object) -> &'static str {
    let spec = rs.field("spec");
    let replicas = spec.and_then(|s| s.get("replicas")).map_or(1, |v| v.as_i64().unwrap_or(1));
    let available = int(rs.field("status"), "/availableReplicas");
    if replicas == 0 {
        "ScaledDown"
    } else if available >= replicas {
        "Healthy"
    } else {
        "Progressing"
    }
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
        let (word, ready) = pod_status(pod);
        let restarts: i64 = pod
            .field("status")
            .and_then(|s| s.get("containerStatuses"))
            .and_then(Value::as_array)
            .map_or(0, |cs| {
                cs.iter().map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0)).sum()
            });
        let mut info = format!("ready {ready}");
        if restarts > 0 {
            let _ = write!(info, ", restarts {restarts}");
        }
        let _ =
            write!(out, "<li>{}</li>", node("Pod", pod.name(), None, &word, &badge(&word), &info));
    }
    out.push_str("</ul>");
    out
}
