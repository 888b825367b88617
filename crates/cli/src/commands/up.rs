//! `weir up`: runs the embedded control plane in this process until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use weir_server::{ControllerSet, UpConfig};

use crate::args::{Connection, Controllers, UpArgs};
use crate::{bookinfo, config, connect};

pub(crate) async fn run(connection: &Connection, args: UpArgs) -> Result<ExitCode> {
    let data_dir = connect::data_dir(connection)?;
    let file = config::load(args.config.as_deref(), &data_dir)?;
    let (seed, demo_repo) = if args.demo {
        let repo = bookinfo::ensure_repo(&data_dir)?;
        (bookinfo::applications(&repo)?, Some(repo))
    } else {
        (Vec::new(), None)
    };
    let mut image_map = if args.demo { bookinfo::image_map()? } else { Default::default() };
    image_map.extend(file.images.clone());
    let (resync, jitter) = if args.demo { (5, 1) } else { (120, 60) };
    let config = UpConfig {
        data_dir,
        port: args.port,
        gateway_port: args.gateway_port,
        mesh_port: args.mesh_port,
        metrics_port: args.metrics_port,
        app_resync: Duration::from_secs(args.app_resync.unwrap_or(resync)),
        app_resync_jitter: Duration::from_secs(args.app_resync_jitter.unwrap_or(jitter)),
        image_map,
        plugins: file.plugins()?,
        seed,
        controllers: match args.controllers {
            Controllers::All => ControllerSet::All,
            Controllers::None => ControllerSet::None,
        },
    };
    weir_server::up(
        config,
        |started| {
            let e = &started.endpoints;
            println!("weir is up (data in {})", started.data_dir.root().display());
            println!("  api      {}   (token in {})", e.api, e.token_file.display());
            println!("  ui       {}/ui/   (log in with the same token)", e.api);
            println!(
                "  kubectl  KUBECONFIG={} kubectl …   (https on the same port)",
                started.data_dir.kubeconfig_path().display()
            );
            for (name, url) in [("gateway", &e.gateway), ("mesh", &e.mesh), ("metrics", &e.metrics)]
            {
                if let Some(url) = url {
                    println!("  {name:<8} {url}");
                }
            }
            if let Some(repo) = &demo_repo {
                println!(
                    "  demo     git repository {} (commit there to change bookinfo)",
                    repo.display()
                );
            }
        },
        shutdown_signal(),
    )
    .await?;
    println!("weir stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled (the API's graceful shutdown polls it only once the
/// listener serves), so a signal during start-up also stops weir gracefully.
pub(super) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for {name}");
            None
        }
    };
    let wait = |signal: Option<Signal>| async move {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let interrupt = wait(listen(SignalKind::interrupt(), "SIGINT"));
    let terminate = wait(listen(SignalKind::terminate(), "SIGTERM"));
    async move {
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
        tracing::info!("shutting down");
    }
}
