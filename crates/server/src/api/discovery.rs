//! Kubernetes API discovery, built from the registry of served types: the legacy documents
//! (`/api` APIVersions, `/apis` APIGroupList, `/apis/G` APIGroup, `/api/v1` and `/apis/G/V`
//! APIResourceList) and the aggregated `apidiscovery.k8s.io/v2` APIGroupDiscoveryList that
//! kubectl 1.37 asks `/api` and `/apis` for first.
//!
//! Pure: the registry and the facts CustomResourceDefinitions declare (singular name,
//! categories, `status` and `scale` subresources) come in as arguments. The document shapes
//! follow `k8s.io/apimachinery/pkg/apis/meta/v1/types.go` and
//! `k8s.io/api/apidiscovery/v2/types.go`; verbs name only what weir's API serves.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Value, json};
use weir_cluster::{Registry, ResourceType};

/// The media type parameters of aggregated discovery (`Accept` asks for them, and the
/// `Content-Type` of the answer names them).
pub(crate) const AGGREGATED_MEDIA_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Verbs weir serves on every type: collection GET (list and `watch=true`) and POST, item GET,
/// PUT, PATCH and DELETE. (No `deletecollection`: weir does not serve DELETE on collections.)
const VERBS: [&str; 7] = ["create", "delete", "get", "list", "patch", "update", "watch"];

/// Verbs of the `status` and `scale` subresources.
const SUBRESOURCE_VERBS: [&str; 3] = ["get", "patch", "update"];

/// Built-in Kubernetes kinds in the `all` category (what `kubectl get all` lists; from the
/// discovery of a Kubernetes 1.36 API server).
const CATEGORY_ALL: [(&str, &str); 9] = [
    ("", "Pod"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
];

/// Built-in Kubernetes kinds with a `status` subresource (from the OpenAPI document's
/// `…/{name}/status` paths).
const BUILTIN_STATUS: [(&str, &str); 16] = [
    ("", "Namespace"),
    ("", "Pod"),
    ("", "Service"),
    ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"),
    ("", "Node"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
];

/// Built-in kinds whose `scale` subresource weir serves (see `api::scale`).
pub(crate) const BUILTIN_SCALE: [(&str, &str); 2] =
    [("apps", "Deployment"), ("apps", "ReplicaSet")];

/// Where a custom resource keeps what its `/scale` shows (a CRD's `subresources.scale`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalePaths {
    /// e.g. `.spec.replicas`.
    pub(crate) spec_replicas: String,
    /// e.g. `.status.replicas` (Rollouts: `.status.HPAReplicas`).
    pub(crate) status_replicas: String,
    /// e.g. `.status.selector`, when declared.
    pub(crate) label_selector: Option<String>,
}

/// What a CustomResourceDefinition declares about its kind beyond the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KindFacts {
    /// `spec.names.singular`.
    pub(crate) singular: Option<String>,
    /// `spec.names.categories`.
    pub(crate) categories: Vec<String>,
    /// Versions declaring `subresources.status`.
    pub(crate) status_versions: Vec<String>,
    /// `subresources.scale` per version.
    pub(crate) scale: BTreeMap<String, ScalePaths>,
    /// Every version the CRD declares, in its order.
    pub(crate) versions: Vec<String>,
}

impl KindFacts {
    /// The version whose subresources describe `version`: itself when the CRD declares it,
    /// else the CRD's first (weir serves Istio's kinds in v1 too, which older CRDs lack).
    pub(crate) fn declared<'a>(&'a self, version: &'a str) -> &'a str {
        if self.versions.iter().any(|v| v == version) {
            version
        } else {
            self.versions.first().map_or(version, String::as_str)
        }
    }

    /// Whether `version` has a `status` subresource.
    pub(crate) fn has_status(&self, version: &str) -> bool {
        let declared = self.declared(version);
        self.status_versions.iter().any(|v| v == declared)
    }

    /// The `scale` subresource of `version`, if any.
    pub(crate) fn scale_of(&self, version: &str) -> Option<&ScalePaths> {
        self.scale.get(self.declared(version))
    }
}

