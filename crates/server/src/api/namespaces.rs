//! Namespaces as the API server enforces them on create (the `NamespaceLifecycle` admission
//! plugin): a namespaced object can only be created in a namespace that exists (404
//! `namespaces "x" not found`) and is not being deleted (403 Forbidden).
//!
//! Enforced here, on the API, not in the store: embedded controllers write where their
//! manifests say (the Application controller's `CreateNamespace=true` creates the namespace
//! first, as on a cluster, and objects without it land in an implicit namespace).

use weir_cluster::{Cluster, Error, Registry, ResourceType, Result};

/// Refuses a create of the `rt` object `name` in `namespace` when the namespace is missing
/// or terminating.
pub(crate) async fn admit_create<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<()> {
    let Some(namespace) = namespace.filter(|ns| rt.namespaced() && !ns.is_empty()) else {
        return Ok(());
    };
    let namespaces = Registry::builtin()
        .for_name("namespaces")
        .cloned()
        .ok_or_else(|| Error::Internal("the Namespace type is not registered".to_owned()))?;
    let found = cluster.get(&namespaces, None, namespace).await?;
    if found.metadata.deletion_timestamp.is_some() {
        return Err(Error::Forbidden(format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} \
             because it is being terminated",
            rt.plural,
        )));
    }
    Ok(())
}
