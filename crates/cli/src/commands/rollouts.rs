//! `weir rollouts …` (alias `weir rollout`): the commands of `kubectl argo rollouts` —
//! `get rollout`, `list rollouts`, `promote`, `abort`, `retry rollout`, `undo`, `restart`,
//! `pause`, `status`. The patches and the rendering are pure functions of
//! `weir_rollout_controller::{ops, view}`; this module reads, sends and prints.

use std::process::ExitCode;
use std::time::Duration;

use crate::connect::Backend;
use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use k8s_openapi::jiff::SignedDuration;
use weir_cluster::{ListParams, Patch, Registry, ResourceType, Subresource, WatchParams};
use weir_rollout_controller::view::RolloutPhase;
use weir_rollout_controller::{now, ops, view};

use super::namespace_or_default;

#[derive(Debug, Args)]
pub(crate) struct RolloutsArgs {
    #[command(subcommand)]
    command: RolloutsCommand,
    /// Namespace (default: `default`).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
}

impl RolloutsArgs {
    /// Whether the command needs no running weir (`lint`).
    pub(crate) fn is_offline(&self) -> bool {
        matches!(self.command, RolloutsCommand::Lint(_))
    }
}

/// The commands that need no running weir.
pub(crate) fn run_offline(args: RolloutsArgs) -> Result<ExitCode> {
    match args.command {
        RolloutsCommand::Lint(lint) => crate::commands::lint::run(lint),
        _ => bail!("this rollouts command needs a running weir"),
    }
}

