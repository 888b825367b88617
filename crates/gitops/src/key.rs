//! [`ResourceKey`]: how Argo CD names a managed resource (group, kind, namespace, name), in
//! health causes, diffs and sync results.

use serde_json::Value;

use crate::json;

/// The identity of a managed resource, without its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResourceKey {
    /// API group, "" for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, "" for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ResourceKey {
    /// A key from its parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ResourceKey {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The key of an object given as JSON.
    pub fn of(obj: &Value) -> Self {
        ResourceKey::new(
            json::group_of(json::str_at(obj, &["apiVersion"]).unwrap_or("")),
            json::str_at(obj, &["kind"]).unwrap_or(""),
            json::str_at(obj, &["metadata", "namespace"]).unwrap_or(""),
            json::str_at(obj, &["metadata", "name"]).unwrap_or(""),
        )
    }
}

/// `<group>/<Kind>:<namespace>/<name>`, with the group and namespace parts left out when empty
/// (Argo CD's `Caused by` and log format).
impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{}:", self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}
