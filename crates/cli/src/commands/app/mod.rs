//! `weir app …`: Argo CD Applications with `argocd app`'s words: create, list, get, sync, diff,
//! history, rollback, delete, refresh, wait, set, terminate-op. The Application controller does the work; the
//! operations are `weir_app_controller::ops` (shared with the dashboard); these commands write
//! the Application (or its `operation`) and read its status, waiting on a watch.
//!
//! One module per group of commands: [`create`] (create, `--upsert`), [`show`] (list, get,
//! history, diff), [`sync`] (sync, rollback and the retry options), [`delete`], [`refresh`],
//! [`wait`] (and the watch every waiting command uses), [`set`].

mod create;
mod delete;
mod refresh;
mod set;
mod show;
mod sync;
mod wait;

use std::path::Path;
use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::{Context, Result};
use clap::{ArgAction, Args, Subcommand};
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
    /// Create an application (`--upsert` to update one whose spec differs).
    Create(create::CreateArgs),
    /// List applications.
    List,
    /// Show an application's status and resources.
    Get {
        /// The application.
        name: String,
    },
    /// Sync an application to its target state and wait for the operation.
    Sync(sync::SyncArgs),
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
    /// Compare an application with git now, wait for the comparison and show the application.
    Refresh(refresh::RefreshArgs),
    /// Wait until an application is synced, healthy and has no operation running.
    Wait(wait::WaitArgs),
    /// Change an application's source, destination or sync policy.
    Set(set::SetArgs),
    /// Terminate the running operation (its running hooks are deleted; it ends Failed).
    TerminateOp {
        /// The application.
        name: String,
    },
}

pub(crate) async fn run<B: Backend>(
    client: &B,
    data_dir: &Path,
    args: AppArgs,
) -> Result<ExitCode> {
    let ns = args.app_namespace.as_str();
    match args.command {
        AppCommand::Create(create) => create::run(client, ns, create).await,
        AppCommand::List => show::list(client, ns).await,
        AppCommand::Get { name } => show::get(client, ns, &name).await,
        AppCommand::Sync(sync_args) => sync::sync(client, ns, sync_args).await,
        AppCommand::Diff { name } => show::diff(client, data_dir, ns, &name).await,
        AppCommand::History { name } => show::history(client, ns, &name).await,
        AppCommand::Rollback { name, id, prune, timeout } => {
            sync::rollback(client, ns, &name, id, prune, timeout).await
        }
        AppCommand::Delete { name, cascade } => delete::run(client, ns, &name, cascade).await,
        AppCommand::Refresh(refresh_args) => refresh::run(client, ns, refresh_args).await,
        AppCommand::Wait(wait_args) => wait::run(client, ns, wait_args).await,
        AppCommand::Set(set_args) => set::run(client, ns, set_args).await,
        AppCommand::TerminateOp { name } => {
            weir_app_controller::ops::terminate_operation(client, ns, &name).await?;
            out(&format!("Application '{name}' operation terminating\n"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints `text` on standard output (a closed pipe ends the command quietly).
fn out(text: &str) -> Result<()> {
    Ok(crate::exit::print(text)?)
}

/// Reads the Application `name`.
async fn fetch<B: Backend>(client: &B, ns: &str, name: &str) -> Result<Application> {
    let object = client
        .get(&weir_app_controller::ops::applications(), Some(ns), name)
        .await
        .with_context(|| format!("application {name:?} in namespace {ns:?}"))?;
    Ok(object.to_typed()?)
}

/// Rows as left-aligned columns two spaces apart, as `argocd` prints tables.
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

/// Sync status, health status and synced revision (`Unknown` when not reported yet).
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
