//! `weir app refresh NAME [--hard-refresh]`: Argo CD's refresh, the
//! `argocd.argoproj.io/refresh` annotation (`normal`, or `hard`), which the controller answers
//! by comparing the Application with git at once and removing the annotation. This command
//! waits for that (on a watch) and prints the refreshed Application.
//!
//! weir keeps no manifest cache apart from the comparison itself, so a hard refresh re-reads
//! git as a normal one does; the annotation still says which was asked for.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;
use weir_app_controller::REFRESH_ANNOTATION;
use weir_app_controller::ops::applications;
use weir_cluster::{Patch, Subresource};
use weir_model::argocd::Application;

use super::wait::watch_until;
use super::{fetch, out, show};
use crate::connect::Backend;

/// How long, once the annotation is gone, to wait for the status the comparison writes.
const STATUS_GRACE: Duration = Duration::from_secs(3);

/// `weir app refresh`.
#[derive(Debug, Args)]
pub(crate) struct RefreshArgs {
    /// The application.
    name: String,
    /// Ask for a hard refresh (`argocd.argoproj.io/refresh: hard`).
    #[arg(long)]
    hard_refresh: bool,
    /// Seconds to wait for the controller (0 = no limit).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Annotates the Application, waits until the controller has refreshed it, prints it.
pub(super) async fn run<B: Backend>(client: &B, ns: &str, args: RefreshArgs) -> Result<ExitCode> {
    let name = args.name.as_str();
    let before = reconciled_at(&fetch(client, ns, name).await?);
    let kind = if args.hard_refresh { "hard" } else { "normal" };
    let patch = Patch::Merge(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: kind}}}));
    client.patch(&applications(), Some(ns), name, &patch, Subresource::Main).await?;
    let timeout = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    let refreshed = watch_until(client, ns, name, timeout, |app| {
        let annotated =
            app.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(REFRESH_ANNOTATION));
        (!annotated).then(|| app.clone())
    })
    .await?;
    let Some(mut app) = refreshed else {
        bail!(
            "timed out after {}s waiting for the controller to refresh application {name:?} \
             (is it running?)",
            args.timeout
        );
    };
    // The controller removes the annotation, then writes the comparison's status.
    if reconciled_at(&app) == before {
        let newer = watch_until(client, ns, name, Some(STATUS_GRACE), |app| {
            (reconciled_at(app) != before).then(|| app.clone())
        })
        .await?;
        app = match newer {
            Some(app) => app,
            None => fetch(client, ns, name).await?,
        };
    }
    out(&show::render(&app, ns))?;
    Ok(ExitCode::SUCCESS)
}

/// When the controller last compared the Application with git.
fn reconciled_at(app: &Application) -> Option<String> {
    app.status.as_ref().and_then(|s| s.reconciled_at.as_ref()).map(|t| t.0.to_string())
}
