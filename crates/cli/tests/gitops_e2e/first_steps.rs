//! What a new user meets first (issue 15 item 11): `weir up`'s banner names the dashboard, a
//! browser opening the API address lands on it, a port in use is said once, and
//! `weir get … -o json | head` ends quietly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use super::support::{WEIR, Weir, raw_http};

/// `GET /` as a browser sends it (Firefox's `Accept`), without a token.
fn browser_get(api: &str, path: &str) -> String {
    let addr = api.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn the_banner_names_the_dashboard_and_a_browser_at_the_api_address_lands_on_it() {
    let (weir, banner) = Weir::start_reading_banner(&[]);
    let api = weir.api();
    // The banner prints the dashboard's URL: the API address's /ui/.
    let ui = banner.iter().find(|l| l.starts_with("  ui ")).expect("ui line");
    assert!(ui.contains(&format!("{api}/ui/")), "{banner:#?}");
    // A browser opening the printed API address is sent to the dashboard (its login).
    let root = browser_get(&api, "/");
    assert!(root.starts_with("HTTP/1.1 303"), "{root}");
    assert!(root.to_ascii_lowercase().contains("location: /ui/\r\n"), "{root}");
    let ui = browser_get(&api, "/ui/");
    assert!(ui.starts_with("HTTP/1.1 303"), "the dashboard answers /ui/: {ui}");
    // An API client without a token still gets the API's 401 at /.
    let api_client = raw_http(&api, "GET / HTTP/1.1\r\nAccept: application/json");
    assert!(api_client.starts_with("HTTP/1.1 401"), "{api_client}");
}

#[test]
fn a_port_in_use_is_reported_once() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let data_dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(WEIR)
        .args(["up", "--port", &port, "--gateway-port", "0", "--mesh-port", "0"])
        .args(["--metrics-port", "0", "--data-dir"])
        .arg(data_dir.path())
        .env("WEIR_LOG", "warn")
        .output()
        .expect("weir up runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(last, format!("error: cannot listen on 127.0.0.1:{port}: address in use"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let weir = Weir::start();
    // `get` writes through exit::print; `version` still uses println! (the panic hook's net).
    for args in [&["get", "namespaces", "-o", "json"][..], &["app", "list"], &["version"]] {
        assert_quiet_into_closed_pipe(&weir, args);
    }
}

fn assert_quiet_into_closed_pipe(weir: &Weir, args: &[&str]) {
    // The reader goes away before weir writes (as `| head` does once it has its lines).
    let mut child = Command::new(WEIR)
        .arg("--data-dir")
        .arg(weir.data_dir())
        .args(args)
        .env_remove("WEIR_SERVER")
        .env_remove("WEIR_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weir get runs");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "weir {args:?}: {stderr}");
    assert!(stderr.is_empty(), "weir {args:?}: nothing to say about a closed pipe: {stderr}");
    assert!(status.success(), "weir {args:?}: {status}");
}
