//! Command-line arguments (clap), as raw as the user typed them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// weir: GitOps and progressive delivery in one binary.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) connection: Connection,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Server commands log at info; client commands only warn.
    pub(crate) fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Up(_) => "info",
            // kube-rs logs a failed connection as an ERROR of its own before weir reports it
            // in one line (`cannot reach the Kubernetes API at …`): one line per problem.
            Command::Controller(_) | Command::Dashboard(_) => {
                "info,kube_client::client::builder=off"
            }
            _ => "warn",
        }
    }
}

/// How client commands find the running weir.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// API address of a running weir (default: read from the data directory's endpoints.json).
    #[arg(long, global = true, env = "WEIR_SERVER")]
    pub(crate) server: Option<String>,
    /// Bearer token (default: the token file named in endpoints.json).
    #[arg(long, global = true, env = "WEIR_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Data directory of the weir to talk to or to run.
    #[arg(long, global = true, env = "WEIR_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Talk to the Kubernetes cluster of this kubeconfig instead of weir's own API (the
    /// `KUBECONFIG` variable does the same unless --server or --data-dir is given).
    #[arg(long, global = true)]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current-context); implies a cluster.
    #[arg(long, global = true)]
    pub(crate) context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the embedded control plane: store, API and controllers.
    Up(UpArgs),
    /// Run the Rollout, AnalysisRun and Application controllers against a Kubernetes cluster
    /// (a kubeconfig, or the pod's service account).
    Controller(crate::commands::controller::ControllerArgs),
    /// Create or update objects from manifests.
    Apply(ApplyArgs),
    /// Show objects.
    Get(GetArgs),
    /// Delete objects.
    Delete(DeleteArgs),
    /// Check manifests offline and report every problem.
    Lint(LintArgs),
    /// Print the client's (and the server's, if reachable) version.
    Version,
    /// Print a pod's output.
    Logs(crate::commands::logs::LogsArgs),
    /// Demo helpers: the sample service.
    Demo(crate::commands::demo::DemoArgs),
    /// Argo CD Applications: create, list, get, sync, diff, history, delete.
    App(crate::commands::app::AppArgs),
    /// Argo Rollouts: get, list, promote, abort, retry, undo, restart, pause, status, set image, lint.
    #[command(alias = "rollout")]
    Rollouts(crate::commands::rollouts::RolloutsArgs),
    /// AnalysisRuns: create one from a template, show one, terminate one.
    Analysis(crate::commands::analysis::AnalysisArgs),
    /// Install weir in a Kubernetes cluster: CRDs (if absent), RBAC, the controller Deployment.
    Install(crate::commands::install::InstallArgs),
    /// Serve the web UI on 127.0.0.1 against the chosen cluster or weir.
    Dashboard(crate::commands::dashboard::DashboardArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// API port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 7171)]
    pub(crate) port: u16,
    /// Gateway listener port on 127.0.0.1, for Gateway-bound VirtualServices (0 = any).
    #[arg(long, default_value_t = 7180)]
    pub(crate) gateway_port: u16,
    /// Mesh listener port on 127.0.0.1, the `HTTP_PROXY` of every pod (0 = any).
    #[arg(long, default_value_t = 7181)]
    pub(crate) mesh_port: u16,
    /// Port of the proxy's Prometheus metrics on 127.0.0.1 (0 = any).
    #[arg(long, default_value_t = 7182)]
    pub(crate) metrics_port: u16,
    /// Seconds between comparisons of Applications with git [default: 120, with --demo 5].
    #[arg(long)]
    pub(crate) app_resync: Option<u64>,
    /// Most seconds of random delay added to each comparison [default: 60, with --demo 1].
    #[arg(long)]
    pub(crate) app_resync_jitter: Option<u64>,
    /// weir's configuration file (default: `<data dir>/config.yaml` when it exists).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Run the bookinfo demo: a git repository made from examples/bookinfo in the data
    /// directory (once), synced by three Applications.
    #[arg(long)]
    pub(crate) demo: bool,
    /// Which delivery controllers (Rollout, AnalysisRun, Application) run inside: `none` when
    /// `weir controller` runs them against this weir's API.
    #[arg(long, value_enum, default_value_t = Controllers::All)]
    pub(crate) controllers: Controllers,
}

/// `weir up --controllers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Controllers {
    All,
    None,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Manifest file or directory (`-` for standard input); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Namespace for objects that name none.
    #[arg(short, long)]
    pub(crate) namespace: Option<String>,
    /// Recurse into sub-directories.
    #[arg(short = 'R', long)]
    pub(crate) recursive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Yaml,
    Json,
    Wide,
    Name,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Resource type: plural, singular, kind or short name (`ro`, `vs`, `app`).
    pub(crate) kind: String,
    /// Object name (all objects if omitted).
    pub(crate) name: Option<String>,
    /// Namespace (default: `default`).
    #[arg(short, long)]
    pub(crate) namespace: Option<String>,
    /// All namespaces.
    #[arg(short = 'A', long)]
    pub(crate) all_namespaces: bool,
    /// Output format.
    #[arg(short, long, value_enum)]
    pub(crate) output: Option<OutputFormat>,
    /// Label selector, e.g. `app=reviews,version in (v1,v2)`.
    #[arg(short = 'l', long)]
    pub(crate) selector: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Cascade {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Resource type (omit with `-f`).
    pub(crate) kind: Option<String>,
    /// Object names.
    pub(crate) names: Vec<String>,
    /// Delete the objects of these manifests instead.
    #[arg(short = 'f', long = "filename")]
    pub(crate) files: Vec<PathBuf>,
    /// Namespace (default: `default`).
    #[arg(short, long)]
    pub(crate) namespace: Option<String>,
    /// What happens to dependents.
    #[arg(long, value_enum, default_value = "background")]
    pub(crate) cascade: Cascade,
    /// Succeed when the object does not exist.
    #[arg(long)]
    pub(crate) ignore_not_found: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Manifest files or directories; repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Recurse into sub-directories.
    #[arg(short = 'R', long)]
    pub(crate) recursive: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks argument definitions only when a command is parsed; this checks them all.
    #[test]
    fn every_command_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
