//! Rendering objects for people: kubectl-like tables with per-kind columns, and YAML/JSON.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::Object;

/// One column of a table.
struct Column {
    header: &'static str,
    value: fn(&Object) -> String,
    wide_only: bool,
}

const fn col(header: &'static str, value: fn(&Object) -> String) -> Column {
    Column { header, value, wide_only: false }
}

const fn wide(header: &'static str, value: fn(&Object) -> String) -> Column {
    Column { header, value, wide_only: true }
}

fn at(object: &Object, pointer: &str) -> String {
    let value = object.to_value();
    match value.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn number(object: &Object, pointer: &str) -> String {
    let text = at(object, pointer);
    if text.is_empty() { "0".to_owned() } else { text }
}

/// The columns kubectl (or the CRD's printer columns) show for a kind, between NAME and AGE.
fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            col("READY", pod_ready),
            col("STATUS", pod_status),
            col("RESTARTS", pod_restarts),
            wide("IP", |o| at(o, "/status/podIP")),
        ],
        "Deployment" => vec![
            col("READY", |o| {
                format!("{}/{}", number(o, "/status/readyReplicas"), number(o, "/spec/replicas"))
            }),
            col("UP-TO-DATE", |o| number(o, "/status/updatedReplicas")),
            col("AVAILABLE", |o| number(o, "/status/availableReplicas")),
        ],
        "ReplicaSet" => vec![
            col("DESIRED", |o| number(o, "/spec/replicas")),
            col("CURRENT", |o| number(o, "/status/replicas")),
            col("READY", |o| number(o, "/status/readyReplicas")),
        ],
        "Service" => vec![
            col("TYPE", |o| {
                let t = at(o, "/spec/type");
                if t.is_empty() { "ClusterIP".to_owned() } else { t }
            }),
            col("PORT(S)", service_ports),
            wide("SELECTOR", |o| labels_text(o.to_value().pointer("/spec/selector"))),
        ],
        "Rollout" => vec![
            // Argo's default for an omitted `spec.replicas` is 1.
            col("DESIRED", |o| {
                let text = at(o, "/spec/replicas");
                if text.is_empty() { "1".to_owned() } else { text }
            }),
            col("CURRENT", |o| number(o, "/status/replicas")),
            col("UP-TO-DATE", |o| number(o, "/status/updatedReplicas")),
            col("AVAILABLE", |o| number(o, "/status/availableReplicas")),
            wide("PHASE", |o| at(o, "/status/phase")),
        ],
        "AnalysisRun" | "Experiment" => vec![col("STATUS", |o| at(o, "/status/phase"))],
        "Application" => vec![
            col("SYNC STATUS", |o| at(o, "/status/sync/status")),
            col("HEALTH STATUS", |o| at(o, "/status/health/status")),
            wide("REVISION", |o| at(o, "/status/sync/revision")),
            wide("PROJECT", |o| {
                let p = at(o, "/spec/project");
                if p.is_empty() { "default".to_owned() } else { p }
            }),
        ],
        "VirtualService" => vec![
            col("GATEWAYS", |o| at(o, "/spec/gateways")),
            col("HOSTS", |o| at(o, "/spec/hosts")),
        ],
        "DestinationRule" => vec![col("HOST", |o| at(o, "/spec/host"))],
        "Namespace" => vec![col("STATUS", |o| {
            let phase = at(o, "/status/phase");
            if phase.is_empty() { "Active".to_owned() } else { phase }
        })],
        "ConfigMap" | "Secret" => vec![col("DATA", |o| {
            let value = o.to_value();
            let count = ["/data", "/binaryData"]
                .iter()
                .filter_map(|p| value.pointer(p).and_then(Value::as_object))
                .map(|m| m.len())
                .sum::<usize>();
            count.to_string()
        })],
        _ => Vec::new(),
    }
}

fn pod_ready(o: &Object) -> String {
    let value = o.to_value();
    let total = value.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let ready = value
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    format!("{ready}/{total}")
}

fn pod_status(o: &Object) -> String {
    if o.metadata.deletion_timestamp.is_some() {
        return "Terminating".to_owned();
    }
    let value = o.to_value();
    let waiting = value
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|s| {
            s.pointer("/state/waiting/reason")
                .or_else(|| s.pointer("/state/terminated/reason"))
                .and_then(Value::as_str)
        });
    match waiting {
        Some(reason) => reason.to_owned(),
        None => {
            let phase = at(o, "/status/phase");
            if phase.is_empty() { "Pending".to_owned() } else { phase }
        }
    }
}

