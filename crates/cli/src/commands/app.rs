//! `weir app …`: Argo CD Applications with `argocd app`'s words: create, list, get, sync, diff,
//! history, rollback, delete. The Application controller does the work; the operations are
//! `weir_app_controller::ops` (shared with the dashboard); these commands write the
//! Application (or its `operation`) and read its status.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::connect::Backend;
use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args, Subcommand};
use serde_json::json;
use weir_app_controller::RESOURCES_FINALIZER;
use weir_app_controller::git::Repos;
use weir_app_controller::ops::{self, SyncRequest, applications};
use weir_cluster::{DeleteParams, Object, Patch, Subresource, apply};
use weir_model::argocd::Application;

/// `weir app`.
#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    #[command(subcommand)]
    command: AppCommand,
    /// Namespace of the Application objects.
    #[arg(short = 'N', long = "app-namespace", default_value = "argocd", global = true)]
    app_namespace: String,
}

#[derive(Debug, Subcommand)]
enum AppCommand {
    /// Create an application.
    Create(CreateArgs),
    /// List applications.
    List,
    /// Show an application's status and resources.
    Get {
        /// The application.
        name: String,
    },
    /// Sync an application to its target state and wait for the operation.
    Sync(SyncArgs),
    /// Show the differences between git and the live objects (exit code 1 when any).
    Diff {
        /// The application.
        name: String,
    },
    /// Show the deployment history.
    History {
        /// The application.
        name: String,
    },
    /// Sync to the revision of a history entry (refused while auto-sync is on).
    Rollback {
        /// The application.
        name: String,
        /// The history ID (default: the previous deployment).
        id: Option<i64>,
        /// Delete resources no longer in that revision.
        #[arg(long)]
        prune: bool,
        /// Seconds to wait for the operation (0 = do not wait).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Delete an application (and, with --cascade, its resources).
    Delete {
        /// The application.
        name: String,
        /// Delete the application's resources too (default true).
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
        cascade: bool,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The application's name.
    name: String,
    /// Repository URL.
    #[arg(long)]
    repo: String,
    /// Path in the repository.
    #[arg(long)]
    path: String,
    /// Revision (branch, tag, commit; default HEAD).
    #[arg(long)]
    revision: Option<String>,
    /// Destination namespace.
    #[arg(long)]
    dest_namespace: String,
    /// Destination server.
    #[arg(long, default_value = "https://kubernetes.default.svc")]
    dest_server: String,
    /// Project.
    #[arg(long, default_value = "default")]
    project: String,
    /// `automated` (or `auto`, `automatic`) for automated sync; `manual`/`none` otherwise.
    #[arg(long)]
    sync_policy: Option<String>,
    /// Automated sync heals manual changes.
    #[arg(long)]
    self_heal: bool,
    /// Automated sync prunes resources no longer in git.
    #[arg(long)]
    auto_prune: bool,
    /// Automated sync may prune every resource.
    #[arg(long)]
    allow_empty: bool,
    /// A sync option `Key=Value` (repeatable).
    #[arg(long = "sync-option")]
    sync_options: Vec<String>,
    /// Recurse into sub-directories of the path.
    #[arg(long)]
    directory_recurse: bool,
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// The application.
    name: String,
    /// Delete resources no longer in git.
    #[arg(long)]
    prune: bool,
    /// Show what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Sync to this revision instead of the target revision.
    #[arg(long)]
    revision: Option<String>,
    /// Seconds to wait for the operation (0 = do not wait).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

pub(crate) async fn run<B: Backend>(
    client: &B,
    data_dir: &Path,
    args: AppArgs,
) -> Result<ExitCode> {
    let ns = args.app_namespace.as_str();
    match args.command {
        AppCommand::Create(create) => create_app(client, ns, create).await,
        AppCommand::List => list(client, ns).await,
        AppCommand::Get { name } => get(client, ns, &name).await,
        AppCommand::Sync(sync_args) => sync(client, ns, sync_args).await,
        AppCommand::Diff { name } => diff(client, data_dir, ns, &name).await,
        AppCommand::History { name } => history(client, ns, &name).await,
        AppCommand::Rollback { name, id, prune, timeout } => {
            rollback(client, ns, &name, id, prune, timeout).await
        }
        AppCommand::Delete { name, cascade } => delete(client, ns, &name, cascade).await,
    }
}

fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

async fn create_app<B: Backend>(client: &B, ns: &str, a: CreateArgs) -> Result<ExitCode> {
    let mut spec = json!({
        "project": a.project,
        "source": {"repoURL": a.repo, "path": a.path},
        "destination": {"server": a.dest_server, "namespace": a.dest_namespace},
    });
    if let Some(revision) = a.revision {
        spec["source"]["targetRevision"] = json!(revision);
    }
    if a.directory_recurse {
        spec["source"]["directory"] = json!({"recurse": true});
    }
    let mut policy = json!({});
    match a.sync_policy.as_deref() {
        None | Some("manual" | "none") => {}
        Some("automated" | "auto" | "automatic") => {
            policy["automated"] = json!({"prune": a.auto_prune, "selfHeal": a.self_heal, "allowEmpty": a.allow_empty});
        }
        Some(other) => bail!("invalid sync policy {other:?}: use automated or manual"),
    }
    if !a.sync_options.is_empty() {
        policy["syncOptions"] = json!(a.sync_options);
    }
    if policy.as_object().is_some_and(|p| !p.is_empty()) {
        spec["syncPolicy"] = policy;
    }
    let object = Object::from_value(json!({
        "apiVersion": weir_model::argocd::API_VERSION,
        "kind": "Application",
        "metadata": {"name": a.name, "namespace": ns},
        "spec": spec,
    }))?;
    let (outcome, _) = apply(client, &applications(), &object).await?;
    out(&format!("application '{}' {}\n", a.name, outcome.as_str()))?;
    Ok(ExitCode::SUCCESS)
}

async fn fetch<B: Backend>(client: &B, ns: &str, name: &str) -> Result<Application> {
    let object = client
        .get(&applications(), Some(ns), name)
        .await
        .with_context(|| format!("application {name:?} in namespace {ns:?}"))?;
    Ok(object.to_typed()?)
}

fn sync_policy_text(app: &Application) -> String {
    let automated = app.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    match automated {
        Some(a) if app.spec.is_automated() && a.prune_or_default() => "Automated (Prune)".into(),
        Some(_) if app.spec.is_automated() => "Automated".into(),
        _ => "Manual".into(),
    }
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn status_of(app: &Application) -> (String, String, String) {
    let status = app.status.as_ref();
    let sync = status.and_then(|s| s.sync.as_ref());
    (
        sync.map(|s| s.status.clone()).filter(|s| !s.is_empty()).unwrap_or("Unknown".into()),
        status
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.status.clone())
            .unwrap_or("Unknown".into()),
        sync.and_then(|s| s.revision.clone()).unwrap_or_default(),
    )
}

async fn list<B: Backend>(client: &B, ns: &str) -> Result<ExitCode> {
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

async fn get<B: Backend>(client: &B, ns: &str, name: &str) -> Result<ExitCode> {
    let app = fetch(client, ns, name).await?;
    let source = app.spec.effective_sources().first().copied().cloned().unwrap_or_default();
    let (sync, health, revision) = status_of(&app);
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
    field(&mut text, "Sync Policy:", &sync_policy_text(&app));
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
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn sync<B: Backend>(client: &B, ns: &str, a: SyncArgs) -> Result<ExitCode> {
    let request = SyncRequest { prune: a.prune, revision: a.revision, dry_run: a.dry_run };
    let request_id = ops::start_sync(client, ns, &a.name, &request).await?;
    wait_for_operation(client, ns, &a.name, &request_id, a.timeout).await
}

/// Unless `timeout` is 0, waits for the operation tagged `request_id` and prints its results.
async fn wait_for_operation<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    request_id: &str,
    timeout: u64,
) -> Result<ExitCode> {
    if timeout == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let app = fetch(client, ns, name).await?;
        if let Some(state) = ops::finished_operation(&app, request_id) {
            let mut rows = vec![
                ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]
                    .map(String::from)
                    .to_vec(),
            ];
            let results = state.sync_result.as_ref().and_then(|r| r.resources.clone());
            for r in results.unwrap_or_default() {
                rows.push(vec![
                    r.group,
                    r.kind,
                    r.namespace,
                    r.name,
                    r.status.unwrap_or_default(),
                    String::new(),
                    r.hook_type.unwrap_or_default(),
                    r.message.unwrap_or_default(),
                ]);
            }
            let mut text = format!(
                "Operation:          Sync\nPhase:              {}\nMessage:            {}\n\n",
                state.phase,
                state.message.clone().unwrap_or_default()
            );
            text.push_str(&table(&rows));
            out(&text)?;
            if state.phase != "Succeeded" {
                bail!("Operation has completed with phase: {}", state.phase);
            }
            return Ok(ExitCode::SUCCESS);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for the sync of {name:?}");
        }
    }
}

async fn rollback<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    id: Option<i64>,
    prune: bool,
    timeout: u64,
) -> Result<ExitCode> {
    let request_id = ops::start_rollback(client, ns, name, id, prune).await?;
    wait_for_operation(client, ns, name, &request_id, timeout).await
}

async fn diff<B: Backend>(client: &B, data_dir: &Path, ns: &str, name: &str) -> Result<ExitCode> {
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

async fn history<B: Backend>(client: &B, ns: &str, name: &str) -> Result<ExitCode> {
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

async fn delete<B: Backend>(client: &B, ns: &str, name: &str, cascade: bool) -> Result<ExitCode> {
    let rt = applications();
    if cascade {
        let object = client.get(&rt, Some(ns), name).await?;
        let mut finalizers: Vec<String> = object.metadata.finalizers.clone().unwrap_or_default();
        if !finalizers.iter().any(|f| f == RESOURCES_FINALIZER) {
            finalizers.push(RESOURCES_FINALIZER.to_string());
            let patch = Patch::Merge(json!({"metadata": {"finalizers": finalizers}}));
            client.patch(&rt, Some(ns), name, &patch, Subresource::Main).await?;
        }
    }
    client.delete(&rt, Some(ns), name, &DeleteParams::default()).await?;
    out(&format!("application '{name}' deleted\n"))?;
    Ok(ExitCode::SUCCESS)
}
