//! Opening a data directory: the lock, corruption, reopening.

use serde_json::json;
use weir_cluster::Cluster;
use weir_store::{Store, StoreError};

use crate::common::*;

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    let message = err.to_string();
    let expected = format!(
        "data directory {} is in use by another weir (pid {})",
        dir.path().display(),
        std::process::id()
    );
    assert_eq!(message, expected);
    drop(first);
    Store::open(dir.path()).expect("the lock is released on drop");
}

#[test]
fn a_corrupted_database_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weir.db");
    let garbage: Vec<u8> =
        (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupted { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("store {} is corrupted: ", db.display())), "{message}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file is left as it was");
}

#[test]
fn a_damaged_page_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let rt_ = rt("cm");
        let store = Store::open(dir.path()).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            for i in 0..200 {
                let body =
                    obj(&rt_, Some("ns"), &format!("c{i}"), json!({"data": "x".repeat(500)}));
                store.create(&rt_, body).await.unwrap();
            }
        });
    }
    let db = dir.path().join("weir.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8 * 4096, "{}", bytes.len());
    for b in &mut bytes[3 * 4096..6 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("is corrupted"), "{err}");
}

#[tokio::test]
async fn data_and_resource_versions_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cm = rt("cm");
    let created = {
        let store = Store::open(dir.path()).unwrap();
        store.create(&cm, obj(&cm, Some("ns"), "kept", json!({"a": 1}))).await.unwrap()
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get(&cm, Some("ns"), "kept").await.unwrap(), created);
    let next = store.create(&cm, obj(&cm, Some("ns"), "next", json!({}))).await.unwrap();
    assert!(rv(&next) > rv(&created), "the revision counter is persistent");
}

#[tokio::test]
async fn a_damaged_row_is_an_internal_error_naming_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let cm = rt("cm");
    {
        let store = Store::open(dir.path()).unwrap();
        store.create(&cm, obj(&cm, Some("ns"), "bad", json!({}))).await.unwrap();
        store.create(&cm, obj(&cm, Some("ns"), "good", json!({}))).await.unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join("weir.db")).unwrap();
    conn.execute("UPDATE objects SET body = '{not json' WHERE name = 'bad'", []).unwrap();
    drop(conn);
    let store = Store::open(dir.path()).unwrap();
    let err = store.get(&cm, Some("ns"), "bad").await.unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.to_string().contains("ConfigMap ns/bad"), "{err}");
    assert!(store.get(&cm, Some("ns"), "good").await.is_ok());
    let list = store.list(&cm, None, &Default::default()).await.unwrap_err();
    assert_eq!(list.status(), 500);
}

#[test]
fn a_database_from_a_newer_weir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("weir.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("upgrade weir"), "{err}");
}
