//! Kubernetes-style API paths, parsed by hand so that `namespaces/{ns}/{plural}` and
//! `namespaces/{name}/{subresource}` are told apart exactly as the Kubernetes API server does
//! (a namespace's only subresources are `status` and `finalize`).

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
    /// The subresource after an item path (`status`, `scale`, `log`, …), if any.
    pub(crate) subresource: Option<String>,
}

/// The subresources of a namespace (`/api/v1/namespaces/{name}/{sub}`); anything else after a
/// namespace's name is a resource type inside it.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

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
        let (namespace, plural, name, subresource) = match rest {
            ["namespaces", name, sub] if NAMESPACE_SUBRESOURCES.contains(sub) => {
                (None, "namespaces", Some(*name), Some(*sub))
            }
            ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
            ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
            ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
            [plural] => (None, *plural, None, None),
            [plural, name] => (None, *plural, Some(*name), None),
            [plural, name, sub] => (None, *plural, Some(*name), Some(*sub)),
            _ => return None,
        };
        Some(ApiPath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace: namespace.map(str::to_owned),
            plural: plural.to_owned(),
            name: name.map(str::to_owned),
            subresource: subresource.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> (String, Option<String>, String, Option<String>, bool) {
        let p = ApiPath::parse(path).unwrap();
        let status = p.subresource.as_deref() == Some("status");
        (p.group, p.namespace, p.plural, p.name, status)
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
        assert!(ApiPath::parse("/apis/x/v1").is_none(), "discovery, not a resource");
        assert!(ApiPath::parse("/api/v1").is_none(), "discovery, not a resource");
        assert!(ApiPath::parse("/api/v1/namespaces/a/b/c/d/e").is_none());
        assert!(ApiPath::parse("/version").is_none());
    }

    #[test]
    fn parses_subresources() {
        let sub = |path: &str| ApiPath::parse(path).unwrap().subresource;
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(sub("/apis/apps/v1/namespaces/b/deployments/d/scale"), s("scale"));
        assert_eq!(sub("/apis/argoproj.io/v1alpha1/namespaces/b/rollouts/r/scale"), s("scale"));
        assert_eq!(sub("/api/v1/namespaces/b/pods/p/log"), s("log"));
        assert_eq!(sub("/api/v1/namespaces/b/finalize"), s("finalize"));
        assert_eq!(sub("/apis/x.io/v1/widgets/w/scale"), s("scale"));
        assert_eq!(sub("/apis/apps/v1/namespaces/b/deployments/d"), None);
        // `namespaces/b/scale` lists a type named "scale" in namespace b, as in Kubernetes.
        let p = ApiPath::parse("/api/v1/namespaces/b/scale").unwrap();
        assert_eq!(
            (p.namespace.as_deref(), p.plural.as_str(), p.subresource),
            (Some("b"), "scale", None)
        );
    }
}