fn pod_restarts(o: &Object) -> String {
    let value = o.to_value();
    let restarts: u64 = value
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("restartCount").and_then(Value::as_u64))
        .sum();
    restarts.to_string()
}

fn service_ports(o: &Object) -> String {
    let value = o.to_value();
    let ports: Vec<String> = value
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").map(Value::to_string).unwrap_or_default();
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            format!("{port}/{protocol}")
        })
        .collect();
    if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") }
}

fn labels_text(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// kubectl's short human age: `45s`, `3m20s`, `5h`, `3d4h`, `2y`.
pub(crate) fn age(created: Option<Timestamp>, now: Timestamp) -> String {
    let Some(created) = created else { return "<unknown>".to_owned() };
    let secs = (now.as_second() - created.as_second()).max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{m}m{}s", s % 60),
        s if s < 3 * 3600 => format!("{m}m"),
        s if s < 8 * 3600 => format!("{h}h{}m", m % 60),
        s if s < 2 * 86_400 => format!("{h}h"),
        s if s < 8 * 86_400 => format!("{d}d{}h", h % 24),
        s if s < 365 * 86_400 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

/// A table of objects of one kind, kubectl-style, as text.
pub(crate) fn table(
    kind: &str,
    objects: &[Object],
    with_namespace: bool,
    wide_output: bool,
    now: Timestamp,
) -> String {
    if objects.is_empty() {
        return String::new();
    }
    let columns: Vec<Column> =
        columns(kind).into_iter().filter(|c| wide_output || !c.wide_only).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = Vec::new();
    if with_namespace {
        header.push("NAMESPACE".to_owned());
    }
    header.push("NAME".to_owned());
    header.extend(columns.iter().map(|c| c.header.to_owned()));
    header.push("AGE".to_owned());
    rows.push(header);
    for object in objects {
        let mut row = Vec::new();
        if with_namespace {
            row.push(object.namespace().unwrap_or("").to_owned());
        }
        row.push(object.name().to_owned());
        row.extend(columns.iter().map(|c| (c.value)(object)));
        row.push(age(object.metadata.creation_timestamp.as_ref().map(|t| t.0), now));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// YAML of one value, as `kubectl get -o yaml` prints it.
pub(crate) fn yaml(value: &Value) -> anyhow::Result<String> {
    Ok(serde_yaml_ng::to_string(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let ago = |s: i64| Some(Timestamp::from_second(now.as_second() - s).unwrap());
        assert_eq!(age(ago(5), now), "5s");
        assert_eq!(age(ago(200), now), "3m20s");
        assert_eq!(age(ago(3600), now), "60m");
        assert_eq!(age(ago(5 * 3600 + 120), now), "5h2m");
        assert_eq!(age(ago(3 * 86_400 + 4 * 3600), now), "3d4h");
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn tables_align_and_show_kind_columns() {
        let now: Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let pod = Object::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "reviews-1", "namespace": "bookinfo", "creationTimestamp": "2026-01-09T23:59:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        }))
        .unwrap();
        let text = table("Pod", &[pod], true, false, now);
        assert_eq!(
            text,
            "NAMESPACE   NAME        READY   STATUS             RESTARTS   AGE\n\
             bookinfo    reviews-1   1/2     CrashLoopBackOff   3          60s\n"
        );
    }

    #[test]
    fn a_rollout_without_replicas_desires_one() {
        // Argo defaults `spec.replicas` to 1 (`defaults.GetReplicasOrDefault`).
        let now: Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let rollout = |replicas: Option<i64>| {
            let mut value = serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "ro", "creationTimestamp": "2026-01-09T23:59:00Z"},
                "spec": {}, "status": {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
            });
            if let Some(n) = replicas {
                value["spec"]["replicas"] = n.into();
            }
            Object::from_value(value).unwrap()
        };
        let text = table("Rollout", &[rollout(None), rollout(Some(0))], false, false, now);
        assert_eq!(
            text,
            "NAME   DESIRED   CURRENT   UP-TO-DATE   AVAILABLE   AGE\n\
             ro     1         1         1            1           60s\n\
             ro     0         1         1            1           60s\n"
        );
    }
}
