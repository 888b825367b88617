//! Kubernetes-style API paths, parsed by hand so that `namespaces/{ns}/{plural}` and
//! `namespaces/{name}/status` are told apart exactly as the Kubernetes API server does.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiPath {
    /// API group (`""` for `/api/v1`).
    pub(crate) group: String,
    /// API version.
    pub(crate) version: String,
    /// The namespace segment, if any.
    pub(crate) namespace: Option<String>,
    /// Lower-case plural.
    pub(crate) plural: String,
    /// The object name, for item paths.
    pub(crate) name: Option<String>,
    /// Whether the path ends in `/status`.
    pub(crate) status: bool,
}

impl ApiPath {
    /// Parses `/api/{v}/…` or `/apis/{g}/{v}/…`; `None` for anything else.
    pub(crate) fn parse(path: &str) -> Option<ApiPath> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return None,
        };
        if rest.iter().any(|s| s.is_empty()) {
            return None;
        }
        let (namespace, plural, name, status) = match rest {
            ["namespaces", name, "status"] => (None, "namespaces", Some(*name), true),
            ["namespaces", ns, plural] => (Some(*ns), *plural, None, false),
            ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), false),
            ["namespaces", ns, plural, name, "status"] => (Some(*ns), *plural, Some(*name), true),
            [plural] => (None, *plural, None, false),
            [plural, name] => (None, *plural, Some(*name), false),
            [plural, name, "status"] => (None, *plural, Some(*name), true),
            _ => return None,
        };
        Some(ApiPath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace: namespace.map(str::to_owned),
            plural: plural.to_owned(),
            name: name.map(str::to_owned),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> (String, Option<String>, String, Option<String>, bool) {
        let p = ApiPath::parse(path).unwrap();
        (p.group, p.namespace, p.plural, p.name, p.status)
    }

    #[test]
    fn parses_every_shape() {
        let s = |x: &str| x.to_owned();
        assert_eq!(parse("/api/v1/namespaces"), (s(""), None, s("namespaces"), None, false));
        assert_eq!(
            parse("/api/v1/namespaces/bookinfo"),
            (s(""), None, s("namespaces"), Some(s("bookinfo")), false)
        );
        assert_eq!(
            parse("/api/v1/namespaces/bookinfo/status"),
            (s(""), None, s("namespaces"), Some(s("bookinfo")), true)
        );
        assert_eq!(
            parse("/api/v1/namespaces/b/pods"),
            (s(""), Some(s("b")), s("pods"), None, false)
        );
        assert_eq!(
            parse("/apis/argoproj.io/v1alpha1/namespaces/b/rollouts/r/status"),
            (s("argoproj.io"), Some(s("b")), s("rollouts"), Some(s("r")), true)
        );
        assert_eq!(
            parse("/apis/argoproj.io/v1alpha1/clusteranalysistemplates/t"),
            (s("argoproj.io"), None, s("clusteranalysistemplates"), Some(s("t")), false)
        );
        assert!(ApiPath::parse("/apis/x").is_none());
        assert!(ApiPath::parse("/api/v1/namespaces/a/b/c/d/e").is_none());
        assert!(ApiPath::parse("/version").is_none());
    }
}
