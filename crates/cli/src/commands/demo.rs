//! `weir demo …`: the pieces of the bookinfo demo that are not weir itself: the sample
//! service that stands in for bookinfo's images ([`service`]) and a traffic generator that
//! shows which version answers ([`traffic`]).

mod service;
mod traffic;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::args::Connection;

/// `weir demo …`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(subcommand)]
    command: DemoCommand,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Run the sample service (listens on `$PORT`, or `--port`).
    Service(service::ServiceArgs),
    /// Send requests through the gateway and count which version of a service answers.
    Traffic(traffic::TrafficArgs),
}

pub(crate) async fn run(connection: &Connection, args: DemoArgs) -> Result<ExitCode> {
    match args.command {
        DemoCommand::Service(args) => service::run(args).await,
        DemoCommand::Traffic(args) => traffic::run(connection, args).await,
    }
}
