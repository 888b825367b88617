//! Optimistic concurrency under contention: no lost update.

use serde_json::json;
use weir_cluster::{Cluster, Error};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    const TASKS: u64 = 16;
    const INCREMENTS: u64 = 50;
    let (_dir, store) = store();
    let cm = rt("configmaps");
    store.create(&cm, obj(&cm, Some("ns"), "counter", json!({"n": 0}))).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, cm) = (store.clone(), cm.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                loop {
                    let mut current = store.get(&cm, Some("ns"), "counter").await.unwrap();
                    let n = spec(&current)["n"].as_u64().unwrap();
                    current.data.insert("spec".into(), json!({"n": n + 1}));
                    match store.update(&cm, current).await {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let last = store.get(&cm, Some("ns"), "counter").await.unwrap();
    assert_eq!(spec(&last)["n"], json!(TASKS * INCREMENTS), "after {conflicts} conflicts");
    assert_eq!(last.metadata.generation, Some(1 + (TASKS * INCREMENTS) as i64));
}
