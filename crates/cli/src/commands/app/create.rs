//! `weir app create NAME --repo … --path … --dest-namespace … [--upsert]`, as `argocd app
//! create`: an existing Application with the same spec is left as it is; one whose spec differs
//! is an error unless `--upsert`, which replaces its spec.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};
use weir_app_controller::ops::applications;
use weir_cluster::{Error as ClusterError, Object};
use weir_model::argocd::ApplicationSpec;

use super::out;
use super::sync::retry_strategy;
use crate::connect::Backend;

/// `weir app create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
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
    /// Retry a failed sync this many times (`syncPolicy.retry.limit`; negative: no limit).
    #[arg(long, alias = "retry-limit", default_value_t = 0, allow_negative_numbers = true)]
    sync_retry_limit: i64,
    /// Backoff before the first retry (a duration such as 5s, 1m).
    #[arg(long, alias = "retry-backoff-duration", default_value = "5s")]
    sync_retry_backoff_duration: String,
    /// Most backoff between retries.
    #[arg(long, alias = "retry-backoff-max-duration", default_value = "3m0s")]
    sync_retry_backoff_max_duration: String,
    /// Factor the backoff grows by after each failed retry.
    #[arg(long, alias = "retry-backoff-factor", default_value_t = 2)]
    sync_retry_backoff_factor: i64,
    /// Replace the spec of an existing application that differs (else that is an error).
    #[arg(long)]
    upsert: bool,
}

/// What `create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Unchanged,
    Updated,
}

/// Creates (or, with `--upsert`, updates) the Application.
pub(super) async fn run<B: Backend>(client: &B, ns: &str, a: CreateArgs) -> Result<ExitCode> {
    let spec = spec_of(&a)?;
    let created = create_or_upsert(client, ns, &a.name, spec, a.upsert).await?;
    let word = match created {
        Outcome::Created => "created",
        Outcome::Unchanged => "unchanged",
        Outcome::Updated => "updated",
    };
    out(&format!("application '{}' {word}\n", a.name))?;
    Ok(ExitCode::SUCCESS)
}

/// The spec the flags describe.
fn spec_of(a: &CreateArgs) -> Result<Value> {
    let mut spec = json!({
        "project": a.project,
        "source": {"repoURL": a.repo, "path": a.path},
        "destination": {"server": a.dest_server, "namespace": a.dest_namespace},
    });
    if let Some(revision) = &a.revision {
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
    let retry = retry_strategy(
        a.sync_retry_limit,
        &a.sync_retry_backoff_duration,
        &a.sync_retry_backoff_max_duration,
        a.sync_retry_backoff_factor,
    )?;
    if let Some(retry) = retry {
        policy["retry"] = json!(retry);
    }
    if policy.as_object().is_some_and(|p| !p.is_empty()) {
        spec["syncPolicy"] = policy;
    }
    Ok(spec)
}

/// Argo CD's Create: a new Application is created; an existing one with an equal spec is left
/// alone; one whose spec differs gets the new spec with `upsert`, else is refused with Argo's
/// message (and nothing changes).
async fn create_or_upsert<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    spec: Value,
    upsert: bool,
) -> Result<Outcome> {
    let rt = applications();
    let existing = match client.get(&rt, Some(ns), name).await {
        Ok(existing) => existing,
        Err(ClusterError::NotFound { .. }) => {
            let object = Object::from_value(json!({
                "apiVersion": weir_model::argocd::API_VERSION,
                "kind": "Application",
                "metadata": {"name": name, "namespace": ns},
                "spec": spec,
            }))?;
            client.create(&rt, object).await?;
            return Ok(Outcome::Created);
        }
        Err(e) => return Err(e.into()),
    };
    let mut value = existing.to_value();
    if same_spec(value.get("spec").unwrap_or(&Value::Null), &spec) {
        return Ok(Outcome::Unchanged);
    }
    if !upsert {
        bail!(
            "application {name:?}: existing application spec is different, use upsert flag to force update"
        );
    }
    value["spec"] = spec;
    client.update(&rt, Object::from_value(value)?).await?;
    Ok(Outcome::Updated)
}

/// Whether two specs mean the same: read as the controller reads them (so a field written out
/// with its default equals one left out), or as JSON when one does not read as a spec.
fn same_spec(existing: &Value, wanted: &Value) -> bool {
    let typed = |value: &Value| {
        serde_json::from_value::<ApplicationSpec>(value.clone())
            .ok()
            .and_then(|spec| serde_json::to_value(spec).ok())
    };
    match (typed(existing), typed(wanted)) {
        (Some(existing), Some(wanted)) => existing == wanted,
        _ => existing == wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal meaning, not equal text: Argo CD compares the typed specs.
    #[test]
    fn specs_are_compared_by_meaning() {
        let base = json!({"project": "default", "source": {"repoURL": "r", "path": "p"},
                          "destination": {"namespace": "d"}});
        let mut reordered = json!({"destination": {"namespace": "d"}, "project": "default",
                                   "source": {"path": "p", "repoURL": "r"}});
        assert!(same_spec(&base, &reordered));
        reordered["source"]["path"] = json!("q");
        assert!(!same_spec(&base, &reordered));
        let unreadable = json!({"source": 7});
        assert!(!same_spec(&base, &unreadable));
        assert!(same_spec(&unreadable, &unreadable.clone()));
    }
}
