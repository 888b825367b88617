//! One clear error per bad configuration, and the bearer token sent over plain HTTP.

use weir_kube::{ConnectError, ConnectOptions};

use crate::harness::{Weir, write_kubeconfig};

fn options(kubeconfig: &std::path::Path) -> ConnectOptions {
    ConnectOptions { kubeconfig: Some(kubeconfig.to_path_buf()), ..ConnectOptions::default() }
}

fn one_line(error: &ConnectError) -> String {
    let text = error.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    text
}

#[tokio::test]
async fn a_missing_kubeconfig_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.yaml");
    let error = weir_kube::connect(&options(&path)).await.expect_err("missing");
    assert!(matches!(error, ConnectError::Kubeconfig { .. }), "{error:?}");
    assert!(one_line(&error).contains("nope.yaml"), "{error}");
}

#[tokio::test]
async fn an_unknown_context_is_an_invalid_kubeconfig() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config");
    write_kubeconfig(&path, "http://127.0.0.1:1", "t");
    let error = weir_kube::connect(&ConnectOptions {
        context: Some("elsewhere".to_owned()),
        ..options(&path)
    })
    .await
    .expect_err("unknown context");
    assert!(matches!(error, ConnectError::InvalidConfig { .. }), "{error:?}");
    assert!(one_line(&error).contains("elsewhere"), "{error}");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let path = dir.path().join("config");
    write_kubeconfig(&path, &format!("http://127.0.0.1:{port}"), "t");
    let error = weir_kube::connect(&options(&path)).await.expect_err("unreachable");
    assert!(matches!(error, ConnectError::Unreachable { .. }), "{error:?}");
    assert!(one_line(&error).contains(&port.to_string()), "{error}");
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_right_one_works_over_http() {
    let weir = Weir::start().await;
    let path = weir.dir.path().join("wrong-token");
    write_kubeconfig(&path, &weir.api, "not-the-token");
    let error = weir_kube::connect(&options(&path)).await.expect_err("401");
    assert!(matches!(error, ConnectError::Unauthorized { .. }), "{error:?}");
    one_line(&error);

    // kube-rs sends the bearer token over plain http (client-go would not).
    let path = weir.dir.path().join("right-token");
    write_kubeconfig(&path, &weir.api, &weir.token());
    let cluster = weir_kube::connect(&options(&path)).await.expect("connect over http");
    use weir_cluster::Cluster;
    cluster
        .list(&crate::harness::rt("namespaces"), None, &Default::default())
        .await
        .expect("an authenticated list");
}
