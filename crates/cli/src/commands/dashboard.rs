//! `weir dashboard [--port 3100]`: the web UI on 127.0.0.1 against the chosen backend (weir's
//! own API or a cluster), like `kubectl argo rollouts dashboard`.
//!
//! The UI's login takes a token. This process makes a random one (never the API token or a
//! cluster credential), prints it once to the terminal that started it, and keeps it in memory:
//! other local users cannot reach the UI without it, and it dies with the process.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use weir_controller::Shutdown;
use weir_dashboard::{DashboardConfig, router};

use crate::connect::Backend;

/// `weir dashboard`.
#[derive(Debug, Args)]
pub(crate) struct DashboardArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 3100)]
    port: u16,
}

/// Serves the dashboard until SIGINT or SIGTERM.
pub(crate) async fn run<B: Backend>(
    backend: B,
    data_dir: &Path,
    args: DashboardArgs,
) -> Result<ExitCode> {
    // Fail now, with the backend's own message, rather than on the first page.
    backend.resources().await.with_context(|| format!("checking {}", backend.describe()))?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    let token = random_token();
    let shutdown = Shutdown::new();
    let config = DashboardConfig {
        token: token.clone(),
        data_dir: Some(data_dir.to_path_buf()),
        shutdown: shutdown.clone(),
    };
    let app = router(backend.clone(), config);
    println!("weir dashboard for {}", backend.describe());
    println!("  open   http://{bound}/ui/");
    println!("  token  {token}   (log in with it; it is valid until this process stops)");
    let stop = shutdown.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            super::up::shutdown_signal().await;
            stop.trigger();
        })
        .await;
    shutdown.trigger();
    served.context("serving the dashboard")?;
    Ok(ExitCode::SUCCESS)
}

/// 32 random bytes as hex: the login token of this process.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
