//! Issue 15 items 4 and 5: the hooks Argo CD runs that weir did not.
//!
//! PreDelete and PostDelete hooks (Argo CD 2.10 / 3.3, spec §2.12): deleting an app whose
//! manifests hold PreDelete hooks first runs them and deletes its resources only once they
//! succeeded; a failing PreDelete hook blocks the deletion with a `DeletionError` condition
//! naming it; PostDelete hooks run once the resources are gone; the hooks are then cleaned up
//! by their delete policy and the app's finalizers removed. Neither kind runs in a normal sync,
//! and neither is listed among the app's resources.
//!
//! Hooks without a name (`generateName` only, or neither) are named per sync and phase as
//! gitops-engine names them.

use std::path::Path;

use serde_json::{Value, json};
use weir_cluster::{Cluster, DeleteParams};

use crate::common::*;
use crate::{DELETE_POLICY, HOOK};

const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
const PRE_DELETE_FINALIZERS: [&str; 2] =
    ["pre-delete-finalizer.argocd.argoproj.io", "pre-delete-finalizer.argocd.argoproj.io/cleanup"];
const POST_DELETE_FINALIZERS: [&str; 2] = [
    "post-delete-finalizer.argocd.argoproj.io",
    "post-delete-finalizer.argocd.argoproj.io/cleanup",
];

