//! The CustomResourceDefinitions `weir install` puts in a cluster: Argo Rollouts' and Argo CD's
//! own CRDs as embedded in `weir-apimachinery` (so schema-compatible with Argo by construction),
//! limited to the kinds weir's controllers read or write.

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The CRDs weir manages, by name: the Rollouts kinds, then the Argo CD kinds. Istio's and the
/// Gateway API's CRDs belong to those installs and are never created by weir.
pub(crate) const MANAGED_CRDS: &[&str] = &[
    "rollouts.argoproj.io",
    "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io",
    "analysisruns.argoproj.io",
    "experiments.argoproj.io",
    "applications.argoproj.io",
    "appprojects.argoproj.io",
];

/// The managed CRDs from the embedded set, in [`MANAGED_CRDS`] order.
pub(crate) fn managed_crds() -> Result<Vec<Value>> {
    let all: Vec<Value> = serde_json::from_str(weir_apimachinery::data::BUILTIN_CRDS)
        .context("the embedded CRDs are not a JSON array")?;
    MANAGED_CRDS
        .iter()
        .map(|name| {
            let found = all.iter().find(|crd| crd_name(crd) == Some(name));
            match found {
                Some(crd) => Ok(crd.clone()),
                None => bail!("the embedded CRDs lack {name}"),
            }
        })
        .collect()
}

fn crd_name(crd: &Value) -> Option<&str> {
    crd.pointer("/metadata/name").and_then(Value::as_str)
}

/// The embedded (weir's) version of the managed CRD `name`, if it is one.
pub(crate) fn managed_crd(name: &str) -> Option<Value> {
    managed_crds().ok()?.into_iter().find(|crd| crd_name(crd) == Some(name))
}

/// The fields weir's CRD declares that a CRD found in a cluster does not, as dotted paths
/// (`status.canary.weights`), for the version weir writes (its storage version, compared with
/// the same version in the cluster's CRD). An older Argo CRD lacks fields newer Argo (and weir)
/// write; the API server prunes them from every write, so the controllers lose what they
/// record there. Under a node that preserves unknown fields nothing is missing. A cluster CRD
/// without that version at all is reported as the version's name.
pub(crate) fn missing_fields(installed: &Value, ours: &Value) -> Vec<String> {
    let Some((version, our_schema)) = storage_schema(ours) else {
        return Vec::new();
    };
    let their_schema = installed
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"));
    let Some(their_schema) = their_schema else {
        return vec![format!("version {version}")];
    };
    let mut missing = Vec::new();
    missing_under(their_schema, our_schema, "", &mut missing);
    missing
}

fn storage_schema(crd: &Value) -> Option<(&str, &Value)> {
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let storage = versions.iter().find(|v| v.get("storage") == Some(&Value::Bool(true)))?;
    Some((storage.get("name")?.as_str()?, storage.pointer("/schema/openAPIV3Schema")?))
}

fn missing_under(theirs: &Value, ours: &Value, path: &str, missing: &mut Vec<String>) {
    if theirs.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    if let (Some(their_items), Some(our_items)) = (theirs.get("items"), ours.get("items")) {
        missing_under(their_items, our_items, &format!("{path}[]"), missing);
    }
    let Some(our_properties) = ours.get("properties").and_then(Value::as_object) else {
        return;
    };
    let their_properties = theirs.get("properties").and_then(Value::as_object);
    for (name, our_field) in our_properties {
        let field_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        match their_properties.and_then(|p| p.get(name)) {
            Some(their_field) => missing_under(their_field, our_field, &field_path, missing),
            None => missing.push(field_path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every managed CRD is found, is a v1 CRD, and its plural/group match its name (the
    /// rule the API server enforces: `<plural>.<group>`).
    #[test]
    fn every_managed_crd_is_embedded_and_well_named() {
        let crds = managed_crds().unwrap();
        assert_eq!(crds.len(), MANAGED_CRDS.len());
        for (crd, name) in crds.iter().zip(MANAGED_CRDS) {
            assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1", "{name}");
            assert_eq!(crd["kind"], "CustomResourceDefinition", "{name}");
            let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
            let group = crd["spec"]["group"].as_str().unwrap();
            assert_eq!(format!("{plural}.{group}"), *name);
        }
    }

    /// The embedded Rollout CRD with fields taken out, as an older Argo release's would be.
    fn older_rollout_crd(remove: &[&str]) -> Value {
        let mut crd = managed_crd("rollouts.argoproj.io").unwrap();
        let versions = crd["spec"]["versions"].as_array_mut().unwrap();
        let schema = &mut versions[0]["schema"]["openAPIV3Schema"];
        for pointer in remove {
            let (parent, name) = pointer.rsplit_once('/').unwrap();
            schema.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(name).unwrap();
        }
        crd
    }

    #[test]
    fn an_older_crd_is_missing_the_fields_it_lacks_and_only_those() {
        let ours = managed_crd("rollouts.argoproj.io").unwrap();
        assert_eq!(missing_fields(&ours, &ours), Vec::<String>::new());
        let older = older_rollout_crd(&[
            "/properties/status/properties/canary/properties/weights",
            "/properties/spec/properties/rollbackWindow",
        ]);
        let mut missing = missing_fields(&older, &ours);
        missing.sort();
        assert_eq!(missing, ["spec.rollbackWindow", "status.canary.weights"]);
    }

    #[test]
    fn a_crd_that_preserves_unknown_fields_or_lacks_the_version_says_so() {
        let ours = managed_crd("rollouts.argoproj.io").unwrap();
        let mut open = older_rollout_crd(&["/properties/status/properties/canary"]);
        open["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] =
            Value::Bool(true);
        assert_eq!(missing_fields(&open, &ours), Vec::<String>::new());
        let mut renamed = ours.clone();
        renamed["spec"]["versions"][0]["name"] = Value::from("v1alpha0");
        assert_eq!(missing_fields(&renamed, &ours), ["version v1alpha1"]);
    }
}
