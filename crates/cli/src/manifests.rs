//! Reading manifests from files, directories and standard input into objects, refusing the
//! whole set if any document is malformed (nothing is applied from a half-broken input).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use weir_cluster::Object;

/// The manifest files a list of `-f` arguments names: files as given, directories' `.yaml`,
/// `.yml` and `.json` files in name order (recursively with `recursive`), `-` for stdin.
pub(crate) fn files(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(path.clone());
        } else if path.is_dir() {
            collect_dir(path, recursive, &mut out)?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            bail!("the path \"{}\" does not exist", path.display());
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                collect_dir(&entry, recursive, out)?;
            }
        } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            out.push(entry);
        }
    }
    Ok(())
}

/// Reads one file (or stdin for `-`).
pub(crate) fn read(path: &Path) -> Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
        return Ok(("<stdin>".to_owned(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// Parses every manifest of the named files; any malformed document fails the whole read with
/// every problem listed.
pub(crate) fn read_all(paths: &[PathBuf], recursive: bool) -> Result<Vec<Object>> {
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for path in files(paths, recursive)? {
        let (name, text) = read(&path)?;
        match weir_model::parse::parse_objects(&name, &text) {
            Ok(parsed) => objects.extend(parsed),
            Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
        }
    }
    if !problems.is_empty() {
        bail!("nothing was applied; fix these first:\n  {}", problems.join("\n  "));
    }
    Ok(objects)
}
