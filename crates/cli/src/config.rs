//! weir's configuration file: what to run (the image map). How the process runs (ports, data
//! directory) stays on the command line.
//!
//! ```yaml
//! images:
//!   # a container that names only this image runs this command line
//!   docker.io/istio/examples-bookinfo-reviews-v1:1.16.2: [weir, demo, service, --name, reviews]
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Image (with or without tag) → command line.
    #[serde(default)]
    pub(crate) images: BTreeMap<String, Vec<String>>,
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
}
