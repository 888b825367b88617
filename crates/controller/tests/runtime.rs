//! The runtime against the real embedded store: triggers, owner mapping, retries, shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use weir_cluster::{Cluster, Object, ObjectRef, OwnerReference, Registry, ResourceType};
use weir_controller::{Action, Context, Controller, Reconciler, Shutdown};
use weir_store::Store;

fn rt(name: &str) -> ResourceType {
    Registry::builtin().for_name(name).expect("built-in type").clone()
}

/// Copies each ConfigMap's data into a Secret it owns; fails the first call for `flaky`.
struct Mirror {
    store: Arc<Store>,
    calls: AtomicU32,
    flaky_failures: AtomicU32,
}

impl Reconciler for Mirror {
    type Error = String;

    async fn reconcile(&self, key: &ObjectRef, ctx: &Context) -> Result<Action, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if key.name == "flaky" && self.flaky_failures.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err("not yet".to_owned());
        }
        let Some(cm) = ctx.primary().get(key) else {
            return Ok(Action::await_change());
        };
        let secrets = rt("secrets");
        let ns = cm.namespace();
        let want = cm.field("data").cloned().unwrap_or(json!({}));
        match self.store.get(&secrets, ns, cm.name()).await {
            Ok(mut s) if s.field("stringData") != Some(&want) => {
                s.data.insert("stringData".into(), want);
                self.store.update(&secrets, s).await.map_err(|e| e.to_string())?;
            }
            Ok(_) => {}
            Err(_) => {
                let mut s = Object::new("v1", "Secret", ns, cm.name());
                s.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: cm.name().into(),
                    uid: cm.uid().into(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]);
                s.data.insert("stringData".into(), want);
                self.store.create(&secrets, s).await.map_err(|e| e.to_string())?;
            }
        }
        Ok(Action::await_change())
    }

    fn backoff(&self) -> weir_controller::Backoff {
        weir_controller::Backoff::new(Duration::from_millis(10), Duration::from_millis(50))
    }
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_objects_trigger_their_owner_and_errors_are_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("open store"));
    let cms = rt("configmaps");
    let secrets = rt("secrets");
    let mut cm = Object::new("v1", "ConfigMap", Some("ns"), "app");
    cm.data.insert("data".into(), json!({"k": "v1"}));
    store.create(&cms, cm).await.expect("create cm");

    let mirror = Arc::new(Mirror {
        store: store.clone(),
        calls: AtomicU32::new(0),
        flaky_failures: AtomicU32::new(0),
    });
    let shutdown = Shutdown::new();
    let controller = Controller::new(store.clone(), cms.clone()).owns(secrets.clone());
    let cache = controller.primary_cache();
    let running = tokio::spawn(controller.run(mirror.clone(), 2, shutdown.clone()));

    let s = store.clone();
    eventually("secret created from existing configmap", async || {
        s.get(&secrets, Some("ns"), "app")
            .await
            .is_ok_and(|o| o.field("stringData") == Some(&json!({"k": "v1"})))
    })
    .await;
    assert!(cache.is_synced());

    // A manual change to the owned secret is healed: the owner is reconciled again.
    let mut secret = store.get(&secrets, Some("ns"), "app").await.expect("secret");
    secret.data.insert("stringData".into(), json!({"k": "tampered"}));
    store.update(&secrets, secret).await.expect("tamper");
    eventually("secret healed", async || {
        s.get(&secrets, Some("ns"), "app")
            .await
            .is_ok_and(|o| o.field("stringData") == Some(&json!({"k": "v1"})))
    })
    .await;

    // Errors are retried with backoff until the reconcile succeeds.
    let mut flaky = Object::new("v1", "ConfigMap", Some("ns"), "flaky");
    flaky.data.insert("data".into(), json!({"x": "1"}));
    store.create(&cms, flaky).await.expect("create flaky");
    eventually("flaky reconciled after retries", async || {
        s.get(&secrets, Some("ns"), "flaky").await.is_ok()
    })
    .await;
    assert!(mirror.flaky_failures.load(Ordering::SeqCst) >= 3);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("controller stops on shutdown")
        .expect("controller task");
}

/// Fails every call: `refused` with a 403, `broken` with any other error; `fine` succeeds.
struct Refused {
    calls: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Reconciler for Refused {
    type Error = weir_cluster::Error;

    async fn reconcile(&self, key: &ObjectRef, _ctx: &Context) -> Result<Action, Self::Error> {
        *self.calls.lock().unwrap().entry(key.name.clone()).or_default() += 1;
        match key.name.as_str() {
            "refused" => Err(weir_cluster::Error::Forbidden("configmaps is forbidden".into())),
            "broken" => Err(weir_cluster::Error::Internal("disk on fire".into())),
            _ => Ok(Action::await_change()),
        }
    }

    fn backoff(&self) -> weir_controller::Backoff {
        weir_controller::Backoff::new(Duration::from_millis(10), Duration::from_millis(50))
    }

    fn is_refusal(&self, error: &Self::Error) -> bool {
        matches!(error, weir_cluster::Error::Forbidden(_))
    }
}

/// A refused reconcile waits `FORBIDDEN_BACKOFF` (30 s first) while an ordinary failure is
/// retried on the reconciler's short backoff: by the time the broken key has failed five
/// times, the refused one has been tried once. The others keep being reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reconcile_is_retried_slowly_and_others_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("open store"));
    let cms = rt("configmaps");
    for name in ["refused", "broken", "fine"] {
        store.create(&cms, Object::new("v1", "ConfigMap", Some("ns"), name)).await.expect("cm");
    }
    let reconciler = Arc::new(Refused { calls: Default::default() });
    let shutdown = Shutdown::new();
    let controller = Controller::new(store.clone(), cms.clone());
    let running = tokio::spawn(controller.run(reconciler.clone(), 2, shutdown.clone()));
    let calls = |name: &str| reconciler.calls.lock().unwrap().get(name).copied().unwrap_or(0);
    eventually("broken retried five times", async || calls("broken") >= 5).await;
    assert_eq!(calls("refused"), 1);
    assert_eq!(calls("fine"), 1);
    assert_eq!(weir_controller::refusal::FORBIDDEN_BACKOFF.delay(0), Duration::from_secs(30));
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("controller stops on shutdown")
        .expect("controller task");
}
