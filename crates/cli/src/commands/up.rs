//! `weir up`: runs the embedded control plane in this process until SIGINT or SIGTERM.

use std::process::ExitCode;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use weir_cluster::{Object, Registry};
use weir_server::UpConfig;

use crate::args::{Connection, UpArgs};
use crate::{config, connect};

/// The demo's manifests, built into the binary so `weir up --demo` works from any directory.
const DEMO_MANIFESTS: &[(&str, &str)] = &[
    (
        "examples/bookinfo/application/namespace.yaml",
        include_str!("../../../../examples/bookinfo/application/namespace.yaml"),
    ),
    (
        "examples/bookinfo/application/bookinfo.yaml",
        include_str!("../../../../examples/bookinfo/application/bookinfo.yaml"),
    ),
    (
        "examples/bookinfo/istio/conf.yaml",
        include_str!("../../../../examples/bookinfo/istio/conf.yaml"),
    ),
    (
        "examples/bookinfo/rollout/analysis.yaml",
        include_str!("../../../../examples/bookinfo/rollout/analysis.yaml"),
    ),
    (
        "examples/bookinfo/rollout/rollout.yaml",
        include_str!("../../../../examples/bookinfo/rollout/rollout.yaml"),
    ),
];

/// The namespace the demo runs in, as `argocd app create … --dest-namespace bookinfo` says.
const DEMO_NAMESPACE: &str = "bookinfo";

pub(crate) async fn run(connection: &Connection, args: UpArgs) -> Result<ExitCode> {
    let data_dir = connect::data_dir(connection)?;
    let seed = if args.demo { demo_objects()? } else { Vec::new() };
    let file = config::load(args.config.as_deref(), &data_dir)?;
    let mut image_map = if args.demo { demo_image_map()? } else { Default::default() };
    image_map.extend(file.images);
    let config = UpConfig {
        data_dir,
        port: args.port,
        gateway_port: args.gateway_port,
        mesh_port: args.mesh_port,
        metrics_port: args.metrics_port,
        app_resync: std::time::Duration::from_secs(args.app_resync),
        image_map,
        seed,
    };
    weir_server::up(
        config,
        |started| {
            let e = &started.endpoints;
            println!("weir is up (data in {})", started.data_dir.root().display());
            println!("  api      {}   (token in {})", e.api, e.token_file.display());
            for (name, url) in [("gateway", &e.gateway), ("mesh", &e.mesh), ("metrics", &e.metrics)]
            {
                if let Some(url) = url {
                    println!("  {name:<8} {url}");
                }
            }
        },
        shutdown_signal(),
    )
    .await?;
    println!("weir stopped");
    Ok(ExitCode::SUCCESS)
}

/// The bookinfo images, each run as weir's sample service with the calls bookinfo makes:
/// productpage → details and reviews, reviews → ratings (through the mesh). `reviews-v3`
/// fails 30% of its requests, for the demo's automatic rollback.
fn demo_image_map() -> Result<BTreeMap<String, Vec<String>>> {
    let exe = std::env::current_exe().context("locating the weir binary")?.display().to_string();
    let image = |name: &str, version: &str| {
        format!("docker.io/istio/examples-bookinfo-{name}-{version}:1.16.4")
    };
    let service = |name: &str, version: &str, extra: &[&str]| -> Vec<String> {
        let mut argv =
            vec![exe.clone(), "demo".into(), "service".into(), "--name".into(), name.into()];
        argv.extend(["--version".into(), version.into()]);
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        argv
    };
    let ratings = ["--call", "http://ratings:9080/ratings/1"];
    let mut map = BTreeMap::new();
    map.insert(image("details", "v1"), service("details", "v1", &[]));
    map.insert(image("ratings", "v1"), service("ratings", "v1", &[]));
    map.insert(image("reviews", "v1"), service("reviews", "v1", &ratings));
    map.insert(image("reviews", "v2"), service("reviews", "v2", &ratings));
    let failing = ["--fail-rate", "0.3", "--call", "http://ratings:9080/ratings/1"];
    map.insert(image("reviews", "v3"), service("reviews", "v3", &failing));
    let calls =
        ["--call", "http://details:9080/details/1", "--call", "http://reviews:9080/reviews/1"];
    map.insert(image("productpage", "v1"), service("productpage", "v1", &calls));
    Ok(map)
}

fn demo_objects() -> Result<Vec<Object>> {
    let registry = Registry::builtin();
    let mut objects = Vec::new();
    for (name, text) in DEMO_MANIFESTS {
        let parsed = weir_model::parse::parse_objects(name, text)
            .map_err(|errors| anyhow::anyhow!("built-in demo manifest is broken: {}", errors[0]))?;
        for mut object in parsed {
            let namespaced = registry
                .for_object(&object.api_version, &object.kind)
                .is_none_or(|rt| rt.namespaced());
            if namespaced && object.namespace().is_none() {
                object.metadata.namespace = Some(DEMO_NAMESPACE.to_owned());
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_manifests_parse_and_land_in_bookinfo() {
        let objects = demo_objects().unwrap();
        assert!(objects.iter().any(|o| o.kind == "Rollout" && o.namespace() == Some("bookinfo")));
        assert!(objects.iter().any(|o| o.kind == "Namespace" && o.namespace().is_none()));
    }
}
