//! Resource types: how a kind is addressed (group, version, plural, scope) and found by name.

use std::collections::BTreeMap;

/// Whether objects of a type live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects have a namespace (Pods, Rollouts, …).
    Namespaced,
    /// Objects have none (Namespaces, ClusterAnalysisTemplates, …).
    Cluster,
}

/// One type of object, as an API server's discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: String,
    /// Preferred version (the one writes are stored as).
    pub version: String,
    /// Every version served for this type, preferred first (Istio serves three).
    pub versions: Vec<String>,
    /// Kind, e.g. `VirtualService`.
    pub kind: String,
    /// Lower-case plural used in paths, e.g. `virtualservices`.
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names the CLI accepts (`vs`).
    pub short_names: Vec<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects of this type carry a namespace.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// A resource type for a kind nobody registered: plural guessed the way
    /// Kubernetes' `UnsafeGuessKindToResource` does, scope namespaced.
    pub fn guess(api_version: &str, kind: &str) -> Self {
        let (group, version) = split_api_version(api_version);
        ResourceType {
            group: group.to_owned(),
            version: version.to_owned(),
            versions: vec![version.to_owned()],
            kind: kind.to_owned(),
            plural: guess_plural(kind),
            scope: Scope::Namespaced,
            short_names: Vec::new(),
        }
    }

    /// Path prefix of this type's collection, e.g. `/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match (self.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }
}

/// Splits `group/version` (or a bare core `version`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

fn guess_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
    {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// The resource types a server knows: built-in kinds plus any registered later (CRDs, or
/// kinds first seen in an applied manifest).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_group_kind: BTreeMap<(String, String), ResourceType>,
}

/// `(group, versions, kind, plural, scope, short names)` of one built-in kind.
type BuiltinType = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    Scope,
    &'static [&'static str],
);

/// Every kind weir knows out of the box.
const BUILTIN: &[BuiltinType] = {
    use Scope::{Cluster, Namespaced};
    const ISTIO: &[&str] = &["v1", "v1beta1", "v1alpha3"];
    &[
        ("", &["v1"], "Namespace", "namespaces", Cluster, &["ns"]),
        ("", &["v1"], "Pod", "pods", Namespaced, &["po"]),
        ("", &["v1"], "Service", "services", Namespaced, &["svc"]),
        ("", &["v1"], "ConfigMap", "configmaps", Namespaced, &["cm"]),
        ("", &["v1"], "Secret", "secrets", Namespaced, &[]),
        ("", &["v1"], "ServiceAccount", "serviceaccounts", Namespaced, &["sa"]),
        ("", &["v1"], "Endpoints", "endpoints", Namespaced, &["ep"]),
        ("", &["v1"], "Event", "events", Namespaced, &["ev"]),
        ("", &["v1"], "PersistentVolumeClaim", "persistentvolumeclaims", Namespaced, &["pvc"]),
        ("", &["v1"], "PersistentVolume", "persistentvolumes", Cluster, &["pv"]),
        ("", &["v1"], "Node", "nodes", Cluster, &["no"]),
        ("apps", &["v1"], "Deployment", "deployments", Namespaced, &["deploy"]),
        ("apps", &["v1"], "ReplicaSet", "replicasets", Namespaced, &["rs"]),
        ("apps", &["v1"], "StatefulSet", "statefulsets", Namespaced, &["sts"]),
        ("apps", &["v1"], "DaemonSet", "daemonsets", Namespaced, &["ds"]),
        ("batch", &["v1"], "Job", "jobs", Namespaced, &[]),
        ("batch", &["v1"], "CronJob", "cronjobs", Namespaced, &["cj"]),
        ("networking.k8s.io", &["v1"], "Ingress", "ingresses", Namespaced, &["ing"]),
        ("coordination.k8s.io", &["v1"], "Lease", "leases", Namespaced, &[]),
        ("policy", &["v1"], "PodDisruptionBudget", "poddisruptionbudgets", Namespaced, &["pdb"]),
        (
            "autoscaling",
            &["v2", "v1"],
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            Namespaced,
            &["hpa"],
        ),
        ("rbac.authorization.k8s.io", &["v1"], "Role", "roles", Namespaced, &[]),
        ("rbac.authorization.k8s.io", &["v1"], "RoleBinding", "rolebindings", Namespaced, &[]),
        ("rbac.authorization.k8s.io", &["v1"], "ClusterRole", "clusterroles", Cluster, &[]),
        (
            "rbac.authorization.k8s.io",
            &["v1"],
            "ClusterRoleBinding",
            "clusterrolebindings",
            Cluster,
            &[],
        ),
        (
            "apiextensions.k8s.io",
            &["v1"],
            "CustomResourceDefinition",
            "customresourcedefinitions",
            Cluster,
            &["crd", "crds"],
        ),
        ("argoproj.io", &["v1alpha1"], "Rollout", "rollouts", Namespaced, &["ro"]),
        (
            "argoproj.io",
            &["v1alpha1"],
            "AnalysisTemplate",
            "analysistemplates",
            Namespaced,
            &["at"],
        ),
        (
            "argoproj.io",
            &["v1alpha1"],
            "ClusterAnalysisTemplate",
            "clusteranalysistemplates",
            Cluster,
            &["cat"],
        ),
        ("argoproj.io", &["v1alpha1"], "AnalysisRun", "analysisruns", Namespaced, &["ar"]),
        ("argoproj.io", &["v1alpha1"], "Experiment", "experiments", Namespaced, &["exp"]),
        ("argoproj.io", &["v1alpha1"], "Application", "applications", Namespaced, &["app", "apps"]),
        (
            "argoproj.io",
            &["v1alpha1"],
            "AppProject",
            "appprojects",
            Namespaced,
            &["appproj", "appprojs"],
        ),
        (
            "argoproj.io",
            &["v1alpha1"],
            "ApplicationSet",
            "applicationsets",
            Namespaced,
            &["appset", "appsets"],
        ),
        ("networking.istio.io", ISTIO, "VirtualService", "virtualservices", Namespaced, &["vs"]),
        ("networking.istio.io", ISTIO, "DestinationRule", "destinationrules", Namespaced, &["dr"]),
        ("networking.istio.io", ISTIO, "Gateway", "gateways", Namespaced, &["gw"]),
        ("networking.istio.io", ISTIO, "ServiceEntry", "serviceentries", Namespaced, &["se"]),
        ("networking.istio.io", ISTIO, "Sidecar", "sidecars", Namespaced, &[]),
    ]
};

