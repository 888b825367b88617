//! Reads the Secrets a run's arguments name (`valueFrom.secretKeyRef`) from the run's
//! namespace, decoded, for [`weir_analysis::SecretSource`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use weir_analysis::secret_names;
use weir_cluster::{Cluster, Error, Registry};
use weir_model::rollouts::AnalysisRun;

/// Decoded Secret data by Secret name; a Secret that does not exist is left out (the engine
/// then reports it).
pub(crate) async fn read_secrets<C: Cluster>(
    cluster: &C,
    run: &AnalysisRun,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
    let mut out = BTreeMap::new();
    let args = run.spec.args.as_deref().unwrap_or_default();
    let names = secret_names(args);
    if names.is_empty() {
        return Ok(out);
    }
    let registry = Registry::builtin();
    let rt = registry.for_name("secrets").expect("Secret is a built-in resource type");
    let namespace = run.metadata.namespace.as_deref();
    for name in names {
        let object = match cluster.get(rt, namespace, name).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let Ok(secret) = object.to_typed::<Secret>() else {
            continue;
        };
        let mut data: BTreeMap<String, String> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        data.extend(secret.string_data.unwrap_or_default());
        out.insert(name.to_owned(), data);
    }
    Ok(out)
}
