//! `immutable: true` on ConfigMaps and Secrets, enforced on update as the API server's
//! `ValidateConfigMapUpdate` / `ValidateSecretUpdate` do: once a stored object is immutable,
//! an update may not unset `immutable` nor change `data` or `binaryData` (nor a Secret's
//! `type`, which may never change). Each change is its own cause, in the API server's
//! order: `The ConfigMap "x" is invalid: data: Forbidden: field is immutable when `immutable`
//! is set`. Only deleting the object (and creating it again) changes it, which is what
//! `kubectl replace --force` and Argo CD's `Replace=true,Force=true` do.

use serde_json::Value;
use weir_cluster::{Error, FieldError, Object, ResourceType, Result};

/// The API server's detail for a change to an immutable ConfigMap or Secret.
pub(crate) const IMMUTABLE_SET: &str = "Forbidden: field is immutable when `immutable` is set";

/// Refuses an update of `stored` into `next` that an immutable ConfigMap or Secret forbids.
pub(crate) fn check_update(rt: &ResourceType, stored: &Object, next: &Object) -> Result<()> {
    let causes = immutable_violations(rt, stored, next);
    if causes.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid { kind: rt.kind.clone(), name: stored.name().to_owned(), causes })
}

/// The fields the update changes although the stored object is immutable.
fn immutable_violations(rt: &ResourceType, stored: &Object, next: &Object) -> Vec<FieldError> {
    let is_secret = match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "ConfigMap") => false,
        ("", "Secret") => true,
        _ => return Vec::new(),
    };
    let mut causes = Vec::new();
    if is_secret {
        // `type` may never change, immutable or not (`ValidateImmutableField`).
        let type_of = |o: &Object| o.data.get("type").cloned().unwrap_or(Value::Null);
        if type_of(stored) != type_of(next) {
            let value = type_of(next);
            causes.push(cause("type", format!("Invalid value: {value}: field is immutable")));
        }
    }
    if stored.data.get("immutable") != Some(&Value::Bool(true)) {
        return causes;
    }
    if next.data.get("immutable") != Some(&Value::Bool(true)) {
        causes.push(cause("immutable", IMMUTABLE_SET.to_owned()));
    }
    for field in ["data", "binaryData"] {
        if !same_map(stored.data.get(field), next.data.get(field)) {
            causes.push(cause(field, IMMUTABLE_SET.to_owned()));
        }
    }
    causes
}

/// Go's `reflect.DeepEqual` of two decoded maps, where absent, null and empty are one.
fn same_map(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = |v: Option<&Value>| {
        v.is_none_or(|v| v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty))
    };
    (empty(a) && empty(b)) || a == b
}

fn cause(field: &str, message: String) -> FieldError {
    FieldError { field: field.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        weir_cluster::Registry::builtin()
            .for_object("v1", kind)
            .unwrap_or_else(|| ResourceType::guess("v1", kind))
    }

    fn obj(kind: &str, body: Value) -> Object {
        let mut value = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}});
        if let (Some(map), Some(extra)) = (value.as_object_mut(), body.as_object()) {
            map.extend(extra.clone());
        }
        Object::from_value(value).expect("object")
    }

    /// Expected fields and messages: Kubernetes' `ValidateConfigMapUpdate` and
    /// `ValidateSecretUpdate` (pkg/apis/core/validation).
    #[test]
    fn immutable_config_maps_and_secrets_refuse_changes() {
        let frozen = json!({"immutable": true, "data": {"k": "v"}});
        let cases: [(&str, Value, Value, &[&str]); 9] = [
            (
                "ConfigMap",
                frozen.clone(),
                json!({"immutable": true, "data": {"k": "v2"}}),
                &["data"],
            ),
            ("ConfigMap", frozen.clone(), json!({"data": {"k": "v"}}), &["immutable"]),
            (
                "ConfigMap",
                frozen.clone(),
                json!({"immutable": false, "data": {}}),
                &["immutable", "data"],
            ),
            (
                "ConfigMap",
                frozen.clone(),
                json!({"immutable": true, "data": {"k": "v"},
                "binaryData": {"b": "AA=="}}),
                &["binaryData"],
            ),
            // Labels and annotations stay changeable; so does a mutable object.
            (
                "ConfigMap",
                frozen.clone(),
                json!({"immutable": true, "data": {"k": "v"},
                "metadata": {"name": "x", "labels": {"a": "b"}}}),
                &[],
            ),
            (
                "ConfigMap",
                json!({"data": {"k": "v"}}),
                json!({"immutable": true, "data": {"k": "w"}}),
                &[],
            ),
            (
                "Secret",
                json!({"immutable": true, "data": {"k": "dg=="}, "type": "Opaque"}),
                json!({"immutable": true, "data": {"k": "dw=="}, "type": "Opaque"}),
                &["data"],
            ),
            ("Secret", json!({"type": "Opaque"}), json!({"type": "kubernetes.io/tls"}), &["type"]),
            ("Service", json!({"immutable": true, "data": {}}), json!({"data": {"k": "v"}}), &[]),
        ];
        for (kind, before, after, expected) in cases {
            let (stored, next) = (obj(kind, before.clone()), obj(kind, after.clone()));
            let fields: Vec<String> = immutable_violations(&rt(kind), &stored, &next)
                .into_iter()
                .map(|c| c.field)
                .collect();
            assert_eq!(fields, expected, "{kind}: {before} -> {after}");
        }
        let err = check_update(
            &rt("ConfigMap"),
            &obj("ConfigMap", frozen),
            &obj("ConfigMap", json!({"immutable": true, "data": {"k": "v2"}})),
        )
        .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "ConfigMap \"x\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
        assert_eq!(err.status(), 422);
    }
}
