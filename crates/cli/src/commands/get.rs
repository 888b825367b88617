//! `weir get KIND [NAME] [-n NS | -A] [-o yaml|json|wide|name] [-l SELECTOR]`, or
//! `weir get KIND/NAME` as `-o name` prints it.

use std::process::ExitCode;

use crate::connect::Backend;
use anyhow::{Result, bail};
use serde_json::{Value, json};
use weir_cluster::{LabelSelector, ListParams, Object};

use super::{namespace_or_default, registry, resource_type};
use crate::args::{GetArgs, OutputFormat};
use crate::exit::print;
use crate::output;

pub(crate) async fn run<B: Backend>(client: &B, mut args: GetArgs) -> Result<ExitCode> {
    if let Some((kind, name)) = args.kind.split_once('/') {
        if args.name.is_some() {
            bail!("there is no need to give a name after {}: it names one object", args.kind);
        }
        args.name = Some(name.to_owned());
        args.kind = kind.to_owned();
    }
    let registry = registry(client).await?;
    let rt = resource_type(&registry, &args.kind)?;
    let namespace = match (rt.namespaced(), args.all_namespaces) {
        (true, false) => Some(namespace_or_default(args.namespace.as_deref())),
        _ => None,
    };
    let objects: Vec<Object> = match &args.name {
        Some(name) => vec![client.get(&rt, namespace, name).await?],
        None => {
            let label_selector = args.selector.as_deref().map(LabelSelector::parse).transpose()?;
            client
                .list(&rt, namespace, &ListParams { label_selector, ..ListParams::default() })
                .await?
                .items
        }
    };
    let single = args.name.is_some();
    match args.output {
        Some(OutputFormat::Yaml) => print(&output::yaml(&document(objects, single))?)?,
        Some(OutputFormat::Json) => {
            print(&format!("{}\n", serde_json::to_string_pretty(&document(objects, single))?))?;
        }
        Some(OutputFormat::Name) => {
            let kind = rt.kind.to_ascii_lowercase();
            let names: String =
                objects.iter().map(|object| format!("{kind}/{}\n", object.name())).collect();
            print(&names)?;
        }
        format => {
            if objects.is_empty() {
                match namespace {
                    Some(ns) => eprintln!("No resources found in {ns} namespace."),
                    None => eprintln!("No resources found"),
                }
            }
            let wide = format == Some(OutputFormat::Wide);
            print(&output::table(
                &rt.kind,
                &objects,
                args.all_namespaces && rt.namespaced(),
                wide,
                weir_cluster::wall_clock(),
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One object as itself, several as a `kind: List`, as kubectl prints them.
fn document(mut objects: Vec<Object>, single: bool) -> Value {
    if single && objects.len() == 1 {
        return objects.remove(0).to_value();
    }
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": objects.iter().map(Object::to_value).collect::<Vec<_>>(),
        "metadata": { "resourceVersion": "" },
    })
}
