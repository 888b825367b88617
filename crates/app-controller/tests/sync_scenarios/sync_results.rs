//! Issue 15 items 6, 7, 8 and 9 from the user's side: what a sync reports per resource
//! (kubectl's `created`/`configured`/`unchanged` wording and the containers' images, as Argo
//! CD's `ResourceResult`), the platform's own metadata (the node agent's finalizer and
//! annotations on Pods) never making an app OutOfSync, a sync without prune leaving the
//! resources that require pruning as `PruneSkipped` "ignored (requires pruning)", and
//! immutable ConfigMaps refused by the API until the sync replaces them (`Replace=true`,
//! `Force=true`, `syncStrategy.apply.force`).

use serde_json::{Value, json};

use crate::common::*;

/// A Pod whose container sleeps (the node agent runs it as a local process, and gives its
/// port a host port in an annotation), with a label, an annotation and a finalizer of its own
/// (as a Pod guarded by a controller carries; the node agent adds its finalizer next to it).
fn sleeping_pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\n  \
         annotations: {{team: web}}\n  finalizers: [example.com/audit]\nspec:\n  containers:\n  - name: main\n    \
         image: {image}\n    command: [sh, -c, 'sleep 30']\n    ports:\n    - containerPort: 8080\n"
    )
}

/// A Deployment, a Service and a Secret written with `stringData`, all of which the API server
/// defaults or converts (strategy, protocol, `data`): a re-sync must still find them unchanged.
const MORE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  \
selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    \
spec:\n      containers:\n      - {name: api, image: 'api:2', ports: [{containerPort: 80}]}\n      \
- {name: proxy, image: 'envoy:1'}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n\
spec:\n  selector: {app: api}\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Secret\n\
metadata:\n  name: creds\nstringData:\n  password: hunter2\n";

/// The operation's resource results as `(name, field)` for one field.
fn result_field(app: &Value, field: &str) -> Vec<(String, Value)> {
    app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["name"].as_str().unwrap_or("").to_string(), r[field].clone()))
        .collect()
}

fn reconciled_at(app: &Value) -> String {
    app["status"]["reconciledAt"].as_str().unwrap_or("").to_string()
}

