//! Leader election through the Kubernetes backend: two candidates on one Lease in `weir up`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weir_cluster::{Cluster, wall_clock};
use weir_controller::Shutdown;
use weir_controller::leader::{Ended, LeaderElector, LeaseConfig};

use crate::harness::{Weir, eventually, rt};

fn fast(identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_millis(1500),
        renew_deadline: Duration::from_millis(1000),
        retry_period: Duration::from_millis(200),
        ..LeaseConfig::new("weir-controller", "default", identity)
    }
}

#[tokio::test]
async fn the_standby_takes_over_after_the_leader_stops_renewing() {
    let weir = Weir::start().await;
    let cluster = Arc::new(weir.cluster().await);
    let mut a = LeaderElector::new(cluster.clone(), fast("a"));
    assert!(a.try_acquire_or_renew(wall_clock()).await.expect("a takes the lease"));

    let b_leads = Arc::new(AtomicBool::new(false));
    let shutdown = Shutdown::new();
    let standby = tokio::spawn({
        let (cluster, b_leads, shutdown) = (cluster.clone(), b_leads.clone(), shutdown.clone());
        async move {
            let mut b = LeaderElector::new(cluster, fast("b"));
            b.run(&shutdown, move |stop| async move {
                b_leads.store(true, Ordering::SeqCst);
                stop.wait().await;
            })
            .await
        }
    });
    // a never renews (as if killed): b leads once the lease duration has passed.
    eventually("b leads", || async { b_leads.load(Ordering::SeqCst) }).await;
    let lease =
        cluster.get(&rt("leases"), Some("default"), "weir-controller").await.expect("lease");
    let spec = lease.field("spec").cloned().unwrap_or_default();
    assert_eq!(spec.get("holderIdentity"), Some(&serde_json::json!("b")));
    assert_eq!(spec.get("leaseTransitions"), Some(&serde_json::json!(1)));
    assert!(!a.try_acquire_or_renew(wall_clock()).await.expect("a again"), "b holds it");
    shutdown.trigger();
    assert_eq!(standby.await.expect("standby"), Ended::Shutdown);
}
