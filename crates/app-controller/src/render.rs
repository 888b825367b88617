//! Rendering a directory source into target objects, as Argo CD's repo-server does for plain
//! directories: a Helm chart or Kustomize directory is refused with the tool it needs (unless
//! a plugin renders it), then the path rules of [`weir_gitops::source`] (inside the repository, no escaping
//! symlink, include/exclude, size cap), multi-document YAML, JSON and `List`s through
//! [`weir_model::parse`], the destination namespace on namespaced objects lacking one, and the
//! tracking label and annotation on every object. A config management plugin
//! ([`crate::plugin`]) renders the directory instead when the app selects one.

use std::path::Path;

use serde_json::{Map, Value};
use weir_cluster::Registry;
use weir_gitops::source::{
    DirectoryOptions, check_alias_expansion, check_app_path, check_out_of_bounds_symlinks,
    find_manifest_files, tool_of_directory,
};
use weir_model::argocd::{ApplicationSource, ApplicationSourceDirectory};
use weir_model::parse::{Format, parse_manifests};

use crate::plugin::{BuildEnv, ConfigManagementPlugin, run, select};

/// Argo CD's default tracking label (`application.instanceLabelKey`).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Argo CD's tracking annotation.
pub const TRACKING_ID_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// `--max-combined-directory-manifests-size` default (10M).
const MAX_COMBINED_SIZE: u64 = 10 * 1024 * 1024;
/// Files carrying this marker are not rendered.
const SKIP_MARKER: &str = "+argocd:skip-file-rendering";

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The Application's name (tracking).
    pub app_name: &'a str,
    /// `spec.destination.namespace`.
    pub dest_namespace: &'a str,
    /// `spec.source.path`.
    pub path: &'a str,
    /// `spec.source.directory`.
    pub directory: Option<&'a ApplicationSourceDirectory>,
    /// The whole source and the resolved revision, for config management plugins.
    pub source: Option<&'a ApplicationSource>,
    /// The commit SHA being rendered.
    pub revision: &'a str,
    /// The configured plugins (none: directory sources only).
    pub plugins: &'a [ConfigManagementPlugin],
}

/// Renders the source at `root` (a checked-out work tree). `Err` is Argo's message.
pub fn render(
    root: &Path,
    input: RenderInput<'_>,
    registry: &Registry,
) -> Result<Vec<Value>, String> {
    let app_dir = check_app_path(root, input.path).map_err(|e| e.to_string())?;
    match check_out_of_bounds_symlinks(root, &[".git"]) {
        Ok(Ok(())) => {}
        Ok(Err(bad)) => {
            return Err(format!("repository contains out-of-bounds symlinks. file: {}", bad.file));
        }
        Err(e) => return Err(e.to_string()),
    }
    if let Some(source) = input.source
        && let Some(plugin) = select(input.plugins, source, &app_dir)?
    {
        let env = BuildEnv {
            app_name: input.app_name,
            namespace: input.dest_namespace,
            revision: input.revision,
            source,
        };
        let text = run(plugin, &app_dir, env)?;
        let rel = format!("output of plugin {:?}", plugin.name);
        check_alias_expansion(&rel, &text).map_err(|e| e.to_string())?;
        let parsed = parse_manifests(&rel, &text);
        if let Some(error) = parsed.errors.first() {
            return Err(format!("Failed to unmarshal {rel}: {error}"));
        }
        let mut objects: Vec<Value> =
            parsed.documents.into_iter().map(|d| d.object.to_value()).collect();
        track(&mut objects, input, registry);
        return Ok(objects);
    }
    let mut objects = directory_objects(root, &app_dir, input.directory)?;
    track(&mut objects, input, registry);
    Ok(objects)
}

/// The objects of a directory source at `root`, before tracking metadata: what every app
/// with the same repository, revision, path and directory options shares. `Err` is Argo's
/// message.
pub fn render_directory(
    root: &Path,
    path: &str,
    directory: Option<&ApplicationSourceDirectory>,
) -> Result<Vec<Value>, String> {
    let app_dir = check_app_path(root, path).map_err(|e| e.to_string())?;
    match check_out_of_bounds_symlinks(root, &[".git"]) {
        Ok(Ok(())) => {}
        Ok(Err(bad)) => {
            return Err(format!("repository contains out-of-bounds symlinks. file: {}", bad.file));
        }
        Err(e) => return Err(e.to_string()),
    }
    directory_objects(root, &app_dir, directory)
}

/// Sets each object's destination namespace and tracking metadata for the app of `input`.
pub fn track(objects: &mut [Value], input: RenderInput<'_>, registry: &Registry) {
    for obj in objects {
        prepare(obj, input, registry);
    }
}

