//! Acceptance scenarios of Argo CD's sync (spec §2.7, §1.3, §9) as Given/When/Then tests
//! against a real `weir_store::Store`, real git repositories made by the test and, for hooks,
//! the node agent running hook Pods as local processes: phases, hooks and their delete
//! policies, waves waiting for completion, SyncFail hooks, retries with backoff, and the sync
//! options CreateNamespace, allowEmpty, Prune=false, PruneLast, ApplyOutOfSyncOnly and
//! selective sync; and config management plugins rendering an app.
//!
//! Every scenario runs twice ([`common::both_backends!`]): with the controller on the store
//! (`embedded`) and with it reaching the same store only through kube-rs and weir's API server
//! (`kube`), as `weir controller` runs against a cluster.

mod common;
#[path = "sync_scenarios/health_customizations.rs"]
mod health_customizations;
#[path = "sync_scenarios/hooks.rs"]
mod hooks;
#[path = "sync_scenarios/sync_results.rs"]
mod sync_results;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use weir_cluster::Cluster;

const HOOK: &str = "argocd.argoproj.io/hook";
const DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
const WAVE: &str = "argocd.argoproj.io/sync-wave";
const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

both_backends!(phases_and_waves_run_in_order_and_hooks_follow_their_delete_policies);
async fn phases_and_waves_run_in_order_and_hooks_follow_their_delete_policies(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    let echo = |word: &str| format!("echo {word} >> {}", log.display());
    // Given hooks in every phase and waves whose first hook is slow to complete.
    let repo = new_repo(root.path(), "repo");
    let pre = hook_pod("pre", &[(HOOK, "PreSync"), (DELETE_POLICY, "HookSucceeded")], &echo("pre"));
    let wave1 =
        hook_pod("wave1", &[(HOOK, "Sync"), (WAVE, "1")], &format!("sleep 1; {}", echo("wave1")));
    let wave2 = hook_pod("wave2", &[(HOOK, "Sync"), (WAVE, "2")], &echo("wave2"));
    let post =
        hook_pod("post", &[(HOOK, "PostSync"), (DELETE_POLICY, "HookSucceeded")], &echo("post"));
    let on_fail = hook_pod("on-fail", &[(HOOK, "SyncFail")], &echo("syncfail"));
    let first = commit(
        &repo,
        &[
            ("app/pre.yaml", Some(&pre)),
            ("app/cm.yaml", Some(&config_map("plain", "1"))),
            ("app/wave1.yaml", Some(&wave1)),
            ("app/wave2.yaml", Some(&wave2)),
            ("app/post.yaml", Some(&post)),
            ("app/on-fail.yaml", Some(&on_fail)),
        ],
        "hooks",
    );
    let h = start_on(backend, root.path(), true).await;
    // When the automated app syncs.
    h.create(&application("hooks", &file_url(&repo), "app", json!({"automated": {}}))).await;
    let app = h
        .wait_app("hooks", "the sync to finish", |a| {
            op_phase(a) == "Succeeded" && sync_status(a).1 == first
        })
        .await;
    // Then each phase and wave ran after the previous one completed …
    assert_eq!(log_lines(&log), ["pre", "wave1", "wave2", "post"], "{:#}", app["status"]);
    let names: Vec<String> = results(&app).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["pre", "plain", "wave1", "wave2", "post"]);
    assert_eq!(op_message(&app), "successfully synced (no more tasks)");
    // … the SyncFail hook did not run, HookSucceeded hooks are deleted, the others kept.
    assert!(h.get("pods", Some("apps"), "on-fail").await.is_none());
    for gone in ["pre", "post"] {
        h.wait_object("pods", Some("apps"), gone, "HookSucceeded deletion", |p| p.is_none()).await;
    }
    assert!(h.get("pods", Some("apps"), "wave1").await.is_some(), "BeforeHookCreation keeps it");
    // Hooks are not resources of the app.
    let app = h.app("hooks").await;
    let listed: Vec<&str> = app["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(listed, ["plain"]);

    // When a new commit is synced, the kept hooks are deleted and created again (their old
    // Pods had completed), and every phase runs again in order.
    let second = commit(&repo, &[("app/cm.yaml", Some(&config_map("plain", "2")))], "second");
    h.refresh.refresh_app("argocd", "hooks");
    h.wait_app("hooks", "the second sync", |a| {
        op_phase(a) == "Succeeded" && sync_status(a).1 == second
    })
    .await;
    assert_eq!(log_lines(&log), ["pre", "wave1", "wave2", "post", "pre", "wave1", "wave2", "post"]);
    h.stop().await;
}