/// Facts by `(group, kind)`.
pub(crate) type Facts = BTreeMap<(String, String), KindFacts>;

/// Reads the facts of one CRD (JSON); `None` when it lacks a group or kind.
pub(crate) fn facts_from_crd(crd: &Value) -> Option<((String, String), KindFacts)> {
    let spec = crd.get("spec")?;
    let group = spec.get("group")?.as_str()?.to_owned();
    let names = spec.get("names")?;
    let kind = names.get("kind")?.as_str()?.to_owned();
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut facts = KindFacts {
        singular: names.get("singular").and_then(Value::as_str).map(str::to_owned),
        categories: strings(names.get("categories")),
        ..KindFacts::default()
    };
    let versions = spec.get("versions").and_then(Value::as_array).into_iter().flatten();
    for version in versions {
        let Some(name) = version.get("name").and_then(Value::as_str) else { continue };
        facts.versions.push(name.to_owned());
        let Some(subresources) = version.get("subresources") else { continue };
        if subresources.get("status").is_some() {
            facts.status_versions.push(name.to_owned());
        }
        if let Some(scale) = subresources.get("scale") {
            let path = |key: &str| scale.get(key).and_then(Value::as_str).map(str::to_owned);
            if let (Some(spec_replicas), Some(status_replicas)) =
                (path("specReplicasPath"), path("statusReplicasPath"))
            {
                let paths = ScalePaths {
                    spec_replicas,
                    status_replicas,
                    label_selector: path("labelSelectorPath"),
                };
                facts.scale.insert(name.to_owned(), paths);
            }
        }
    }
    Some(((group, kind), facts))
}

/// Facts of many CRDs; a later CRD of the same kind wins (pass the built-in ones first and
/// the stored ones after).
pub(crate) fn facts_from_crds<'a>(crds: impl IntoIterator<Item = &'a Value>) -> Facts {
    crds.into_iter().filter_map(facts_from_crd).collect()
}

/// Orders versions as Kubernetes prefers them: GA before beta before alpha, higher numbers
/// first; anything else after, alphabetically (`k8s.io/apimachinery/pkg/version.CompareKubeAwareVersionStrings`).
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    fn rank(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((2, major, 0));
        }
        let (level, number) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (0, n)
        } else {
            return None;
        };
        let minor = if number.is_empty() { 0 } else { number.parse().ok()? };
        Some((level, major, minor))
    }
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// One served group: its name and versions, preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// `""` for the core group.
    pub(crate) name: String,
    /// Served versions, preferred first.
    pub(crate) versions: Vec<String>,
}

/// Every served group (the core group first, then by name) with its versions; the preferred
/// version is the most preferred one any of its kinds stores.
pub(crate) fn groups(registry: &Registry) -> Vec<Group> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for rt in registry.iter() {
        let versions = by_name.entry(rt.group.as_str()).or_default();
        for v in &rt.versions {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    by_name
        .into_iter()
        .filter(|(_, versions)| !versions.is_empty())
        .map(|(name, mut versions)| {
            versions.sort_by(|a, b| compare_versions(a, b));
            Group { name: name.to_owned(), versions }
        })
        .collect()
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }
}

fn version_entry(group: &str, version: &str) -> Value {
    json!({ "groupVersion": group_version(group, version), "version": version })
}

/// The legacy document of a group (`groups` never yields one without versions).
fn group_document(group: &Group) -> Value {
    let preferred = group.versions.first().map(String::as_str).unwrap_or_default();
    json!({
        "name": group.name,
        "versions": group.versions.iter().map(|v| version_entry(&group.name, v)).collect::<Vec<_>>(),
        "preferredVersion": version_entry(&group.name, preferred),
    })
}

/// `/api`: the core group's versions.
pub(crate) fn api_versions(server_address: Option<&str>) -> Value {
    let addresses: Vec<Value> = server_address
        .map(|a| json!({ "clientCIDR": "0.0.0.0/0", "serverAddress": a }))
        .into_iter()
        .collect();
    json!({ "kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": addresses })
}

