//! `weir app set NAME [--revision R] [--path P] [--repo URL] [--dest-namespace NS]
//! [--sync-policy automated|none] [--self-heal] [--auto-prune]`: changes an Application's spec
//! as `argocd app set` does, with one merge patch (nothing changes when a flag is refused).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{ArgAction, Args};
use serde_json::{Map, Value, json};
use weir_app_controller::ops::applications;
use weir_cluster::{Patch, Subresource};
use weir_model::argocd::Application;

use super::{fetch, out};
use crate::connect::Backend;

/// `weir app set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The application.
    name: String,
    /// Target revision (branch, tag, commit).
    #[arg(long)]
    revision: Option<String>,
    /// Path in the repository.
    #[arg(long)]
    path: Option<String>,
    /// Repository URL.
    #[arg(long)]
    repo: Option<String>,
    /// Destination namespace.
    #[arg(long)]
    dest_namespace: Option<String>,
    /// `automated` (or `auto`, `automatic`) for automated sync; `none` (or `manual`) to stop it.
    #[arg(long)]
    sync_policy: Option<String>,
    /// Automated sync heals manual changes (`--self-heal=false` to stop).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    self_heal: Option<bool>,
    /// Automated sync prunes resources no longer in git (`--auto-prune=false` to stop).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    auto_prune: Option<bool>,
}

/// Patches the Application's spec.
pub(super) async fn run<B: Backend>(client: &B, ns: &str, args: SetArgs) -> Result<ExitCode> {
    let app = fetch(client, ns, &args.name).await?;
    let patch = spec_patch(&app, &args)?;
    let patch = Patch::Merge(json!({ "spec": patch }));
    client.patch(&applications(), Some(ns), &args.name, &patch, Subresource::Main).await?;
    out(&format!("application '{}' updated\n", args.name))?;
    Ok(ExitCode::SUCCESS)
}

/// The merge patch of `spec` the flags ask for, refused as Argo CD's CLI refuses it.
fn spec_patch(app: &Application, args: &SetArgs) -> Result<Value> {
    let mut source = Map::new();
    for (field, value) in
        [("targetRevision", &args.revision), ("path", &args.path), ("repoURL", &args.repo)]
    {
        if let Some(value) = value {
            source.insert(field.to_owned(), json!(value));
        }
    }
    let mut spec = Map::new();
    if !source.is_empty() {
        if app.spec.sources.as_ref().is_some_and(|s| !s.is_empty()) {
            bail!(
                "application {:?} has several sources: weir app set changes a single source only",
                app.name()
            );
        }
        spec.insert("source".to_owned(), Value::Object(source));
    }
    if let Some(namespace) = &args.dest_namespace {
        spec.insert("destination".to_owned(), json!({ "namespace": namespace }));
    }
    let automated_now = match args.sync_policy.as_deref() {
        None => app.spec.is_automated(),
        Some("automated" | "auto" | "automatic") => true,
        Some("none" | "manual") => false,
        Some(other) => bail!("invalid sync policy {other:?}: use automated or none"),
    };
    let mut automated = Map::new();
    for (flag, field, value) in
        [("--self-heal", "selfHeal", args.self_heal), ("--auto-prune", "prune", args.auto_prune)]
    {
        if let Some(value) = value {
            if !automated_now {
                bail!("cannot set {flag}: application {:?} has no automated sync", app.name());
            }
            automated.insert(field.to_owned(), json!(value));
        }
    }
    match args.sync_policy.as_deref() {
        Some("none" | "manual") => {
            spec.insert("syncPolicy".to_owned(), json!({ "automated": null }));
        }
        Some(_) | None
            if automated_now && (args.sync_policy.is_some() || !automated.is_empty()) =>
        {
            spec.insert("syncPolicy".to_owned(), json!({ "automated": automated }));
        }
        _ => {}
    }
    if spec.is_empty() {
        bail!(
            "nothing to set: give at least one of --revision, --path, --repo, --dest-namespace, --sync-policy, --self-heal, --auto-prune"
        );
    }
    Ok(Value::Object(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        set: SetArgs,
    }

    fn app(sync_policy: Value) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "r", "path": "p"}, "destination": {"namespace": "d"},
                     "syncPolicy": sync_policy},
        }))
        .expect("application")
    }

    fn patch(app: &Application, flags: &[&str]) -> Result<Value> {
        let cli = Cli::try_parse_from(["set", "guestbook"].iter().chain(flags))?;
        spec_patch(app, &cli.set)
    }

    /// The patches `argocd app set` makes for each flag (Argo CD's `SetAppSpecOptions`).
    #[test]
    fn each_flag_patches_its_field() {
        let manual = app(json!({}));
        let automated = app(json!({"automated": {"prune": true}}));
        let cases: [(&Application, &[&str], Value); 7] = [
            (&manual, &["--revision", "v2"], json!({"source": {"targetRevision": "v2"}})),
            (
                &manual,
                &["--path", "q", "--repo", "file:///x"],
                json!({"source": {"path": "q", "repoURL": "file:///x"}}),
            ),
            (&manual, &["--dest-namespace", "n"], json!({"destination": {"namespace": "n"}})),
            (&manual, &["--sync-policy", "automated"], json!({"syncPolicy": {"automated": {}}})),
            (
                &manual,
                &["--sync-policy", "automated", "--self-heal", "--auto-prune"],
                json!({"syncPolicy": {"automated": {"selfHeal": true, "prune": true}}}),
            ),
            (&automated, &["--sync-policy", "none"], json!({"syncPolicy": {"automated": null}})),
            (
                &automated,
                &["--auto-prune=false"],
                json!({"syncPolicy": {"automated": {"prune": false}}}),
            ),
        ];
        for (app, flags, expected) in cases {
            assert_eq!(patch(app, flags).expect("patch"), expected, "{flags:?}");
        }
    }

    #[test]
    fn refused_flags_say_why() {
        let manual = app(json!({}));
        let cases: [(&[&str], &str); 3] = [
            (
                &["--self-heal"],
                "cannot set --self-heal: application \"guestbook\" has no automated sync",
            ),
            (&[], "nothing to set"),
            (&["--sync-policy", "sometimes"], "invalid sync policy \"sometimes\""),
        ];
        for (flags, expected) in cases {
            let error = patch(&manual, flags).expect_err("refused").to_string();
            assert!(error.contains(expected), "{flags:?}: {error}");
        }
    }
}
