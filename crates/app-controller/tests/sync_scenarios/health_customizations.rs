//! Health customizations from the user's side: an `argocd-cm` in the `argocd` namespace holds
//! a Lua health script for a kind (`resource.customizations.health.<group_kind>`), and the
//! Application's health follows it; a script that loops forever makes that resource `Unknown`
//! with a message naming the kind and the cause, and the app keeps syncing.

use serde_json::{Value, json};
use weir_cluster::{Object, apply};

use crate::common::*;

const SCRIPT_KEY: &str = "resource.customizations.health.ConfigMap";

/// Healthy unless the ConfigMap's `value` is `bad` (written for this test).
const VALUE_SCRIPT: &str = r#"
if obj.data ~= nil and obj.data.value == "bad" then
  return {status = "Degraded", message = "value of " .. obj.metadata.name .. " is bad"}
end
return {status = "Healthy", message = "value is fine"}
"#;

async fn set_argocd_cm(h: &Harness, script: &str) {
    let cm = Object::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {SCRIPT_KEY: script},
    }))
    .expect("argocd-cm");
    apply(&*h.store, &rt("configmaps"), &cm).await.expect("write argocd-cm");
}

fn resource_health<'a>(app: &'a Value, name: &str) -> (&'a str, &'a str) {
    let resources = app["status"]["resources"].as_array().map(Vec::as_slice).unwrap_or_default();
    let Some(r) = resources.iter().find(|r| r["name"] == name) else { return ("", "") };
    (r["health"]["status"].as_str().unwrap_or(""), r["health"]["message"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argocd_cm_lua_script_decides_a_kinds_health() {
    let root = tempfile::tempdir().expect("tempdir");
    let h = start(root.path(), false).await;
    // Given a health script for ConfigMaps (which have no built-in health) in argocd-cm.
    set_argocd_cm(&h, VALUE_SCRIPT).await;
    let repo = new_repo(root.path(), "repo");
    commit(
        &repo,
        &[
            ("app/good.yaml", Some(&config_map("good", "ok"))),
            ("app/bad.yaml", Some(&config_map("bad", "bad"))),
        ],
        "two config maps",
    );
    // When an automated app deploys them.
    h.create(&application("lua", &file_url(&repo), "app", json!({"automated": {}}))).await;
    // Then the app's health is the script's verdict, with the script's messages.
    let app = h
        .wait_app("lua", "Degraded by the script", |a| {
            a["status"]["health"]["status"] == "Degraded"
        })
        .await;
    assert_eq!(resource_health(&app, "bad"), ("Degraded", "value of bad is bad"));
    assert_eq!(resource_health(&app, "good"), ("Healthy", "value is fine"));
    assert_eq!(app["status"]["health"]["message"], "Caused by ConfigMap:apps/bad");

    // When the script is replaced by one that never ends.
    set_argocd_cm(&h, "while true do end").await;
    h.patch_app(
        "lua",
        json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}),
    )
    .await;
    // Then the resources are Unknown, with the kind and the cause, and the app is Unknown.
    let app = h
        .wait_app("lua", "Unknown from the looping script", |a| {
            a["status"]["health"]["status"] == "Unknown"
        })
        .await;
    let (status, message) = resource_health(&app, "good");
    assert_eq!(status, "Unknown");
    assert_eq!(
        message,
        "error running the health script of ConfigMap: the script exceeded its limit of \
         10000000 instructions"
    );
    // And the app keeps syncing: a new commit is deployed.
    let next = commit(&repo, &[("app/third.yaml", Some(&config_map("third", "ok")))], "a third");
    h.refresh.refresh_repo(&file_url(&repo));
    h.wait_app("lua", "the new commit synced", |a| {
        a["status"]["sync"]["revision"] == next.as_str()
    })
    .await;
    h.wait_object("configmaps", Some("apps"), "third", "third deployed", |o| o.is_some()).await;
    h.stop().await;
}