fn finalizers(app: &Value) -> Vec<String> {
    app["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

fn deletion_error(app: &Value) -> String {
    app["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "DeletionError")
        .map(|c| c["message"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn resource_names(app: &Value) -> Vec<String> {
    app["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}

/// `weir app delete` (cascade): the resources finalizer, then the delete request.
async fn delete_app(h: &Harness, name: &str) {
    let app = h.app(name).await;
    let mut wanted = finalizers(&app);
    wanted.push(RESOURCES_FINALIZER.to_owned());
    h.patch_app(name, json!({"metadata": {"finalizers": wanted}})).await;
    h.store
        .delete(&rt("applications"), Some("argocd"), name, &DeleteParams::default())
        .await
        .expect("the delete request is accepted");
}

fn echo(log: &Path, word: &str) -> String {
    format!("echo {word} >> {}", log.display())
}

both_backends!(pre_delete_hooks_run_before_the_resources_are_deleted_and_post_delete_after);
async fn pre_delete_hooks_run_before_the_resources_are_deleted_and_post_delete_after(
    backend: Backend,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    // Given an app with a ConfigMap, a PreDelete hook and a PostDelete hook deleted on success.
    let repo = new_repo(root.path(), "repo");
    let pre = hook_pod("pre", &[(HOOK, "PreDelete")], &format!("sleep 1; {}", echo(&log, "pre")));
    let post = hook_pod(
        "post",
        &[(HOOK, "PostDelete"), (DELETE_POLICY, "HookSucceeded")],
        &echo(&log, "post"),
    );
    // A second PostDelete hook is named by `generateName`: the API server names it, and the
    // controller must find it again rather than create it on every pass.
    let cleanup = unnamed_hook_pod(Some("cleanup-"), "PostDelete", &echo(&log, "cleanup"));
    commit(
        &repo,
        &[
            ("app/cm.yaml", Some(&config_map("plain", "1"))),
            ("app/pre.yaml", Some(&pre)),
            ("app/post.yaml", Some(&post)),
            ("app/cleanup.yaml", Some(&cleanup)),
        ],
        "deletion hooks",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("doomed", &file_url(&repo), "app", json!({"automated": {}}))).await;
    // When it syncs, the deletion hooks are neither run nor listed as resources, and the
    // controller puts Argo CD's hook finalizers on the app.
    let app = h
        .wait_app("doomed", "the sync and the hook finalizers", |a| {
            op_phase(a) == "Succeeded"
                && sync_status(a).0 == "Synced"
                && PRE_DELETE_FINALIZERS
                    .iter()
                    .chain(&POST_DELETE_FINALIZERS)
                    .all(|f| finalizers(a).iter().any(|have| have == f))
        })
        .await;
    assert_eq!(resource_names(&app), ["plain"]);
    assert_eq!(results(&app), [("plain".to_string(), "Synced".to_string())]);
    assert!(h.get("pods", Some("apps"), "pre").await.is_none(), "PreDelete never runs in a sync");
    assert!(h.get("pods", Some("apps"), "post").await.is_none(), "PostDelete never runs in a sync");

    // When it is deleted with its resources.
    delete_app(&h, "doomed").await;
    // Then the PreDelete hook runs while the ConfigMap is still there …
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen_running = false;
    loop {
        let pod = h.get("pods", Some("apps"), "pre").await;
        let done = log_lines(&log).contains(&"pre".to_string());
        if let Some(pod) = &pod
            && !done
        {
            seen_running = true;
            assert!(
                h.get("configmaps", Some("apps"), "plain").await.is_some(),
                "the resources are kept while the PreDelete hook runs: {pod}"
            );
        }
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for the PreDelete hook");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen_running, "the PreDelete hook was seen running");
    // … the PostDelete hook is created only once the ConfigMap is gone …
    h.wait_object("pods", Some("apps"), "post", "the PostDelete hook", |p| {
        p.is_some() || log_lines(&log).len() == 3
    })
    .await;
    assert!(h.get("configmaps", Some("apps"), "plain").await.is_none(), "resources go first");
    // … and the app goes once the hooks completed and were cleaned up.
    h.wait_object("applications", Some("argocd"), "doomed", "the app's removal", |a| a.is_none())
        .await;
    let mut ran = log_lines(&log);
    assert_eq!(ran.first().map(String::as_str), Some("pre"), "{ran:?}");
    ran.sort();
    assert_eq!(ran, ["cleanup", "post", "pre"], "each hook ran once");
    // The PreDelete hook was deleted with the app's resources; the PostDelete hook by its policy.
    h.wait_object("pods", Some("apps"), "pre", "the PreDelete hook's deletion", |p| p.is_none())
        .await;
    h.wait_object("pods", Some("apps"), "post", "HookSucceeded", |p| p.is_none()).await;
    h.stop().await;
}

both_backends!(a_pre_delete_hook_that_fails_keeps_its_application);
async fn a_pre_delete_hook_that_fails_keeps_its_application(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    // Given an app whose PreDelete hook fails.
    let repo = new_repo(root.path(), "repo");
    let failing =
        hook_pod("pre", &[(HOOK, "PreDelete")], &format!("{}; exit 1", echo(&log, "failed")));
    commit(
        &repo,
        &[("app/cm.yaml", Some(&config_map("plain", "1"))), ("app/pre.yaml", Some(&failing))],
        "failing PreDelete hook",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("kept", &file_url(&repo), "app", json!({"automated": {}}))).await;
    h.wait_app("kept", "the sync and the finalizers", |a| {
        sync_status(a).0 == "Synced" && finalizers(a).iter().any(|f| f == PRE_DELETE_FINALIZERS[0])
    })
    .await;
    // When it is deleted.
    delete_app(&h, "kept").await;
    // Then it stays, with a DeletionError naming the hook, and its resources stay too.
    let app = h.wait_app("kept", "the DeletionError", |a| !deletion_error(a).is_empty()).await;
    assert_eq!(
        deletion_error(&app),
        "error executing pre-delete hooks: PreDelete hook(s) failed: apps/pre"
    );
    assert!(app["metadata"]["deletionTimestamp"].is_string());
    assert!(h.get("configmaps", Some("apps"), "plain").await.is_some(), "nothing was deleted");
    assert!(log_lines(&log).contains(&"failed".to_string()));

    // When the hook is fixed in git, the next attempt runs it and the deletion completes.
    let fixed = hook_pod("pre", &[(HOOK, "PreDelete")], &echo(&log, "fixed"));
    commit(&repo, &[("app/pre.yaml", Some(&fixed))], "fixed PreDelete hook");
    h.refresh.refresh_app("argocd", "kept");
    h.wait_object("applications", Some("argocd"), "kept", "the app's removal", |a| a.is_none())
        .await;
    assert!(log_lines(&log).contains(&"fixed".to_string()));
    assert!(h.get("configmaps", Some("apps"), "plain").await.is_none());
    h.stop().await;
}

/// `hook_pod` without `metadata.name`, named by `generate_name` when given.
fn unnamed_hook_pod(generate_name: Option<&str>, hook: &str, script: &str) -> String {
    let mut manifest: Value =
        serde_json::from_str(&hook_pod("x", &[(HOOK, hook)], script)).expect("a manifest");
    let meta = manifest["metadata"].as_object_mut().expect("metadata");
    meta.remove("name");
    if let Some(prefix) = generate_name {
        meta.insert("generateName".into(), json!(prefix));
    }
    serde_json::to_string_pretty(&manifest).expect("serializes")
}

both_backends!(hooks_without_a_name_are_named_per_phase_and_followed_to_completion);
/// Issue 15 item 5: hooks without a name (`generateName` only, or neither) are named as
/// gitops-engine names them, `<generateName><revision[:7]>-<phase>-<startedAt unix>`
/// (lowercased), once per phase they run in (TestAutomaticallyNamingUnnamedHook), and the
/// sync follows the hook's live object under that name until it completes.
async fn hooks_without_a_name_are_named_per_phase_and_followed_to_completion(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    let repo = new_repo(root.path(), "repo");
    // Given a PreSync+PostSync hook named by generateName, a Sync hook with no name at all,
    // and a ConfigMap.
    let migrate = unnamed_hook_pod(
        Some("migrate-"),
        "PreSync,PostSync",
        &format!("sleep 1; {}", echo(&log, "migrate")),
    );
    let anonymous = unnamed_hook_pod(None, "Sync", &echo(&log, "sync"));
    let revision = commit(
        &repo,
        &[
            ("app/migrate.yaml", Some(&migrate)),
            ("app/anonymous.yaml", Some(&anonymous)),
            ("app/cm.yaml", Some(&config_map("plain", "1"))),
        ],
        "unnamed hooks",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("unnamed", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("unnamed", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    // When it is synced.
    h.sync("unnamed", json!({"revision": "HEAD"})).await;
    let app = h
        .wait_app("unnamed", "the sync", |a| {
            matches!(op_phase(a), "Succeeded" | "Failed" | "Error")
        })
        .await;
    assert_eq!(op_phase(&app), "Succeeded", "{:#}", app["status"]["operationState"]);
    // Then each run of a hook got its own name from the revision, phase and start time.
    let started = app["status"]["operationState"]["startedAt"].as_str().expect("startedAt");
    let unix =
        started.parse::<k8s_openapi::jiff::Timestamp>().expect("an RFC 3339 time").as_second();
    let short = &revision[..7];
    let names: Vec<String> = results(&app).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            format!("migrate-{short}-presync-{unix}"),
            "plain".to_string(),
            format!("{short}-sync-{unix}"),
            format!("migrate-{short}-postsync-{unix}"),
        ]
    );
    // … and the sync waited for each (the slow PreSync hook ran before the Sync hook).
    assert_eq!(log_lines(&log), ["migrate", "sync", "migrate"]);
    for name in &names {
        let pod = h.get("pods", Some("apps"), name).await;
        if name != "plain" {
            let pod = pod.expect("the hook's Pod is kept (BeforeHookCreation)");
            assert_eq!(pod["status"]["phase"], "Succeeded", "{pod}");
        }
    }
    assert_eq!(resource_names(&h.app("unnamed").await), ["plain"], "hooks are not resources");
    h.stop().await;
}

both_backends!(a_hook_that_never_finishes_is_reported_and_ended_by_terminate_op);
/// Issue 15, bad input: a hook that never finishes. The running operation names the hook and
/// since when its object exists; `terminate-op` (Argo CD's `Terminating` phase, what
/// `argocd app terminate-op` writes) deletes the running hook and fails the operation with
/// Argo CD's "Operation terminated", without retrying; nothing after the hook was applied.
async fn a_hook_that_never_finishes_is_reported_and_ended_by_terminate_op(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let forever = hook_pod("forever", &[(HOOK, "PreSync")], "sleep 600");
    commit(
        &repo,
        &[("app/forever.yaml", Some(&forever)), ("app/cm.yaml", Some(&config_map("after", "1")))],
        "a hook that never finishes",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("stuck", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("stuck", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    h.patch_app(
        "stuck",
        json!({"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "test"},
                             "retry": {"limit": 3}}}),
    )
    .await;
    // The operation waits for the hook, naming it and since when it runs.
    h.wait_object("pods", Some("apps"), "forever", "the hook's Pod", |p| {
        p.is_some_and(|p| p["status"]["phase"] == "Running")
    })
    .await;
    let pod = h.get("pods", Some("apps"), "forever").await.expect("the hook");
    let created = pod["metadata"]["creationTimestamp"].as_str().expect("created").to_owned();
    let app = h
        .wait_app("stuck", "the waiting message", |a| op_message(a).contains("running since"))
        .await;
    assert_eq!(
        op_message(&app),
        format!("waiting for completion of hook /Pod/forever (running since {created})")
    );
    // When the operation is terminated.
    weir_app_controller::ops::terminate_operation(&*h.store, "argocd", "stuck")
        .await
        .expect("terminate-op");
    // Then it fails as terminated, is not retried, the hook is deleted and nothing after it ran.
    let app = h
        .wait_app("stuck", "the termination", |a| {
            op_phase(a) == "Failed" && a.get("operation").is_none()
        })
        .await;
    assert_eq!(op_message(&app), "Operation terminated", "{:#}", app["status"]["operationState"]);
    assert!(
        app["status"]["operationState"]["retryCount"].is_null(),
        "a terminated sync is not retried"
    );
    h.wait_object("pods", Some("apps"), "forever", "the hook's deletion", |p| p.is_none()).await;
    assert!(h.get("configmaps", Some("apps"), "after").await.is_none());
    h.stop().await;
}

/// With a sync timeout (Argo CD's `--sync-timeout`), an operation older than it is terminated
/// by the controller: "Operation terminated, triggered by controller sync timeout".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_older_than_the_sync_timeout_is_terminated() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let forever = hook_pod("forever", &[(HOOK, "PreSync")], "sleep 600");
    commit(&repo, &[("app/forever.yaml", Some(&forever))], "a hook that never finishes");
    let h = start_configured_on(Backend::Embedded, root.path(), true, |config| {
        config.sync_timeout = Some(std::time::Duration::from_secs(2));
    })
    .await;
    h.create(&application("slow", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("slow", "the comparison", |a| !sync_status(a).1.is_empty()).await;
    h.sync("slow", json!({"revision": "HEAD"})).await;
    let app = h
        .wait_app("slow", "the timeout", |a| {
            op_phase(a) == "Failed" && a.get("operation").is_none()
        })
        .await;
    assert_eq!(op_message(&app), "Operation terminated, triggered by controller sync timeout");
    h.wait_object("pods", Some("apps"), "forever", "the hook's deletion", |p| p.is_none()).await;
    h.stop().await;
}
