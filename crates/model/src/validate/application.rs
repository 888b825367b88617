//! Argo CD Application validation: the checks Argo CD makes on a spec before it generates
//! manifests (`util/argo/argo.go` `ValidatePermissions`/`ValidateDestination`,
//! `util/app/path`), with Argo CD's message texts, plus the static checks `weir lint` adds
//! (sync options Argo CD would silently ignore, unparsable retry durations).
//!
//! What needs a repository or a cluster (does the path exist, is the project allowed to
//! deploy there) is not checked here.

use crate::argocd::{Application, ApplicationSource, parse_backoff_duration};
use crate::validate::{child, index};
use crate::{Diagnostic, ErrorType};

/// "Destination server missing from app spec".
pub const ERR_DESTINATION_MISSING: &str = "Destination server missing from app spec";
/// "application destination can't have both name and server defined".
pub const ERR_DESTINATION_BOTH: &str =
    "application destination can't have both name and server defined";
/// For a single source without repoURL or without path/chart/ref.
pub const ERR_SOURCE_REQUIRED: &str = "spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required";
/// For a Helm chart source without targetRevision.
pub const ERR_CHART_REVISION: &str =
    "spec.source.targetRevision is required if the manifest source is a helm chart";

/// The sync options Argo CD knows, with their accepted values.
pub const SYNC_OPTIONS: &[(&str, &[&str])] = &[
    ("Validate", &["true", "false"]),
    ("CreateNamespace", &["true", "false"]),
    ("PruneLast", &["true", "false"]),
    ("ApplyOutOfSyncOnly", &["true", "false"]),
    ("ServerSideApply", &["true", "false"]),
    ("ClientSideApplyMigration", &["true", "false"]),
    ("Replace", &["true", "false"]),
    ("Force", &["true", "false"]),
    ("PrunePropagationPolicy", &["background", "foreground", "orphan"]),
    ("Prune", &["true", "false", "confirm"]),
    ("Delete", &["true", "false", "confirm"]),
    ("RespectIgnoreDifferences", &["true", "false"]),
    ("SkipDryRunOnMissingResource", &["true", "false"]),
    ("FailOnSharedResource", &["true", "false"]),
];

/// Every problem of an Application, in spec order.
pub fn validate_application(app: &Application) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let spec = &app.spec;

    let dest = &spec.destination;
    let has = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    match (has(&dest.name), has(&dest.server)) {
        (true, true) => out.push(invalid("spec.destination", ERR_DESTINATION_BOTH)),
        (false, false) => {
            out.push(Diagnostic::required("spec.destination", ERR_DESTINATION_MISSING))
        }
        _ => {}
    }

    if spec.source_hydrator.is_none() {
        if spec.has_multiple_sources() {
            for (i, source) in spec.sources.iter().flatten().enumerate() {
                let field = index("spec.sources", i);
                let message = format!(
                    "spec.source.repoURL and either source.path, source.chart, or source.ref are required for source {}",
                    source_label(source, i)
                );
                check_source(source, &field, message, &mut out);
            }
        } else {
            let source = spec.source.clone().unwrap_or_default();
            check_source(&source, "spec.source", ERR_SOURCE_REQUIRED.to_owned(), &mut out);
        }
    }

    if let Some(policy) = &spec.sync_policy {
        for (i, option) in policy.sync_options.iter().flatten().enumerate() {
            check_sync_option(option, &index("spec.syncPolicy.syncOptions", i), &mut out);
        }
        if let Some(backoff) = policy.retry.as_ref().and_then(|r| r.backoff.as_ref()) {
            for (name, value) in
                [("duration", &backoff.duration), ("maxDuration", &backoff.max_duration)]
            {
                if let Some(text) = value.as_deref().filter(|t| !t.is_empty())
                    && parse_backoff_duration(text).is_none()
                {
                    out.push(Diagnostic::invalid(
                        child("spec.syncPolicy.retry.backoff", name),
                        crate::validate::go_quote(text),
                        format!(
                            "error parsing retryStrategy `{name}`: time: invalid duration {}",
                            crate::validate::go_quote(text)
                        ),
                    ));
                }
            }
        }
    }
    out
}

fn invalid(field: &str, detail: &str) -> Diagnostic {
    Diagnostic::new(ErrorType::Invalid, field, detail)
}

/// `name` if the source has one, else its position as Argo CD numbers it (1-based).
fn source_label(source: &ApplicationSource, i: usize) -> String {
    source.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| (i + 1).to_string())
}

fn check_source(
    source: &ApplicationSource,
    field: &str,
    message: String,
    out: &mut Vec<Diagnostic>,
) {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if source.repo_url.is_empty() {
        out.push(Diagnostic::required(child(field, "repoURL"), message));
    } else if !set(&source.path) && !set(&source.chart) && !set(&source.r#ref) {
        out.push(Diagnostic::required(child(field, "path"), message));
    }
    if set(&source.chart) && !set(&source.target_revision) {
        out.push(Diagnostic::required(child(field, "targetRevision"), ERR_CHART_REVISION));
    }
    if let Some(path) = source.path.as_deref()
        && let Some(problem) = path_problem(path)
    {
        out.push(Diagnostic::invalid(
            child(field, "path"),
            crate::validate::go_quote(path),
            format!("{path}: {problem}"),
        ));
    }
}

