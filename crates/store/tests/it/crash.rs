//! kill -9 in the middle of a write loop loses no acknowledged write.
//!
//! The child is this test binary re-run with `WEIR_STORE_CRASH_CHILD=<dir>` and the exact name
//! of [`child_writer`], which then writes forever and prints `ACK <name> <rv>` after each
//! acknowledged create.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::json;
use weir_cluster::Cluster;
use weir_store::Store;

use crate::common::*;

const CHILD_ENV: &str = "WEIR_STORE_CRASH_CHILD";

#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Only meaningful as the crash test's child.
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(std::path::Path::new(&dir)).unwrap();
        let cm = rt("cm");
        let mut out = std::io::stdout().lock();
        for i in 0.. {
            let name = format!("c{i}");
            let created =
                store.create(&cm, obj(&cm, Some("ns"), &name, json!({"i": i}))).await.unwrap();
            writeln!(out, "ACK {name} {}", created.resource_version()).unwrap();
            out.flush().unwrap();
        }
    });
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash::child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (name, rv) = rest.split_once(' ').unwrap();
            acked.push((name.to_owned(), rv.to_owned()));
            if acked.len() == 200 {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), 200, "the child stopped early");

    let store = Store::open(dir.path()).expect("the lock dies with the process");
    let cm = rt("cm");
    for (name, rv) in &acked {
        let got = store.get(&cm, Some("ns"), name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.resource_version(), rv, "{name}");
    }
    assert!(store.revision() >= acked.last().unwrap().1.parse::<u64>().unwrap());
}
