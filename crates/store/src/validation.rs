//! The API server's generic object validation, applied to every create, update, patch and
//! apply of the main resource (by kubectl and by the controllers alike): names and namespaces
//! (`ValidateObjectMeta`: DNS-1123 subdomain for most kinds, DNS-1123 label for Namespaces,
//! DNS-1035 label for Services), label keys and values (`ValidateLabels`), annotation keys
//! and their total size (`ValidateAnnotations`), and non-negative `spec.replicas` of the
//! workload kinds. Every problem is reported (a 422 `Status` with `details.causes`) with the
//! API server's messages; nothing is stored.

use weir_cluster::validation::{
    TOTAL_ANNOTATION_SIZE_LIMIT, dns1035_label, dns1123_label, dns1123_subdomain, go_quote,
    label_value, qualified_name,
};
use weir_cluster::{Error, FieldError, Object, ResourceType, Result};

/// The name rule of a kind, with the message its failures carry.
pub(crate) fn name_problems(rt: &ResourceType, name: &str) -> Vec<String> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => dns1123_label(name),
        ("", "Service") => dns1035_label(name),
        _ => dns1123_subdomain(name),
    }
}

/// The problems of a (non-empty) name as causes on `metadata.name`.
pub(crate) fn name_causes(rt: &ResourceType, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return Vec::new();
    }
    name_problems(rt, name).iter().map(|m| invalid("metadata.name", name, m)).collect()
}

/// Every generic problem of `obj` (of type `rt`); `Ok` when there is none.
pub(crate) fn validate_object(rt: &ResourceType, obj: &Object) -> Result<()> {
    let causes = problems(rt, obj);
    if causes.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid { kind: rt.kind.clone(), name: obj.name().to_owned(), causes })
}

fn invalid(field: &str, value: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: format!("Invalid value: {}: {message}", go_quote(value)),
    }
}

fn problems(rt: &ResourceType, obj: &Object) -> Vec<FieldError> {
    let mut causes = name_causes(rt, obj.name());
    if let Some(ns) = obj.namespace().filter(|ns| !ns.is_empty() && rt.namespaced()) {
        for m in dns1123_label(ns) {
            causes.push(invalid("metadata.namespace", ns, &m));
        }
    }
    for (key, value) in obj.metadata.labels.iter().flatten() {
        for m in qualified_name(key) {
            causes.push(invalid("metadata.labels", key, &m));
        }
        for m in label_value(value) {
            causes.push(invalid("metadata.labels", value, &m));
        }
    }
    let mut total = 0usize;
    for (key, value) in obj.metadata.annotations.iter().flatten() {
        for m in qualified_name(&key.to_lowercase()) {
            causes.push(invalid("metadata.annotations", key, &m));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        causes.push(FieldError {
            field: "metadata.annotations".to_owned(),
            message: format!("Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    if has_replicas(rt)
        && let Some(replicas) = obj.data.get("spec").and_then(|s| s.get("replicas"))
        && let Some(n) = replicas.as_i64()
        && n < 0
    {
        causes.push(FieldError {
            field: "spec.replicas".to_owned(),
            message: format!("Invalid value: {n}: must be greater than or equal to 0"),
        });
    }
    causes
}

/// The kinds whose `spec.replicas` the API server (or Argo Rollouts' validation) requires to be
/// non-negative.
fn has_replicas(rt: &ResourceType) -> bool {
    matches!(
        (rt.group.as_str(), rt.kind.as_str()),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet")
            | ("", "ReplicationController")
            | ("argoproj.io", "Rollout")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use weir_cluster::Registry;

    fn object(value: Value) -> Object {
        Object::from_value(value).expect("an object")
    }

    fn rt(name: &str) -> ResourceType {
        Registry::builtin().for_name(name).expect("builtin").clone()
    }

    fn causes(rt_name: &str, value: Value) -> Vec<(String, String)> {
        match validate_object(&rt(rt_name), &object(value)) {
            Ok(()) => Vec::new(),
            Err(Error::Invalid { causes, .. }) => {
                causes.into_iter().map(|c| (c.field, c.message)).collect()
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn the_issue_16_inputs_are_refused_with_the_api_servers_messages() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a..b", "namespace": "ns"}});
        assert_eq!(
            causes("configmaps", cm),
            [(
                "metadata.name".to_owned(),
                "Invalid value: \"a..b\": a lowercase RFC 1123 subdomain must consist of lower \
                 case alphanumeric characters, '-' or '.', and must start and end with an \
                 alphanumeric character (e.g. 'example.com', regex used for validation is \
                 '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_owned()
            )]
        );
        let long = "a".repeat(253);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": long}});
        let found = causes("namespaces", ns);
        assert_eq!(
            found[0].1,
            format!("Invalid value: \"{long}\": must be no more than 63 characters")
        );
        let annotated = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "annotations": {"x<script>": "1"}, "labels": {"ok": "-bad"}}});
        let found = causes("configmaps", annotated);
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["metadata.labels", "metadata.annotations"]);
        assert!(found[1].1.starts_with("Invalid value: \"x<script>\": name part must consist"));
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": -1}});
        assert_eq!(
            causes("deployments", deployment),
            [(
                "spec.replicas".to_owned(),
                "Invalid value: -1: must be greater than or equal to 0".to_owned()
            )]
        );
    }

    #[test]
    fn valid_objects_pass() {
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web.v2", "namespace": "apps",
                "labels": {"app.kubernetes.io/name": "web"},
                "annotations": {"Example.com/Note": "anything <at all>"}},
            "spec": {"replicas": 0}});
        assert_eq!(causes("deployments", ok), []);
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"}});
        assert_eq!(causes("services", svc).len(), 1);
    }
}
