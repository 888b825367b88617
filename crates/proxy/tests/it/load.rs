//! Zero failed requests while weights change and endpoints are swapped under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weir_proxy::{Role, Route, RouteTable, VirtualHost};

use crate::support::{self, Upstream, backend, client, get};

fn table(stable: &[&Upstream], canary: &[&Upstream], canary_weight: u32) -> RouteTable {
    let mut t = RouteTable::default();
    let addrs = |ups: &[&Upstream]| ups.iter().map(|u| u.addr).collect::<Vec<_>>();
    t.backends.insert("stable".into(), backend(&addrs(stable), "v1"));
    t.backends.insert("canary".into(), backend(&addrs(canary), "v2"));
    t.gateway.push(VirtualHost {
        name: "bookinfo".into(),
        hosts: vec!["bookinfo.tetrate.com".into()],
        port: None,
        routes: vec![Route::weighted(&[
            ("stable", 100 - canary_weight),
            ("canary", canary_weight),
        ])],
    });
    t
}

async fn generation(tag: usize) -> Vec<Upstream> {
    let mut v = Vec::new();
    for i in 0..4 {
        v.push(Upstream::start(&format!("g{tag}-{i}")).await);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_failed_requests_while_weights_change_and_endpoints_drain() {
    let mut current = generation(0).await;
    let t = |g: &[Upstream], w| table(&[&g[0], &g[1]], &[&g[2], &g[3]], w);
    let proxy = support::proxy(&t(&current, 10)).await;
    let gw = proxy.addr(Role::Gateway).expect("gw");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
        clients.push(tokio::spawn(async move {
            let c = client();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match get(&c, gw, "bookinfo.tetrate.com", "/", &[]).await {
                    Ok(r) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failures.lock().expect("lock").push(format!("{} {}", r.status, r.body))
                    }
                    Err(e) => failures.lock().expect("lock").push(e),
                }
            }
        }));
    }

    let start = Instant::now();
    for step in 1..=40u32 {
        tokio::time::sleep(Duration::from_millis(70)).await;
        if step % 10 == 0 {
            // Roll the endpoints: start new ones, switch the table, let the old ones drain, stop them.
            let next = generation(step as usize).await;
            proxy.update(&t(&next, step % 100)).expect("valid table");
            let old = std::mem::replace(&mut current, next);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                for u in old {
                    u.stop().await;
                }
            });
        } else {
            let weight = (step * 37) % 101;
            proxy.update(&t(&current, weight)).expect("valid table");
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client task");
    }
    let failures = failures.lock().expect("lock").clone();
    let ok = ok.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} failed of {}: {:?}",
        failures.len(),
        ok,
        &failures[..failures.len().min(10)]
    );
    assert!(ok > 500, "only {ok} requests in {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_endpoint_finishes_in_flight_requests_and_gets_no_new_ones() {
    let old = Upstream::with(
        "old",
        crate::support::Behavior { delay: Duration::from_millis(300), ..Default::default() },
    )
    .await;
    let new = Upstream::start("new").await;
    let proxy = support::proxy(&table(&[&old], &[&old], 0)).await;
    let gw = proxy.addr(Role::Gateway).expect("gw");
    let in_flight = tokio::spawn(async move {
        get(&client(), gw, "bookinfo.tetrate.com", "/", &[]).await.expect("reply")
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(old.hits(), 1);
    proxy.update(&table(&[&new], &[&new], 0)).expect("valid");
    let c = client();
    for _ in 0..10 {
        assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/", &[]).await.expect("reply").body, "new");
    }
    let r = in_flight.await.expect("task");
    assert_eq!((r.status, r.body.as_str()), (200, "old"));
    assert_eq!(old.hits(), 1);
}