/// What is wrong with an app path that can be told without the repository: absolute, or
/// leaving the repository root through `..`.
pub fn path_problem(path: &str) -> Option<&'static str> {
    if path.starts_with('/') {
        return Some("app path is absolute");
    }
    let mut depth = 0usize;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Some("app path outside root"),
            },
            _ => depth += 1,
        }
    }
    None
}

fn check_sync_option(option: &str, field: &str, out: &mut Vec<Diagnostic>) {
    let quoted = crate::validate::go_quote(option);
    let Some((key, value)) = option.split_once('=') else {
        out.push(Diagnostic::invalid(field, quoted, "sync options are written Key=Value"));
        return;
    };
    match SYNC_OPTIONS.iter().find(|(k, _)| *k == key.trim()) {
        None => {
            let known: Vec<&str> = SYNC_OPTIONS.iter().map(|(k, _)| *k).collect();
            out.push(Diagnostic {
                error_type: ErrorType::NotSupported,
                field: field.to_owned(),
                bad_value: Some(quoted),
                detail: format!(
                    "unknown sync option (Argo CD ignores it); known options: {}",
                    known.join(", ")
                ),
            });
        }
        Some((key, values)) if !values.contains(&value.trim()) => out.push(Diagnostic {
            error_type: ErrorType::NotSupported,
            field: field.to_owned(),
            bad_value: Some(quoted),
            detail: format!("supported values for {key}: {}", values.join(", ")),
        }),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::{ApplicationDestination, ApplicationSpec, SyncPolicy};

    fn app(spec: ApplicationSpec) -> Application {
        Application {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            metadata: Default::default(),
            spec,
            status: None,
            operation: None,
        }
    }

    fn messages(spec: ApplicationSpec) -> Vec<String> {
        validate_application(&app(spec)).iter().map(ToString::to_string).collect()
    }

    fn good() -> ApplicationSpec {
        ApplicationSpec {
            destination: ApplicationDestination {
                server: Some("https://kubernetes.default.svc".into()),
                ..Default::default()
            },
            source: Some(ApplicationSource {
                repo_url: "https://github.com/argoproj/argocd-example-apps".into(),
                path: Some("guestbook".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_application_has_no_problems() {
        assert_eq!(messages(good()), Vec::<String>::new());
    }

    #[test]
    fn destination_needs_exactly_one_of_name_and_server() {
        let mut spec = good();
        spec.destination.name = Some("in-cluster".into());
        assert_eq!(
            messages(spec.clone()),
            vec![format!("spec.destination: Invalid value: {ERR_DESTINATION_BOTH}")]
        );
        spec.destination = ApplicationDestination::default();
        assert_eq!(
            messages(spec),
            vec![format!("spec.destination: Required value: {ERR_DESTINATION_MISSING}")]
        );
    }

    #[test]
    fn sources_need_repo_and_path_and_paths_stay_inside() {
        let mut spec = good();
        spec.source.as_mut().unwrap().repo_url.clear();
        assert_eq!(
            messages(spec.clone()),
            vec![format!("spec.source.repoURL: Required value: {ERR_SOURCE_REQUIRED}")]
        );
        spec.source = Some(ApplicationSource {
            repo_url: "r".into(),
            path: Some("/etc".into()),
            ..Default::default()
        });
        assert_eq!(
            messages(spec.clone()),
            vec!["spec.source.path: Invalid value: \"/etc\": /etc: app path is absolute"]
        );
        spec.source.as_mut().unwrap().path = Some("a/../../b".into());
        assert_eq!(
            messages(spec),
            vec![
                "spec.source.path: Invalid value: \"a/../../b\": a/../../b: app path outside root"
            ]
        );
        assert_eq!(path_problem("a/../b"), None);
        assert_eq!(path_problem("."), None);
    }

    #[test]
    fn helm_charts_need_a_revision() {
        let mut spec = good();
        spec.source = Some(ApplicationSource {
            repo_url: "https://charts".into(),
            chart: Some("c".into()),
            ..Default::default()
        });
        assert_eq!(
            messages(spec),
            vec![format!("spec.source.targetRevision: Required value: {ERR_CHART_REVISION}")]
        );
    }

    #[test]
    fn sync_options_and_backoff_are_checked() {
        let mut spec = good();
        spec.sync_policy = Some(SyncPolicy {
            sync_options: Some(vec![
                "CreateNamespace=true".into(),
                "CreateNamspace=true".into(),
                "Prune=maybe".into(),
            ]),
            ..Default::default()
        });
        let got = messages(spec);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with(
                "spec.syncPolicy.syncOptions[1]: Unsupported value: \"CreateNamspace=true\""
            ),
            "{}",
            got[0]
        );
        assert!(got[1].contains("supported values for Prune: true, false, confirm"), "{}", got[1]);
    }
}
