//! `weir up`: runs the embedded control plane in this process until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Result;
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
    let config = UpConfig {
        data_dir,
        port: args.port,
        gateway_port: args.gateway_port,
        mesh_port: args.mesh_port,
        metrics_port: args.metrics_port,
        image_map: file.images,
        seed,
    };
    weir_server::up(
        config,
        |started| {
            let e = &started.endpoints;
            println!("weir is up (data in {})", started.data_dir.root().display());
            println!("  api      {}   (token in {})", e.api, e.token_file.display());
            for (name, url) in [("gateway", &e.gateway), ("mesh", &e.mesh), ("metrics", &e.metrics)] {
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
