//! `weir app sync` and `weir app rollback`: start a sync operation as `argocd app sync` does
//! (`--prune`, `--dry-run`, `--revision`, `--force`, `--replace`, `--retry-*`) and wait for it
//! on a watch; and the retry options `create` shares (`syncPolicy.retry`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use weir_app_controller::ops::{self, SyncRequest};
use weir_model::argocd::{Backoff, ResourceResult, RetryStrategy, parse_backoff_duration};

use super::wait::watch_until;
use super::{out, table};
use crate::connect::Backend;

/// `weir app sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
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
    /// Use a force apply: an object that cannot be updated is deleted and created again.
    #[arg(long)]
    force: bool,
    /// Replace objects instead of applying them (the `Replace=true` sync option).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    retry: RetryArgs,
    /// Seconds to wait for the operation (0 = do not wait).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// `--retry-limit` and its backoff, as `argocd app sync` spells them.
#[derive(Debug, Args)]
pub(crate) struct RetryArgs {
    /// Retry a failed sync this many times (0: no retry, negative: without limit).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    retry_limit: i64,
    /// Backoff before the first retry (a duration such as 5s, 1m).
    #[arg(long, default_value = "5s")]
    retry_backoff_duration: String,
    /// Most backoff between retries.
    #[arg(long, default_value = "3m0s")]
    retry_backoff_max_duration: String,
    /// Factor the backoff grows by after each failed retry.
    #[arg(long, default_value_t = 2)]
    retry_backoff_factor: i64,
}

impl RetryArgs {
    /// The retry strategy these flags ask for (none without `--retry-limit`).
    fn strategy(&self) -> Result<Option<RetryStrategy>> {
        retry_strategy(
            self.retry_limit,
            &self.retry_backoff_duration,
            &self.retry_backoff_max_duration,
            self.retry_backoff_factor,
        )
    }
}

/// The `retry` of an operation or of `syncPolicy` (Argo's CLI: set only when the limit is not
/// 0), with the durations checked as the controller will read them.
pub(super) fn retry_strategy(
    limit: i64,
    duration: &str,
    max_duration: &str,
    factor: i64,
) -> Result<Option<RetryStrategy>> {
    if limit == 0 {
        return Ok(None);
    }
    for (flag, text) in [("backoff duration", duration), ("backoff max duration", max_duration)] {
        if parse_backoff_duration(text).is_none() {
            bail!("invalid retry {flag} {text:?}: use a duration such as 5s, 1m or 1h30m");
        }
    }
    if factor < 1 {
        bail!("invalid retry backoff factor {factor}: use 1 or more");
    }
    Ok(Some(RetryStrategy {
        limit: Some(limit),
        backoff: Some(Backoff {
            duration: Some(duration.to_owned()),
            factor: Some(factor),
            max_duration: Some(max_duration.to_owned()),
        }),
        refresh: None,
    }))
}

/// Starts the sync and, unless `--timeout 0`, waits for its result.
pub(super) async fn sync<B: Backend>(client: &B, ns: &str, a: SyncArgs) -> Result<ExitCode> {
    let request = SyncRequest {
        prune: a.prune,
        revision: a.revision,
        dry_run: a.dry_run,
        sync_options: if a.replace { vec!["Replace=true".to_owned()] } else { Vec::new() },
        force: a.force,
        retry: a.retry.strategy()?,
    };
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
    let finished = watch_until(client, ns, name, Some(Duration::from_secs(timeout)), |app| {
        ops::finished_operation(app, request_id)
    })
    .await?;
    let Some(state) = finished else {
        bail!("timed out after {timeout}s waiting for the sync of {name:?}");
    };
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
        "Operation:          Sync\nPhase:              {}\nMessage:            {}\n",
        state.phase,
        state.message.clone().unwrap_or_default()
    );
    if let Some(count) = state.retry_count.filter(|count| *count > 0) {
        text.push_str(&format!("Retries:            {count}\n"));
    }
    text.push('\n');
    text.push_str(&table(&rows));
    out(&text)?;
    if state.phase != "Succeeded" {
        bail!("Operation has completed with phase: {}", state.phase);
    }
    let pruning_required =
        pruning_required(state.sync_result.as_ref().and_then(|r| r.resources.as_deref()));
    if pruning_required > 0 {
        // Argo CD's CLI: the operation succeeded, but the app cannot be Synced without a prune.
        bail!("{pruning_required} resources require pruning");
    }
    Ok(ExitCode::SUCCESS)
}

/// How many results were prunes the sync skipped (Argo's `ResourceResults.PruningRequired`).
fn pruning_required(results: Option<&[ResourceResult]>) -> usize {
    results
        .unwrap_or_default()
        .iter()
        .filter(|r| r.status.as_deref() == Some("PruneSkipped"))
        .count()
}

/// `argocd app rollback`: syncs a history entry's revision and waits for it.
pub(super) async fn rollback<B: Backend>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_required_counts_skipped_prunes() {
        let result = |status: &str| ResourceResult {
            status: Some(status.to_owned()),
            ..ResourceResult::default()
        };
        let results =
            [result("Synced"), result("PruneSkipped"), result("Pruned"), result("PruneSkipped")];
        assert_eq!(pruning_required(Some(&results)), 2);
        assert_eq!(pruning_required(None), 0);
    }

    /// Argo CD's CLI sets `retry` only for a non-zero limit; bad durations and factors are
    /// refused before anything is written.
    #[test]
    fn retry_flags_make_the_strategy_or_a_clear_error() {
        assert_eq!(retry_strategy(0, "5s", "3m0s", 2).expect("no retry"), None);
        let strategy = retry_strategy(3, "1s", "10s", 3).expect("valid").expect("some");
        assert_eq!(strategy.limit_or_default(), 3);
        assert_eq!(strategy.backoff_duration(), Some(Duration::from_secs(1)));
        assert_eq!(strategy.backoff_max_duration(), Some(Duration::from_secs(10)));
        assert_eq!(strategy.backoff_factor(), 3);
        assert!(retry_strategy(-1, "5s", "3m0s", 2).expect("unlimited").is_some());
        let bad = retry_strategy(1, "soon", "3m0s", 2).expect_err("bad duration").to_string();
        assert!(bad.contains("invalid retry backoff duration \"soon\""), "{bad}");
        let bad = retry_strategy(1, "5s", "3m0s", 0).expect_err("bad factor").to_string();
        assert!(bad.contains("invalid retry backoff factor 0"), "{bad}");
    }
}
