//! The bookinfo demo of `weir up --demo`: a local git repository made from `examples/bookinfo/`
//! on first run, the three Applications that sync it (the demo's three `argocd app create`
//! commands), and the image map that runs bookinfo's images as `weir demo service`.
//!
//! The repository is the source of truth, as in the demo weir grew from: a person commits a
//! new `reviews` image there and the Applications, the Rollout and the analysis take it from
//! there. It lives in the data directory (`<data dir>/examples/bookinfo`), is created once, and
//! is never overwritten, so commits survive restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::json;
use weir_cluster::Object;

/// The files of the demo repository: `examples/bookinfo/`, built into the binary so
/// `weir up --demo` works from any directory.
const REPO_FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../../examples/bookinfo/README.md")),
    (
        "application/namespace.yaml",
        include_str!("../../../examples/bookinfo/application/namespace.yaml"),
    ),
    (
        "application/bookinfo.yaml",
        include_str!("../../../examples/bookinfo/application/bookinfo.yaml"),
    ),
    ("istio/conf.yaml", include_str!("../../../examples/bookinfo/istio/conf.yaml")),
    ("canary/rollout.yaml", include_str!("../../../examples/bookinfo/canary/rollout.yaml")),
    ("canary/analysis.yaml", include_str!("../../../examples/bookinfo/canary/analysis.yaml")),
    ("rollout/rollout.yaml", include_str!("../../../examples/bookinfo/rollout/rollout.yaml")),
    ("rollout/analysis.yaml", include_str!("../../../examples/bookinfo/rollout/analysis.yaml")),
    (
        "prometheus/analysis.yaml",
        include_str!("../../../examples/bookinfo/prometheus/analysis.yaml"),
    ),
    (
        "prometheus/prometheus.yml",
        include_str!("../../../examples/bookinfo/prometheus/prometheus.yml"),
    ),
];

/// The namespace the demo runs in, as `argocd app create … --dest-namespace bookinfo` says.
pub(crate) const NAMESPACE: &str = "bookinfo";

/// Where Argo CD keeps Applications, and so where `weir app` looks by default.
const APP_NAMESPACE: &str = "argocd";

/// The demo repository's place in a data directory.
pub(crate) fn repo_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("examples").join("bookinfo")
}

/// Creates the demo repository with one commit of `examples/bookinfo/`, unless it exists.
/// Returns its path.
pub(crate) fn ensure_repo(data_dir: &Path) -> Result<PathBuf> {
    let dir = repo_dir(data_dir);
    if dir.join(".git").is_dir() {
        return absolute(&dir);
    }
    if dir.exists() && dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "{} exists but is not a git repository: move it away so `weir up --demo` can \
             create the demo repository there",
            dir.display()
        );
    }
    for (path, text) in REPO_FILES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    git(&dir, &["init", "--quiet", "--initial-branch=main"])?;
    git(&dir, &["add", "--all"])?;
    git(&dir, &["commit", "--quiet", "--message", "bookinfo: the demo's manifests"])?;
    absolute(&dir)
}

/// The path Applications name as their `repoURL`, which must not depend on the working
/// directory.
fn absolute(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))
}

/// Runs `git` in `dir` with an identity of its own, so a machine without `user.name` works.
fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=weir demo", "-c", "user.email=demo@weir.invalid"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .context("running git (the demo needs git on the PATH)")?;
    if !output.status.success() {
        bail!(
            "git {} in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The demo's Applications, what these commands would create:
///
/// ```sh
/// weir app create bookinfo-app     --repo REPO --path application --dest-namespace bookinfo --sync-policy automated --self-heal --auto-prune
/// weir app create bookinfo-istio   --repo REPO --path istio       --dest-namespace bookinfo --sync-policy automated --self-heal --auto-prune
/// weir app create bookinfo-rollout --repo REPO --path canary      --dest-namespace bookinfo --sync-policy automated --self-heal --auto-prune
/// ```
///
/// The Istio application ignores what the rollout controller owns in the `reviews`
/// VirtualService and DestinationRule (route weights, the subsets' pod-template-hash labels),
/// as Argo Rollouts' documentation tells Argo CD users to, and keeps them when it syncs
/// (`RespectIgnoreDifferences=true`); without it self-heal and the canary would fight over
/// the weights.
pub(crate) fn applications(repo: &Path) -> Result<Vec<Object>> {
    let repo = repo.display().to_string();
    let app = |name: &str, path: &str, extra: serde_json::Value| -> Result<Object> {
        let mut spec = json!({
            "project": "default",
            "source": {"repoURL": repo, "path": path, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        Ok(Object::from_value(json!({
            "apiVersion": weir_model::argocd::API_VERSION,
            "kind": "Application",
            "metadata": {"name": name, "namespace": APP_NAMESPACE},
            "spec": spec,
        }))?)
    };
    let ignore_rollout_owned = json!({
        "ignoreDifferences": [
            {
                "group": "networking.istio.io", "kind": "VirtualService", "name": "reviews",
                "jqPathExpressions": [".spec.http[].route[].weight"],
            },
            {
                "group": "networking.istio.io", "kind": "DestinationRule", "name": "reviews",
                "jqPathExpressions": [".spec.subsets[].labels"],
            },
        ],
        "syncPolicy": {
            "automated": {"prune": true, "selfHeal": true},
            "syncOptions": ["CreateNamespace=true", "RespectIgnoreDifferences=true"],
        },
    });
    let namespace = Object::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NAMESPACE},
    }))?;
    Ok(vec![
        namespace,
        app("bookinfo-app", "application", json!({}))?,
        app("bookinfo-istio", "istio", ignore_rollout_owned)?,
        app("bookinfo-rollout", "canary", json!({}))?,
    ])
}

/// The bookinfo images, each run as weir's sample service with the calls bookinfo makes:
/// productpage → details and reviews, reviews → ratings (through the mesh). `reviews-v3`
/// fails 30% of its requests, for the demo's automatic rollback.
pub(crate) fn image_map() -> Result<BTreeMap<String, Vec<String>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_repository_manifest_parses() {
        for (path, text) in REPO_FILES.iter().filter(|(p, _)| p.ends_with(".yaml")) {
            if let Err(errors) = weir_model::parse::parse_objects(path, text) {
                panic!("{path}: {}", errors[0]);
            }
        }
    }

    #[test]
    fn the_repository_is_created_once_and_then_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = ensure_repo(dir.path()).unwrap();
        assert!(repo.join("canary/rollout.yaml").is_file());
        std::fs::write(repo.join("application/extra.yaml"), "# a person's change\n").unwrap();
        ensure_repo(dir.path()).unwrap();
        assert!(repo.join("application/extra.yaml").is_file(), "a second run must not reset");
    }

    #[test]
    fn applications_point_at_the_repository_paths() {
        let objects = applications(Path::new("/tmp/repo")).unwrap();
        let paths: Vec<_> = objects
            .iter()
            .filter(|o| o.kind == "Application")
            .map(|o| o.data["spec"]["source"]["path"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(paths, ["application", "istio", "canary"]);
        for path in paths {
            let prefix = format!("{path}/");
            assert!(
                REPO_FILES.iter().any(|(file, _)| file.starts_with(&prefix)),
                "{path} is empty"
            );
        }
    }
}
