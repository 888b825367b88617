//! Fetching an app's target objects (git → render, cached per resolved revision) and its live
//! objects (by target key, plus everything carrying the app's tracking label in the types the
//! app manages).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use weir_cluster::{Cluster, LabelSelector, ListParams, Object, Registry, ResourceType};
use weir_model::argocd::{Application, ApplicationSource};

use crate::creds::{Credentials, SECRET_TYPE_LABEL, find_credentials};
use crate::git::Repos;
use crate::git::normalize_url;
use crate::plugin::ConfigManagementPlugin;
use crate::render::{INSTANCE_LABEL, RenderInput, render, render_directory, track};
use crate::sync::resource_type;

/// The rendered targets of one app at one revision.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The commit SHA.
    pub revision: String,
    /// The objects, tracking metadata included.
    pub objects: Vec<Value>,
}

/// Resolves `revision` of the app's source (its `targetRevision` when `None`) and renders it.
/// `Err` is the ComparisonError message.
pub async fn load_targets<C: Cluster>(
    cluster: &C,
    repos: &Repos,
    registry: &Registry,
    app: &Application,
    revision: Option<&str>,
) -> Result<Targets, String> {
    load_targets_with(cluster, repos, registry, app, revision, &[]).await
}

/// [`load_targets`] with config management plugins.
pub async fn load_targets_with<C: Cluster>(
    cluster: &C,
    repos: &Repos,
    registry: &Registry,
    app: &Application,
    revision: Option<&str>,
    plugins: &[ConfigManagementPlugin],
) -> Result<Targets, String> {
    let source = source_of(app)?;
    let creds = repo_credentials(cluster, &source.repo_url).await;
    let wanted = revision.unwrap_or_else(|| source.target_revision_or_default());
    let fail = |m: String| format!("Failed to load target state: {m}");
    let sha = repos
        .resolve(&source.repo_url, wanted, creds.as_ref())
        .await
        .map_err(|e| fail(e.to_string()))?;
    let input = RenderInput {
        app_name: app.name(),
        dest_namespace: app.spec.destination.namespace.as_deref().unwrap_or(""),
        path: source.path_or_root(),
        directory: source.directory.as_ref(),
        source: Some(source),
        revision: &sha,
        plugins,
    };
    let render_error =
        |m: String| fail(format!("failed to generate manifest for source 1 of 1: {m}"));
    // Without plugins, a directory renders the same for every app: shared through the cache.
    if plugins.is_empty() && source.plugin.is_none() {
        let key = serde_json::to_string(&(
            normalize_url(&source.repo_url),
            &sha,
            input.path,
            input.directory,
        ))
        .unwrap_or_default();
        let rendered = match repos.rendered(&key) {
            Some(hit) => hit,
            None => {
                let rendered = repos
                    .with_checkout(&source.repo_url, &sha, creds.as_ref(), |root: &Path| {
                        render_directory(root, input.path, input.directory)
                    })
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let rendered = std::sync::Arc::new(rendered);
                repos.remember_rendered(key, rendered.clone());
                rendered
            }
        };
        let mut objects = rendered.as_ref().clone().map_err(render_error)?;
        track(&mut objects, input, registry);
        return Ok(Targets { revision: sha, objects });
    }
    let rendered = repos
        .with_checkout(&source.repo_url, &sha, creds.as_ref(), |root: &Path| {
            render(root, input, registry)
        })
        .await
        .map_err(|e| fail(e.to_string()))?;
    let objects = rendered.map_err(render_error)?;
    Ok(Targets { revision: sha, objects })
}

/// The app's single source; multi-source and Helm-chart apps are not supported yet.
pub fn source_of(app: &Application) -> Result<&ApplicationSource, String> {
    let sources = app.spec.effective_sources();
    match sources.as_slice() {
        [] => Err("spec.source or spec.sources must be specified".into()),
        [one] if one.is_helm_chart() => Err("Helm chart repositories are not supported".into()),
        [one] => Ok(one),
        _ => Err("multiple sources are not supported".into()),
    }
}

async fn repo_credentials<C: Cluster>(cluster: &C, url: &str) -> Option<Credentials> {
    let registry = Registry::builtin();
    let rt = registry.for_name("secrets")?;
    let selector = LabelSelector::parse(&format!("{SECRET_TYPE_LABEL}=repository")).ok()?;
    let list = cluster.list(rt, None, &ListParams::labels(selector)).await.ok()?;
    find_credentials(&list.items, url)
}

/// The live objects of an app: the object of every target key, and every object labelled
/// with the app's instance label in the targets' types and `extra_types`.
pub async fn load_live<C: Cluster>(
    cluster: &C,
    registry: &Registry,
    app_name: &str,
    targets: &[Value],
    extra_types: &[(String, String)],
) -> Result<Vec<Value>, weir_cluster::Error> {
    let mut lives: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut types: Vec<ResourceType> = Vec::new();
    for target in targets {
        let api_version = target.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = target.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let ns = target.pointer("/metadata/namespace").and_then(Value::as_str);
        let rt = resource_type(registry, api_version, kind);
        if !types.contains(&rt) {
            types.push(rt.clone());
        }
        // A hook named by `generateName` only has no object of its own name to read (its
        // live objects carry the tracking label and are listed below).
        if name.is_empty() {
            continue;
        }
        let ns = if rt.namespaced() { ns } else { None };
        match cluster.get(&rt, ns, name).await {
            Ok(mut obj) => {
                // An API server serves an object in the version it is asked for; the store
                // keeps one version per kind (Istio's v1alpha3, v1beta1 and v1 share a
                // schema), so the live object is compared in the manifest's version.
                obj.api_version = api_version.to_owned();
                if seen.insert(identity(&obj)) {
                    lives.push(obj.to_value());
                }
            }
            Err(weir_cluster::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for (api_version, kind) in extra_types {
        let rt = resource_type(registry, api_version, kind);
        if !types.contains(&rt) {
            types.push(rt);
        }
    }
    let selector = LabelSelector::parse(&format!("{INSTANCE_LABEL}={app_name}"))?;
    for rt in &types {
        let list = match cluster.list(rt, None, &ListParams::labels(selector.clone())).await {
            Ok(list) => list,
            Err(weir_cluster::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        for obj in list.items {
            if seen.insert(identity(&obj)) {
                lives.push(obj.to_value());
            }
        }
    }
    Ok(lives)
}

/// Group, kind, namespace and name: the same object whatever version it was read in.
fn identity(obj: &Object) -> (String, String, String, String) {
    let group = obj.api_version.rsplit_once('/').map_or("", |(group, _)| group);
    (
        group.to_owned(),
        obj.kind.clone(),
        obj.namespace().unwrap_or("").to_string(),
        obj.name().to_string(),
    )
}

/// The (apiVersion, kind) of the resources the app's last status listed, so objects whose
/// manifests were removed are still found (for pruning, diff and cascade deletion).
pub fn previous_types(app: &Application) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in app.status.iter().flat_map(|s| s.resources.iter().flatten()) {
        let group = r.group.clone().unwrap_or_default();
        let version = r.version.clone().unwrap_or_default();
        let api_version = if group.is_empty() { version } else { format!("{group}/{version}") };
        let pair = (api_version, r.kind.clone().unwrap_or_default());
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}
