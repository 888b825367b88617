//! Which config management tool a source directory is made for, found as Argo CD's
//! repo-server finds it when the source names none (`reposerver/repository`, spec §2.3 "Tool
//! detection"): `Chart.yaml` makes a Helm chart; `kustomization.yaml`, `kustomization.yml` or
//! `Kustomization` a Kustomize directory; anything else is a plain directory of manifests.
//! weir renders neither tool itself yet, so such a directory must be rendered by a config
//! management plugin or refused: [`ToolDirectory::unsupported_message`] says which.

use std::path::Path;

/// A directory made for a tool weir does not run itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolDirectory {
    /// A Helm chart; the file that marks it.
    Helm(&'static str),
    /// A Kustomize directory; the file that marks it.
    Kustomize(&'static str),
}

/// The files that mark a Kustomize directory (Kustomize's own list).
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/// The file that marks a Helm chart.
const HELM_CHART_FILE: &str = "Chart.yaml";

impl ToolDirectory {
    /// The ComparisonError for `path` (the app's `spec.source.path`, `.` for the root) when
    /// no tool renders it.
    pub fn unsupported_message(self, path: &str) -> String {
        let path = if path.trim_matches('/').is_empty() { "." } else { path };
        let (what, file, tool) = match self {
            ToolDirectory::Helm(file) => ("a Helm chart", file, "Helm"),
            ToolDirectory::Kustomize(file) => ("a Kustomize directory", file, "Kustomize"),
        };
        format!(
            "{path} is {what} ({file}): {tool} sources are not supported yet; configure a config \
             management plugin that renders it (`plugins:` in weir's config.yaml)"
        )
    }
}

/// The tool `app_dir` is made for, from the names of the files directly in it (`names`), or
/// `None` for a plain directory. Both marks present: Kustomize, as Argo CD's discovery walks
/// the directory in lexical order and the last mark found wins.
pub fn tool_of_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<ToolDirectory> {
    let mut helm = None;
    let mut kustomize = None;
    for name in names {
        if name == HELM_CHART_FILE {
            helm = Some(ToolDirectory::Helm(HELM_CHART_FILE));
        }
        if let Some(file) = KUSTOMIZATION_FILES.iter().find(|f| **f == name) {
            kustomize = kustomize.or(Some(ToolDirectory::Kustomize(file)));
        }
    }
    kustomize.or(helm)
}

/// The tool the directory `app_dir` is made for (its regular files and symlinks, not its
/// subdirectories), or `None` for a plain directory or one that cannot be read (the manifest
/// search reports that).
pub fn tool_of_directory(app_dir: &Path) -> Option<ToolDirectory> {
    let entries = std::fs::read_dir(app_dir).ok()?;
    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    tool_of_names(names.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values: spec §2.3 "Tool detection" (Argo CD's file names).
    #[test]
    fn the_marking_file_names_the_tool() {
        let cases: [(&[&str], Option<ToolDirectory>); 7] = [
            (&["Chart.yaml", "values.yaml"], Some(ToolDirectory::Helm("Chart.yaml"))),
            (
                &["kustomization.yaml", "a.yaml"],
                Some(ToolDirectory::Kustomize("kustomization.yaml")),
            ),
            (&["kustomization.yml"], Some(ToolDirectory::Kustomize("kustomization.yml"))),
            (&["Kustomization"], Some(ToolDirectory::Kustomize("Kustomization"))),
            (
                &["Chart.yaml", "kustomization.yaml"],
                Some(ToolDirectory::Kustomize("kustomization.yaml")),
            ),
            (&["chart.yaml", "Kustomization.yaml", "deploy.yaml"], None),
            (&[], None),
        ];
        for (names, expected) in cases {
            assert_eq!(tool_of_names(names.iter().copied()), expected, "{names:?}");
        }
    }

    #[test]
    fn only_files_directly_in_the_directory_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("Chart.yaml")).expect("a directory named Chart.yaml");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/kustomization.yaml"), "resources: []\n")
            .expect("write");
        assert_eq!(tool_of_directory(dir.path()), None);
        std::fs::write(dir.path().join("Kustomization"), "resources: []\n").expect("write");
        assert_eq!(tool_of_directory(dir.path()), Some(ToolDirectory::Kustomize("Kustomization")));
    }

    #[test]
    fn the_message_names_the_path_the_file_and_the_way_out() {
        assert_eq!(
            ToolDirectory::Helm("Chart.yaml").unsupported_message("helm-guestbook"),
            "helm-guestbook is a Helm chart (Chart.yaml): Helm sources are not supported yet; \
             configure a config management plugin that renders it (`plugins:` in weir's \
             config.yaml)"
        );
        assert!(ToolDirectory::Kustomize("Kustomization").unsupported_message("").starts_with(
            ". is a Kustomize directory (Kustomization): Kustomize sources are not supported yet"
        ));
    }
}
