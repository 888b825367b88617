//! Benchmark (not a test): prints how long weir takes to render, diff and plan the sync of an
//! app of 1,000 manifests, and the memory and time the real controller needs for 1,000
//! Applications on one git repository, with the figures of this machine.
//!
//! Run: `cargo run --release -p weir-app-controller --example gitops_bench [APPS] [MANIFESTS]`
//! (defaults 1000 and 1000). Compare with Argo CD's published numbers in the spec's §6.
//!
//! `gitops_bench memory [MANIFESTS]` (default 25,000) instead prints the resident memory one
//! comparison of a large app costs per manifest, and what is left once it is dropped
//! (issue 16 item 5).

// Printing the figures is this program's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir_app_controller::compare::{compare, ignore_rules};
use weir_app_controller::render::{RenderInput, render};
use weir_app_controller::{AppControllerConfig, run_app_controller};
use weir_cluster::{Cluster, ListParams, Object, Registry, apply};
use weir_controller::Shutdown;
use weir_gitops::sync::{PlanOptions, plan};
use weir_store::Store;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `n` manifests: Deployments, Services and ConfigMaps in turn (Services and ConfigMaps only
/// without `workloads`: no Deployment controller runs in the many-apps part).
fn write_manifests(dir: &Path, n: usize, workloads: bool) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for i in 0..n {
        let kind = if workloads { i % 3 } else { 1 + i % 2 };
        let text = match kind {
            0 => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  labels: {{app: web-{i}}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n      labels: {{app: web-{i}}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports:\n        - containerPort: 8080\n        env:\n        - {{name: MODE, value: production}}\n        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n"
            ),
            1 => format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-{i}\nspec:\n  selector: {{app: web-{i}}}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
            ),
            _ => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{}\"\ndata:\n  a: \"1\"\n  b: two\n",
                i % 5
            ),
        };
        std::fs::write(dir.join(format!("m{i:05}.yaml")), text).expect("write");
    }
}

/// What an API server adds to an applied object.
fn as_live(target: &Value, i: usize) -> Value {
    let mut live = target.clone();
    live["metadata"]["uid"] = json!(format!("00000000-0000-0000-0000-{i:012}"));
    live["metadata"]["resourceVersion"] = json!(i.to_string());
    live["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    live["metadata"]["generation"] = json!(1);
    if live["kind"] == "Deployment" {
        live["status"] = json!({"replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
            "updatedReplicas": 2, "observedGeneration": 1});
    }
    live
}

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn one_big_app(manifests: usize) {
    let root = tempfile::tempdir().expect("tempdir");
    write_manifests(&root.path().join("app"), manifests, true);
    let registry = Registry::builtin();
    let input = RenderInput {
        app_name: "big",
        dest_namespace: "apps",
        path: "app",
        directory: None,
        source: None,
        revision: "",
        plugins: &[],
    };
    let started = Instant::now();
    let targets = render(root.path(), input, &registry).expect("render");
    let render_time = started.elapsed();
    let lives: Vec<Value> = targets.iter().enumerate().map(|(i, t)| as_live(t, i)).collect();
    let ignore = ignore_rules(None);
    let started = Instant::now();
    let synced = compare("big", &targets, &lives, &ignore);
    let diff_time = started.elapsed();
    assert_eq!(synced.sync_status(), "Synced", "live copies compare equal");
    // One of three objects changed, as after a commit touching many files.
    let mut changed = lives.clone();
    for live in changed.iter_mut().step_by(3) {
        live["spec"]["replicas"] = json!(3);
    }
    let started = Instant::now();
    let out_of_sync = compare("big", &targets, &changed, &ignore);
    let diff_changed_time = started.elapsed();
    let modified = out_of_sync.resources.iter().filter(|r| r.out_of_sync).count();
    let pairs: Vec<(Option<Value>, Option<Value>)> =
        out_of_sync.resources.iter().map(|r| (r.target.clone(), r.live.clone())).collect();
    let started = Instant::now();
    let tasks = plan(&pairs, &out_of_sync.hooks, PlanOptions::default());
    let plan_time = started.elapsed();
    println!("one app of {manifests} manifests (Deployments, Services, ConfigMaps in 5 waves):");
    println!("  render (read, parse, track)     {}", ms(render_time));
    println!("  diff, all in sync               {}", ms(diff_time));
    println!("  diff, {modified} modified            {}", ms(diff_changed_time));
    println!("  sync plan ({} tasks)          {}", tasks.len(), ms(plan_time));
    println!(
        "  total render + diff + plan      {}",
        ms(render_time + diff_changed_time + plan_time)
    );
}

async fn many_apps(apps: usize) {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = root.path().join("repo");
    write_manifests(&repo.join("app"), 5, false);
    git(&repo, &["init", "--quiet", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "bench"]);
    let url = format!("file://{}", repo.display());
    let store = Arc::new(Store::open(&root.path().join("store")).expect("store"));
    let registry = Registry::builtin();
    let app_type = registry.for_name("applications").expect("applications").clone();
    let (before, _) = rss_kib();
    let mut config = AppControllerConfig::new(root.path());
    config.resync = Duration::from_secs(3600);
    config.workers = 4;
    let shutdown = Shutdown::new();
    let controller = tokio::spawn(run_app_controller(store.clone(), config, shutdown.clone()));
    let started = Instant::now();
    for i in 0..apps {
        let app = Object::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("app-{i}"), "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": url, "path": "app", "targetRevision": "HEAD"},
                "destination": {"server": "https://kubernetes.default.svc",
                                "namespace": format!("ns-{i}")},
                "syncPolicy": {"automated": {"prune": true}},
            }
        }))
        .expect("app");
        apply(&*store, &app_type, &app).await.expect("create app");
    }
    let created = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let synced = loop {
        let list =
            store.list(&app_type, Some("argocd"), &ListParams::default()).await.expect("list");
        let synced = list
            .items
            .iter()
            .filter(|a| {
                let v = a.to_value();
                v["status"]["sync"]["status"] == "Synced"
                    && v["status"]["operationState"]["phase"] == "Succeeded"
            })
            .count();
        if synced == apps || Instant::now() > deadline {
            break synced;
        }
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            let sample = list.items.first().map(|a| a.to_value()["status"].clone());
            eprintln!("{synced}/{apps} synced; first app: {sample:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let all_synced = started.elapsed();
    let (after, peak) = rss_kib();
    // A steady-state refresh of every app (git fetch once per repository, render, compare).
    println!(
        "{apps} Applications of 5 manifests (Services, ConfigMaps) each on one repository (store, controller, git):"
    );
    println!("  created in                      {}", ms(created));
    println!("  {synced} synced (Synced + Succeeded) after {:.1} s", all_synced.as_secs_f64());
    println!(
        "  resident memory: {:.1} MiB before, {:.1} MiB after ({:.1} KiB per app), peak {:.1} MiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / apps as f64,
        peak as f64 / 1024.0
    );
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(60), controller).await;
}

