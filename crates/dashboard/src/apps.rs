//! Application views: the list (sync, health, repo, revision, last sync), one application
//! (its resource tree coloured by health and sync, operation, conditions, history with
//! rollback), the diff of OutOfSync resources, and the Sync / Refresh / Rollback actions
//! through `weir_app_controller::ops`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use weir_app_controller::ops::{self, applications};
use weir_cluster::{Cluster, ListParams, Object, Registry};
use weir_model::argocd::Application;

use crate::html::{Nav, Page, action_button, badge, esc, seg, short, text};
use crate::tree::{node, owned_by, pods_of, replica_set_status};
use crate::{Fields, Shared, back_to, error_page, render_page};

const WATCH: &str = "Application,Deployment,ReplicaSet,Pod,Rollout,Service,VirtualService";

fn href(ns: &str, name: &str) -> String {
    format!("/ui/applications/{}/{}", seg(ns), seg(name))
}

/// Sync status, health status and synced revision of an Application object.
fn statuses(app: &Object) -> (&str, &str, &str) {
    let status = app.field("status");
    (text(status, "/sync/status"), text(status, "/health/status"), text(status, "/sync/revision"))
}

fn source(app: &Object) -> Option<&Value> {
    let spec = app.field("spec")?;
    spec.get("source").or_else(|| spec.pointer("/sources/0"))
}

