//! Metadata weir's own platform adds to objects on its own, as a kubelet or a cluster's
//! controllers would, and which therefore never makes an object OutOfSync: the node agent's
//! finalizer on the Pods it runs ([`NODE_AGENT_FINALIZER`], `weir_node::FINALIZER`) and the
//! host-port map it writes on them ([`weir_cluster::HOST_PORTS_ANNOTATION`]). Argo CD ignores
//! what a cluster sets by itself the same way (status, server-set metadata, defaults); these
//! keys are removed from both sides before comparing, like its default normalizations.

use serde_json::Value;

/// The finalizer the node agent puts on each Pod it runs (`weir_node::FINALIZER`).
pub const NODE_AGENT_FINALIZER: &str = "weir.dev/node-agent";

/// Finalizers only the platform sets.
const PLATFORM_FINALIZERS: &[&str] = &[NODE_AGENT_FINALIZER];

/// Annotations only the platform sets.
const PLATFORM_ANNOTATIONS: &[&str] = &[weir_cluster::HOST_PORTS_ANNOTATION];

/// Removes the platform's own finalizers and annotations from `obj` (and the lists or maps
/// they leave empty).
pub fn remove_platform_metadata(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if let Some(finalizers) = meta.get_mut("finalizers").and_then(Value::as_array_mut) {
        let before = finalizers.len();
        finalizers.retain(|f| f.as_str().is_none_or(|f| !PLATFORM_FINALIZERS.contains(&f)));
        if finalizers.is_empty() && before > 0 {
            meta.remove("finalizers");
        }
    }
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        let before = annotations.len();
        annotations.retain(|key, _| !PLATFORM_ANNOTATIONS.contains(&key.as_str()));
        if annotations.is_empty() && before > 0 {
            meta.remove("annotations");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_platforms_own_keys_go() {
        let cases = [
            // (live metadata, expected metadata)
            (
                json!({"finalizers": ["example.com/audit", NODE_AGENT_FINALIZER],
                    "annotations": {"team": "web", "weir.dev/host-ports": "{}"}}),
                json!({"finalizers": ["example.com/audit"], "annotations": {"team": "web"}}),
            ),
            (
                json!({"finalizers": [NODE_AGENT_FINALIZER], "annotations": {"weir.dev/host-ports": "{}"}}),
                json!({}),
            ),
            // Empty lists and maps the user wrote stay as written.
            (
                json!({"finalizers": [], "annotations": {}}),
                json!({"finalizers": [], "annotations": {}}),
            ),
            (json!({"finalizers": ["weir.dev/other"]}), json!({"finalizers": ["weir.dev/other"]})),
        ];
        for (meta, expected) in cases {
            let mut obj = json!({"kind": "Pod", "metadata": meta});
            remove_platform_metadata(&mut obj);
            assert_eq!(obj["metadata"], expected, "{meta}");
        }
    }
}
