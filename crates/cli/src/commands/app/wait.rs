//! `weir app wait NAME [--sync] [--health] [--operation] [--timeout SECONDS]`, and the watch
//! every waiting command (`sync`, `rollback`, `refresh`, `wait`) uses: the Application's
//! changes as they happen, not polling, bounded by a timeout that ends in a clear error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use futures::StreamExt;
use weir_app_controller::ops::applications;
use weir_cluster::{FieldSelector, WatchEvent, WatchParams};
use weir_model::argocd::Application;

use super::{fetch, out, show, status_of};
use crate::connect::Backend;

/// `weir app wait`.
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// The application.
    name: String,
    /// Wait until the application is Synced.
    #[arg(long)]
    sync: bool,
    /// Wait until the application is Healthy.
    #[arg(long)]
    health: bool,
    /// Wait until no operation is running.
    #[arg(long)]
    operation: bool,
    /// Seconds to wait before failing (0 = no limit).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
}

/// What `weir app wait` waits for; with none of the flags, all three (as `argocd app wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Conditions {
    pub(super) sync: bool,
    pub(super) health: bool,
    pub(super) operation: bool,
}

impl Conditions {
    fn from_flags(sync: bool, health: bool, operation: bool) -> Self {
        if !(sync || health || operation) {
            return Conditions { sync: true, health: true, operation: true };
        }
        Conditions { sync, health, operation }
    }

    /// What `app` still lacks, in words (empty when it meets every condition).
    pub(super) fn unmet(&self, app: &Application) -> Vec<String> {
        let (sync, health, _) = status_of(app);
        let mut unmet = Vec::new();
        if self.sync && sync != "Synced" {
            unmet.push(format!("sync status is {sync}, not Synced"));
        }
        if self.health && health != "Healthy" {
            unmet.push(format!("health status is {health}, not Healthy"));
        }
        if self.operation && app.operation.is_some() {
            unmet.push("an operation is running".to_string());
        }
        unmet
    }
}

/// Waits until the application meets the conditions, then prints it.
pub(super) async fn run<B: Backend>(client: &B, ns: &str, args: WaitArgs) -> Result<ExitCode> {
    // An Application that does not exist is an error now, not a wait until the timeout.
    fetch(client, ns, &args.name).await?;
    let conditions = Conditions::from_flags(args.sync, args.health, args.operation);
    let timeout = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    let mut last_unmet = Vec::new();
    let outcome = watch_until(client, ns, &args.name, timeout, |app| {
        last_unmet = conditions.unmet(app);
        last_unmet.is_empty().then(|| app.clone())
    })
    .await?;
    match outcome {
        Some(app) => {
            out(&show::render(&app, ns))?;
            Ok(ExitCode::SUCCESS)
        }
        None => bail!(
            "timed out after {}s waiting for application {:?}: {}",
            args.timeout,
            args.name,
            last_unmet.join(", ")
        ),
    }
}

/// Watches the Application `name` (its current state first, then each change) until `done`
/// returns `Some`, or `timeout` passes (`Ok(None)`). A deleted Application is an error; a
/// watch the server ends is opened again.
pub(super) async fn watch_until<B: Backend, T>(
    client: &B,
    ns: &str,
    name: &str,
    timeout: Option<Duration>,
    mut done: impl FnMut(&Application) -> Option<T>,
) -> Result<Option<T>> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let watch = async {
        loop {
            let params = WatchParams {
                field_selector: Some(FieldSelector::parse(&format!("metadata.name={name}"))?),
                ..WatchParams::default()
            };
            let mut events = client.watch(&applications(), Some(ns), &params).await?;
            while let Some(event) = events.next().await {
                let object = match event? {
                    WatchEvent::Added(object) | WatchEvent::Modified(object) => object,
                    WatchEvent::Deleted(_) => bail!("application {name:?} was deleted"),
                    WatchEvent::Bookmark(_) => continue,
                };
                let app: Application = object.to_typed()?;
                if let Some(value) = done(&app) {
                    return Ok(value);
                }
            }
        }
    };
    match deadline {
        None => watch.await.map(Some),
        Some(deadline) => match tokio::time::timeout_at(deadline, watch).await {
            Ok(result) => result.map(Some),
            Err(_elapsed) => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(sync: &str, health: &str, operation: bool) -> Application {
        let mut value = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "r"}, "destination": {}},
            "status": {"sync": {"status": sync}, "health": {"status": health}},
        });
        if operation {
            value["operation"] = json!({"sync": {}});
        }
        serde_json::from_value(value).expect("application")
    }

    /// `argocd app wait`: no flag waits for all three; each flag for its own condition.
    #[test]
    fn what_each_flag_waits_for() {
        let all = Conditions::from_flags(false, false, false);
        let sync = Conditions::from_flags(true, false, false);
        let health = Conditions::from_flags(false, true, false);
        let operation = Conditions::from_flags(false, false, true);
        let cases = [
            (all, app("Synced", "Healthy", false), 0),
            (all, app("OutOfSync", "Progressing", true), 3),
            (sync, app("Synced", "Degraded", true), 0),
            (sync, app("OutOfSync", "Healthy", false), 1),
            (health, app("OutOfSync", "Healthy", true), 0),
            (health, app("Synced", "Progressing", false), 1),
            (operation, app("OutOfSync", "Missing", false), 0),
            (operation, app("Synced", "Healthy", true), 1),
        ];
        for (conditions, app, unmet) in cases {
            assert_eq!(conditions.unmet(&app).len(), unmet, "{conditions:?} {:?}", app.status);
        }
    }
}
