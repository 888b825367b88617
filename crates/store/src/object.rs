//! Object keys, validation and normalisation: the pure rules every write applies before it
//! touches the database.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use weir_cluster::{Error, FieldError, Object, ResourceType, Result};

/// The largest object body accepted, in bytes of JSON (twice etcd's default request limit).
pub const MAX_OBJECT_BYTES: usize = 3 * 1024 * 1024;

/// The finalizer a foreground deletion puts on the owner while its dependents go.
pub(crate) const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Where an object lives: the API version is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) group: String,
    pub(crate) kind: String,
    /// `""` for cluster-scoped objects.
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl Key {
    /// The key of `name` of type `rt` in `namespace` (checked against the type's scope).
    pub(crate) fn new(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Key> {
        Ok(Key {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            namespace: scoped_namespace(rt, namespace)?,
            name: name.to_owned(),
        })
    }

    pub(crate) fn namespace(&self) -> Option<&str> {
        (!self.namespace.is_empty()).then_some(self.namespace.as_str())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() { String::new() } else { format!(".{}", self.group) };
        match self.namespace() {
            Some(ns) => write!(f, "{}{group} {ns}/{}", self.kind, self.name),
            None => write!(f, "{}{group} {}", self.kind, self.name),
        }
    }
}

/// How Kubernetes names a resource in messages: `pods`, `rollouts.argoproj.io`.
pub(crate) fn resource_name(rt: &ResourceType) -> String {
    if rt.group.is_empty() { rt.plural.clone() } else { format!("{}.{}", rt.plural, rt.group) }
}

/// The namespace column for a type: required for namespaced types, `""` for cluster-scoped.
pub(crate) fn scoped_namespace(rt: &ResourceType, namespace: Option<&str>) -> Result<String> {
    if !rt.namespaced() {
        return Ok(String::new());
    }
    match namespace {
        Some(ns) if !ns.is_empty() => Ok(ns.to_owned()),
        _ => Err(Error::BadRequest(format!(
            "{} is namespaced: a namespace is required",
            resource_name(rt)
        ))),
    }
}

pub(crate) fn not_found(rt: &ResourceType, name: &str) -> Error {
    Error::NotFound { kind: resource_name(rt), name: name.to_owned() }
}

pub(crate) fn conflict(rt: &ResourceType, name: &str, message: impl Into<String>) -> Error {
    Error::Conflict { kind: resource_name(rt), name: name.to_owned(), message: message.into() }
}

/// Kubernetes' message for a stale resourceVersion.
pub(crate) const MODIFIED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

pub(crate) fn invalid(rt: &ResourceType, name: &str, field: &str, message: String) -> Error {
    Error::Invalid {
        kind: rt.kind.clone(),
        name: name.to_owned(),
        causes: vec![FieldError { field: field.to_owned(), message }],
    }
}

/// Checks the body's type against `rt` (empty `apiVersion`/`kind` are filled in), sets the
/// namespace per the type's scope, and returns the object's key (name may still be empty).
pub(crate) fn admit(rt: &ResourceType, obj: &mut Object) -> Result<Key> {
    if obj.kind.is_empty() {
        obj.kind = rt.kind.clone();
    }
    if obj.api_version.is_empty() {
        obj.api_version = rt.api_version();
    }
    if obj.kind != rt.kind || obj.group() != rt.group {
        return Err(Error::BadRequest(format!(
            "the body's type {} {} does not match the request's {} {}",
            obj.api_version,
            obj.kind,
            rt.api_version(),
            rt.kind
        )));
    }
    obj.api_version = rt.api_version();
    let namespace = scoped_namespace(rt, obj.namespace())?;
    obj.metadata.namespace = (!namespace.is_empty()).then(|| namespace.clone());
    Ok(Key {
        group: rt.group.clone(),
        kind: rt.kind.clone(),
        namespace,
        name: obj.name().to_owned(),
    })
}

/// Kubernetes' name rules ([`crate::validation::name_problems`]: DNS-1123 subdomain for most
/// kinds, label for Namespaces, DNS-1035 label for Services), with the API server's messages.
pub(crate) fn validate_name(rt: &ResourceType, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid(rt, name, "metadata.name", "name or generateName is required".into()));
    }
    let causes = crate::validation::name_causes(rt, name);
    if causes.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid { kind: rt.kind.clone(), name: name.to_owned(), causes })
}

