//! `weir delete KIND NAME... [-n NS] [--cascade …]` and `weir delete -f FILE`.

use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::{Result, bail};
use weir_cluster::{DeleteOutcome, DeleteParams, Error, PropagationPolicy};

use super::{namespace_or_default, registry, resource_type};
use crate::args::{Cascade, DeleteArgs};
use crate::manifests;

pub(crate) async fn run<B: Backend>(client: &B, args: DeleteArgs) -> Result<ExitCode> {
    let registry = registry(client).await?;
    let params = DeleteParams {
        propagation_policy: match args.cascade {
            Cascade::Background => PropagationPolicy::Background,
            Cascade::Foreground => PropagationPolicy::Foreground,
            Cascade::Orphan => PropagationPolicy::Orphan,
        },
        ..DeleteParams::default()
    };
    let mut targets = Vec::new();
    if !args.files.is_empty() {
        for object in manifests::read_all(&args.files, false)? {
            let rt = registry.for_object(&object.api_version, &object.kind).ok_or_else(|| {
                anyhow::anyhow!("no resource type for {} {}", object.api_version, object.kind)
            })?;
            let namespace = rt.namespaced().then(|| {
                object.namespace().or(args.namespace.as_deref()).unwrap_or("default").to_owned()
            });
            targets.push((rt, namespace, object.name().to_owned()));
        }
    } else {
        let Some(kind) = &args.kind else {
            bail!("name a resource type and objects, or use -f FILE")
        };
        if args.names.is_empty() {
            bail!("name at least one {kind} to delete");
        }
        let rt = resource_type(&registry, kind)?;
        let namespace =
            rt.namespaced().then(|| namespace_or_default(args.namespace.as_deref()).to_owned());
        for name in &args.names {
            targets.push((rt.clone(), namespace.clone(), name.clone()));
        }
    }
    let mut failed = false;
    for (rt, namespace, name) in targets {
        let noun = format!("{}/{name}", rt.kind.to_ascii_lowercase());
        match client.delete(&rt, namespace.as_deref(), &name, &params).await {
            Ok(DeleteOutcome::Deleted(_)) => println!("{noun} deleted"),
            Ok(DeleteOutcome::Pending(_)) => {
                println!("{noun} deletion requested (waiting for finalizers)")
            }
            Err(Error::NotFound { .. }) if args.ignore_not_found => {}
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