both_backends!(a_failed_hook_fails_the_operation_runs_sync_fail_hooks_and_stops_the_waves);
async fn a_failed_hook_fails_the_operation_runs_sync_fail_hooks_and_stops_the_waves(
    backend: Backend,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    let echo = |word: &str| format!("echo {word} >> {}", log.display());
    // Given a PreSync hook that fails, a resource after it and a SyncFail hook.
    let repo = new_repo(root.path(), "repo");
    let migrate = hook_pod(
        "migrate",
        &[(HOOK, "PreSync"), (DELETE_POLICY, "HookFailed")],
        &format!("{}; exit 3", echo("migrate")),
    );
    let on_fail = hook_pod("on-fail", &[(HOOK, "SyncFail")], &echo("syncfail"));
    let post = hook_pod("post", &[(HOOK, "PostSync")], &echo("post"));
    commit(
        &repo,
        &[
            ("app/migrate.yaml", Some(&migrate)),
            ("app/cm.yaml", Some(&config_map("never", "1"))),
            ("app/on-fail.yaml", Some(&on_fail)),
            ("app/post.yaml", Some(&post)),
        ],
        "failing hook",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("failing", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("failing", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    // When it is synced.
    h.sync("failing", json!({"revision": "HEAD"})).await;
    let app = h.wait_app("failing", "the failure", |a| op_phase(a) == "Failed").await;
    // Then the operation failed with Argo's message, the SyncFail hook ran, nothing after the
    // failed hook was applied, and the HookFailed hook was deleted.
    assert!(
        op_message(&app).starts_with("one or more synchronization tasks completed unsuccessfully"),
        "{}",
        op_message(&app)
    );
    assert_eq!(log_lines(&log), ["migrate", "syncfail"]);
    assert!(h.get("configmaps", Some("apps"), "never").await.is_none());
    let result = results(&app);
    assert!(result.contains(&("on-fail".to_string(), "Synced".to_string())), "{result:?}");
    assert!(!result.iter().any(|(n, _)| n == "never" || n == "post"), "{result:?}");
    let migrate = app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "migrate")
        .cloned()
        .expect("the hook's result");
    assert_eq!(migrate["hookPhase"], "Failed");
    assert_eq!(migrate["hookType"], "PreSync");
    assert_eq!(migrate["message"], "container \"main\" failed with exit code 3");
    h.wait_object("pods", Some("apps"), "migrate", "HookFailed deletion", |p| p.is_none()).await;
    assert!(app.get("operation").is_none(), "a finished operation is cleared");
    h.stop().await;
}

both_backends!(a_failing_sync_is_retried_with_backoff_up_to_the_limit);
async fn a_failing_sync_is_retried_with_backoff_up_to_the_limit(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    let repo = new_repo(root.path(), "repo");
    let attempt = hook_pod(
        "attempt",
        &[(HOOK, "PreSync")],
        &format!("echo attempt >> {}; exit 1", log.display()),
    );
    commit(&repo, &[("app/attempt.yaml", Some(&attempt))], "always failing");
    let h = start_on(backend, root.path(), true).await;
    // Given an app whose sync always fails and a retry limit of 2 with a short backoff.
    h.create(&application("retried", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("retried", "the comparison", |a| !sync_status(a).1.is_empty()).await;
    // When it is synced.
    h.patch_app(
        "retried",
        json!({"operation": {
            "sync": {"revision": "HEAD"},
            "initiatedBy": {"username": "test"},
            "retry": {"limit": 2, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "2s"}},
        }}),
    )
    .await;
    // Then it is attempted three times, and fails for good saying so.
    let app = h
        .wait_app("retried", "the last attempt", |a| {
            op_phase(a) == "Failed" && a.get("operation").is_none()
        })
        .await;
    assert_eq!(app["status"]["operationState"]["retryCount"], 2, "{:#}", app["status"]);
    assert!(op_message(&app).ends_with("(retried 2 times)."), "{}", op_message(&app));
    assert_eq!(log_lines(&log), ["attempt", "attempt", "attempt"]);
    h.stop().await;
}

both_backends!(create_namespace_creates_the_destination_with_managed_metadata);
async fn create_namespace_creates_the_destination_with_managed_metadata(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    commit(&repo, &[("app/cm.yaml", Some(&config_map("a", "1")))], "first");
    let h = start_on(backend, root.path(), false).await;
    // Given an app with CreateNamespace=true towards a namespace that does not exist, and one
    // without it.
    let mut with = application(
        "with-ns",
        &file_url(&repo),
        "app",
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"],
               "managedNamespaceMetadata": {"labels": {"team": "payments"}}}),
    );
    with.data["spec"]["destination"]["namespace"] = json!("fresh");
    let mut without = application("without-ns", &file_url(&repo), "app", json!({"automated": {}}));
    without.data["spec"]["destination"]["namespace"] = json!("unmanaged");
    // When both sync.
    h.create(&with).await;
    h.create(&without).await;
    h.wait_app("with-ns", "the sync", |a| op_phase(a) == "Succeeded").await;
    let without = h
        .wait_app("without-ns", "the sync", |a| matches!(op_phase(a), "Succeeded" | "Failed"))
        .await;
    // Then only the first namespace was created, with its managed labels.
    let ns = h.get("namespaces", None, "fresh").await.expect("namespace created");
    assert_eq!(ns["metadata"]["labels"]["team"], "payments");
    assert!(h.get("configmaps", Some("fresh"), "a").await.is_some());
    assert!(h.get("namespaces", None, "unmanaged").await.is_none());
    // The second app's objects: an API server refuses them (the namespace does not exist), so
    // on a cluster its sync fails with Argo CD's message. The embedded store does not check
    // namespaces for the controllers that write to it directly, so there the sync succeeds
    // (a known difference of `weir up`: "Namespace existence" in docs/kubernetes.md).
    match backend {
        Backend::Kube => {
            assert_eq!(op_phase(&without), "Failed");
            assert_eq!(
                op_message(&without),
                "one or more objects failed to apply, reason: namespaces \"unmanaged\" not found"
            );
            assert!(h.get("configmaps", Some("unmanaged"), "a").await.is_none());
        }
        Backend::Embedded => assert_eq!(op_phase(&without), "Succeeded"),
    }
    h.stop().await;
}

both_backends!(an_empty_render_does_not_wipe_the_app_unless_allow_empty);
async fn an_empty_render_does_not_wipe_the_app_unless_allow_empty(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let first = commit(
        &repo,
        &[("app/cm.yaml", Some(&config_map("keep", "1"))), ("app/README.md", Some("docs"))],
        "first",
    );
    let h = start_on(backend, root.path(), false).await;
    // Given an automated app with prune, synced.
    h.create(&application("empty", &file_url(&repo), "app", json!({"automated": {"prune": true}})))
        .await;
    h.wait_app("empty", "first sync", |a| sync_status(a) == ("Synced", &first, "Healthy")).await;
    // When every manifest is removed.
    let second = commit(&repo, &[("app/cm.yaml", None)], "remove everything");
    h.refresh.refresh_app("argocd", "empty");
    let app = h.wait_app("empty", "the empty revision", |a| sync_status(a).1 == second).await;
    // Then auto-sync refuses to wipe out the app …
    assert_eq!(sync_status(&app).0, "OutOfSync");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(h.get("configmaps", Some("apps"), "keep").await.is_some());
    let app = h.app("empty").await;
    assert_eq!(app["status"]["operationState"]["syncResult"]["revision"], first.as_str());
    // … until allowEmpty is set.
    h.patch_app("empty", json!({"spec": {"syncPolicy": {"automated": {"allowEmpty": true}}}}))
        .await;
    h.wait_object("configmaps", Some("apps"), "keep", "the prune", |c| c.is_none()).await;
    h.wait_app("empty", "synced empty", |a| sync_status(a) == ("Synced", &second, "Healthy")).await;
    h.stop().await;
}

both_backends!(prune_false_is_never_pruned_and_prune_last_prunes_after_the_last_wave);
async fn prune_false_is_never_pruned_and_prune_last_prunes_after_the_last_wave(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let kept = annotated_config_map("kept", &[(SYNC_OPTIONS, "Prune=false")]);
    let first = commit(
        &repo,
        &[
            ("app/kept.yaml", Some(&kept)),
            ("app/old.yaml", Some(&config_map("old", "1"))),
            ("app/stay.yaml", Some(&config_map("stay", "1"))),
        ],
        "first",
    );
    let h = start_on(backend, root.path(), false).await;
    // Given an automated, pruning app with PruneLast=true.
    h.create(&application(
        "pruning",
        &file_url(&repo),
        "app",
        json!({"automated": {"prune": true}, "syncOptions": ["PruneLast=true"]}),
    ))
    .await;
    h.wait_app("pruning", "first sync", |a| sync_status(a) == ("Synced", &first, "Healthy")).await;
    // When `kept` and `old` are removed and `new` is added in a later wave.
    let new = annotated_config_map("new", &[(WAVE, "5")]);
    let second = commit(
        &repo,
        &[("app/kept.yaml", None), ("app/old.yaml", None), ("app/new.yaml", Some(&new))],
        "second",
    );
    h.refresh.refresh_app("argocd", "pruning");
    let app = h
        .wait_app("pruning", "second sync", |a| {
            op_phase(a) == "Succeeded"
                && a["status"]["operationState"]["syncResult"]["revision"] == second.as_str()
        })
        .await;
    // Then `old` is pruned after the last wave, `kept` is left alone (and still needs pruning).
    let result = results(&app);
    let at = |name: &str| result.iter().position(|(n, _)| n == name).expect(name);
    assert!(at("new") < at("old"), "PruneLast: {result:?}");
    assert_eq!(result[at("old")].1, "Pruned");
    assert_eq!(result[at("kept")].1, "PruneSkipped");
    assert!(h.get("configmaps", Some("apps"), "old").await.is_none());
    assert!(h.get("configmaps", Some("apps"), "kept").await.is_some());
    assert_eq!(sync_status(&app).0, "OutOfSync", "kept still requires pruning");
    h.stop().await;
}

both_backends!(apply_out_of_sync_only_and_selective_sync_touch_only_what_they_should);
async fn apply_out_of_sync_only_and_selective_sync_touch_only_what_they_should(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let files = [
        ("app/a.yaml", Some(config_map("a", "1"))),
        ("app/b.yaml", Some(config_map("b", "1"))),
        ("app/c.yaml", Some(config_map("c", "1"))),
    ];
    let files: Vec<(&str, Option<&str>)> = files.iter().map(|(p, c)| (*p, c.as_deref())).collect();
    let first = commit(&repo, &files, "first");
    let h = start_on(backend, root.path(), false).await;
    // Given an automated app with ApplyOutOfSyncOnly=true, synced.
    h.create(&application(
        "oos",
        &file_url(&repo),
        "app",
        json!({"automated": {}, "syncOptions": ["ApplyOutOfSyncOnly=true"]}),
    ))
    .await;
    let app =
        h.wait_app("oos", "first sync", |a| sync_status(a) == ("Synced", &first, "Healthy")).await;
    assert_eq!(results(&app).len(), 3);
    // When only b changes, then only b is applied.
    let second = commit(&repo, &[("app/b.yaml", Some(&config_map("b", "2")))], "b");
    h.refresh.refresh_app("argocd", "oos");
    let app = h
        .wait_app("oos", "second sync", |a| sync_status(a) == ("Synced", &second, "Healthy"))
        .await;
    assert_eq!(results(&app), [("b".to_string(), "Synced".to_string())]);

    // Given a manual app; when only ConfigMap a is synced, then b and c are not created.
    h.namespace("selective").await;
    let mut manual = application("selective", &file_url(&repo), "app", json!({}));
    manual.data["spec"]["destination"]["namespace"] = json!("selective");
    h.create(&manual).await;
    h.wait_app("selective", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    h.sync(
        "selective",
        json!({"revision": "HEAD", "resources": [{"group": "", "kind": "ConfigMap", "name": "a"}]}),
    )
    .await;
    let app = h.wait_app("selective", "the selective sync", |a| op_phase(a) == "Succeeded").await;
    assert_eq!(results(&app), [("a".to_string(), "Synced".to_string())]);
    assert!(h.get("configmaps", Some("selective"), "a").await.is_some());
    for other in ["b", "c"] {
        assert!(h.get("configmaps", Some("selective"), other).await.is_none(), "{other}");
    }
    assert_eq!(sync_status(&app).0, "OutOfSync");
    h.stop().await;
}

both_backends!(a_config_management_plugin_renders_apps_that_select_it);
async fn a_config_management_plugin_renders_apps_that_select_it(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    // Given a plugin that renders `*.tmpl` files with the app's name (as `kustomize build` or
    // `helm template` would render theirs), discovered by a `kustomization.yaml`.
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered\ndata:\n  app: APP\n  mode: MODE\n";
    let head = commit(
        &repo,
        &[
            ("app/kustomization.yaml", Some("resources: []\n")),
            ("app/cm.yaml.tmpl", Some(template)),
            ("named/cm.yaml.tmpl", Some(template)),
        ],
        "templates",
    );
    let plugin = weir_app_controller::plugin::ConfigManagementPlugin {
        name: "templates".into(),
        command: vec![
            "sh".into(),
            "-c".into(),
            "sed -e \"s/APP/$ARGOCD_APP_NAME/\" -e \"s/MODE/${ARGOCD_ENV_MODE:-none}/\" *.tmpl"
                .into(),
        ],
        discover: Some("kustomization.yaml".into()),
        timeout: Duration::from_secs(30),
    };
    let h = start_configured_on(backend, root.path(), false, |c| c.plugins = vec![plugin]).await;
    // When one app is discovered by the file and one names the plugin with an env value.
    h.create(&application("discovered", &file_url(&repo), "app", json!({"automated": {}}))).await;
    let mut named = application("named", &file_url(&repo), "named", json!({"automated": {}}));
    named.data["spec"]["source"]["plugin"] =
        json!({"name": "templates", "env": [{"name": "MODE", "value": "$(reboot)"}]});
    named.data["spec"]["destination"]["namespace"] = json!("named");
    h.namespace("named").await;
    h.create(&named).await;
    let mut missing = application("missing", &file_url(&repo), "named", json!({"automated": {}}));
    missing.data["spec"]["source"]["plugin"] = json!({"name": "helm"});
    h.create(&missing).await;
    // Then the plugin's output is what is synced, with the app's environment.
    for name in ["discovered", "named"] {
        h.wait_app(name, "the sync", |a| sync_status(a) == ("Synced", &head, "Healthy")).await;
    }
    let cm = h.get("configmaps", Some("apps"), "rendered").await.expect("rendered");
    assert_eq!(
        (cm["data"]["app"].as_str(), cm["data"]["mode"].as_str()),
        (Some("discovered"), Some("none"))
    );
    let cm = h.get("configmaps", Some("named"), "rendered").await.expect("rendered");
    assert_eq!(
        (cm["data"]["app"].as_str(), cm["data"]["mode"].as_str()),
        (Some("named"), Some("$(reboot)"))
    );
    // And an app naming a plugin weir does not have gets a ComparisonError.
    let app = h.wait_app("missing", "the error", |a| !comparison_error(a).is_empty()).await;
    assert!(
        comparison_error(&app).contains("config management plugin \"helm\" is not configured"),
        "{}",
        comparison_error(&app)
    );
    h.stop().await;
}

both_backends!(post_sync_hooks_wait_for_healthy_resources_and_skip_hooks_are_never_applied);
async fn post_sync_hooks_wait_for_healthy_resources_and_skip_hooks_are_never_applied(
    backend: Backend,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    let repo = new_repo(root.path(), "repo");
    // Given a plain Pod that fails, a PostSync hook and a `hook: Skip` object.
    let failing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: worker\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: worker\n    command: [\"sh\", \"-c\", \"exit 1\"]\n";
    let post = hook_pod("post", &[(HOOK, "PostSync")], &format!("echo post >> {}", log.display()));
    let skipped = annotated_config_map("skipped", &[(HOOK, "Skip")]);
    commit(
        &repo,
        &[
            ("app/worker.yaml", Some(failing)),
            ("app/post.yaml", Some(&post)),
            ("app/skipped.yaml", Some(&skipped)),
        ],
        "failing pod",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("gated", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("gated", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    // When it is synced.
    h.sync("gated", json!({"revision": "HEAD"})).await;
    // Then the operation fails on the Pod's health and the PostSync hook is never created.
    let app = h.wait_app("gated", "the failure", |a| op_phase(a) == "Failed").await;
    assert_eq!(
        op_message(&app),
        "one or more synchronization tasks completed unsuccessfully",
        "{:#}",
        app["status"]["operationState"]
    );
    assert_eq!(results(&app), [("worker".to_string(), "Synced".to_string())]);
    assert!(h.get("pods", Some("apps"), "post").await.is_none());
    assert!(log_lines(&log).is_empty());
    assert!(h.get("configmaps", Some("apps"), "skipped").await.is_none(), "Skip is never applied");
    h.stop().await;
}

both_backends!(job_hooks_run_to_completion_and_a_failed_one_fails_the_sync);
async fn job_hooks_run_to_completion_and_a_failed_one_fails_the_sync(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let log = root.path().join("hooks.log");
    // Given a PreSync migration Job and a resource of the Sync phase.
    let repo = new_repo(root.path(), "repo");
    let migrate = hook_job(
        "migrate",
        &[(HOOK, "PreSync")],
        &format!("sleep 1; echo migrated >> {}", log.display()),
    );
    let first = commit(
        &repo,
        &[("app/migrate.yaml", Some(&migrate)), ("app/cm.yaml", Some(&config_map("plain", "1")))],
        "job hook",
    );
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("jobs", &file_url(&repo), "app", json!({"automated": {}}))).await;
    // Then the sync waits for the Job to complete before it applies the rest.
    let app = h
        .wait_app("jobs", "the sync to finish", |a| {
            op_phase(a) == "Succeeded" && sync_status(a).1 == first
        })
        .await;
    assert_eq!(log_lines(&log), ["migrated"], "{:#}", app["status"]);
    let names: Vec<String> = results(&app).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["migrate", "plain"]);
    let job = h.get("jobs", Some("apps"), "migrate").await.expect("the hook Job is kept");
    assert_eq!(job["status"]["succeeded"], 1, "{job}");

    // When the migration fails, the operation fails and the Sync phase is not applied.
    let failing = hook_job("migrate", &[(HOOK, "PreSync")], "exit 1");
    let second = commit(
        &repo,
        &[("app/migrate.yaml", Some(&failing)), ("app/cm.yaml", Some(&config_map("plain", "2")))],
        "failing job hook",
    );
    h.refresh.refresh_app("argocd", "jobs");
    h.wait_app("jobs", "the sync to fail", |a| {
        op_phase(a) == "Failed"
            && a["status"]["operationState"]["syncResult"]["revision"] == second.as_str()
    })
    .await;
    let cm = h.get("configmaps", Some("apps"), "plain").await.expect("config map");
    assert_eq!(cm["data"]["value"], "1", "the Sync phase must not run after a failed PreSync");
    h.stop().await;
}

both_backends!(respect_ignore_differences_keeps_what_another_controller_owns);
async fn respect_ignore_differences_keeps_what_another_controller_owns(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let two_keys = |owned: &str, plain: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: weights\ndata:\n  owned: \"{owned}\"\n  plain: \"{plain}\"\n"
        )
    };
    let first = commit(&repo, &[("app/cm.yaml", Some(&two_keys("100", "1")))], "first");
    let h = start_on(backend, root.path(), false).await;
    // Given an app that ignores `data.owned` (another controller sets it) and respects that
    // when syncing.
    let mut app = application(
        "respect",
        &file_url(&repo),
        "app",
        json!({"automated": {}, "syncOptions": ["RespectIgnoreDifferences=true"]}),
    );
    app.data["spec"]["ignoreDifferences"] =
        json!([{"kind": "ConfigMap", "jqPathExpressions": [".data.owned"]}]);
    h.create(&app).await;
    h.wait_app("respect", "first sync", |a| sync_status(a) == ("Synced", &first, "Healthy")).await;
    // When the other controller moves `owned`, the app stays Synced …
    let cms = rt("configmaps");
    let mut live = h.store.get(&cms, Some("apps"), "weights").await.expect("live");
    live.data["data"]["owned"] = json!("90");
    h.store.update(&cms, live).await.expect("update");
    // … and a new commit that changes `plain` is synced without undoing `owned`.
    let second = commit(&repo, &[("app/cm.yaml", Some(&two_keys("100", "2")))], "second");
    h.refresh.refresh_app("argocd", "respect");
    h.wait_app("respect", "second sync", |a| sync_status(a) == ("Synced", &second, "Healthy"))
        .await;
    let cm = h.get("configmaps", Some("apps"), "weights").await.expect("config map");
    assert_eq!(cm["data"]["plain"], "2");
    assert_eq!(cm["data"]["owned"], "90", "RespectIgnoreDifferences keeps the live value");
    h.stop().await;
}

both_backends!(app_health_follows_its_resources_and_an_invalid_manifest_is_a_comparison_error);
async fn app_health_follows_its_resources_and_an_invalid_manifest_is_a_comparison_error(
    backend: Backend,
) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let pod = |name: &str, script: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: main\n    image: worker\n    command: [\"sh\", \"-c\", \"{script}\"]\n"
        )
    };
    // Given an app whose one Pod keeps running: Healthy once it runs.
    let first = commit(&repo, &[("app/a.yaml", Some(&pod("steady", "exec sleep 60")))], "a");
    let h = start_on(backend, root.path(), true).await;
    h.create(&application("health", &file_url(&repo), "app", json!({"automated": {}}))).await;
    h.wait_object("pods", Some("apps"), "steady", "the pod to run", |p| {
        p.is_some_and(|p| p["status"]["phase"] == "Running")
    })
    .await;
    h.wait_app("health", "Healthy", |a| sync_status(a) == ("Synced", &first, "Healthy")).await;
    // When a Pod that keeps failing is added, the app is Degraded (the worst resource health).
    let second = commit(&repo, &[("app/b.yaml", Some(&pod("crashing", "exit 1")))], "b");
    h.refresh.refresh_app("argocd", "health");
    h.wait_app("health", "Degraded", |a| sync_status(a) == ("Synced", &second, "Degraded")).await;
    // When a manifest that does not parse is committed, the app reports it by file and
    // nothing is applied or pruned.
    commit(
        &repo,
        &[
            ("app/b.yaml", None),
            ("app/c.yaml", Some("apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")),
        ],
        "broken",
    );
    h.refresh.refresh_app("argocd", "health");
    let app = h
        .wait_app("health", "the ComparisonError", |a| comparison_error(a).contains("c.yaml"))
        .await;
    assert!(h.get("pods", Some("apps"), "crashing").await.is_some(), "{:#}", app["status"]);
    assert!(h.get("pods", Some("apps"), "steady").await.is_some());
    h.stop().await;
}

