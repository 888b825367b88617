//! `weir app create --upsert`, `sync` with `--retry-*`/`--force`/`--replace`, `refresh`,
//! `wait` and `set` (issue 15 item 10), from the user's side: the `weir` binary against
//! `weir up` and a real git repository of ConfigMaps (no pods: quick to sync).

use std::path::{Path, PathBuf};

use super::support::Weir;
use super::{application, commit_all, git};

const APP: &str = "notes";

/// A repository with `config/` (one ConfigMap) and `other/` (another); returns it and HEAD.
fn config_repo(root: &Path) -> (PathBuf, String) {
    let repo = root.join("config-repo");
    for dir in ["config", "other", "broken"] {
        std::fs::create_dir_all(repo.join(dir)).expect("mkdir");
    }
    git(&repo, &["init", "--quiet", "-b", "main"]);
    config_map(&repo, "config", "first");
    config_map(&repo, "other", "second");
    // A name the API refuses: every sync of this path fails.
    config_map(&repo, "broken", "Not_A_Name");
    let head = commit_all(&repo, "config maps");
    (repo, head)
}

fn config_map(repo: &Path, dir: &str, name: &str) {
    let text =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n");
    std::fs::write(repo.join(dir).join(format!("{name}.yaml")), text).expect("write");
}

fn create_args<'a>(url: &'a str, path: &'a str) -> Vec<&'a str> {
    vec!["app", "create", APP, "--repo", url, "--path", path, "--dest-namespace", "default"]
}

#[test]
fn create_refuses_a_different_spec_unless_upsert() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, _) = config_repo(root.path());
    let url = format!("file://{}", repo.display());
    let weir = Weir::start_with(&["--app-resync", "3600"]);
    assert_eq!(weir.ok(&create_args(&url, "config")), "application 'notes' created\n");
    // The same spec again is fine, and changes nothing.
    assert_eq!(weir.ok(&create_args(&url, "config")), "application 'notes' unchanged\n");
    // A different spec is refused, as Argo CD refuses it, and nothing changes.
    let refused = weir.fails(&create_args(&url, "other"));
    assert!(
        refused.contains("existing application spec is different, use upsert flag to force update"),
        "{refused}"
    );
    assert_eq!(application(&weir, APP)["spec"]["source"]["path"], "config");
    // With --upsert the spec is replaced.
    let mut upsert = create_args(&url, "other");
    upsert.extend(["--upsert", "--sync-retry-limit", "3"]);
    assert_eq!(weir.ok(&upsert), "application 'notes' updated\n");
    let spec = &application(&weir, APP)["spec"];
    assert_eq!(spec["source"]["path"], "other");
    // create's retry options are syncPolicy.retry, with Argo's default backoff.
    assert_eq!(
        spec["syncPolicy"]["retry"],
        serde_json::json!({"limit": 3, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m0s"}})
    );
}

#[test]
fn sync_sends_force_replace_and_retry_and_a_failing_sync_is_retried() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, head) = config_repo(root.path());
    let url = format!("file://{}", repo.display());
    let weir = Weir::start_with(&["--app-resync", "3600"]);
    weir.ok(&create_args(&url, "config"));
    // A bad duration is refused before anything is written.
    let refused =
        weir.fails(&["app", "sync", APP, "--retry-limit", "1", "--retry-backoff-duration", "soon"]);
    assert!(refused.contains("invalid retry backoff duration \"soon\""), "{refused}");
    assert!(application(&weir, APP).get("operation").is_none());
    // --force and --replace reach the operation as Argo CD's CLI sends them (i15b's contract).
    let synced = weir.ok(&["app", "sync", APP, "--force", "--replace", "--retry-limit", "2"]);
    assert!(synced.contains("Phase:              Succeeded"), "{synced}");
    let app = application(&weir, APP);
    let operation = &app["status"]["operationState"]["operation"];
    assert_eq!(operation["sync"]["syncOptions"], serde_json::json!(["Replace=true"]));
    assert_eq!(operation["sync"]["syncStrategy"]["apply"]["force"], true);
    assert_eq!(operation["retry"]["limit"], 2);
    assert_eq!(app["status"]["sync"]["revision"], head.as_str());
    weir.ok(&["get", "configmaps", "-n", "default", "first"]);
    // A sync that fails is retried up to the limit, then reported failed.
    weir.ok(&["app", "set", APP, "--path", "broken"]);
    let failed =
        weir.fails(&["app", "sync", APP, "--retry-limit", "1", "--retry-backoff-duration", "1s"]);
    assert!(failed.contains("Operation has completed with phase: Failed"), "{failed}");
    let state = &application(&weir, APP)["status"]["operationState"];
    assert_eq!(state["retryCount"], 1, "{state:#}");
}

