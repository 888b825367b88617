//! `weir analysis run|get|terminate`: create an AnalysisRun from a template (like
//! `kubectl argo rollouts create analysisrun`), show a run's metrics and measurements, and
//! terminate a run. The AnalysisRun controller in `weir up` does the measuring.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use weir_analysis::{RunMeta, TemplatesByName, new_analysis_run, resolve_template_refs};
use weir_cluster::{ListParams, Object, Patch, Registry, ResourceType, Subresource};
use weir_model::rollouts::{AnalysisRun, AnalysisTemplateSpec, Argument, Measurement, TemplateRef};

/// `weir analysis …`.
#[derive(Debug, Args)]
pub(crate) struct AnalysisArgs {
    #[command(subcommand)]
    command: AnalysisCommand,
}

#[derive(Debug, Subcommand)]
enum AnalysisCommand {
    /// Create an AnalysisRun from an AnalysisTemplate (or a ClusterAnalysisTemplate).
    Run(RunArgs),
    /// Show a run: every metric with its measurements.
    Get(NameArgs),
    /// Terminate a run (`spec.terminate: true`): in-flight measurements stop.
    Terminate(NameArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The template's name.
    #[arg(long = "from")]
    from: String,
    /// `--from` names a ClusterAnalysisTemplate.
    #[arg(long)]
    from_cluster_template: bool,
    /// Namespace (default: `default`).
    #[arg(short, long)]
    namespace: Option<String>,
    /// An argument `name=value`; repeatable.
    #[arg(short = 'a', long = "argument")]
    args: Vec<String>,
    /// The run's name (default: generated from the template's name).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Args)]
struct NameArgs {
    /// The run's name.
    name: String,
    /// Namespace (default: `default`).
    #[arg(short, long)]
    namespace: Option<String>,
}

pub(crate) async fn run<B: Backend>(client: &B, args: AnalysisArgs) -> Result<ExitCode> {
    match args.command {
        AnalysisCommand::Run(a) => create(client, a).await,
        AnalysisCommand::Get(a) => get(client, a).await,
        AnalysisCommand::Terminate(a) => terminate(client, a).await,
    }
}

fn rt(name: &str) -> Result<ResourceType> {
    Registry::builtin().for_name(name).cloned().ok_or_else(|| anyhow!("no resource type {name}"))
}

async fn specs<B: Backend>(
    client: &B,
    rt: &ResourceType,
    ns: Option<&str>,
) -> Result<BTreeMap<String, AnalysisTemplateSpec>> {
    let list = client.list(rt, ns, &ListParams::default()).await?;
    let mut out = BTreeMap::new();
    for object in list.items {
        let spec = object
            .field("spec")
            .cloned()
            .map(serde_json::from_value::<AnalysisTemplateSpec>)
            .transpose()
            .with_context(|| format!("{} {}", rt.kind, object.name()))?;
        out.insert(object.name().to_owned(), spec.unwrap_or_default());
    }
    Ok(out)
}

fn parse_args(raw: &[String]) -> Result<Vec<Argument>> {
    raw.iter()
        .map(|a| {
            let (name, value) =
                a.split_once('=').ok_or_else(|| anyhow!("argument {a:?} is not name=value"))?;
            Ok(Argument {
                name: name.to_owned(),
                value: Some(value.to_owned()),
                ..Argument::default()
            })
        })
        .collect()
}

async fn create<B: Backend>(client: &B, a: RunArgs) -> Result<ExitCode> {
    let ns = super::namespace_or_default(a.namespace.as_deref()).to_owned();
    let templates = TemplatesByName {
        namespaced: specs(client, &rt("analysistemplates")?, Some(&ns)).await?,
        cluster: specs(client, &rt("clusteranalysistemplates")?, None).await?,
    };
    let known = if a.from_cluster_template { &templates.cluster } else { &templates.namespaced };
    if !known.contains_key(&a.from) {
        let kind =
            if a.from_cluster_template { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" };
        bail!("{kind} \"{}\" not found", a.from);
    }
    let refs = [TemplateRef {
        template_name: Some(a.from.clone()),
        cluster_scope: a.from_cluster_template.then_some(true),
    }];
    let resolved = resolve_template_refs(&refs, &templates)?;
    let args = parse_args(&a.args)?;
    let meta = RunMeta {
        name: a.name.clone().unwrap_or_default(),
        generate_name: if a.name.is_some() { String::new() } else { format!("{}-", a.from) },
        namespace: ns,
        ..RunMeta::default()
    };
    let run = new_analysis_run(&resolved.specs(), Some(&args), None, None, meta)?;
    let created = client.create(&rt("analysisruns")?, Object::from_typed(&run)?).await?;
    println!("analysisrun.argoproj.io/{} created", created.name());
    Ok(ExitCode::SUCCESS)
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.0.to_string())
}

/// A value on one line of at most 40 characters.
fn short(value: &str) -> String {
    let flat = value.replace('\n', "\\n");
    if flat.chars().count() <= 40 {
        flat
    } else {
        flat.chars().take(39).collect::<String>() + "…"
    }
}

fn measurement_line(m: &Measurement) -> String {
    let mut line = format!(
        "    {:<12} {:<24} {:<30} {:<30}",
        m.phase,
        short(m.value.as_deref().unwrap_or("-")),
        time(m.started_at.as_ref()),
        time(m.finished_at.as_ref()),
    );
    if let Some(msg) = m.message.as_deref().filter(|s| !s.is_empty()) {
        line.push(' ');
        line.push_str(msg);
    }
    line.trim_end().to_owned()
}

/// The text `weir analysis get` prints.
fn describe(run: &AnalysisRun) -> String {
    let mut out = String::new();
    let status = run.status.clone().unwrap_or_default();
    let line = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k:<11}{v}\n"));
    line(&mut out, "Name:", run.metadata.name.as_deref().unwrap_or(""));
    line(&mut out, "Namespace:", run.metadata.namespace.as_deref().unwrap_or(""));
    let phase = if status.phase.is_empty() { "Pending" } else { status.phase.as_str() };
    line(&mut out, "Status:", phase);
    if let Some(msg) = status.message.as_deref().filter(|m| !m.is_empty()) {
        line(&mut out, "Message:", msg);
    }
    line(&mut out, "Started:", &time(status.started_at.as_ref()));
    line(&mut out, "Completed:", &time(status.completed_at.as_ref()));
    out.push_str("Metrics:\n");
    for metric in &run.spec.metrics {
        let result =
            status.metric_results.iter().flatten().find(|r| r.name == metric.name).cloned();
        let Some(result) = result else {
            out.push_str(&format!("  {} (Pending, no measurement yet)\n", metric.name));
            continue;
        };
        let n = |v: Option<i32>| v.unwrap_or(0);
        out.push_str(&format!(
            "  {} {}  count={} successful={} failed={} inconclusive={} error={}\n",
            result.name,
            result.phase,
            n(result.count),
            n(result.successful),
            n(result.failed),
            n(result.inconclusive),
            n(result.error),
        ));
        if let Some(msg) = result.message.as_deref().filter(|m| !m.is_empty()) {
            out.push_str(&format!("    message: {msg}\n"));
        }
        out.push_str(&format!(
            "    {:<12} {:<24} {:<30} {:<30} MESSAGE\n",
            "PHASE", "VALUE", "STARTED", "FINISHED"
        ));
        for m in result.measurements.iter().flatten() {
            out.push_str(&measurement_line(m));
            out.push('\n');
        }
    }
    out
}

async fn get<B: Backend>(client: &B, a: NameArgs) -> Result<ExitCode> {
    let ns = super::namespace_or_default(a.namespace.as_deref());
    let object = client.get(&rt("analysisruns")?, Some(ns), &a.name).await?;
    let run: AnalysisRun = object.to_typed()?;
    print!("{}", describe(&run));
    Ok(ExitCode::SUCCESS)
}

async fn terminate<B: Backend>(client: &B, a: NameArgs) -> Result<ExitCode> {
    let ns = super::namespace_or_default(a.namespace.as_deref());
    let patch = Patch::Merge(serde_json::json!({"spec": {"terminate": true}}));
    client.patch(&rt("analysisruns")?, Some(ns), &a.name, &patch, Subresource::Main).await?;
    println!("analysisrun.argoproj.io/{} terminated", a.name);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_shows_every_metric_with_its_measurements() {
        let run: AnalysisRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {"metrics": [{"name": "a", "provider": {"web": {"url": "http://x"}}},
                                 {"name": "b", "provider": {"web": {"url": "http://x"}}}]},
            "status": {"phase": "Failed", "message": "m", "metricResults": [{"name": "a",
                "phase": "Failed", "count": 1, "failed": 1, "measurements": [{"phase": "Failed",
                "value": "0.5", "startedAt": "2026-01-01T00:00:00Z",
                "finishedAt": "2026-01-01T00:00:01Z", "message": "low"}]}]}
        }))
        .expect("run");
        let text = describe(&run);
        assert!(text.contains("Status:    Failed"), "{text}");
        assert!(text.contains("  a Failed  count=1"), "{text}");
        assert!(text.contains("Failed       0.5"), "{text}");
        assert!(text.contains("2026-01-01T00:00:01Z"), "{text}");
        assert!(text.contains(" low"), "{text}");
        assert!(text.contains("  b (Pending, no measurement yet)"), "{text}");
        assert_eq!(parse_args(&["a=b=c".into()]).expect("args")[0].value.as_deref(), Some("b=c"));
        assert!(parse_args(&["x".into()]).is_err());
        assert_eq!(short("a\nb"), "a\\nb");
        assert_eq!(short(&"x".repeat(50)).chars().count(), 40);
    }
}
