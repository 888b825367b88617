//! The dashboard's pages over a real SQLite store and real HTTP: a paused canary with its
//! ReplicaSets, pods and an AnalysisRun, rendered with the pause countdown, the traffic split,
//! a chart per metric and escaped text; the list; live events from the store's watch.

use std::time::Duration;

use serde_json::json;
use weir_cluster::{Cluster, Object, Registry, ResourceType, apply};
use weir_controller::Shutdown;
use weir_store::Store;

const TOKEN: &str = "test-token-123";

fn rt(plural: &str) -> ResourceType {
    Registry::builtin().for_name(plural).expect("builtin type").clone()
}

/// Creates `value` and, if it has a status, writes it through the status subresource.
async fn put(store: &Store, plural: &str, value: serde_json::Value) -> Object {
    let object = Object::from_value(value.clone()).expect("object");
    let (_, mut created) = apply(store, &rt(plural), &object).await.expect("apply");
    if let Some(status) = value.get("status") {
        let mut with_status = created.to_value();
        with_status["status"] = status.clone();
        created = store
            .update_status(&rt(plural), Object::from_value(with_status).expect("status"))
            .await
            .expect("status");
    }
    created
}

struct Served {
    base: String,
    client: reqwest::Client,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
    store: Store,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let shutdown = Shutdown::new();
    let config = weir_dashboard::DashboardConfig {
        token: TOKEN.to_owned(),
        data_dir: None,
        shutdown: shutdown.clone(),
    };
    let app = weir_dashboard::router(store.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Served { base, client, shutdown, _dir: dir, store }
}

impl Served {
    /// Logs in; returns the cookie header value.
    async fn login(&self) -> String {
        let response = self
            .client
            .post(format!("{}/ui/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={TOKEN}"))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 303);
        let cookie = response.headers()["set-cookie"].to_str().expect("cookie").to_owned();
        cookie.split(';').next().expect("pair").to_owned()
    }

    async fn get(&self, cookie: &str, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.expect("body")
    }
}

async fn paused_canary(store: &Store) {
    put(
        store,
        "namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    )
    .await;
    let started = "2026-01-01T00:00:00Z";
    let rollout = put(
        store,
        "rollouts",
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "cart"}},
                "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "1h"}}, {"setWeight": 75}]}},
                "template": {"metadata": {"labels": {"app": "cart"}}, "spec": {"containers": [{"name": "c", "image": "cart:2"}]}}
            },
            "status": {
                "currentStepIndex": 1, "currentPodHash": "h2", "stableRS": "h1",
                "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": started}],
                "canary": {"weights": {"canary": {"weight": 25, "podTemplateHash": "h2"}, "stable": {"weight": 75, "podTemplateHash": "h1"}}},
                "phase": "Paused", "message": "CanaryPauseStep", "replicas": 2, "readyReplicas": 2
            }
        }),
    )
    .await;
    let owner = |kind: &str, name: &str, uid: &str| json!([{"apiVersion": "v1", "kind": kind, "name": name, "uid": uid, "controller": true}]);
    let owner_ro = owner("Rollout", "cart", rollout.uid());
    for (hash, revision, image) in [("h1", "1", "cart:1"), ("h2", "2", "cart:2")] {
        let rs = put(
            store,
            "replicasets",
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("cart-{hash}"), "namespace": "shop",
                             "labels": {"app": "cart", "rollouts-pod-template-hash": hash},
                             "annotations": {"rollout.argoproj.io/revision": revision},
                             "ownerReferences": owner_ro.clone()},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "cart"}},
                         "template": {"metadata": {"labels": {"app": "cart"}}, "spec": {"containers": [{"name": "c", "image": image}]}}},
                "status": {"replicas": 1, "availableReplicas": 1}
            }),
        )
        .await;
        put(
            store,
            "pods",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("cart-{hash}-x"), "namespace": "shop",
                             "ownerReferences": owner("ReplicaSet", rs.name(), rs.uid())},
                "spec": {"containers": [{"name": "c", "image": image}]},
                "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0}]}
            }),
        )
        .await;
    }
    put(
        store,
        "analysisruns",
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "cart-h2-1", "namespace": "shop", "ownerReferences": owner_ro,
                         "labels": {"rollouts-pod-template-hash": "h2"},
                         "annotations": {"rollout.argoproj.io/revision": "2"}},
            "spec": {"metrics": [{"name": "success-rate", "successCondition": "result[0] >= 0.95",
                                  "provider": {"prometheus": {"address": "http://p", "query": "q"}}}]},
            "status": {"phase": "Running", "message": "<script>alert(1)</script>",
                       "metricResults": [{"name": "success-rate", "phase": "Running", "count": 2, "successful": 1, "failed": 1,
                           "measurements": [
                               {"phase": "Successful", "value": "[0.99]", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z"},
                               {"phase": "Failed", "value": "[0.42]", "startedAt": "2026-01-01T00:01:00Z", "finishedAt": "2026-01-01T00:01:01Z"}
                           ]}]}
        }),
    )
    .await;
}

