//! A standalone weir proxy for benchmarks: one gateway listener, one catch-all route (hosts `*`)
//! to one upstream address, on a tokio multi-thread runtime. Runs until SIGTERM or SIGINT.
//!
//! ```text
//! cargo run --release -p weir-proxy --example standalone -- \
//!     --listen 127.0.0.1:10000 --upstream 127.0.0.1:8080 [--workers 2] [--idle-timeout SECS]
//! ```
//!
//! `bench/proxy.sh` compares it with Envoy; `bench/pool.sh` floods it with 10,000 concurrent
//! requests (`--idle-timeout`: the upstream pool's idle timeout, default 60 s).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use weir_proxy::{Backend, ListenerConfig, Proxy, ProxyConfig, RouteTable, VirtualHost};

const USAGE: &str =
    "usage: standalone --listen ADDR --upstream ADDR [--workers N] [--idle-timeout SECS]";

/// Parsed command line.
#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    upstream: SocketAddr,
    workers: usize,
    idle_timeout: Option<Duration>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut listen, mut upstream, mut workers, mut idle_timeout) = (None, None, 2, None);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| bad(&e))?),
            "--upstream" => upstream = Some(value.parse().map_err(|e| bad(&e))?),
            "--workers" => workers = value.parse().map_err(|e| bad(&e))?,
            "--idle-timeout" => {
                let secs: u64 = value.parse().map_err(|e| bad(&e))?;
                idle_timeout = Some(Duration::from_secs(secs.max(1)));
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        upstream: upstream.ok_or("--upstream is required")?,
        workers: workers.max(1),
        idle_timeout,
    })
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut backend = Backend { endpoints: vec![args.upstream], ..Backend::default() };
    if let Some(t) = args.idle_timeout {
        backend.connection_pool.idle_timeout = t;
    }
    let table = RouteTable {
        gateway: vec![VirtualHost::service("upstream", vec!["*".into()], "upstream")],
        mesh: Vec::new(),
        backends: BTreeMap::from([("upstream".to_owned(), backend)]),
    };
    let config =
        ProxyConfig { listeners: vec![ListenerConfig::gateway(args.listen)], ..Default::default() };
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let proxy = Proxy::start(config, &table).await?;
    eprintln!("weir proxy listening on {} -> {}", args.listen, args.upstream);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    proxy.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("standalone: {e}");
            ExitCode::FAILURE
        }
    }
}