fn last_sync(app: &Object) -> &str {
    match text(app.field("status"), "/operationState/finishedAt") {
        "" => "never",
        at => at,
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
        title: "Applications",
        nav: Nav::Applications,
        watch: "Application",
        flash: query.get("flash").map(String::as_str),
        csrf: &session.csrf,
    };
    let apps = match state.cluster.list(&applications(), None, &ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => return error_page(&headers, &page, &e),
    };
    let mut body = String::from("<h1>Applications</h1>");
    if apps.is_empty() {
        body.push_str(r#"<p class="muted">No applications. Create one with <code>weir app create</code> or apply an Argo CD Application.</p>"#);
        return render_page(&headers, &page, &body);
    }
    body.push_str(r#"<table class="list"><thead><tr><th>Name</th><th>Sync</th><th>Health</th><th>Repository</th><th>Path</th><th>Target</th><th>Revision</th><th>Last sync</th></tr></thead><tbody>"#);
    for app in &apps {
        let ns = app.namespace().unwrap_or("");
        let (sync, health, revision) = statuses(app);
        let src = source(app);
        let target = match text(src, "/targetRevision") {
            "" => "HEAD",
            t => t,
        };
        let _ = write!(
            body,
            r#"<tr data-name="{name}"><td><a href="{href}">{ns}/{name}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
            badge(sync),
            badge(health),
            esc(text(src, "/repoURL")),
            esc(text(src, "/path")),
            esc(target),
            esc(&short(revision, 7)),
            esc(last_sync(app)),
            href = esc(&href(ns, app.name())),
            ns = esc(ns),
            name = esc(app.name()),
        );
    }
    body.push_str("</tbody></table>");
    render_page(&headers, &page, &body)
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
        nav: Nav::Applications,
        watch: WATCH,
        flash: query.get("flash").map(String::as_str),
        csrf: &session.csrf,
    };
    let app = match state.cluster.get(&applications(), Some(&ns), &name).await {
        Ok(app) => app,
        Err(e) => return error_page(&headers, &page, &e),
    };
    let typed: Option<Application> = app.to_typed().ok();
    let children = match children(&state.cluster, &app).await {
        Ok(c) => c,
        Err(e) => return error_page(&headers, &page, &e),
    };
    let mut body = summary(&app, &page, typed.as_ref());
    body.push_str(&resource_tree(&app, &children));
    body.push_str(&history(&app, &page, typed.as_ref()));
    render_page(&headers, &page, &body)
}

/// ReplicaSets and pods in the namespaces the application's resources live in.
struct Children {
    replica_sets: Vec<Object>,
    pods: Vec<Object>,
}

async fn children<C: Cluster>(cluster: &C, app: &Object) -> Result<Children, weir_cluster::Error> {
    let mut namespaces: Vec<String> = app
        .field("status")
        .and_then(|s| s.get("resources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| matches!(text(Some(r), "/kind"), "Deployment" | "Rollout"))
        .map(|r| text(Some(r), "/namespace").to_owned())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let registry = Registry::builtin();
    let (mut replica_sets, mut pods) = (Vec::new(), Vec::new());
    for ns in namespaces.iter().filter(|n| !n.is_empty()) {
        if let Some(rt) = registry.for_name("replicasets") {
            replica_sets.extend(cluster.list(rt, Some(ns), &ListParams::default()).await?.items);
        }
        if let Some(rt) = registry.for_name("pods") {
            pods.extend(cluster.list(rt, Some(ns), &ListParams::default()).await?.items);
        }
    }
    Ok(Children { replica_sets, pods })
}

fn summary(app: &Object, page: &Page<'_>, typed: Option<&Application>) -> String {
    let (ns, name) = (app.namespace().unwrap_or(""), app.name());
    let (sync, health, revision) = statuses(app);
    let status = app.field("status");
    let src = source(app);
    let automated = typed.is_some_and(|a| a.spec.is_automated());
    let base = href(ns, name);
    let mut out = format!(
        r#"<h1><span class="kind">Application</span> {}</h1><div class="summary"><div>{} {}</div>"#,
        esc(&format!("{ns}/{name}")),
        badge(sync),
        badge(health)
    );
    let rows = [
        ("Repository", text(src, "/repoURL").to_owned()),
        ("Path", text(src, "/path").to_owned()),
        ("Target", text(src, "/targetRevision").to_owned()),
        ("Revision", revision.to_owned()),
        ("Destination", text(app.field("spec"), "/destination/namespace").to_owned()),
        ("Sync policy", if automated { "Automated".into() } else { "Manual".into() }),
        ("Last sync", last_sync(app).to_owned()),
    ];
    out.push_str("<dl>");
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", esc(if v.is_empty() { "—" } else { &v }));
    }
    if let Some(op) = status.and_then(|s| s.get("operationState")) {
        let _ = write!(
            out,
            "<dt>Operation</dt><dd>{} {}</dd>",
            badge(text(Some(op), "/phase")),
            esc(text(Some(op), "/message"))
        );
    }
    for c in
        status.and_then(|s| s.get("conditions")).and_then(Value::as_array).into_iter().flatten()
    {
        let _ = write!(
            out,
            r#"<dt>{}</dt><dd class="warn-text">{}</dd>"#,
            esc(text(Some(c), "/type")),
            esc(text(Some(c), "/message"))
        );
    }
    out.push_str("</dl></div>");
    out.push_str(r#"<div class="actions">"#);
    out.push_str(&action_button(&format!("{base}/sync"), "Sync", page.csrf, &[], "primary"));
    out.push_str(&action_button(
        &format!("{base}/sync"),
        "Sync (prune)",
        page.csrf,
        &[("prune", "true")],
        "",
    ));
    out.push_str(&action_button(&format!("{base}/refresh"), "Refresh", page.csrf, &[], ""));
    if !automated {
        out.push_str(&action_button(
            &format!("{base}/rollback"),
            "Rollback",
            page.csrf,
            &[],
            "danger",
        ));
    }
    out.push_str("</div>");
    out
}

fn resource_tree(app: &Object, children: &Children) -> String {
    let resources: Vec<&Value> = app
        .field("status")
        .and_then(|s| s.get("resources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let (sync, health, _) = statuses(app);
    let mut out = String::from(r#"<h2>Resources</h2><ul class="tree"><li>"#);
    out.push_str(&node(
        "Application",
        app.name(),
        None,
        health,
        &format!("{} {}", badge(sync), badge(health)),
        "",
    ));
    if resources.iter().any(|r| text(Some(r), "/status") == "OutOfSync") {
        let diff = format!("{}/diff", href(app.namespace().unwrap_or(""), app.name()));
        let _ = write!(
            out,
            r#" <a class="diff-link" href="{}">diff of OutOfSync resources</a>"#,
            esc(&diff)
        );
    }
    out.push_str("<ul>");
    for r in resources {
        let (kind, ns, name) =
            (text(Some(r), "/kind"), text(Some(r), "/namespace"), text(Some(r), "/name"));
        let (rsync, rhealth) = (text(Some(r), "/status"), text(Some(r), "/health/status"));
        let link = (kind == "Rollout").then(|| format!("/ui/rollouts/{}/{}", seg(ns), seg(name)));
        let mut badges = badge(rsync);
        if !rhealth.is_empty() {
            badges.push(' ');
            badges.push_str(&badge(rhealth));
        }
        let colour = if rhealth.is_empty() { rsync } else { rhealth };
        let _ = write!(out, "<li>{}", node(kind, name, link.as_deref(), colour, &badges, ns));
        if matches!(kind, "Deployment" | "Rollout") {
            let sets: Vec<&Object> = children
                .replica_sets
                .iter()
                .filter(|rs| rs.namespace() == Some(ns) && owned_by(rs, kind, name))
                .collect();
            if !sets.is_empty() {
                out.push_str("<ul>");
                for rs in sets {
                    let st = replica_set_status(rs);
                    let info = format!(
                        "{}/{} available",
                        crate::html::int(rs.field("status"), "/availableReplicas"),
                        crate::html::int(rs.field("spec"), "/replicas")
                    );
                    let _ = write!(
                        out,
                        "<li>{}{}</li>",
                        node("ReplicaSet", rs.name(), None, st, &badge(st), &info),
                        pods_of(rs, &children.pods)
                    );
                }
                out.push_str("</ul>");
            }
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></li></ul>");
    out
}

fn history(app: &Object, page: &Page<'_>, typed: Option<&Application>) -> String {
    let entries: Vec<&Value> = app
        .field("status")
        .and_then(|s| s.get("history"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut out = String::from("<h2>History</h2>");
    if entries.is_empty() {
        out.push_str(r#"<p class="muted">No deployments yet.</p>"#);
        return out;
    }
    let automated = typed.is_some_and(|a| a.spec.is_automated());
    let base = href(app.namespace().unwrap_or(""), app.name());
    out.push_str(r#"<table class="list"><thead><tr><th>ID</th><th>Deployed at</th><th>Revision</th><th></th></tr></thead><tbody>"#);
    for h in entries.iter().rev() {
        let id = h.get("id").and_then(Value::as_i64).unwrap_or(0).to_string();
        let button = if automated {
            String::new()
        } else {
            action_button(
                &format!("{base}/rollback"),
                "Rollback here",
                page.csrf,
                &[("id", &id)],
                "",
            )
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{button}</td></tr>",
            esc(&id),
            esc(text(Some(h), "/deployedAt")),
            esc(&short(text(Some(h), "/revision"), 12)),
        );
    }
    out.push_str("</tbody></table>");
    if automated {
        out.push_str(r#"<p class="muted">Rollback is disabled while auto-sync is on.</p>"#);
    }
    out
}

pub(crate) async fn diff<C: Cluster + Clone>(
    axum::extract::State(state): Shared<C>,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let session = match state.page_session(&headers) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let title = format!("diff {ns}/{name}");
    let page =
        Page { title: &title, nav: Nav::Applications, watch: "", flash: None, csrf: &session.csrf };
    let mut body = format!(
        r#"<h1>Diff of <a href="{}">{}</a></h1>"#,
        esc(&href(&ns, &name)),
        esc(&format!("{ns}/{name}"))
    );
    // A missing Application is a 404 (with the page frame), as on its own page.
    let app = match ops::fetch(&state.cluster, &ns, &name).await {
        Ok(app) => app,
        Err(ops::OpError::Cluster(e)) => return error_page(&headers, &page, &e),
        Err(other) => {
            let e = weir_cluster::Error::Internal(other.to_string());
            return error_page(&headers, &page, &e);
        }
    };
    let Some(repos) = &state.repos else {
        body.push_str(r#"<p class="muted">No data directory for git clones: use <code>weir app diff</code>.</p>"#);
        return render_page(&headers, &page, &body);
    };
    let result = ops::out_of_sync(&state.cluster, repos, &app).await;
    match result {
        Ok(resources) if resources.is_empty() => {
            body.push_str("<p>Everything is in sync with git.</p>")
        }
        Ok(resources) => {
            for r in resources {
                let k = &r.key;
                let _ = write!(
                    body,
                    "<h2>{}</h2><pre class=\"diff\">",
                    esc(&format!("{}/{} {}/{}", k.group, k.kind, k.namespace, k.name))
                );
                for line in r.diff_text().lines() {
                    let class = match line.chars().next() {
                        Some('+') => "add",
                        Some('-') => "del",
                        _ => "",
                    };
                    let _ = writeln!(body, r#"<span class="{class}">{}</span>"#, esc(line));
                }
                body.push_str("</pre>");
            }
        }
        Err(e) => {
            let _ = write!(body, r#"<p class="flash error">{}</p>"#, esc(&e.to_string()));
        }
    }
    render_page(&headers, &page, &body)
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
    let prune = fields.get("prune").is_some_and(|v| v == "true");
    let outcome = match action.as_str() {
        "sync" => {
            let request = ops::SyncRequest { prune, ..ops::SyncRequest::default() };
            ops::start_sync(cluster, &ns, &name, &request).await.map(|_| "sync started".to_owned())
        }
        "refresh" => {
            ops::refresh(cluster, &ns, &name).await.map(|_| "refresh requested".to_owned())
        }
        "rollback" => {
            let id = match fields.get("id").filter(|v| !v.is_empty()).map(|v| v.parse::<i64>()) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => return back_to(&href(&ns, &name), "error: invalid history id"),
            };
            ops::start_rollback(cluster, &ns, &name, id, prune)
                .await
                .map(|_| "rollback started".to_owned())
        }
        _ => return (axum::http::StatusCode::NOT_FOUND, "no such action\n").into_response(),
    };
    match outcome {
        Ok(done) => back_to(&href(&ns, &name), &done),
        Err(e) => back_to(&href(&ns, &name), &format!("error: {e}")),
    }
}
