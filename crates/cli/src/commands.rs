//! One module per command; [`run`] dispatches.

pub(crate) mod analysis;
pub(crate) mod app;
mod apply;
pub(crate) mod controller;
mod delete;
pub(crate) mod demo;
mod get;
pub(crate) mod lint;
pub(crate) mod logs;
pub(crate) mod rollouts;
mod up;

use std::process::ExitCode;

use anyhow::{Result, bail};
use weir_client::Client;
use weir_cluster::{Registry, ResourceType};

use crate::args::{Cli, Command};
use crate::connect;

/// Runs the command the user asked for.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Up(args) => up::run(&cli.connection, args).await,
        Command::Controller(args) => controller::run(&cli.connection, args).await,
        Command::Apply(args) => apply::run(&connect::client(&cli.connection)?, args).await,
        Command::Get(args) => get::run(&connect::client(&cli.connection)?, args).await,
        Command::Delete(args) => delete::run(&connect::client(&cli.connection)?, args).await,
        Command::Lint(args) => lint::run(args),
        Command::Version => version(&cli).await,
        Command::Demo(args) => demo::run(&cli.connection, args).await,
        Command::App(args) => {
            app::run(&connect::client(&cli.connection)?, &connect::data_dir(&cli.connection)?, args)
                .await
        }
        Command::Rollouts(args) if args.is_offline() => rollouts::run_offline(args),
        Command::Rollouts(args) => rollouts::run(&connect::client(&cli.connection)?, args).await,
        Command::Analysis(args) => analysis::run(&connect::client(&cli.connection)?, args).await,
        Command::Logs(args) => logs::run(&connect::client(&cli.connection)?, args).await,
    }
}

async fn version(cli: &Cli) -> Result<ExitCode> {
    println!("weir {}", env!("CARGO_PKG_VERSION"));
    if let Ok(client) = connect::client(&cli.connection) {
        match client.resources().await {
            Ok(_) => println!("server {} (reachable)", client.base()),
            Err(e) => println!("server {}: {e}", client.base()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's registry of resource types (falls back to the built-in one for old servers).
async fn registry(client: &Client) -> Result<Registry> {
    Ok(client.resources().await?)
}

/// Resolves what the user typed (`ro`, `rollouts`, `Rollout`, `rollouts.argoproj.io`).
fn resource_type(registry: &Registry, name: &str) -> Result<ResourceType> {
    match registry.for_name(name) {
        Some(rt) => Ok(rt.clone()),
        None => bail!("the server doesn't have a resource type \"{name}\""),
    }
}

/// The namespace a namespaced command works in.
fn namespace_or_default(namespace: Option<&str>) -> &str {
    namespace.unwrap_or("default")
}