/// Resident memory of one comparison of an app of `manifests` manifests, in sync and with a
/// third of them changed, and after everything is dropped.
fn comparison_memory(manifests: usize) {
    let root = tempfile::tempdir().expect("tempdir");
    write_manifests(&root.path().join("app"), manifests, true);
    let registry = Registry::builtin();
    let input = RenderInput {
        app_name: "big",
        dest_namespace: "apps",
        path: "app",
        directory: None,
        source: None,
        revision: "",
        plugins: &[],
    };
    let (start, _) = rss_kib();
    let targets = render(root.path(), input, &registry).expect("render");
    let mut lives: Vec<Value> = targets.iter().enumerate().map(|(i, t)| as_live(t, i)).collect();
    for live in lives.iter_mut().step_by(3) {
        live["spec"]["replicas"] = json!(3);
    }
    let (inputs, _) = rss_kib();
    let ignore = ignore_rules(None);
    let comparison = compare("big", &targets, &lives, &ignore);
    let (compared, peak) = rss_kib();
    let modified = comparison.resources.iter().filter(|r| r.out_of_sync).count();
    drop(comparison);
    drop((targets, lives));
    // Let the allocator's decay return freed pages (jemalloc purges on later activity).
    for _ in 0..24 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let churn: Vec<Vec<u8>> = (0..64).map(|i| vec![0u8; 4096 + i]).collect();
        drop(churn);
    }
    let (released, _) = rss_kib();
    let per = |kib: u64| kib as f64 * 1024.0 / manifests as f64 / 1024.0;
    println!("comparison of one app of {manifests} manifests ({modified} modified):");
    println!(
        "  targets + live objects          {:.1} MiB ({:.1} KiB per manifest)",
        inputs.saturating_sub(start) as f64 / 1024.0,
        per(inputs.saturating_sub(start))
    );
    println!(
        "  the comparison                  {:.1} MiB ({:.1} KiB per manifest), peak RSS {:.1} MiB",
        compared.saturating_sub(inputs) as f64 / 1024.0,
        per(compared.saturating_sub(inputs)),
        peak as f64 / 1024.0
    );
    println!(
        "  after dropping everything       {:.1} MiB above the start ({:.1} KiB per manifest)",
        released.saturating_sub(start) as f64 / 1024.0,
        per(released.saturating_sub(start))
    );
}

/// The allocator of the `weir` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("memory") {
        args.next();
        comparison_memory(args.next().and_then(|a| a.parse().ok()).unwrap_or(25_000));
        return;
    }
    let apps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let manifests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    println!(
        "machine: {} CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    one_big_app(manifests);
    many_apps(apps).await;
}
