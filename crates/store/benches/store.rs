//! Store throughput and watch fan-out. Not a test: prints figures, asserts nothing.
//! Run with `cargo bench -p weir-store` (about half a minute).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use weir_cluster::{Cluster, Object, Registry, ResourceType, WatchEvent, WatchParams};
use weir_store::Store;

const SEQUENTIAL: usize = 2_000;
const WRITERS: usize = 8;
const PER_WRITER: usize = 250;
const READS: usize = 10_000;
const WATCHERS: usize = 100;
const FANOUT_WRITES: usize = 2_000;

fn cm(rt: &ResourceType, name: &str, spec: serde_json::Value) -> Object {
    let mut o = Object::new(&rt.api_version(), &rt.kind, Some("bench"), name);
    o.data.insert("data".into(), spec);
    o
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0}/s  ({n} in {:.2} s)", n as f64 / d.as_secs_f64(), d.as_secs_f64())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cpus} CPUs, {model}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open store");
    let rt = Registry::builtin().for_name("configmaps").expect("configmaps").clone();
    println!("weir-store bench — {} — data in {}", machine(), dir.path().display());
    println!("(synchronous=FULL: every write is fsynced before it is acknowledged)");

    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        store.create(&rt, cm(&rt, &format!("seq-{i}"), json!({"i": i}))).await.expect("create");
    }
    println!("sequential create      {}", rate(SEQUENTIAL, start.elapsed()));

    let mut current = store.get(&rt, Some("bench"), "seq-0").await.expect("get");
    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        current.data.insert("data".into(), json!({"i": i, "v": "update"}));
        current = store.update(&rt, current).await.expect("update");
    }
    println!("sequential update      {}", rate(SEQUENTIAL, start.elapsed()));

    let start = Instant::now();
    for i in 0..READS {
        store.get(&rt, Some("bench"), &format!("seq-{}", i % SEQUENTIAL)).await.expect("get");
    }
    println!("sequential get         {}", rate(READS, start.elapsed()));

    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (store, rt) = (store.clone(), rt.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                store
                    .create(&rt, cm(&rt, &format!("w{w}-{i}"), json!({"i": i})))
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    println!("{WRITERS} concurrent writers {}", rate(WRITERS * PER_WRITER, start.elapsed()));

    // Fan-out: watchers from the current revision, writes stamped with their send time.
    let base = Instant::now();
    let from = WatchParams {
        resource_version: Some(store.revision().to_string()),
        ..WatchParams::default()
    };
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut stream = store.watch(&rt, Some("bench"), &from).await.expect("watch");
        watchers.push(tokio::spawn(async move {
            let mut lags = Vec::with_capacity(FANOUT_WRITES);
            while lags.len() < FANOUT_WRITES {
                let event = stream.next().await.expect("stream ended").expect("watch error");
                if let WatchEvent::Added(o) = event {
                    let sent = o.data["data"]["t"].as_u64().expect("stamp");
                    let now = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    lags.push(Duration::from_nanos(now.saturating_sub(sent)));
                }
            }
            (lags, base.elapsed())
        }));
    }
    let start = base.elapsed();
    let writer = {
        let (store, rt) = (store.clone(), rt.clone());
        tokio::spawn(async move {
            for i in 0..FANOUT_WRITES {
                let t = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                store
                    .create(&rt, cm(&rt, &format!("fan-{i}"), json!({"t": t})))
                    .await
                    .expect("create");
            }
            base.elapsed()
        })
    };
    let writes_done = writer.await.expect("writer") - start;
    let mut lags = Vec::new();
    let mut last_delivery = Duration::ZERO;
    for w in watchers {
        let (l, done) = w.await.expect("watcher");
        lags.extend(l);
        last_delivery = last_delivery.max(done);
    }
    let delivered = last_delivery - start;
    lags.sort();
    let events = Arc::new(lags.len());
    println!(
        "watch fan-out          {WATCHERS} watchers x {FANOUT_WRITES} writes: writes {}, \
         deliveries {}",
        rate(FANOUT_WRITES, writes_done).trim(),
        rate(*events, delivered).trim()
    );
    println!(
        "watch lag              p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lags, 0.5).as_secs_f64() * 1e3,
        percentile(&lags, 0.99).as_secs_f64() * 1e3,
        percentile(&lags, 1.0).as_secs_f64() * 1e3
    );
}
