//! `weir app list`, `get`, `history` and `diff`: an Application's state as `argocd app` shows
//! it ([`render`] is also what `refresh` and `wait` print).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use weir_app_controller::git::Repos;
use weir_app_controller::ops::{self, applications};
use weir_model::argocd::Application;

use super::{fetch, out, status_of, table};
use crate::connect::Backend;

/// `Automated (Prune)`, `Automated` or `Manual`, as `argocd app get` says.
fn sync_policy_text(app: &Application) -> String {
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    match automated {
        Some(a) if app.spec.is_automated() && a.prune_or_default() => "Automated (Prune)".into(),
        Some(_) if app.spec.is_automated() => "Automated".into(),
        _ => "Manual".into(),
    }
}

/// `argocd app list`'s table.
pub(super) async fn list<B: Backend>(client: &B, ns: &str) -> Result<ExitCode> {
    let objects = client.list(&applications(), Some(ns), &Default::default()).await?;
    let mut rows = vec![
        [
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "PROJECT",
            "STATUS",
            "HEALTH",
            "SYNCPOLICY",
            "CONDITIONS",
            "REPO",
            "PATH",
            "TARGET",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for object in objects.items {
        let app: Application = object.to_typed()?;
        let (sync, health, _) = status_of(&app);
        let source = app.spec.effective_sources().first().copied().cloned().unwrap_or_default();
        let conditions: Vec<String> = app
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| c.r#type.clone())
            .collect();
        let policy = if app.spec.is_automated() { "Auto" } else { "Manual" };
        let policy = match app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()) {
            Some(a) if app.spec.is_automated() && a.prune_or_default() => "Auto-Prune",
            _ => policy,
        };
        rows.push(vec![
            format!("{ns}/{}", app.name()),
            app.spec.destination.server.clone().unwrap_or_default(),
            app.spec.destination.namespace.clone().unwrap_or_default(),
            app.spec.project_or_default().to_string(),
            sync,
            health,
            policy.to_string(),
            if conditions.is_empty() { "<none>".into() } else { conditions.join(",") },
            source.repo_url.clone(),
            source.path_or_root().to_string(),
            source.target_revision_or_default().to_string(),
        ]);
    }
    out(&table(&rows))?;
    Ok(ExitCode::SUCCESS)
}

/// `argocd app get`.
pub(super) async fn get<B: Backend>(client: &B, ns: &str, name: &str) -> Result<ExitCode> {
    let app = fetch(client, ns, name).await?;
    out(&render(&app, ns))?;
    Ok(ExitCode::SUCCESS)
}

/// `argocd app get`'s text: summary, operation, conditions and resources.
pub(super) fn render(app: &Application, ns: &str) -> String {
    let name = app.name();
    let source = app.spec.effective_sources().first().copied().cloned().unwrap_or_default();
    let (sync, health, revision) = status_of(app);
    let target = source.target_revision_or_default();
    let short: String = revision.chars().take(7).collect();
    let sync_line = match sync.as_str() {
        "Synced" => format!("Synced to {target} ({short})"),
        "OutOfSync" => format!("OutOfSync from {target} ({short})"),
        other => other.to_string(),
    };
    let dest = &app.spec.destination;
    let mut text = String::new();
    let field = |text: &mut String, k: &str, v: &str| text.push_str(&format!("{k:<20}{v}\n"));
    field(&mut text, "Name:", &format!("{ns}/{name}"));
    field(&mut text, "Project:", app.spec.project_or_default());
    field(&mut text, "Server:", dest.server.as_deref().unwrap_or(""));
    field(&mut text, "Namespace:", dest.namespace.as_deref().unwrap_or(""));
    text.push_str("Source:\n");
    field(&mut text, "- Repo:", &source.repo_url);
    field(&mut text, "  Target:", target);
    field(&mut text, "  Path:", source.path_or_root());
    field(&mut text, "Sync Policy:", &sync_policy_text(app));
    field(&mut text, "Sync Status:", &sync_line);
    field(&mut text, "Health Status:", &health);
    let status = app.status.clone().unwrap_or_default();
    if let Some(op) = &status.operation_state {
        text.push('\n');
        field(&mut text, "Operation:", "Sync");
        let rev = op.sync_result.as_ref().map(|r| r.revision.clone()).unwrap_or_default();
        field(&mut text, "Sync Revision:", &rev);
        field(&mut text, "Phase:", &op.phase);
        field(&mut text, "Start:", &op.started_at.0.to_string());
        let finished = op.finished_at.as_ref().map(|t| t.0.to_string()).unwrap_or_default();
        field(&mut text, "Finished:", &finished);
        field(&mut text, "Message:", op.message.as_deref().unwrap_or(""));
    }
    let conditions = status.conditions.clone().unwrap_or_default();
    if !conditions.is_empty() {
        let mut rows = vec![["CONDITION", "MESSAGE", "LAST TRANSITION"].map(String::from).to_vec()];
        for c in conditions {
            let at = c.last_transition_time.map(|t| t.0.to_string()).unwrap_or_default();
            rows.push(vec![c.r#type, c.message, at]);
        }
        text.push('\n');
        text.push_str(&table(&rows));
    }
    let results = status
        .operation_state
        .as_ref()
        .and_then(|o| o.sync_result.as_ref())
        .and_then(|r| r.resources.clone())
        .unwrap_or_default();
    let mut rows = vec![
        ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]
            .map(String::from)
            .to_vec(),
    ];
    for r in status.resources.clone().unwrap_or_default() {
        let (group, kind) = (r.group.unwrap_or_default(), r.kind.unwrap_or_default());
        let (namespace, name) = (r.namespace.unwrap_or_default(), r.name.unwrap_or_default());
        let message = results
            .iter()
            .find(|x| {
                x.group == group && x.kind == kind && x.name == name && x.namespace == namespace
            })
            .and_then(|x| x.message.clone())
            .unwrap_or_default();
        let health = r.health.and_then(|h| h.status).unwrap_or_default();
        let status = r.status.unwrap_or_default();
        rows.push(vec![group, kind, namespace, name, status, health, String::new(), message]);
    }
    text.push('\n');
    text.push_str(&table(&rows));
    text
}

/// `argocd app diff`: the out-of-sync resources' diffs, exit code 1 when any.
pub(super) async fn diff<B: Backend>(
    client: &B,
    data_dir: &Path,
    ns: &str,
    name: &str,
) -> Result<ExitCode> {
    let app = fetch(client, ns, name).await?;
    let repos = Repos::new(data_dir.join("cli-repos"));
    let out_of_sync = ops::out_of_sync(client, &repos, &app).await?;
    let mut text = String::new();
    for r in &out_of_sync {
        let k = &r.key;
        text.push_str(&format!(
            "\n===== {}/{} {}/{} ======\n",
            k.group, k.kind, k.namespace, k.name
        ));
        text.push_str(&r.diff_text());
    }
    out(&text)?;
    Ok(if out_of_sync.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `argocd app history`.
pub(super) async fn history<B: Backend>(client: &B, ns: &str, name: &str) -> Result<ExitCode> {
    let app = fetch(client, ns, name).await?;
    let source = app.spec.effective_sources().first().copied().cloned().unwrap_or_default();
    let mut text = format!("SOURCE  {}\n", source.repo_url);
    let mut rows = vec![["ID", "DATE", "REVISION"].map(String::from).to_vec()];
    for h in app.status.iter().flat_map(|s| s.history.iter().flatten()) {
        let revision = h.revision.clone().unwrap_or_default();
        let target = h.source.as_ref().map_or("HEAD", |s| s.target_revision_or_default());
        let short: String = revision.chars().take(7).collect();
        rows.push(vec![
            h.id.to_string(),
            h.deployed_at.0.to_string(),
            format!("{target} ({short})"),
        ]);
    }
    text.push_str(&table(&rows));
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}