/// Five random lowercase alphanumerics, as Kubernetes appends to `generateName`.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Makes equal objects compare equal: empty label, annotation, finalizer and owner lists are
/// the same as absent ones.
pub(crate) fn normalize(obj: &mut Object) {
    let meta = &mut obj.metadata;
    if meta.labels.as_ref().is_some_and(|m| m.is_empty()) {
        meta.labels = None;
    }
    if meta.annotations.as_ref().is_some_and(|m| m.is_empty()) {
        meta.annotations = None;
    }
    if meta.finalizers.as_ref().is_some_and(|v| v.is_empty()) {
        meta.finalizers = None;
    }
    if meta.owner_references.as_ref().is_some_and(|v| v.is_empty()) {
        meta.owner_references = None;
    }
    if meta.managed_fields.as_ref().is_some_and(|v| v.is_empty()) {
        meta.managed_fields = None;
    }
    if meta.generate_name.as_ref().is_some_and(|v| v.is_empty()) {
        meta.generate_name = None;
    }
}

/// Whether two objects differ outside `metadata` and `status` (what bumps `generation`).
pub(crate) fn same_spec(a: &Object, b: &Object) -> bool {
    let count = |o: &Object| o.data.keys().filter(|k| *k != "status").count();
    count(a) == count(b)
        && a.data.iter().filter(|(k, _)| *k != "status").all(|(k, v)| b.data.get(k) == Some(v))
}

/// The object's JSON, refused when over [`MAX_OBJECT_BYTES`].
pub(crate) fn encode(obj: &Object) -> Result<String> {
    let body = serde_json::to_string(obj)
        .map_err(|e| Error::Internal(format!("cannot encode {} {}: {e}", obj.kind, obj.name())))?;
    if body.len() > MAX_OBJECT_BYTES {
        return Err(Error::TooLarge { size: body.len(), limit: MAX_OBJECT_BYTES });
    }
    Ok(body)
}

/// Parses a stored body; a damaged row is an internal error naming the object.
pub(crate) fn decode(body: &str, what: &dyn std::fmt::Display) -> Result<Object> {
    serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored object {what} is not valid JSON: {e}")))
}

/// "now" at second precision, as Kubernetes stores timestamps.
pub(crate) fn seconds(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Whether the object has a finalizer.
pub(crate) fn has_finalizer(obj: &Object, name: &str) -> bool {
    obj.metadata.finalizers.iter().flatten().any(|f| f == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_cluster::Registry;

    fn pod_type() -> ResourceType {
        Registry::builtin().for_name("pods").unwrap().clone()
    }

    #[test]
    fn names_follow_the_dns_subdomain_rule() {
        let rt = pod_type();
        for good in ["a", "web-1", "a.b.c", "0abc"] {
            assert!(validate_name(&rt, good).is_ok(), "{good}");
        }
        for bad in ["", "Web", "-a", "a-", "a_b", "a b", "a..b", &"a".repeat(254)] {
            let err = validate_name(&rt, bad).unwrap_err();
            assert_eq!(err.status(), 422, "{bad}");
            assert!(err.to_string().contains("metadata.name"), "{err}");
        }
    }

    #[test]
    fn random_suffixes_are_five_lowercase_alphanumerics() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn spec_comparison_ignores_status_and_metadata() {
        let mut a = Object::new("v1", "Pod", Some("ns"), "a");
        a.data.insert("spec".into(), serde_json::json!({"x": 1}));
        let mut b = a.clone();
        b.data.insert("status".into(), serde_json::json!({"phase": "Running"}));
        b.metadata.labels = Some([("k".to_owned(), "v".to_owned())].into());
        assert!(same_spec(&a, &b));
        b.data.insert("spec".into(), serde_json::json!({"x": 2}));
        assert!(!same_spec(&a, &b));
    }
}