both_backends!(app_projects_restrict_repositories_destinations_and_kinds);
async fn app_projects_restrict_repositories_destinations_and_kinds(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let cluster_role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n";
    commit(
        &repo,
        &[("app/cm.yaml", Some(&config_map("plain", "1"))), ("app/role.yaml", Some(cluster_role))],
        "a config map and a cluster role",
    );
    let h = start_on(backend, root.path(), false).await;
    // Given a project that allows this repository and the `apps` namespace, and no
    // cluster-scoped kinds.
    let project = weir_cluster::Object::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "team", "namespace": "argocd"},
        "spec": {
            "sourceRepos": [file_url(&repo)],
            "destinations": [{"server": "*", "namespace": "apps"}],
        },
    }))
    .expect("project");
    weir_cluster::apply(&*h.store, &rt("appprojects"), &project).await.expect("project");
    let in_project = |name: &str, project: &str, namespace: &str| {
        let mut app = application(name, &file_url(&repo), "app", json!({"automated": {}}));
        app.data["spec"]["project"] = json!(project);
        app.data["spec"]["destination"]["namespace"] = json!(namespace);
        app
    };
    let invalid = |a: &serde_json::Value| -> String {
        let conditions = a["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let found = conditions.iter().find(|c| c["type"] == "InvalidSpecError");
        found.and_then(|c| c["message"].as_str()).unwrap_or("").to_owned()
    };
    // When an app deploys outside the project's destinations: InvalidSpecError, Unknown.
    h.create(&in_project("elsewhere", "team", "kube-system")).await;
    let app = h.wait_app("elsewhere", "the InvalidSpecError", |a| !invalid(a).is_empty()).await;
    assert_eq!(
        invalid(&app),
        "application destination server 'https://kubernetes.default.svc' and namespace \
         'kube-system' do not match any of the allowed destinations in project 'team'"
    );
    assert_eq!(sync_status(&app).0, "Unknown");
    // When an app names a project that does not exist.
    h.create(&in_project("orphan", "nope", "apps")).await;
    let app = h.wait_app("orphan", "the InvalidSpecError", |a| !invalid(a).is_empty()).await;
    assert_eq!(invalid(&app), "Application referencing project nope which does not exist");
    // When an allowed app's manifests include a cluster-scoped kind: the sync fails before
    // anything is applied.
    h.create(&in_project("allowed", "team", "apps")).await;
    let app = h.wait_app("allowed", "the refused sync", |a| op_phase(a) == "Failed").await;
    assert_eq!(
        op_message(&app),
        "one or more synchronization tasks are not valid: resource \
         rbac.authorization.k8s.io:ClusterRole is not permitted in project team"
    );
    assert!(h.get("configmaps", Some("apps"), "plain").await.is_none(), "nothing applied");
    assert!(h.get("configmaps", Some("kube-system"), "plain").await.is_none());
    h.stop().await;
}