#[derive(Debug, Subcommand)]
enum RolloutsCommand {
    /// Show a rollout: summary and revision → ReplicaSet → Pod tree (`get rollout NAME`, or
    /// `get NAME`).
    #[command(args_conflicts_with_subcommands = true)]
    Get {
        #[command(subcommand)]
        what: Option<GetWhat>,
        /// The Rollout.
        name: Option<String>,
        /// Redraw on every change until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
    },
    /// List rollouts.
    List {
        #[command(subcommand)]
        what: ListWhat,
    },
    /// Resume a paused rollout, or skip the current step (`--full`: skip all steps).
    Promote {
        /// The Rollout.
        name: String,
        /// Promote to the new version at once, skipping the remaining steps and analysis.
        #[arg(long)]
        full: bool,
    },
    /// Set a container's image in the rollout's pod template (the referenced Deployment's,
    /// with `workloadRef`): `set image NAME CONTAINER=IMAGE`.
    Set {
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Check Rollout (and any other) manifests offline, like `kubectl argo rollouts lint`.
    Lint(crate::args::LintArgs),
    /// Abort the update: all traffic and replicas back to stable.
    Abort {
        /// The Rollout.
        name: String,
    },
    /// Retry an aborted update.
    Retry {
        #[command(subcommand)]
        what: RetryWhat,
    },
    /// Roll back to a previous revision's template.
    Undo {
        /// The Rollout.
        name: String,
        /// The revision to go back to (default: the previous one).
        #[arg(long)]
        to_revision: Option<i64>,
    },
    /// Restart the rollout's pods.
    Restart {
        /// The Rollout.
        name: String,
        /// Restart after this delay (Go duration, e.g. `30s`).
        #[arg(short = 'i', long = "in")]
        delay: Option<String>,
    },
    /// Pause the rollout.
    Pause {
        /// The Rollout.
        name: String,
    },
    /// Print the rollout's status until it is Healthy (exit 0) or Degraded (exit 1).
    Status {
        /// The Rollout.
        name: String,
        /// Give up after this long (Go duration; 0 waits forever).
        #[arg(short, long)]
        timeout: Option<String>,
        /// Keep watching (`--watch=false` prints once).
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SetWhat {
    /// A container's image: `CONTAINER=IMAGE`, repeatable; `*=IMAGE` sets every container.
    Image {
        /// The Rollout.
        name: String,
        /// `CONTAINER=IMAGE` pairs.
        #[arg(required = true)]
        images: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum GetWhat {
    /// One rollout.
    #[command(visible_alias = "ro", alias = "rollouts")]
    Rollout {
        /// The Rollout.
        name: String,
        /// Redraw on every change until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ListWhat {
    /// Rollouts in a namespace (or all with `-A`).
    #[command(visible_alias = "ro", alias = "rollout")]
    Rollouts {
        /// All namespaces.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RetryWhat {
    /// Retry an aborted rollout.
    #[command(visible_alias = "ro", alias = "rollouts")]
    Rollout {
        /// The Rollout.
        name: String,
    },
}

fn rt(plural: &str) -> Result<ResourceType> {
    Registry::builtin().for_name(plural).cloned().ok_or_else(|| anyhow!("no type {plural}"))
}

fn go_duration(text: &str) -> Result<Duration> {
    weir_model::duration::parse(text).map_err(|e| anyhow!("invalid duration {text:?}: {e}"))
}

pub(crate) async fn run<B: Backend>(client: &B, args: RolloutsArgs) -> Result<ExitCode> {
    let ns = namespace_or_default(args.namespace.as_deref()).to_owned();
    match args.command {
        RolloutsCommand::Get { what: Some(GetWhat::Rollout { name, watch }), .. }
        | RolloutsCommand::Get { what: None, name: Some(name), watch } => {
            get(client, &ns, &name, watch).await
        }
        RolloutsCommand::Get { what: None, name: None, .. } => {
            bail!("which rollout? `weir rollouts get rollout NAME`")
        }
        RolloutsCommand::List { what: ListWhat::Rollouts { all_namespaces } } => {
            let namespace = (!all_namespaces).then_some(ns.as_str());
            let list = client.list(&rt("rollouts")?, namespace, &ListParams::default()).await?;
            print!("{}", view::render_list(&list.items, all_namespaces));
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Promote { name, full } => {
            let ro = client.get(&rt("rollouts")?, Some(&ns), &name).await?.to_typed()?;
            ops::apply(client, &ns, &name, &ops::promote(&ro, full)).await?;
            let how = if full { "fully promoted" } else { "promoted" };
            println!("rollout '{name}' {how}");
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Abort { name } => {
            ops::apply(client, &ns, &name, &ops::abort()).await?;
            println!("rollout '{name}' aborted");
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Retry { what: RetryWhat::Rollout { name } } => {
            ops::apply(client, &ns, &name, &ops::retry()).await?;
            println!("rollout '{name}' retried");
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Pause { name } => {
            ops::apply(client, &ns, &name, &ops::pause()).await?;
            println!("rollout '{name}' paused");
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Restart { name, delay } => {
            let after = delay.as_deref().map(go_duration).transpose()?.unwrap_or_default();
            let after = SignedDuration::try_from(after).map_err(|e| anyhow!("{e}"))?;
            let at = now().checked_add(after).map_err(|e| anyhow!("{e}"))?;
            ops::apply(client, &ns, &name, &ops::restart(at)).await?;
            println!("rollout '{name}' restarts");
            Ok(ExitCode::SUCCESS)
        }
        RolloutsCommand::Undo { name, to_revision } => undo(client, &ns, &name, to_revision).await,
        RolloutsCommand::Set { what: SetWhat::Image { name, images } } => {
            set_image(client, &ns, &name, &images).await
        }
        RolloutsCommand::Lint(args) => crate::commands::lint::run(args),
        RolloutsCommand::Status { name, timeout, watch } => {
            let timeout = timeout.as_deref().map(go_duration).transpose()?;
            status(client, &ns, &name, timeout.filter(|t| !t.is_zero()), watch).await
        }
    }
}

/// `set image`: a JSON patch of the images in the pod template that the Rollout runs, its own
/// or its `workloadRef` Deployment's (a container named nowhere is an error, nothing is
/// written).
async fn set_image<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    images: &[String],
) -> Result<ExitCode> {
    let ro = client.get(&rt("rollouts")?, Some(ns), name).await?;
    let (target_rt, target, template_at) = match ro.data["spec"].get("workloadRef") {
        Some(workload) if ro.data["spec"].get("template").is_none() => {
            let kind = workload["kind"].as_str().unwrap_or("Deployment");
            let api_version = workload["apiVersion"].as_str().unwrap_or("apps/v1");
            let target_rt = Registry::builtin()
                .for_object(api_version, kind)
                .ok_or_else(|| anyhow!("no resource type for {api_version} {kind}"))?;
            let target = workload["name"].as_str().unwrap_or("").to_owned();
            let object = client.get(&target_rt, Some(ns), &target).await?;
            (target_rt, object, "/spec/template/spec")
        }
        _ => (rt("rollouts")?, ro.clone(), "/spec/template/spec"),
    };
    let spec = target.to_value().pointer(template_at).cloned().unwrap_or_default();
    let mut operations = Vec::new();
    for pair in images {
        let (container, image) = pair
            .split_once('=')
            .filter(|(c, i)| !c.is_empty() && !i.is_empty())
            .ok_or_else(|| anyhow!("{pair:?} is not CONTAINER=IMAGE"))?;
        let mut found = false;
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
                if container == "*" || c["name"] == container {
                    let path = format!("{template_at}/{list}/{i}/image");
                    operations
                        .push(serde_json::json!({"op": "replace", "path": path, "value": image}));
                    found = true;
                }
            }
        }
        if !found {
            bail!(
                "unable to find container named {container:?} in {} {:?}",
                target.kind,
                target.name()
            );
        }
    }
    let body = serde_json::to_vec(&operations)?;
    let patch = Patch::from_body("application/json-patch+json", &body)?;
    client.patch(&target_rt, Some(ns), target.name(), &patch, Subresource::Main).await?;
    println!("rollout \"{name}\" image updated");
    Ok(ExitCode::SUCCESS)
}

async fn undo<B: Backend>(client: &B, ns: &str, name: &str, to: Option<i64>) -> Result<ExitCode> {
    let tree = view::RolloutTree::read(client, ns, name).await?;
    let ro = tree.rollout.to_typed()?;
    let undo = ops::undo(&ro, &tree.replica_sets, to).map_err(|e| anyhow!(e))?;
    let (api_version, kind, target) = &undo.target;
    let target_rt = Registry::builtin()
        .for_object(api_version, kind)
        .ok_or_else(|| anyhow!("no resource type for {api_version} {kind}"))?;
    let body = serde_json::to_vec(&undo.json_patch)?;
    let patch = Patch::from_body("application/json-patch+json", &body)?;
    client.patch(&target_rt, Some(ns), target, &patch, Subresource::Main).await?;
    println!("rollout '{name}' undo (revision {})", undo.revision);
    Ok(ExitCode::SUCCESS)
}

async fn get<B: Backend>(client: &B, ns: &str, name: &str, watch: bool) -> Result<ExitCode> {
    let tree = view::RolloutTree::read(client, ns, name).await?;
    if !watch {
        print!("{}", view::render_get(&tree, now()));
        return Ok(ExitCode::SUCCESS);
    }
    let mut streams = Vec::new();
    for plural in ["rollouts", "replicasets", "pods", "analysisruns"] {
        let params = WatchParams { resource_version: None, ..WatchParams::default() };
        streams.push(client.watch(&rt(plural)?, Some(ns), &params).await?);
    }
    let mut events = futures::stream::select_all(streams);
    loop {
        let tree = view::RolloutTree::read(client, ns, name).await?;
        // Clear the screen and draw from the top.
        print!("\x1b[H\x1b[2J{}", view::render_get(&tree, now()));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            event = events.next() => match event {
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("watch failed: {e}"),
                None => return Ok(ExitCode::SUCCESS),
            },
        }
        // Fold a burst of events into one redraw.
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await
        {
        }
    }
}

async fn status<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    timeout: Option<Duration>,
    watch: bool,
) -> Result<ExitCode> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last = String::new();
    loop {
        let ro = client.get(&rt("rollouts")?, Some(ns), name).await?.to_typed()?;
        let (phase, line) = view::status_line(&ro);
        if line != last {
            println!("{line}");
            last = line;
        }
        match phase {
            RolloutPhase::Healthy => return Ok(ExitCode::SUCCESS),
            RolloutPhase::Degraded => {
                let (_, message) = view::phase(&ro);
                eprintln!("The rollout is in a degraded state with message: {message}");
                return Ok(ExitCode::FAILURE);
            }
            _ if !watch => return Ok(ExitCode::SUCCESS),
            _ => {}
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            eprintln!("Rollout status watch exceeded timeout");
            return Ok(ExitCode::FAILURE);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