impl Registry {
    /// The built-in kinds: core Kubernetes, Argo Rollouts, Argo CD and Istio networking.
    pub fn builtin() -> Self {
        let mut registry = Registry::default();
        for (group, versions, kind, plural, scope, short_names) in BUILTIN {
            registry.insert(ResourceType {
                group: (*group).to_owned(),
                version: versions[0].to_owned(),
                versions: versions.iter().map(|v| (*v).to_owned()).collect(),
                kind: (*kind).to_owned(),
                plural: (*plural).to_owned(),
                scope: *scope,
                short_names: short_names.iter().map(|s| (*s).to_owned()).collect(),
            });
        }
        registry
    }

    /// Adds or replaces a type (keyed by group and kind).
    pub fn insert(&mut self, rt: ResourceType) {
        self.by_group_kind.insert((rt.group.clone(), rt.kind.clone()), rt);
    }

    /// Every known type.
    pub fn iter(&self) -> impl Iterator<Item = &ResourceType> {
        self.by_group_kind.values()
    }

    /// The type of an object with this `apiVersion` and `kind`. Unknown kinds get a guessed
    /// namespaced type; a known kind asked for in a version it does not serve is `None`.
    pub fn for_object(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = split_api_version(api_version);
        match self.by_group_kind.get(&(group.to_owned(), kind.to_owned())) {
            Some(rt) if rt.versions.iter().any(|v| v == version) => Some(rt.clone()),
            Some(_) => None,
            None => Some(ResourceType::guess(api_version, kind)),
        }
    }

    /// The type behind an API path segment `group/version/plural`.
    pub fn for_path(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.iter().find(|rt| {
            rt.group == group && rt.plural == plural && rt.versions.iter().any(|v| v == version)
        })
    }

    /// The type a user means on the command line: plural, singular, kind, or short name,
    /// any case, optionally qualified by group (`rollouts.argoproj.io`).
    pub fn for_name(&self, name: &str) -> Option<&ResourceType> {
        let lower = name.to_ascii_lowercase();
        let (resource, group) = match lower.split_once('.') {
            Some((resource, group)) => (resource, Some(group)),
            None => (lower.as_str(), None),
        };
        self.iter().find(|rt| {
            group.is_none_or(|g| rt.group == g)
                && (rt.plural == resource
                    || rt.kind.to_ascii_lowercase() == resource
                    || rt.short_names.iter().any(|s| s == resource))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_plurals_resolve() {
        let registry = Registry::builtin();
        for (name, kind) in [
            ("ro", "Rollout"),
            ("rollouts", "Rollout"),
            ("Rollout", "Rollout"),
            ("vs", "VirtualService"),
            ("dr", "DestinationRule"),
            ("app", "Application"),
            ("po", "Pod"),
            ("rollouts.argoproj.io", "Rollout"),
        ] {
            assert_eq!(registry.for_name(name).map(|rt| rt.kind.as_str()), Some(kind), "{name}");
        }
        assert!(registry.for_name("nosuchthing").is_none());
    }

    #[test]
    fn istio_types_are_served_in_three_versions() {
        let registry = Registry::builtin();
        for version in ["v1", "v1beta1", "v1alpha3"] {
            let rt = registry.for_object(&format!("networking.istio.io/{version}"), "Gateway");
            assert_eq!(rt.map(|rt| rt.plural), Some("gateways".to_owned()));
        }
        assert!(registry.for_object("networking.istio.io/v2", "Gateway").is_none());
    }

    #[test]
    fn unknown_kinds_get_a_guessed_plural() {
        assert_eq!(ResourceType::guess("x.io/v1", "Policy").plural, "policies");
        assert_eq!(ResourceType::guess("x.io/v1", "Ingress").plural, "ingresses");
        assert_eq!(ResourceType::guess("x.io/v1", "Gateway").plural, "gateways");
        assert_eq!(ResourceType::guess("x.io/v1", "Tenant").plural, "tenants");
    }
}