#[test]
fn refresh_wait_and_set() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, first) = config_repo(root.path());
    let url = format!("file://{}", repo.display());
    // Polling git once an hour: only a refresh can explain a newer comparison.
    let weir = Weir::start_with(&["--app-resync", "3600"]);
    weir.ok(&create_args(&url, "config"));
    // A manual app never synced: waiting for Synced times out with what is missing.
    let timed_out = weir.fails(&["app", "wait", APP, "--sync", "--timeout", "2"]);
    assert!(
        timed_out.contains("timed out after 2s waiting for application \"notes\""),
        "{timed_out}"
    );
    assert!(timed_out.contains("not Synced"), "{timed_out}");
    weir.ok(&["app", "sync", APP]);
    let waited = weir.ok(&["app", "wait", APP, "--timeout", "60"]);
    assert!(waited.contains("Synced to HEAD") && waited.contains("Healthy"), "{waited}");
    assert_eq!(application(&weir, APP)["status"]["sync"]["revision"], first.as_str());
    // A new commit is seen at once by a refresh, which returns once the comparison is done.
    config_map(&repo, "config", "added");
    let second = commit_all(&repo, "one more");
    let refreshed = weir.ok(&["app", "refresh", APP, "--hard-refresh"]);
    let app = application(&weir, APP);
    assert_eq!(app["status"]["sync"]["revision"], second.as_str(), "{refreshed}");
    assert_eq!(app["status"]["sync"]["status"], "OutOfSync", "{refreshed}");
    assert!(app["metadata"]["annotations"].get("argocd.argoproj.io/refresh").is_none());
    assert!(refreshed.contains(&format!("OutOfSync from HEAD ({})", &second[..7])), "{refreshed}");
    // set: a source field and an automated policy with self-heal.
    weir.ok(&[
        "app",
        "set",
        APP,
        "--revision",
        "main",
        "--sync-policy",
        "automated",
        "--self-heal",
    ]);
    let spec = &application(&weir, APP)["spec"];
    assert_eq!(spec["source"]["targetRevision"], "main");
    assert_eq!(spec["syncPolicy"]["automated"]["selfHeal"], true);
    // Automated sync now takes the new commit; wait sees it.
    weir.ok(&["app", "wait", APP, "--sync", "--health", "--timeout", "60"]);
    weir.ok(&["get", "configmaps", "-n", "default", "added"]);
    let refused = weir.fails(&["app", "set", APP, "--sync-policy", "none", "--auto-prune"]);
    assert!(refused.contains("cannot set --auto-prune"), "{refused}");
}

/// Argo CD's TestPruningRequired: a file removed from git, synced without `--prune`: the
/// operation succeeds but the CLI fails with "1 resources require pruning"; `--prune` deletes it.
#[test]
fn a_sync_that_skips_a_prune_says_pruning_is_required() {
    let root = tempfile::tempdir().expect("tempdir");
    let (repo, _) = config_repo(root.path());
    config_map(&repo, "config", "extra");
    commit_all(&repo, "extra");
    let url = format!("file://{}", repo.display());
    let weir = Weir::start_with(&["--app-resync", "3600"]);
    weir.ok(&create_args(&url, "config"));
    weir.ok(&["app", "sync", APP]);
    weir.ok(&["get", "configmaps", "-n", "default", "extra"]);
    std::fs::remove_file(repo.join("config").join("extra.yaml")).expect("rm");
    commit_all(&repo, "no extra");
    let refused = weir.fails(&["app", "sync", APP]);
    assert!(refused.contains("1 resources require pruning"), "{refused}");
    let state = &application(&weir, APP)["status"]["operationState"];
    assert_eq!(state["phase"], "Succeeded", "{state:#}");
    let skipped: Vec<&serde_json::Value> = state["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "PruneSkipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{state:#}");
    assert_eq!(skipped[0]["name"], "extra");
    assert_eq!(skipped[0]["message"], "ignored (requires pruning)");
    weir.ok(&["get", "configmaps", "-n", "default", "extra"]);
    let pruned = weir.ok(&["app", "sync", APP, "--prune"]);
    assert!(pruned.contains("pruned"), "{pruned}");
    weir.fails(&["get", "configmaps", "-n", "default", "extra"]);
    // terminate-op with nothing running is refused with Argo CD's message.
    let nothing = weir.fails(&["app", "terminate-op", APP]);
    assert!(
        nothing.contains("Unable to terminate operation. No operation is in progress"),
        "{nothing}"
    );
}
