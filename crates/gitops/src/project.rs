//! AppProject restrictions, as Argo CD enforces them before anything is applied: the source
//! repositories an Application may use, the destinations it may deploy to, and the kinds of
//! resources it may manage (cluster-scoped: only what `clusterResourceWhitelist` allows, none
//! when it is empty; namespaced: all unless `namespaceResourceWhitelist` is set, minus the
//! blacklists). Patterns are globs; a `!` prefix denies. Pure: the controller reads the
//! AppProject and asks.

use weir_model::argocd::AppProjectSpec;

use crate::source::glob_match;

/// The project an Application names when it names none.
pub const DEFAULT_PROJECT: &str = "default";

/// The `default` project Argo CD creates: every repository, destination and kind.
pub fn default_project() -> AppProjectSpec {
    serde_json::from_value(serde_json::json!({
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    }))
    .expect("the default project is a valid AppProjectSpec")
}

/// Argo CD's rule for a list of patterns: some allow pattern matches and no `!` pattern does.
fn permitted(patterns: &[&str], value: &str) -> bool {
    let mut allowed = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(deny) if matches(deny, value) => return false,
            Some(_) => {}
            None => allowed |= matches(pattern, value),
        }
    }
    allowed
}

fn matches(pattern: &str, value: &str) -> bool {
    pattern == value || pattern == "*" || glob_match(pattern, value)
}

/// Checks an Application's source repository and destination against project `name`; the
/// error is Argo CD's `InvalidSpecError` message.
pub fn check_app(
    name: &str,
    project: &AppProjectSpec,
    repo_url: &str,
    server: &str,
    destination_name: &str,
    namespace: &str,
) -> Result<(), String> {
    let repos: Vec<&str> = project.source_repos.iter().flatten().map(String::as_str).collect();
    if !permitted(&repos, repo_url) && !permitted(&repos, repo_url.trim_end_matches(".git")) {
        return Err(format!("application repo {repo_url} is not permitted in project '{name}'"));
    }
    let destinations = project.destinations.iter().flatten();
    let destination_ok = destinations.clone().any(|d| {
        let server_ok = match (d.server.as_deref(), d.name.as_deref()) {
            (Some(pattern), _) if !server.is_empty() => matches(pattern, server),
            (_, Some(pattern)) if !destination_name.is_empty() => {
                matches(pattern, destination_name)
            }
            _ => false,
        };
        let ns_ok = d.namespace.as_deref().is_some_and(|pattern| matches(pattern, namespace));
        server_ok && ns_ok
    });
    // Denials (`!`) anywhere win over an allow.
    let denied = destinations.clone().any(|d| {
        let ns_denied = d
            .namespace
            .as_deref()
            .and_then(|p| p.strip_prefix('!'))
            .is_some_and(|p| matches(p, namespace));
        let server_denied = d
            .server
            .as_deref()
            .and_then(|p| p.strip_prefix('!'))
            .is_some_and(|p| matches(p, server));
        ns_denied || server_denied
    });
    if !destination_ok || denied {
        return Err(format!(
            "application destination server '{server}' and namespace '{namespace}' do not match \
             any of the allowed destinations in project '{name}'"
        ));
    }
    Ok(())
}

/// Whether project `project` lets an Application manage a resource of `group`/`kind`.
pub fn resource_permitted(
    project: &AppProjectSpec,
    group: &str,
    kind: &str,
    namespaced: bool,
    name: &str,
) -> bool {
    let kind_matches =
        |g: &str, k: &str| matches(g, group) && (matches(k, kind) || k.eq_ignore_ascii_case(kind));
    if namespaced {
        let black = project.namespace_resource_blacklist.iter().flatten();
        if black.clone().any(|r| kind_matches(&r.group, &r.kind)) {
            return false;
        }
        return match &project.namespace_resource_whitelist {
            None => true,
            Some(white) => white.iter().any(|r| kind_matches(&r.group, &r.kind)),
        };
    }
    let black = project.cluster_resource_blacklist.iter().flatten();
    let name_matches = |n: Option<&str>| n.is_none_or(|p| p.is_empty() || matches(p, name));
    if black.clone().any(|r| kind_matches(&r.group, &r.kind) && name_matches(r.name.as_deref())) {
        return false;
    }
    let white = project.cluster_resource_whitelist.iter().flatten();
    white.clone().any(|r| kind_matches(&r.group, &r.kind) && name_matches(r.name.as_deref()))
}

/// Argo CD's message for a resource the project does not permit.
pub fn not_permitted(group: &str, kind: &str, project: &str) -> String {
    format!("resource {group}:{kind} is not permitted in project {project}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(value: serde_json::Value) -> AppProjectSpec {
        serde_json::from_value(value).expect("project")
    }

    #[test]
    fn the_default_project_permits_everything() {
        let p = default_project();
        assert!(check_app("default", &p, "https://x/y.git", "https://k", "", "any").is_ok());
        assert!(resource_permitted(&p, "rbac.authorization.k8s.io", "ClusterRole", false, "r"));
        assert!(resource_permitted(&p, "apps", "Deployment", true, "d"));
    }

    #[test]
    fn repositories_and_destinations_follow_globs_and_denials() {
        let p = project(serde_json::json!({
            "sourceRepos": ["https://github.com/team/*", "!https://github.com/team/secret"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
        }));
        let server = "https://kubernetes.default.svc";
        assert!(check_app("p", &p, "https://github.com/team/app", server, "", "team-a").is_ok());
        assert_eq!(
            check_app("p", &p, "https://github.com/team/secret", server, "", "team-a"),
            Err("application repo https://github.com/team/secret is not permitted in project 'p'"
                .into())
        );
        assert_eq!(
            check_app("p", &p, "https://github.com/team/app", server, "", "kube-system"),
            Err("application destination server 'https://kubernetes.default.svc' and namespace \
                 'kube-system' do not match any of the allowed destinations in project 'p'"
                .into())
        );
    }

    #[test]
    fn cluster_kinds_need_the_whitelist_and_namespaced_kinds_the_blacklist_allows() {
        let p = project(serde_json::json!({
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
        }));
        assert!(!resource_permitted(&p, "rbac.authorization.k8s.io", "ClusterRole", false, "r"));
        assert!(!resource_permitted(&p, "", "ResourceQuota", true, "q"));
        assert!(resource_permitted(&p, "apps", "Deployment", true, "d"));
        let only_apps = project(serde_json::json!({"namespaceResourceWhitelist": []}));
        assert!(!resource_permitted(&only_apps, "apps", "Deployment", true, "d"), "[] allows none");
        assert_eq!(
            not_permitted("rbac.authorization.k8s.io", "ClusterRole", "p"),
            "resource rbac.authorization.k8s.io:ClusterRole is not permitted in project p"
        );
    }
}
