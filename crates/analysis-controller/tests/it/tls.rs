//! `https://` metric servers (issue 14 item 8): a local TLS server with a self-signed
//! certificate, or one a test CA signed. Verification fails with Go's message on the
//! AnalysisRun (naming the metric), `insecure: true` passes where Argo has it (web,
//! Prometheus), and a CA trusted through `SSL_CERT_FILE` (what Go's controller reads) passes.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use weir_analysis_controller::Providers;

use crate::support::{World, last, message, phase};

const NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A serving certificate and its key.
struct Served {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn self_signed() -> Served {
    let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    Served {
        cert: certified.cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
    }
}

/// A CA (its PEM) and a serving certificate it signed.
fn ca_signed() -> (String, Served) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "metrics test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, &ca_key);
    let key = KeyPair::generate().expect("serving key");
    let params = CertificateParams::new(NAMES.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
        .expect("serving params");
    let cert = params.signed_by(&key, &issuer).expect("serving certificate");
    let served = Served {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    };
    (ca_cert.pem(), served)
}

/// A TLS metric server on 127.0.0.1: `/api/v1/query` answers as Prometheus, `/graphql` as
/// SkyWalking, anything else `{"ok": true}`. One request per connection.
async fn tls_server(served: Served) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![served.cert], served.key)
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = tls.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while request.len() < head_end + length {
                    let Ok(n) = tls.read(&mut buf).await else { return };
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = if path.starts_with("/api/v1/query") {
                    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}"#
                } else if path.starts_with("/graphql") {
                    r#"{"data":{"up":1}}"#
                } else {
                    r#"{"ok":true}"#
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn web_run(name: &str, url: &str, insecure: bool) -> String {
    let insecure = if insecure { "        insecure: true\n" } else { "" };
    format!(
        "spec:\n  metrics:\n  - name: {name}\n    consecutiveErrorLimit: 0\n    successCondition: result == true\n    provider:\n      web:\n        url: {url}\n        jsonPath: \"{{$.ok}}\"\n{insecure}"
    )
}

fn prometheus_run(name: &str, address: &str, insecure: bool) -> String {
    let insecure = if insecure { "        insecure: true\n" } else { "" };
    format!(
        "spec:\n  metrics:\n  - name: {name}\n    consecutiveErrorLimit: 0\n    successCondition: result[0] == 1\n    provider:\n      prometheus:\n        address: {address}\n        query: up\n{insecure}"
    )
}

fn skywalking_run(name: &str, address: &str) -> String {
    format!(
        "spec:\n  metrics:\n  - name: {name}\n    consecutiveErrorLimit: 0\n    successCondition: result.up == 1\n    provider:\n      skywalking:\n        address: {address}\n        interval: 5m\n        query: q\n"
    )
}

const UNKNOWN_AUTHORITY: &str =
    "tls: failed to verify certificate: x509: certificate signed by unknown authority";

#[tokio::test]
async fn https_metric_servers_are_verified_and_insecure_skips_verification() {
    let addr = tls_server(self_signed()).await;
    let base = format!("https://{addr}");
    let world = World::start(Providers::standard()).await;
    let refused = [
        world.create_run(&web_run("tls-web", &format!("{base}/ok"), false)).await,
        world.create_run(&prometheus_run("tls-prom", &base, false)).await,
        world.create_run(&skywalking_run("tls-sky", &base)).await,
    ];
    let insecure = [
        world.create_run(&web_run("web-insecure", &format!("{base}/ok"), true)).await,
        world.create_run(&prometheus_run("prom-insecure", &base, true)).await,
    ];
    let cases = [
        ("tls-web", format!("Get \"{base}/ok\": {UNKNOWN_AUTHORITY}")),
        ("tls-prom", format!("Post \"{base}/api/v1/query\": {UNKNOWN_AUTHORITY}")),
        ("tls-sky", format!("Post \"{base}/graphql\": {UNKNOWN_AUTHORITY}")),
    ];
    for (run, (metric, expected)) in refused.iter().zip(cases) {
        let r = world.completed(run, 30).await;
        assert_eq!(
            phase(&r),
            "Error",
            "{metric}: a certificate that does not verify: {:?}",
            r.status
        );
        let got = last(&r, metric).message.clone().unwrap_or_default();
        assert!(got.ends_with(&expected), "{metric}: {got:?} does not end with {expected:?}");
        let text = message(&r);
        assert!(
            text.starts_with(&format!("Metric \"{metric}\" assessed Error"))
                && text.contains("certificate signed by unknown authority"),
            "the run names the metric and the cause: {text:?}"
        );
    }
    for (run, metric) in insecure.iter().zip(["web-insecure", "prom-insecure"]) {
        let r = world.completed(run, 30).await;
        assert_eq!(phase(&r), "Successful", "{metric} with insecure: true: {:?}", r.status);
    }
}

/// The child half of [`a_ca_trusted_through_ssl_cert_file_verifies`]: runs only in the child
/// process that the parent starts with `SSL_CERT_FILE` set (the system roots are read once
/// per process, so the variable must be there from the start).
#[tokio::test]
async fn child_https_with_the_ca_from_ssl_cert_file() {
    let Ok(dir) = std::env::var("WEIR_TLS_TEST_DIR") else {
        return; // Not the child: nothing to do.
    };
    let dir = std::path::Path::new(&dir);
    let read = |name: &str| std::fs::read(dir.join(name)).expect("test file");
    let served = Served {
        cert: CertificateDer::from(read("serving.der")),
        key: PrivatePkcs8KeyDer::from(read("serving-key.der")).into(),
    };
    let addr = tls_server(served).await;
    let base = format!("https://{addr}");
    let world = World::start(Providers::standard()).await;
    let web = world.create_run(&web_run("ca-web", &format!("{base}/ok"), false)).await;
    let prom = world.create_run(&prometheus_run("ca-prom", &base, false)).await;
    let sky = world.create_run(&skywalking_run("ca-sky", &base)).await;
    for run in [web, prom, sky] {
        let r = world.completed(&run, 30).await;
        assert_eq!(phase(&r), "Successful", "a server whose CA is trusted: {:?}", r.status);
    }
}

#[test]
fn a_ca_trusted_through_ssl_cert_file_verifies() {
    let (ca_pem, served) = ca_signed();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), ca_pem).expect("write CA");
    std::fs::write(dir.path().join("serving.der"), served.cert.as_ref()).expect("write cert");
    std::fs::write(dir.path().join("serving-key.der"), served.key.secret_der()).expect("write key");
    let exe = std::env::current_exe().expect("test binary");
    let output = std::process::Command::new(exe)
        .args(["tls::child_https_with_the_ca_from_ssl_cert_file", "--exact", "--nocapture"])
        .env("WEIR_TLS_TEST_DIR", dir.path())
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test ran:\n{stdout}");
}