#[tokio::test]
async fn a_paused_canary_shows_its_steps_traffic_revisions_and_analysis() {
    let served = serve().await;
    paused_canary(&served.store).await;
    let cookie = served.login().await;

    let page = served.get(&cookie, "/ui/rollouts/shop/cart").await;
    assert!(page.contains(r#"<span class="badge big paused">Paused</span>"#), "{page}");
    // The current step is the timed pause, counting down to start + 1h.
    let end = k8s_openapi::jiff::Timestamp::from_second(1_767_225_600 + 3600).expect("end");
    assert_eq!(end.to_string(), "2026-01-01T01:00:00Z");
    assert!(page.contains(r#"<li class="current" aria-current="step">pause 1h <span class="countdown" data-countdown="1767229200">"#), "{page}");
    assert!(page.contains(r#"<li class="done">setWeight 25</li>"#), "{page}");
    // Traffic split from status.canary.weights.
    assert!(page.contains(r#"<b data-field="canary-weight">25%</b>"#), "{page}");
    assert!(page.contains(r#"<b data-field="stable-weight">75%</b>"#), "{page}");
    // Revisions: the canary and the stable ReplicaSets with their pods; undo only to older ones.
    assert!(page.contains("revision 2") && page.contains("revision 1"), "{page}");
    assert!(
        page.contains(r#"<span class="tag">canary</span>"#)
            && page.contains(r#"<span class="tag">stable</span>"#)
    );
    assert!(page.contains("cart-h1-x") && page.contains("cart-h2-x"));
    assert_eq!(page.matches("Undo to this revision").count(), 1);
    // Analysis: one chart with a dot per measurement, the condition, escaped text.
    assert!(page.contains(r#"<svg class="chart""#), "{page}");
    assert_eq!(page.matches("<circle").count(), 2);
    assert!(page.contains("success: <code>result[0] &gt;= 0.95</code>"), "{page}");
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let list = served.get(&cookie, "/ui/rollouts").await;
    assert!(list.contains(r#"<a href="/ui/rollouts/shop/cart">shop/cart</a>"#), "{list}");
    assert!(list.contains("<td>Canary</td><td><span class=\"badge paused\">Paused</span></td><td>1/3</td><td>25</td><td>25</td>"), "{list}");

    // A fragment request returns only <main>'s content.
    let fragment = served
        .client
        .get(format!("{}/ui/rollouts", served.base))
        .header("cookie", &cookie)
        .header("x-weir-fragment", "1")
        .send()
        .await
        .expect("fragment")
        .text()
        .await
        .expect("body");
    assert!(fragment.starts_with("<h1>Rollouts"), "{fragment}");
    served.shutdown.trigger();
}

#[tokio::test]
async fn the_event_stream_reports_changes_and_ends_on_shutdown() {
    use futures::StreamExt;
    let served = serve().await;
    put(
        &served.store,
        "namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "live"}}),
    )
    .await;
    let cookie = served.login().await;
    let response = served
        .client
        .get(format!("{}/ui/events", served.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("type").to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let mut body = response.bytes_stream();
    put(
        &served.store,
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "live"},
               "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    )
    .await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            if seen.contains("event: change")
                && seen.contains(r#""kind":"Pod""#)
                && seen.contains(r#""name":"p1""#)
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found.ok(), Some(true), "no change event for the pod: {seen}");
    // Namespaces are not shown by any page, so their changes are not streamed.
    assert!(!seen.contains(r#""kind":"Namespace""#), "{seen}");
    served.shutdown.trigger();
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while body.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end on shutdown");
}

/// The CSRF token the pages carry in their forms.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a form with the CSRF token") + marker.len();
    page[start..].split('"').next().expect("token").to_owned()
}

/// Issue 16, item 6: an action whose CSRF token is only in the `X-CSRF-Token` header, with no
/// form body, is accepted (it was refused 415); a wrong token in the header is still refused.
#[tokio::test]
async fn an_action_with_the_csrf_token_in_the_header_only_is_accepted() {
    let served = serve().await;
    let cookie = served.login().await;
    let csrf = csrf_of(&served.get(&cookie, "/ui/applications").await);
    let post = |token: &str| {
        served
            .client
            .post(format!("{}/ui/logout", served.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", token)
            .send()
    };
    let refused = post("not-the-token").await.expect("post");
    assert_eq!(refused.status(), 403);
    let accepted = post(&csrf).await.expect("post");
    assert_eq!(accepted.status(), 303);
    assert_eq!(accepted.headers()["location"], "/ui/login");
}

/// Issue 16, item 6: the diff page of an Application that does not exist answers 404 (it
/// answered 200), with the page frame and the reason.
#[tokio::test]
async fn the_diff_page_of_a_missing_application_is_a_404() {
    let served = serve().await;
    let cookie = served.login().await;
    let response = served
        .client
        .get(format!("{}/ui/applications/argocd/missing/diff", served.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    let page = response.text().await.expect("body");
    assert!(page.contains("missing"), "{page}");
}
