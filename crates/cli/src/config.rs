//! weir's configuration file: what to run (the image map) and how to render sources that are
//! not plain manifests (config management plugins). How the process runs (ports, data
//! directory) stays on the command line.
//!
//! ```yaml
//! images:
//!   # a container that names only this image runs this command line
//!   docker.io/istio/examples-bookinfo-reviews-v1:1.16.2: [weir, demo, service, --name, reviews]
//! plugins:
//!   # Argo CD's config management plugins: a command run as is in the app directory
//!   - name: kustomize
//!     command: [kustomize, build, .]
//!     discover: kustomization.yaml   # used for apps that name no plugin and have this file
//!     timeout: 90s
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use weir_app_controller::plugin::ConfigManagementPlugin;

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Image (with or without tag) → command line.
    #[serde(default)]
    pub(crate) images: BTreeMap<String, Vec<String>>,
    /// Config management plugins, in the order they are tried.
    #[serde(default)]
    pub(crate) plugins: Vec<PluginEntry>,
}

/// One `plugins:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginEntry {
    name: String,
    command: Vec<String>,
    #[serde(default)]
    discover: Option<String>,
    /// A Go duration (default 90s, Argo CD's `ARGOCD_EXEC_TIMEOUT`).
    #[serde(default)]
    timeout: Option<String>,
}

impl ConfigFile {
    /// The plugins as the Application controller takes them; an entry without a command or
    /// with a bad timeout is an error naming it.
    pub(crate) fn plugins(&self) -> Result<Vec<ConfigManagementPlugin>> {
        self.plugins
            .iter()
            .map(|p| {
                if p.name.is_empty() || p.command.is_empty() {
                    bail!("plugin {:?}: name and command must not be empty", p.name);
                }
                let timeout = match p.timeout.as_deref() {
                    None => weir_app_controller::plugin::DEFAULT_TIMEOUT,
                    Some(text) => weir_model::duration::parse_nanos(text)
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .map(Duration::from_nanos)
                        .with_context(|| {
                            format!("plugin {:?}: invalid timeout {text:?}", p.name)
                        })?,
                };
                Ok(ConfigManagementPlugin {
                    name: p.name.clone(),
                    command: p.command.clone(),
                    discover: p.discover.clone(),
                    timeout,
                })
            })
            .collect()
    }
}

/// Reads `explicit`, or `<data_dir>/config.yaml` when it exists, or nothing.
pub(crate) fn load(explicit: Option<&Path>, data_dir: &Path) -> Result<ConfigFile> {
    let default = data_dir.join("config.yaml");
    let path = match explicit {
        Some(path) => path,
        None if default.exists() => &default,
        None => return Ok(ConfigFile::default()),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("config {} is invalid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weir.yaml");
        std::fs::write(&path, "imagez: {}\n").unwrap();
        let error = format!("{:#}", load(Some(&path), dir.path()).unwrap_err());
        assert!(error.contains("weir.yaml") && error.contains("imagez"), "{error}");
        std::fs::write(&path, "images: {\"reviews:v2\": [sh, -c, \"exit 0\"]}\n").unwrap();
        assert_eq!(
            load(Some(&path), dir.path()).unwrap().images["reviews:v2"],
            ["sh", "-c", "exit 0"]
        );
    }

    #[test]
    fn plugins_are_read_with_argo_cds_default_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "plugins:\n- {name: kustomize, command: [kustomize, build, .], discover: kustomization.yaml}\n- {name: helm, command: [helm, template, .], timeout: 5s}\n",
        )
        .unwrap();
        let plugins = load(Some(&path), dir.path()).unwrap().plugins().unwrap();
        assert_eq!(plugins[0].timeout, weir_app_controller::plugin::DEFAULT_TIMEOUT);
        assert_eq!(plugins[0].discover.as_deref(), Some("kustomization.yaml"));
        assert_eq!(plugins[1].timeout, Duration::from_secs(5));
        std::fs::write(&path, "plugins:\n- {name: bad, command: [x], timeout: soon}\n").unwrap();
        let error = format!("{:#}", load(Some(&path), dir.path()).unwrap().plugins().unwrap_err());
        assert!(error.contains("bad") && error.contains("soon"), "{error}");
    }
}
