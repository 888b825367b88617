//! `weir apply -f FILE|DIR [-n NS]`: create or update objects, printing what happened to each.

use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::Result;
use weir_cluster::apply;

use super::registry;
use crate::args::ApplyArgs;
use crate::manifests;

pub(crate) async fn run<B: Backend>(client: &B, args: ApplyArgs) -> Result<ExitCode> {
    let mut objects = manifests::read_all(&args.files, args.recursive)?;
    // What other objects need first: their namespaces (a cluster refuses an object in a
    // namespace that does not exist yet) and the CRDs that declare their kinds. Otherwise the
    // files' order.
    objects.sort_by_key(|o| match o.kind.as_str() {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ => 2,
    });
    let registry = registry(client).await?;
    let mut failed = false;
    for mut object in objects {
        let noun = format!("{}/{}", object.kind.to_ascii_lowercase(), object.name());
        let Some(rt) = registry.for_object(&object.api_version, &object.kind) else {
            eprintln!(
                "error: {noun}: no kind \"{}\" is served in version \"{}\"",
                object.kind, object.api_version
            );
            failed = true;
            continue;
        };
        if rt.namespaced() {
            match (&args.namespace, object.namespace()) {
                (Some(flag), Some(own)) if flag != own => {
                    eprintln!(
                        "error: {noun}: the namespace from the provided object \"{own}\" does not match the namespace \"{flag}\""
                    );
                    failed = true;
                    continue;
                }
                (flag, None) => {
                    object.metadata.namespace =
                        Some(flag.clone().unwrap_or_else(|| "default".to_owned()))
                }
                _ => {}
            }
        } else {
            object.metadata.namespace = None;
        }
        match apply(client, &rt, &object).await {
            Ok((outcome, _)) => println!("{noun} {}", outcome.as_str()),
            Err(e) => {
                eprintln!("error: {noun}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
