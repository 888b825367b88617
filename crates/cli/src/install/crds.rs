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
}