/// `/apis`: every named group.
pub(crate) fn api_group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> =
        groups(registry).iter().filter(|g| !g.name.is_empty()).map(group_document).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/G`; `None` when no kind of that group is served.
pub(crate) fn api_group(registry: &Registry, name: &str) -> Option<Value> {
    let group = groups(registry).into_iter().find(|g| g.name == name && !name.is_empty())?;
    let mut document = group_document(&group);
    document["kind"] = json!("APIGroup");
    document["apiVersion"] = json!("v1");
    Some(document)
}

/// What discovery says of one type in one version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Described {
    plural: String,
    singular: String,
    kind: String,
    namespaced: bool,
    short_names: Vec<String>,
    categories: Vec<String>,
    status: bool,
    scale: bool,
    log: bool,
}

fn describe(rt: &ResourceType, version: &str, facts: &Facts) -> Described {
    let key = (rt.group.clone(), rt.kind.clone());
    let fact = facts.get(&key);
    let builtin =
        |table: &[(&str, &str)]| table.iter().any(|(g, k)| *g == rt.group && *k == rt.kind);
    let mut categories = fact.map(|f| f.categories.clone()).unwrap_or_default();
    if builtin(&CATEGORY_ALL) && !categories.iter().any(|c| c == "all") {
        categories.insert(0, "all".to_owned());
    }
    Described {
        plural: rt.plural.clone(),
        singular: fact
            .and_then(|f| f.singular.clone())
            .unwrap_or_else(|| rt.kind.to_ascii_lowercase()),
        kind: rt.kind.clone(),
        namespaced: rt.namespaced(),
        short_names: rt.short_names.clone(),
        categories,
        status: builtin(&BUILTIN_STATUS) || fact.is_some_and(|f| f.has_status(version)),
        scale: builtin(&BUILTIN_SCALE) || fact.is_some_and(|f| f.scale_of(version).is_some()),
        log: rt.group.is_empty() && rt.kind == "Pod",
    }
}

/// The types served in `group/version`, by plural.
fn served_in<'a>(registry: &'a Registry, group: &str, version: &str) -> Vec<&'a ResourceType> {
    let mut types: Vec<&ResourceType> = registry
        .iter()
        .filter(|rt| rt.group == group && rt.versions.iter().any(|v| v == version))
        .collect();
    types.sort_by(|a, b| a.plural.cmp(&b.plural));
    types
}

/// `/api/v1` or `/apis/G/V`: an APIResourceList; `None` when nothing is served there.
pub(crate) fn api_resource_list(
    registry: &Registry,
    facts: &Facts,
    group: &str,
    version: &str,
) -> Option<Value> {
    let types = served_in(registry, group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in types {
        let d = describe(rt, version, facts);
        let mut main = json!({
            "name": d.plural, "singularName": d.singular, "namespaced": d.namespaced,
            "kind": d.kind, "verbs": VERBS,
        });
        if !d.short_names.is_empty() {
            main["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            main["categories"] = json!(d.categories);
        }
        resources.push(main);
        let sub = |name: &str, kind: &str, verbs: &[&str]| {
            json!({
                "name": format!("{}/{name}", d.plural), "singularName": "",
                "namespaced": d.namespaced, "kind": kind, "verbs": verbs,
            })
        };
        if d.log {
            resources.push(sub("log", "Pod", &["get"]));
        }
        if d.scale {
            let mut scale = sub("scale", "Scale", &SUBRESOURCE_VERBS);
            scale["group"] = json!("autoscaling");
            scale["version"] = json!("v1");
            resources.push(scale);
        }
        if d.status {
            resources.push(sub("status", &d.kind, &SUBRESOURCE_VERBS));
        }
    }
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": group_version(group, version), "resources": resources,
    }))
}

fn discovery_resource(rt: &ResourceType, version: &str, facts: &Facts) -> Value {
    let d = describe(rt, version, facts);
    let kind_of = |group: &str, version: &str, kind: &str| json!({ "group": group, "version": version, "kind": kind });
    let mut subresources = Vec::new();
    let sub = |name: &str, kind: Value, verbs: &[&str]| json!({ "subresource": name, "responseKind": kind, "verbs": verbs });
    if d.log {
        subresources.push(sub("log", kind_of("", "v1", "Pod"), &["get"]));
    }
    if d.scale {
        subresources.push(sub("scale", kind_of("autoscaling", "v1", "Scale"), &SUBRESOURCE_VERBS));
    }
    if d.status {
        subresources.push(sub("status", kind_of(&rt.group, version, &d.kind), &SUBRESOURCE_VERBS));
    }
    let mut resource = json!({
        "resource": d.plural,
        "responseKind": kind_of(&rt.group, version, &d.kind),
        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": d.singular,
        "verbs": VERBS,
    });
    if !d.short_names.is_empty() {
        resource["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        resource["categories"] = json!(d.categories);
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
}

/// The aggregated discovery document of `/api` (`core`) or `/apis` (every named group).
pub(crate) fn aggregated(registry: &Registry, facts: &Facts, core: bool) -> Value {
    let items: Vec<Value> = groups(registry)
        .into_iter()
        .filter(|g| g.name.is_empty() == core)
        .map(|group| {
            let versions: Vec<Value> = group
                .versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = served_in(registry, &group.name, version)
                        .into_iter()
                        .map(|rt| discovery_resource(rt, version, facts))
                        .collect();
                    json!({ "version": version, "resources": resources, "freshness": "Current" })
                })
                .collect();
            let mut metadata = json!({ "creationTimestamp": null });
            if !group.name.is_empty() {
                metadata["name"] = json!(group.name);
            }
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {}, "items": items,
    })
}

/// Whether an `Accept` header asks for aggregated discovery v2 (client-go lists it first,
/// with `v2beta1` and plain JSON as fallbacks).
pub(crate) fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let mut parts = media.split(';').map(str::trim);
        let Some(base) = parts.next() else { return false };
        let params: Vec<&str> = parts.collect();
        base.eq_ignore_ascii_case("application/json")
            && ["g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"]
                .iter()
                .all(|p| params.contains(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_facts() -> Facts {
        let crds: Vec<Value> = serde_json::from_str(weir_apimachinery::data::BUILTIN_CRDS).unwrap();
        facts_from_crds(&crds)
    }

    #[test]
    fn versions_sort_as_kubernetes_prefers_them() {
        // Expected order from the doc comment of CompareKubeAwareVersionStrings.
        let mut versions = vec![
            "foo1",
            "v1alpha3",
            "v11alpha2",
            "v1beta1",
            "v2",
            "v1",
            "v12alpha1",
            "v10beta3",
            "v3beta1",
            "foo10",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            [
                "v2",
                "v1",
                "v10beta3",
                "v3beta1",
                "v1beta1",
                "v12alpha1",
                "v11alpha2",
                "v1alpha3",
                "foo1",
                "foo10"
            ]
        );
    }

    #[test]
    fn groups_prefer_the_stored_version() {
        let registry = Registry::builtin();
        let groups = groups(&registry);
        let istio = groups.iter().find(|g| g.name == "networking.istio.io").unwrap();
        assert_eq!(istio.versions, ["v1", "v1beta1", "v1alpha3"]);
        let autoscaling = groups.iter().find(|g| g.name == "autoscaling").unwrap();
        assert_eq!(autoscaling.versions, ["v2", "v1"]);
        assert_eq!(groups[0].name, "", "the core group first");
        let list = api_group_list(&registry);
        assert!(list["groups"].as_array().unwrap().iter().all(|g| g["name"] != ""));
        let apps = api_group(&registry, "apps").unwrap();
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        assert!(api_group(&registry, "nosuch.io").is_none());
    }

    fn resource<'a>(list: &'a Value, name: &str) -> &'a Value {
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {list}"))
    }

    #[test]
    fn resource_lists_carry_names_categories_and_subresources() {
        let registry = Registry::builtin();
        let facts = builtin_facts();
        let core = api_resource_list(&registry, &facts, "", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        let pods = resource(&core, "pods");
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["namespaced"], true);
        assert_eq!(resource(&core, "pods/log")["verbs"], json!(["get"]));
        assert_eq!(resource(&core, "namespaces")["namespaced"], false);
        assert!(resource(&core, "configmaps").get("categories").is_none());

        let apps = api_resource_list(&registry, &facts, "apps", "v1").unwrap();
        let scale = resource(&apps, "deployments/scale");
        assert_eq!(
            (&scale["group"], &scale["version"], &scale["kind"]),
            (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
        );
        assert_eq!(resource(&apps, "replicasets/status")["kind"], "ReplicaSet");

        let argo = api_resource_list(&registry, &facts, "argoproj.io", "v1alpha1").unwrap();
        assert_eq!(resource(&argo, "rollouts")["shortNames"], json!(["ro"]));
        resource(&argo, "rollouts/scale");
        resource(&argo, "rollouts/status");
        // Argo's CRDs declare no status subresource for AnalysisRuns (fixtures' crds/).
        let names: Vec<&Value> =
            argo["resources"].as_array().unwrap().iter().map(|r| &r["name"]).collect();
        assert!(!names.contains(&&json!("analysisruns/status")));

        // Istio: every served version, categories from the CRD.
        for version in ["v1", "v1beta1", "v1alpha3"] {
            let istio =
                api_resource_list(&registry, &facts, "networking.istio.io", version).unwrap();
            let vs = resource(&istio, "virtualservices");
            assert_eq!(vs["categories"], json!(["istio-io", "networking-istio-io"]));
            assert_eq!(vs["singularName"], "virtualservice");
            // The fixtures' Istio CRD predates v1: v1 is described as its first version.
            resource(&istio, "virtualservices/status");
        }
        assert!(api_resource_list(&registry, &facts, "apps", "v1beta1").is_none());
        for resource in core["resources"].as_array().unwrap() {
            for verb in resource["verbs"].as_array().unwrap() {
                assert_ne!(verb, "deletecollection", "weir serves no collection DELETE");
            }
        }
    }

    #[test]
    fn runtime_crds_appear_with_their_facts() {
        let mut registry = Registry::builtin();
        registry.insert(ResourceType {
            group: "example.com".into(),
            version: "v1".into(),
            versions: vec!["v1".into()],
            kind: "Widget".into(),
            plural: "widgets".into(),
            scope: weir_cluster::Scope::Namespaced,
            short_names: vec!["wd".into()],
        });
        let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "categories": ["all"]},
            "versions": [{"name": "v1", "served": true, "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}}}]}});
        let facts = facts_from_crds([&crd]);
        let list = api_resource_list(&registry, &facts, "example.com", "v1").unwrap();
        assert_eq!(resource(&list, "widgets")["categories"], json!(["all"]));
        resource(&list, "widgets/scale");
        resource(&list, "widgets/status");
        let paths = &facts[&("example.com".to_owned(), "Widget".to_owned())].scale["v1"];
        assert_eq!(paths.spec_replicas, ".spec.size");
        assert_eq!(paths.label_selector, None);
        assert!(
            api_group_list(&registry)["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "example.com")
        );
    }

    #[test]
    fn aggregated_discovery_splits_core_and_groups() {
        let registry = Registry::builtin();
        let facts = builtin_facts();
        let core = aggregated(&registry, &facts, true);
        assert_eq!(core["kind"], "APIGroupDiscoveryList");
        let items = core["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v1 = &items[0]["versions"][0];
        assert_eq!(v1["version"], "v1");
        let pods =
            v1["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pods").unwrap();
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["responseKind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        assert!(pods["subresources"].as_array().unwrap().iter().any(|s| s["subresource"] == "log"));

        let groups = aggregated(&registry, &facts, false);
        let istio = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "networking.istio.io")
            .unwrap();
        let versions: Vec<&Value> =
            istio["versions"].as_array().unwrap().iter().map(|v| &v["version"]).collect();
        assert_eq!(versions, [&json!("v1"), &json!("v1beta1"), &json!("v1alpha3")]);
        let vs = istio["versions"][2]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "virtualservices")
            .unwrap();
        assert_eq!(vs["responseKind"]["version"], "v1alpha3");
    }

    #[test]
    fn accept_header_selects_aggregated_discovery() {
        // What kubectl 1.37 sends (client-go discovery.AcceptV2 … AcceptV1).
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(kubectl));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
        assert!(!wants_aggregated(""));
    }
}
