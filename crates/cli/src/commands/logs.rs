//! `weir logs POD [-c CONTAINER] [-f] [--tail N] [-n NS]`: a pod's output, like `kubectl logs`.

use std::io::Write;
use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::Result;
use clap::Args;
use futures::StreamExt;

use super::namespace_or_default;

/// `weir logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The pod.
    pod: String,
    /// The container (required when the pod has several).
    #[arg(short, long)]
    container: Option<String>,
    /// Keep printing new output.
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines.
    #[arg(long)]
    tail: Option<usize>,
    /// Namespace (default: `default`).
    #[arg(short, long)]
    namespace: Option<String>,
}

pub(crate) async fn run<B: Backend>(client: &B, args: LogsArgs) -> Result<ExitCode> {
    let namespace = namespace_or_default(args.namespace.as_deref());
    let mut stream = client
        .pod_log(namespace, &args.pod, args.container.as_deref(), args.follow, args.tail)
        .await?;
    let mut stdout = std::io::stdout();
    while let Some(chunk) = stream.next().await {
        stdout.write_all(&chunk?)?;
        stdout.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
