//! Service host names as Kubernetes DNS and Istio resolve them.

/// `name.namespace.svc.cluster.local`.
pub fn service_fqdn(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// Every name a pod may use for a Service: `reviews`, `reviews.bookinfo`,
/// `reviews.bookinfo.svc`, `reviews.bookinfo.svc.cluster.local`.
pub fn service_hosts(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_owned(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        service_fqdn(name, namespace),
    ]
}

/// Resolves a host written in an Istio object of `namespace` to a Service `(name, namespace)`:
/// a short name is the Service of that namespace; `name.ns` and the `.svc[.cluster.local]`
/// forms name the namespace. Anything else (an external host) is `None`.
pub(crate) fn resolve_service_host(host: &str, namespace: &str) -> Option<(String, String)> {
    let host = host.trim_end_matches('.');
    let host = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    let mut parts = host.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, None) if !name.is_empty() => {
            Some((name.to_owned(), namespace.to_owned()))
        }
        (Some(name), Some(ns), None) if !name.is_empty() && !ns.is_empty() => {
            Some((name.to_owned(), ns.to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_resolve_like_kubernetes_dns() {
        let svc = |n: &str, ns: &str| Some((n.to_owned(), ns.to_owned()));
        assert_eq!(resolve_service_host("reviews", "bookinfo"), svc("reviews", "bookinfo"));
        assert_eq!(resolve_service_host("reviews.other", "bookinfo"), svc("reviews", "other"));
        assert_eq!(
            resolve_service_host("reviews.other.svc.cluster.local", "x"),
            svc("reviews", "other")
        );
        assert_eq!(resolve_service_host("bookinfo.tetrate.com", "bookinfo"), None);
    }
}
