//! One module per command; [`run`] dispatches. Client commands are generic over
//! [`Backend`](crate::connect::Backend) and run against whatever [`connect::connect`] chose.

pub(crate) mod analysis;
pub(crate) mod app;
mod apply;
pub(crate) mod controller;
pub(crate) mod dashboard;
mod delete;
pub(crate) mod demo;
mod get;
pub(crate) mod install;
pub(crate) mod lint;
pub(crate) mod logs;
pub(crate) mod rollouts;
mod up;

use std::process::ExitCode;

use anyhow::{Result, bail};
use weir_cluster::{Registry, ResourceType};

use crate::args::{Cli, Command};
use crate::connect::{self, Backend, Connected};

/// Runs `$body` with `$backend` bound to the connected backend, whatever its type.
macro_rules! with_backend {
    ($connection:expr, |$backend:ident| $body:expr) => {
        match connect::connect($connection).await? {
            Connected::Weir($backend) => $body,
            Connected::Kube($backend) => $body,
        }
    };
}

/// Runs the command the user asked for.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    let connection = &cli.connection;
    match cli.command {
        Command::Up(args) => up::run(connection, args).await,
        Command::Controller(args) => controller::run(connection, args).await,
        Command::Apply(args) => with_backend!(connection, |b| apply::run(&b, args).await),
        Command::Get(args) => with_backend!(connection, |b| get::run(&b, args).await),
        Command::Delete(args) => with_backend!(connection, |b| delete::run(&b, args).await),
        Command::Lint(args) => lint::run(args),
        Command::Version => version(connection).await,
        Command::Demo(args) => demo::run(connection, args).await,
        Command::App(args) => {
            let data_dir = connect::data_dir(connection)?;
            with_backend!(connection, |b| app::run(&b, &data_dir, args).await)
        }
        Command::Rollouts(args) if args.is_offline() => rollouts::run_offline(args),
        Command::Rollouts(args) => with_backend!(connection, |b| rollouts::run(&b, args).await),
        Command::Analysis(args) => with_backend!(connection, |b| analysis::run(&b, args).await),
        Command::Logs(args) => with_backend!(connection, |b| logs::run(&b, args).await),
        Command::Install(args) if args.is_dry_run() => install::print(args),
        Command::Install(args) => with_backend!(connection, |b| install::run(&b, args).await),
        Command::Dashboard(args) => {
            let data_dir = connect::data_dir(connection)?;
            with_backend!(connection, |b| dashboard::run(b, &data_dir, args).await)
        }
    }
}

async fn version(connection: &crate::args::Connection) -> Result<ExitCode> {
    println!("weir {}", env!("CARGO_PKG_VERSION"));
    if let Ok(connected) = connect::connect(connection).await {
        match connected {
            Connected::Weir(backend) => print_reachability(&backend).await,
            Connected::Kube(backend) => print_reachability(&backend).await,
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_reachability<B: Backend>(backend: &B) {
    match backend.resources().await {
        Ok(_) => println!("server: {} (reachable)", backend.describe()),
        Err(e) => println!("server: {}: {e}", backend.describe()),
    }
}

/// The server's registry of resource types.
async fn registry<B: Backend>(backend: &B) -> Result<Registry> {
    Ok(backend.resources().await?)
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
