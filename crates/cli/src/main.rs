//! The `weir` binary: parses the command line, sets up logging and the runtime, and hands over
//! to one command module. Errors are printed as one line (plus diagnostics) with exit code 1.

#![allow(clippy::print_stdout)] // printing is this binary's job

/// jemalloc rather than glibc's malloc: glibc keeps freed memory resident (a large app's
/// comparison left ~32 KiB per manifest behind after the app was deleted; jemalloc returns it
/// to the system within seconds, measured with `gitops_bench memory`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod args;
mod bookinfo;
mod commands;
mod config;
mod connect;
mod exit;
mod install;
mod manifests;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    exit::quiet_on_closed_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(args.default_log_filter())),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => code,
        // The reader of a pipe (`| head`) has what it wanted: end quietly.
        Err(e) if exit::is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", exit::error_text(&e));
            ExitCode::FAILURE
        }
    }
}