fn directory_objects(
    root: &Path,
    app_dir: &Path,
    directory: Option<&ApplicationSourceDirectory>,
) -> Result<Vec<Value>, String> {
    let dir = directory.cloned().unwrap_or_default();
    let opts = DirectoryOptions {
        recurse: dir.recurse.unwrap_or(false),
        include: dir.include.unwrap_or_default(),
        exclude: dir.exclude.unwrap_or_default(),
        disable_extension_filter: dir.disable_extension_filter.unwrap_or(false),
        max_combined_size: MAX_COMBINED_SIZE,
    };
    // A Helm chart or a Kustomize directory is not a directory of manifests: reading its
    // files as such deploys nothing (a chart's templates are skipped) or fails on the
    // kustomization; without a plugin that renders it, it is an error naming the tool.
    if let Some(tool) = tool_of_directory(app_dir) {
        let rel = app_dir.strip_prefix(root).unwrap_or(app_dir).display().to_string();
        return Err(tool.unsupported_message(&rel));
    }
    let files = find_manifest_files(app_dir, root, &opts).map_err(|e| e.to_string())?;
    let mut objects = Vec::new();
    for (path, real) in &files.files {
        let rel = path.strip_prefix(app_dir).unwrap_or(path).display().to_string();
        if rel.ends_with(".jsonnet") {
            return Err(format!("{rel}: jsonnet sources are not supported"));
        }
        let text = std::fs::read_to_string(real).map_err(|e| format!("{rel}: {e}"))?;
        if text.contains(SKIP_MARKER) {
            continue;
        }
        check_alias_expansion(&rel, &text).map_err(|e| e.to_string())?;
        let parsed = parse_manifests(&rel, &text);
        if let Some(error) = parsed.errors.first() {
            if looks_like_manifest(&text) || rel.ends_with(".json") {
                return Err(format!("Failed to unmarshal {rel:?}: {error}"));
            }
            continue;
        }
        let json = parsed.documents.iter().any(|d| d.format == Format::Json && d.item.is_none());
        if json && rel.ends_with(".json") && parsed.documents.len() > 1 {
            return Err(format!(
                "Found multiple objects in {rel:?}. Only single objects are allowed in JSON files."
            ));
        }
        objects.extend(parsed.documents.into_iter().map(|d| d.object.to_value()));
    }
    Ok(objects)
}

fn looks_like_manifest(text: &str) -> bool {
    ["apiVersion:", "kind:", "metadata:"].iter().all(|k| text.contains(k))
}

/// Sets the destination namespace and the tracking metadata.
fn prepare(obj: &mut Value, input: RenderInput<'_>, registry: &Registry) {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let namespaced = registry.for_object(&api_version, &kind).is_none_or(|rt| rt.namespaced());
    let Some(map) = obj.as_object_mut() else { return };
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else { return };
    let has_ns = meta.get("namespace").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    if namespaced && !has_ns && !input.dest_namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(input.dest_namespace.to_string()));
    }
    if !namespaced {
        meta.remove("namespace");
    }
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("").to_string();
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    let labels = meta.entry("labels").or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(INSTANCE_LABEL.into(), Value::String(input.app_name.to_string()));
    }
    let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        let id = tracking_id(input.app_name, &group, &kind, &namespace, &name);
        annotations.insert(TRACKING_ID_ANNOTATION.into(), Value::String(id));
    }
}

/// `<app>:<group>/<Kind>:<namespace>/<name>`.
pub fn tracking_id(app: &str, group: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{app}:{group}/{kind}:{namespace}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(path: &'a str) -> RenderInput<'a> {
        RenderInput {
            app_name: "guestbook",
            dest_namespace: "apps",
            path,
            directory: None,
            source: None,
            revision: "",
            plugins: &[],
        }
    }

    #[test]
    fn namespaces_and_tracking_are_set() {
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(repo.path().join("app")).expect("mkdir");
        std::fs::write(
            repo.path().join("app/all.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n",
        )
        .expect("write");
        std::fs::write(repo.path().join("app/README.md"), "# not a manifest").expect("write");
        let objects = render(repo.path(), input("app"), &Registry::builtin()).expect("render");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0]["metadata"]["namespace"], "apps");
        assert_eq!(objects[0]["metadata"]["labels"][INSTANCE_LABEL], "guestbook");
        assert_eq!(
            objects[0]["metadata"]["annotations"][TRACKING_ID_ANNOTATION],
            "guestbook:/ConfigMap:apps/a"
        );
        assert!(objects[1]["metadata"].get("namespace").is_none());
    }

    #[test]
    fn escaping_paths_and_bad_json_are_argo_errors() {
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(repo.path().join("app")).expect("mkdir");
        let err = render(repo.path(), input("../x"), &Registry::builtin()).expect_err("outside");
        assert_eq!(err, "../x: app path outside root");
        std::fs::write(repo.path().join("app/two.json"), "{\"kind\":\"A\"}\n{\"kind\":\"B\"}")
            .expect("write");
        let err = render(repo.path(), input("app"), &Registry::builtin()).expect_err("json");
        assert!(
            err.contains("Found multiple objects") || err.contains("Failed to unmarshal"),
            "{err}"
        );
    }
}
