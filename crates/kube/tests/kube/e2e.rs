//! End to end: `weir up --controllers none` as the cluster (store, API, node agent running
//! pods as processes) and the delivery controllers composed as `weir controller` composes them,
//! reaching it only through `KubeCluster`, confined to one namespace as `--namespace` does. A
//! canary Rollout with two setWeight steps and a pause is rolled to a new version, promoted,
//! and completes; a Rollout in another namespace is left alone.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weir_cluster::{Cluster, Object, Patch, Subresource};
use weir_controller::Shutdown;
use weir_server::controllers::{NamespaceScoped, spawn_delivery_controllers};

use crate::harness::{Weir, namespace, rt};

const NS: &str = "e2e";

async fn status(cluster: &weir_kube::KubeCluster) -> Value {
    match cluster.get(&rt("rollouts"), Some(NS), "app").await {
        Ok(object) => object.field("status").cloned().unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Polls the Rollout's status until `check` holds (60 s at most: pods are real processes).
async fn wait_status(cluster: &weir_kube::KubeCluster, what: &str, check: impl Fn(&Value) -> bool) {
    for _ in 0..600 {
        if check(&status(cluster).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; status: {}", status(cluster).await);
}

fn rollout(image: &str) -> Object {
    Object::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            },
            "strategy": {"canary": {"steps": [
                {"setWeight": 50}, {"pause": {}}, {"setWeight": 100}
            ]}}
        }
    }))
    .expect("rollout")
}

fn completed(s: &Value) -> bool {
    let hash = s["currentPodHash"].as_str();
    hash.is_some() && hash == s["stableRS"].as_str() && s["currentStepIndex"] == json!(3)
}

#[tokio::test]
async fn a_canary_rolls_forward_through_the_kubernetes_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let weir = Weir::start_in(dir, |mut config| {
        for image in ["example/app:1", "example/app:2"] {
            config
                .image_map
                .insert(image.into(), vec!["/bin/sh".into(), "-c".into(), "exec sleep 600".into()]);
        }
        config
    })
    .await;
    let cluster = weir.cluster().await;
    namespace(&cluster, NS).await;

    // As `weir controller --namespace e2e` runs them: a Rollout elsewhere is not theirs.
    namespace(&cluster, "elsewhere").await;
    let mut other = rollout("example/app:1");
    other.metadata.namespace = Some("elsewhere".to_owned());
    cluster.create(&rt("rollouts"), other).await.expect("create the other rollout");
    let shutdown = Shutdown::new();
    let controllers = spawn_delivery_controllers(
        Arc::new(NamespaceScoped::new(Arc::new(cluster.clone()), NS)),
        weir_analysis_controller::Providers::standard(),
        weir_app_controller::AppControllerConfig::new(weir.dir.path().join("controller")),
        &shutdown,
    );

    cluster.create(&rt("rollouts"), rollout("example/app:1")).await.expect("create rollout");
    wait_status(&cluster, "the first version to be stable", completed).await;
    let first = status(&cluster).await["stableRS"].clone();

    let image = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "example/app:2"}
    ]}}}});
    cluster
        .patch(&rt("rollouts"), Some(NS), "app", &Patch::Merge(image), Subresource::Main)
        .await
        .expect("new image");
    wait_status(&cluster, "the pause after 50 %", |s| {
        s["currentStepIndex"] == json!(1)
            && s["pauseConditions"].as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    assert_eq!(status(&cluster).await["stableRS"], first, "still the first version while paused");

    // `weir rollouts promote` on a pause step: clear the pause conditions (status subresource).
    cluster
        .patch(
            &rt("rollouts"),
            Some(NS),
            "app",
            &Patch::Merge(json!({"status": {"pauseConditions": null}})),
            Subresource::Status,
        )
        .await
        .expect("promote");
    wait_status(&cluster, "the second version to be stable", |s| {
        completed(s) && s["stableRS"] != first
    })
    .await;

    let untouched = cluster.get(&rt("rollouts"), Some("elsewhere"), "app").await.expect("other");
    assert_eq!(untouched.field("status"), None, "outside the namespace: never reconciled");

    shutdown.trigger();
    for task in controllers {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("controllers stop")
            .expect("controller task");
    }
    weir.stop().await;
}