// Item 9 and item 6: a bare Pod in git, run by the node agent (which adds its finalizer and
// annotations, as a kubelet would), stays Synced after a refresh; the first sync reports
// `created` with the Pod's images, a second sync of the same commit writes nothing and reports
// `unchanged`.
both_backends!(a_running_pod_stays_synced_and_a_second_sync_reports_unchanged);
async fn a_running_pod_stays_synced_and_a_second_sync_reports_unchanged(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    let first = commit(
        &repo,
        &[
            ("app/pod.yaml", Some(&sleeping_pod("web", "busybox:1.36"))),
            ("app/cm.yaml", Some(&config_map("settings", "1"))),
            ("app/more.yaml", Some(MORE)),
        ],
        "pod",
    );
    let h = start_on(backend, root.path(), true).await;
    // Given a manual app holding a bare Pod and a ConfigMap, synced once.
    h.create(&application("bare", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("bare", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    h.sync("bare", json!({"revision": "HEAD"})).await;
    let app = h.wait_app("bare", "the first sync", |a| op_phase(a) == "Succeeded").await;
    // Then each result carries kubectl's message and the Pod its images (Argo's ResourceResult).
    let messages = result_field(&app, "message");
    assert!(messages.contains(&("web".into(), json!("pod/web created"))), "{messages:?}");
    assert!(
        messages.contains(&("settings".into(), json!("configmap/settings created"))),
        "{messages:?}"
    );
    let images = result_field(&app, "images");
    assert!(images.contains(&("web".into(), json!(["busybox:1.36"]))), "{images:?}");
    assert!(images.contains(&("settings".into(), Value::Null)), "{images:?}");
    assert!(images.contains(&("api".into(), json!(["api:2", "envoy:1"]))), "{images:?}");
    // When the node agent has taken the Pod (its finalizer is on it) and the app is refreshed.
    h.wait_object("pods", Some("apps"), "web", "the node agent's finalizer", |p| {
        p.is_some_and(|p| {
            p["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == weir_node::FINALIZER))
        })
    })
    .await;
    h.wait_object("pods", Some("apps"), "web", "the node agent's host ports", |p| {
        p.is_some_and(|p| {
            p["metadata"]["annotations"][weir_cluster::HOST_PORTS_ANNOTATION].is_string()
        })
    })
    .await;
    assert_eq!(weir_gitops::diff::platform::NODE_AGENT_FINALIZER, weir_node::FINALIZER);
    let before = reconciled_at(&h.app("bare").await);
    // reconciledAt has a one-second resolution: a later second is a later reconcile.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.refresh.refresh_app("argocd", "bare");
    let app = h.wait_app("bare", "the refresh", |a| reconciled_at(a) > before).await;
    // Then the app is still Synced: the platform's own metadata is not a difference.
    assert_eq!(sync_status(&app).0, "Synced", "{:#}", app["status"]["resources"]);
    assert_eq!(sync_status(&app).1, first);

    // When the same commit is synced again, nothing is written and both report `unchanged`.
    let cm_version = h.get("configmaps", Some("apps"), "settings").await.expect("cm")["metadata"]
        ["resourceVersion"]
        .clone();
    let again = json!({"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "again"}});
    h.patch_app("bare", json!({ "operation": again })).await;
    let app = h
        .wait_app("bare", "the second sync", |a| {
            op_phase(a) == "Succeeded"
                && a["status"]["operationState"]["operation"]["initiatedBy"]["username"] == "again"
        })
        .await;
    let mut messages: Vec<String> = result_field(&app, "message")
        .into_iter()
        .map(|(_, m)| m.as_str().unwrap_or("").to_string())
        .collect();
    messages.sort();
    let expected = [
        "configmap/settings unchanged",
        "deployment.apps/api unchanged",
        "pod/web unchanged",
        "secret/creds unchanged",
        "service/api unchanged",
    ];
    assert_eq!(messages, expected);
    let cm = h.get("configmaps", Some("apps"), "settings").await.expect("cm");
    assert_eq!(cm["metadata"]["resourceVersion"], cm_version, "an unchanged object is not written");
    h.stop().await;
}

/// `(name, status, message)` of each result.
fn outcomes(app: &Value) -> Vec<(String, String, String)> {
    app["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("name"), s("status"), s("message"))
        })
        .collect()
}

/// Asks for a sync with `sync` as a new operation (a distinct initiator, so waiting for its
/// end cannot see the previous operation's) and waits for it to complete.
async fn sync_and_wait(h: &Harness, app: &str, by: &str, sync: Value) -> Value {
    h.patch_app(app, json!({"operation": {"sync": sync, "initiatedBy": {"username": by}}})).await;
    h.wait_app(app, by, |a| {
        matches!(op_phase(a), "Succeeded" | "Failed" | "Error")
            && a["status"]["operationState"]["operation"]["initiatedBy"]["username"] == by
            && a.get("operation").is_none()
    })
    .await
}

// Item 7 (Argo CD's TestPruningRequired and its prune twin, spec §9 scenarios 10 and 11): a
// sync without prune while a resource requires pruning succeeds, reports the resource
// `PruneSkipped` "ignored (requires pruning)" and leaves the app OutOfSync (`argocd app sync`
// then exits with "1 resources require pruning"); a dry run with prune reports what it would
// do; a sync with prune deletes it ("pruned") and the app is Synced.
both_backends!(a_sync_without_prune_reports_the_resources_that_require_pruning);
async fn a_sync_without_prune_reports_the_resources_that_require_pruning(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    commit(
        &repo,
        &[
            ("app/one.yaml", Some(&config_map("one", "1"))),
            ("app/two.yaml", Some(&config_map("two", "1"))),
        ],
        "two",
    );
    let h = start_on(backend, root.path(), false).await;
    h.create(&application("pruning", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("pruning", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    sync_and_wait(&h, "pruning", "first", json!({"revision": "HEAD"})).await;
    // Given `two` removed from git.
    let second = commit(&repo, &[("app/two.yaml", None)], "one");
    // When the app is synced without prune.
    let app = sync_and_wait(&h, "pruning", "no-prune", json!({"revision": "HEAD"})).await;
    // Then the operation succeeds as Argo's does, with `two` skipped and the app OutOfSync.
    assert_eq!(op_phase(&app), "Succeeded");
    assert_eq!(op_message(&app), "successfully synced (all tasks run)");
    let results = outcomes(&app);
    assert!(
        results.contains(&(
            "two".into(),
            "PruneSkipped".into(),
            "ignored (requires pruning)".into()
        )),
        "{results:?}"
    );
    assert!(
        results.contains(&("one".into(), "Synced".into(), "configmap/one unchanged".into())),
        "{results:?}"
    );
    assert!(h.get("configmaps", Some("apps"), "two").await.is_some());
    h.refresh.refresh_app("argocd", "pruning");
    let app = h.wait_app("pruning", "the new comparison", |a| sync_status(a).1 == second).await;
    assert_eq!(sync_status(&app).0, "OutOfSync");
    let two = app["status"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "two")
        .cloned()
        .expect("two is listed");
    assert_eq!(two["requiresPruning"], true);

    // When a dry run with prune runs, it reports without deleting.
    let app = sync_and_wait(
        &h,
        "pruning",
        "dry-run",
        json!({"revision": "HEAD", "prune": true, "dryRun": true}),
    )
    .await;
    let results = outcomes(&app);
    assert!(
        results.contains(&("two".into(), "Pruned".into(), "pruned (dry run)".into())),
        "{results:?}"
    );
    assert!(
        results.contains(&(
            "one".into(),
            "Synced".into(),
            "configmap/one unchanged (dry run)".into()
        )),
        "{results:?}"
    );
    assert!(h.get("configmaps", Some("apps"), "two").await.is_some());

    // When it is synced with prune, `two` is pruned and the app is Synced.
    let app =
        sync_and_wait(&h, "pruning", "prune", json!({"revision": "HEAD", "prune": true})).await;
    let results = outcomes(&app);
    assert!(results.contains(&("two".into(), "Pruned".into(), "pruned".into())), "{results:?}");
    h.wait_object("configmaps", Some("apps"), "two", "the prune", |c| c.is_none()).await;
    h.refresh.refresh_app("argocd", "pruning");
    h.wait_app("pruning", "Synced", |a| sync_status(a).0 == "Synced").await;
    h.stop().await;
}

/// An immutable ConfigMap, with `annotations` (`key: value` pairs).
fn frozen_config_map(value: &str, annotations: &[(&str, &str)]) -> String {
    let mut text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\n".to_string();
    if !annotations.is_empty() {
        text.push_str("  annotations:\n");
        for (k, v) in annotations {
            text.push_str(&format!("    {k}: \"{v}\"\n"));
        }
    }
    text.push_str(&format!("immutable: true\ndata:\n  value: \"{value}\"\n"));
    text
}

fn result_of(app: &Value, name: &str) -> (String, String) {
    outcomes(app)
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, status, message)| (status, message))
        .unwrap_or_default()
}

// Item 8: an immutable ConfigMap changed in git fails the sync with the API server's message
// and stays as it was; `argocd app sync --force` (`syncStrategy.apply.force`) re-creates it;
// the `Replace=true,Force=true` annotation replaces it by delete and create; `Replace=true` in
// the operation's syncOptions replaces a mutable object in place (`kubectl replace`) and
// updates a Namespace (gitops-engine's `Namespace/<name> updated`).
both_backends!(an_immutable_config_map_needs_force_or_replace_to_change);
async fn an_immutable_config_map_needs_force_or_replace_to_change(backend: Backend) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "repo");
    commit(
        &repo,
        &[
            ("app/frozen.yaml", Some(&frozen_config_map("1", &[]))),
            ("app/plain.yaml", Some(&config_map("plain", "1"))),
            ("app/ns.yaml", Some("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n")),
        ],
        "frozen",
    );
    let h = start_on(backend, root.path(), false).await;
    h.create(&application("frozen", &file_url(&repo), "app", json!({}))).await;
    h.wait_app("frozen", "the comparison", |a| sync_status(a).0 == "OutOfSync").await;
    let app = sync_and_wait(&h, "frozen", "first", json!({"revision": "HEAD"})).await;
    assert_eq!(result_of(&app, "frozen").1, "configmap/frozen created");
    let uid = |cm: &Value| cm["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let first_uid = uid(&h.get("configmaps", Some("apps"), "frozen").await.expect("created"));

    // When its data changes in git and the app is synced.
    commit(&repo, &[("app/frozen.yaml", Some(&frozen_config_map("2", &[])))], "change");
    let app = sync_and_wait(&h, "frozen", "plain-sync", json!({"revision": "HEAD"})).await;
    // Then the sync fails with the API server's refusal, and the object is unchanged.
    assert_eq!(op_phase(&app), "Failed", "{}", op_message(&app));
    let immutable = "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when \
                     `immutable` is set";
    let (status, message) = result_of(&app, "frozen");
    assert_eq!(status, "SyncFailed");
    assert!(message.contains(immutable), "{message}");
    assert!(op_message(&app).starts_with("one or more objects failed to apply"), "{app:#}");
    let cm = h.get("configmaps", Some("apps"), "frozen").await.expect("kept");
    assert_eq!(cm["data"]["value"], "1");

    // When it is synced with force (`weir app sync --force`), it is deleted and created again.
    let force = json!({"revision": "HEAD", "syncStrategy": {"apply": {"force": true}}});
    let app = sync_and_wait(&h, "frozen", "forced", force).await;
    assert_eq!(op_phase(&app), "Succeeded", "{}", op_message(&app));
    assert_eq!(result_of(&app, "frozen"), ("Synced".into(), "configmap/frozen configured".into()));
    let cm = h.get("configmaps", Some("apps"), "frozen").await.expect("re-created");
    assert_eq!(cm["data"]["value"], "2");
    let second_uid = uid(&cm);
    assert_ne!(second_uid, first_uid, "a new object");

    // When git says Replace=true,Force=true on the object itself, a plain sync replaces it.
    let annotated =
        frozen_config_map("3", &[("argocd.argoproj.io/sync-options", "Replace=true,Force=true")]);
    commit(&repo, &[("app/frozen.yaml", Some(&annotated))], "replace");
    let app = sync_and_wait(&h, "frozen", "annotated", json!({"revision": "HEAD"})).await;
    assert_eq!(op_phase(&app), "Succeeded", "{}", op_message(&app));
    assert_eq!(result_of(&app, "frozen"), ("Synced".into(), "configmap/frozen replaced".into()));
    let cm = h.get("configmaps", Some("apps"), "frozen").await.expect("replaced");
    assert_eq!(cm["data"]["value"], "3");
    assert_ne!(uid(&cm), second_uid);

    // When the operation asks for Replace=true (`weir app sync --replace`), a mutable object is
    // replaced in place (same uid) and the manifest is all that is left of it.
    commit(&repo, &[("app/plain.yaml", Some(&config_map("plain", "2")))], "plain");
    let plain_uid = uid(&h.get("configmaps", Some("apps"), "plain").await.expect("plain"));
    let replace = json!({"revision": "HEAD", "syncOptions": ["Replace=true"]});
    let app = sync_and_wait(&h, "frozen", "replace", replace).await;
    assert_eq!(op_phase(&app), "Succeeded", "{}", op_message(&app));
    assert_eq!(result_of(&app, "plain"), ("Synced".into(), "configmap/plain replaced".into()));
    let cm = h.get("configmaps", Some("apps"), "plain").await.expect("plain");
    assert_eq!(cm["data"]["value"], "2");
    assert_eq!(uid(&cm), plain_uid);
    // A Namespace is updated, never re-created (that would delete what is in it).
    assert_eq!(result_of(&app, "extra"), ("Synced".into(), "Namespace/extra updated".into()));
    h.stop().await;
}
