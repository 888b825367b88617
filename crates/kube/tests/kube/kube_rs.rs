//! Issue 12's kube-rs checks, with kube-rs used directly (no weir code between the test and
//! the API): `Api<DynamicObject>`, `Discovery`, `Patch::Apply`, `Patch::Strategic`, `watcher`
//! with and without streaming lists, dry run, `get_scale`. Checks needing a server feature that
//! another helper is adding are ignored with that helper named.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::harness::{Weir, namespace, rt};

async fn client(weir: &Weir) -> kube::Client {
    weir.cluster().await.client()
}

fn config_maps(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    Api::namespaced_with(client, ns, &ar)
}

fn deployment(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "main", "image": "example/main:1"},
                    {"name": "side", "image": "example/side:1"}
                ]}
            }
        }
    }))
    .expect("deployment")
}

fn deployments(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    );
    Api::namespaced_with(client, ns, &ar)
}

#[tokio::test]
async fn api_dynamic_object_round_trips() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "dyn").await;
    let api = config_maps(cluster.client(), "dyn");
    let cm: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}
    }))
    .expect("cm");
    let created = api.create(&PostParams::default(), &cm).await.expect("create");
    assert_eq!(created.data["data"], json!({"a": "1"}));
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    let merged = api
        .patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"b": "2"}})))
        .await
        .expect("merge");
    assert_eq!(merged.data["data"], json!({"a": "1", "b": "2"}));
    api.delete("c", &DeleteParams::default()).await.expect("delete");
    let error = api.get("c").await.expect_err("gone");
    assert!(matches!(error, kube::Error::Api(ref s) if s.code == 404), "{error:?}");
}

#[tokio::test]
async fn watcher_without_streaming_lists_sees_objects() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "wl").await;
    let api = config_maps(cluster.client(), "wl");
    let cm = |name: &str| -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        )
        .expect("cm")
    };
    api.create(&PostParams::default(), &cm("first")).await.expect("create");
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut names = Vec::new();
    let mut created_second = false;
    while !names.contains(&"second".to_owned()) {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .expect("an event in time")
            .expect("no watcher error")
            .expect("the watcher goes on");
        match event {
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                names.push(o.metadata.name.unwrap_or_default())
            }
            watcher::Event::InitDone if !created_second => {
                api.create(&PostParams::default(), &cm("second")).await.expect("create");
                created_second = true;
            }
            _ => {}
        }
    }
    assert_eq!(names, ["first", "second"]);
}

#[tokio::test]
async fn watcher_with_streaming_lists_sees_objects() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "ws").await;
    let api = config_maps(cluster.client(), "ws");
    let cm: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first"}}),
    )
    .expect("cm");
    api.create(&PostParams::default(), &cm).await.expect("create");
    let config = watcher::Config::default().streaming_lists();
    let mut stream = watcher(api, config).boxed();
    let mut init_done = false;
    let mut names = Vec::new();
    while !init_done {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("the initial events end in time (closing bookmark)")
            .expect("the watcher goes on")
            .expect("no watcher error");
        match event {
            watcher::Event::InitApply(o) => names.push(o.metadata.name.unwrap_or_default()),
            watcher::Event::InitDone => init_done = true,
            _ => {}
        }
    }
    assert_eq!(names, ["first"]);
}

#[tokio::test]
async fn discovery_finds_weirs_kinds() {
    let weir = Weir::start().await;
    let discovery = kube::Discovery::new(client(&weir).await).run().await.expect("discovery");
    let found = |group: &str, kind: &str| {
        discovery.groups().any(|g| {
            g.name() == group && g.recommended_resources().iter().any(|(ar, _)| ar.kind == kind)
        })
    };
    assert!(found("argoproj.io", "Rollout"));
    assert!(found("apps", "Deployment"));
    assert!(found("networking.istio.io", "VirtualService"));
    let cluster = weir.cluster().await;
    let rollouts = cluster.discover("argoproj.io/v1alpha1", "Rollout").await.expect("rollouts");
    assert_eq!(rollouts.plural, "rollouts");
    assert!(
        cluster.missing(&[rt("rollouts"), rt("applications")]).await.expect("missing").is_empty()
    );
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "smp").await;
    let api = deployments(cluster.client(), "smp");
    api.create(&PostParams::default(), &deployment("d")).await.expect("create");
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "example/main:2"}
    ]}}}});
    let patched = api
        .patch("d", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("strategic patch");
    let containers = &patched.data["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(2), "merged by name: {containers}");
    assert_eq!(containers[0]["image"], json!("example/main:2"));
    assert_eq!(containers[1]["image"], json!("example/side:1"));
}

#[tokio::test]
async fn server_side_apply_creates_then_updates() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "ssa").await;
    let api = config_maps(cluster.client(), "ssa");
    let config = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": value}});
    let params = PatchParams::apply("weir-test");
    let created = api.patch("c", &params, &Patch::Apply(config("1"))).await.expect("apply");
    assert_eq!(created.data["data"], json!({"k": "1"}));
    let updated = api.patch("c", &params, &Patch::Apply(config("2"))).await.expect("re-apply");
    assert_eq!(updated.data["data"], json!({"k": "2"}));
    assert!(updated.metadata.managed_fields.is_some(), "managedFields kept");
}

#[tokio::test]
async fn dry_run_create_stores_nothing() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "dry").await;
    let api = config_maps(cluster.client(), "dry");
    let cm: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    )
    .expect("cm");
    let params = PostParams { dry_run: true, ..PostParams::default() };
    api.create(&params, &cm).await.expect("dry-run create answers");
    let error = api.get("c").await.expect_err("nothing stored");
    assert!(matches!(error, kube::Error::Api(ref s) if s.code == 404), "{error:?}");
}

#[tokio::test]
async fn get_scale_reads_a_deployments_replicas() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    namespace(&cluster, "scale").await;
    let api = deployments(cluster.client(), "scale");
    api.create(&PostParams::default(), &deployment("d")).await.expect("create");
    let scale = api.get_scale("d").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
}

#[tokio::test]
async fn a_kind_the_server_does_not_serve_is_reported_missing() {
    let weir = Weir::start().await;
    let cluster = weir.cluster().await;
    let unknown = weir_cluster::ResourceType::guess("example.com/v1", "Widget");
    let error = cluster.discover("example.com/v1", "Widget").await.expect_err("not served");
    assert!(matches!(error, weir_cluster::Error::NotFound { .. }), "{error:?}");
    let missing = cluster.missing(std::slice::from_ref(&unknown)).await.expect("missing");
    assert_eq!(missing, [unknown]);
}