/// A Deployment as git holds it: no replicas (an HPA owns them), no defaults.
fn web_deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
         matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
         spec:\n      containers:\n      - name: web\n        image: {image}\n"
    )
}

const WEB_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  \
                           selector:\n    app: web\n  ports:\n  - port: 80\n";

// `ServerSideApply=true` (spec §1.3): the sync applies server-side as `argocd-controller`
// with `--force-conflicts`; fields another manager owns and git does not set (an HPA's
// `spec.replicas`, a person's label) survive the next sync, and the diff against the
// API-defaulted live Deployment and Service (strategy, clusterIP, protocol, …) is clean.
both_backends!(server_side_apply_keeps_other_managers_fields_and_compares_clean);
async fn server_side_apply_keeps_other_managers_fields_and_compares_clean(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let first = commit(
        &repo,
        &[("app/web.yaml", Some(&web_deployment("web:1"))), ("app/svc.yaml", Some(WEB_SERVICE))],
        "v1",
    );
    let h = start_on(backend, root.path(), false).await;
    let policy = json!({"automated": {}, "syncOptions": ["ServerSideApply=true"]});
    h.create(&application("ssa", &file_url(&repo), "app", policy)).await;
    let app = h
        .wait_app("ssa", "the first sync", |a| {
            op_phase(a) == "Succeeded" && sync_status(a).0 == "Synced" && sync_status(a).1 == first
        })
        .await;
    let messages: Vec<String> = app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["message"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        messages.iter().all(|m| m.ends_with("serverside-applied")),
        "{messages:?}: {:#}",
        app["status"]
    );

    // Another manager sets fields git leaves alone.
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"team": "payments"}},
        "spec": {"replicas": 3}});
    let patch = weir_cluster::Patch::Apply {
        config: other,
        field_manager: "hpa-and-a-person".into(),
        force: false,
    };
    h.store
        .patch(&rt("deployments"), Some("apps"), "web", &patch, weir_cluster::Subresource::Main)
        .await
        .expect("the other manager's apply");

    // A new image in git is synced server-side.
    let second = commit(&repo, &[("app/web.yaml", Some(&web_deployment("web:2")))], "v2");
    h.refresh.refresh_app("argocd", "ssa");
    h.wait_app("ssa", "the second sync", |a| {
        op_phase(a) == "Succeeded"
            && a["status"]["operationState"]["syncResult"]["revision"] == second.as_str()
    })
    .await;
    let live = h.get("deployments", Some("apps"), "web").await.expect("deployment");
    assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["image"], "web:2");
    assert_eq!(live["spec"]["replicas"], 3, "{:#}", live["spec"]);
    assert_eq!(live["metadata"]["labels"]["team"], "payments");
    assert_eq!(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        json!(null)
    );
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"argocd-controller"), "{managers:?}");
    assert!(managers.contains(&"hpa-and-a-person"), "{managers:?}");
    // The live objects carry the API server's defaults, and the diff is clean.
    let service = h.get("services", Some("apps"), "web").await.expect("service");
    assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP", "{:#}", service["spec"]);
    assert!(live["spec"]["strategy"]["type"].is_string(), "{:#}", live["spec"]);
    let app = h.wait_app("ssa", "a clean comparison", |a| sync_status(a).0 == "Synced").await;
    let out_of_sync: Vec<&Value> = app["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] != "Synced")
        .collect();
    assert!(out_of_sync.is_empty(), "{out_of_sync:#?}");
    h.stop().await;
}

/// The embedded store behind an RBAC-like check that refuses `get` of one kind in one
/// namespace, as the API server answers it (403 with its message).
struct RefusingGets {
    store: std::sync::Arc<weir_store::Store>,
    plural: &'static str,
    namespace: &'static str,
}

impl RefusingGets {
    fn check(&self, rt: &weir_cluster::ResourceType, ns: Option<&str>) -> weir_cluster::Result<()> {
        if rt.plural == self.plural && ns == Some(self.namespace) {
            return Err(weir_cluster::Error::Forbidden(format!(
                "{plural} is forbidden: User \"system:serviceaccount:argocd:argocd-application-controller\" \
                 cannot get resource \"{plural}\" in API group \"\" in the namespace \"{ns}\"",
                plural = self.plural,
                ns = self.namespace,
            )));
        }
        Ok(())
    }
}

impl Cluster for RefusingGets {
    async fn get(
        &self,
        rt: &weir_cluster::ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> weir_cluster::Result<weir_cluster::Object> {
        self.check(rt, ns)?;
        self.store.get(rt, ns, name).await
    }
    async fn list(
        &self,
        rt: &weir_cluster::ResourceType,
        ns: Option<&str>,
        p: &weir_cluster::ListParams,
    ) -> weir_cluster::Result<weir_cluster::ObjectList> {
        self.store.list(rt, ns, p).await
    }
    async fn create(
        &self,
        rt: &weir_cluster::ResourceType,
        o: weir_cluster::Object,
    ) -> weir_cluster::Result<weir_cluster::Object> {
        self.store.create(rt, o).await
    }
    async fn update(
        &self,
        rt: &weir_cluster::ResourceType,
        o: weir_cluster::Object,
    ) -> weir_cluster::Result<weir_cluster::Object> {
        self.store.update(rt, o).await
    }
    async fn update_status(
        &self,
        rt: &weir_cluster::ResourceType,
        o: weir_cluster::Object,
    ) -> weir_cluster::Result<weir_cluster::Object> {
        self.store.update_status(rt, o).await
    }
    async fn patch(
        &self,
        rt: &weir_cluster::ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &weir_cluster::Patch,
        sub: weir_cluster::Subresource,
    ) -> weir_cluster::Result<weir_cluster::Object> {
        self.store.patch(rt, ns, name, patch, sub).await
    }
    async fn delete(
        &self,
        rt: &weir_cluster::ResourceType,
        ns: Option<&str>,
        name: &str,
        p: &weir_cluster::DeleteParams,
    ) -> weir_cluster::Result<weir_cluster::DeleteOutcome> {
        self.store.delete(rt, ns, name, p).await
    }
    async fn watch(
        &self,
        rt: &weir_cluster::ResourceType,
        ns: Option<&str>,
        p: &weir_cluster::WatchParams,
    ) -> weir_cluster::Result<weir_cluster::WatchStream> {
        self.store.watch(rt, ns, p).await
    }
}

/// Item 1 of issue 13 part 5 for Applications: when the role may not read an app's live
/// objects (no `get configmaps` in its destination namespace), the app shows Argo CD's
/// ComparisonError (`Failed to load live state: …` with the API server's message) and one
/// Warning Event, the controller keeps running, and an app in another namespace syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_state_the_role_may_not_read_is_a_comparison_error() {
    use std::sync::Arc;
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    commit(&repo, &[("app/cm.yaml", Some(&config_map("settings", "1")))], "one");
    let store = Arc::new(weir_store::Store::open(&root.path().join("store")).expect("store"));
    for ns in ["argocd", "apps", "free"] {
        let namespace = weir_cluster::Object::new("v1", "Namespace", None, ns);
        weir_cluster::apply(&*store, &rt("namespaces"), &namespace).await.expect("namespace");
    }
    let cluster =
        Arc::new(RefusingGets { store: store.clone(), plural: "configmaps", namespace: "apps" });
    let mut config = weir_app_controller::AppControllerConfig::new(root.path());
    config.resync = Duration::from_secs(3600);
    config.jitter = Duration::ZERO;
    let shutdown = weir_controller::Shutdown::new();
    let controller =
        tokio::spawn(weir_app_controller::run_app_controller(cluster, config, shutdown.clone()));
    let refused = application("refused", &file_url(&repo), "app", json!({}));
    let mut free = application("free", &file_url(&repo), "app", json!({"automated": {}}));
    free.data["spec"]["destination"]["namespace"] = json!("free");
    for app in [&refused, &free] {
        weir_cluster::apply(&*store, &rt("applications"), app).await.expect("app");
    }
    let app_of = |name: &'static str| {
        let store = store.clone();
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let app = store.get(&rt("applications"), Some("argocd"), name).await.expect("app");
                let app = app.to_value();
                let error = comparison_error(&app);
                if (name == "refused" && !error.is_empty())
                    || (name == "free" && sync_status(&app).0 == "Synced")
                {
                    return app;
                }
                assert!(tokio::time::Instant::now() < deadline, "{name}: {:#}", app["status"]);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let app = app_of("refused").await;
    let message = comparison_error(&app);
    assert!(message.starts_with("Failed to load live state: configmaps is forbidden"), "{message}");
    assert!(message.contains("in the namespace \"apps\""), "{message}");
    assert_eq!(app_of("free").await["status"]["sync"]["status"], "Synced");
    let events = store.list(&rt("events"), Some("argocd"), &Default::default()).await.unwrap();
    let reported: Vec<Value> = events
        .items
        .iter()
        .map(weir_cluster::Object::to_value)
        .filter(|e| e["reason"] == "Forbidden" && e["involvedObject"]["name"] == "refused")
        .collect();
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert_eq!(reported[0]["type"], "Warning");
    assert!(!controller.is_finished(), "the controller keeps running");
    shutdown.trigger();
    tokio::time::timeout(WAIT, controller).await.expect("stops").expect("no panic");
}

/// Issue 15 item 2: `weir app sync` right after a commit syncs that commit (Argo CD resolves
/// the target revision when the sync starts), not the commit of the last poll; the resolved
/// revision is recorded in the operation state. The resync period is an hour and nothing asks
/// for a refresh here: only the sync's own resolution can see the second commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_resolves_the_target_revision_when_it_starts() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let first = commit(&repo, &[("app/cm.yaml", Some(&config_map("fresh", "1")))], "first");
    let h = start(root.path(), false).await;
    // Given a manual app compared at the first commit.
    h.create(&application("fresh", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("fresh", "first comparison", |a| sync_status(a) == ("OutOfSync", &first, "Missing"))
        .await;
    // When a commit lands and a sync (with no revision, as `weir app sync`) is asked at once.
    let second = commit(&repo, &[("app/cm.yaml", Some(&config_map("fresh", "2")))], "second");
    h.sync("fresh", json!({})).await;
    // Then the sync applies the new commit and records it.
    let app = h.wait_app("fresh", "the sync", |a| op_phase(a) == "Succeeded").await;
    assert_eq!(app["status"]["operationState"]["syncResult"]["revision"], second.as_str());
    let cm = h.get("configmaps", Some("apps"), "fresh").await.expect("applied");
    assert_eq!(cm["data"]["value"], "2");
    h.wait_app("fresh", "synced at the new commit", |a| {
        sync_status(a) == ("Synced", &second, "Healthy")
    })
    .await;
    h.stop().await;
}
