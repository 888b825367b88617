//! Patches as clients send them: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
//! strategic merge patch and server-side apply.
//!
//! This module parses them ([`Patch::from_request`]) and applies the two schema-free kinds
//! ([`apply_patch`]). Strategic merge patch and server-side apply need the kind's schema and
//! the object's field owners: a backend applies them (the embedded store with
//! `weir-apimachinery`, a Kubernetes API server by itself), so this crate stays free of schemas.

use serde_json::Value;

use crate::{Error, FieldError, Result};

/// A patch as a client sends it; the HTTP `Content-Type` picks the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// `application/merge-patch+json`: `null` removes a key, objects merge, arrays replace.
    Merge(Value),
    /// `application/json-patch+json`: a list of add/remove/replace/move/copy/test operations.
    Json(json_patch::Patch),
    /// `application/strategic-merge-patch+json`: lists merge by the schema's merge keys, with
    /// `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and `$retainKeys` directives
    /// (built-in kinds only).
    Strategic(Value),
    /// `application/apply-patch+yaml`: server-side apply of a (partial) configuration by a
    /// field manager; creates the object when it does not exist.
    Apply {
        /// The applied configuration (apiVersion, kind, metadata.name and the owned fields).
        config: Value,
        /// The `fieldManager` query parameter (required).
        field_manager: String,
        /// `force=true`: take the conflicting fields from their current managers.
        force: bool,
    },
}

/// The query parameters of a PATCH that matter to the patch itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchParams {
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force`.
    pub force: bool,
}

/// The media types a PATCH accepts, as the API server lists them.
pub const PATCH_MEDIA_TYPES: &str = "application/json-patch+json, application/merge-patch+json, \
                                     application/strategic-merge-patch+json, application/apply-patch+yaml";

impl Patch {
    /// The HTTP content type of this patch.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply { .. } => "application/apply-patch+yaml",
        }
    }

    /// The request body of this patch (JSON; an applied configuration is sent as JSON, which
    /// is YAML too).
    pub fn body(&self) -> Result<Vec<u8>> {
        match self {
            Patch::Merge(value) | Patch::Strategic(value) => serde_json::to_vec(value),
            Patch::Json(ops) => serde_json::to_vec(ops),
            Patch::Apply { config, .. } => serde_json::to_vec(config),
        }
        .map_err(|e| Error::BadRequest(format!("cannot encode patch: {e}")))
    }

    /// The query parameters this patch needs on the request (`fieldManager`, `force`).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            Patch::Apply { field_manager, force, .. } => {
                let mut query = vec![("fieldManager", field_manager.clone())];
                if *force {
                    query.push(("force", "true".to_owned()));
                }
                query
            }
            _ => Vec::new(),
        }
    }

    /// Parses a patch body sent with a given content type, without query parameters (an
    /// apply patch then lacks its field manager and is refused).
    pub fn from_body(content_type: &str, body: &[u8]) -> Result<Self> {
        Patch::from_request(content_type, body, &PatchParams::default())
    }

    /// Parses a PATCH request: its content type, body and query parameters. Errors are the
    /// API server's: 415 for an unknown content type, 400 for a body that does not parse,
    /// 422 for an apply without `fieldManager` or `force` on another patch type.
    pub fn from_request(content_type: &str, body: &[u8], params: &PatchParams) -> Result<Self> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if params.force && media_type != "application/apply-patch+yaml" {
            return Err(patch_options_invalid(
                "force",
                "Forbidden: may not be specified for non-apply patch",
            ));
        }
        match media_type {
            "application/merge-patch+json" => serde_json::from_slice(body)
                .map(Patch::Merge)
                .map_err(|e| Error::BadRequest(format!("invalid merge patch: {e}"))),
            "application/strategic-merge-patch+json" => serde_json::from_slice(body)
                .map(Patch::Strategic)
                .map_err(|e| Error::BadRequest(format!("invalid strategic merge patch: {e}"))),
            "application/json-patch+json" => serde_json::from_slice(body)
                .map(Patch::Json)
                .map_err(|e| Error::BadRequest(format!("invalid JSON patch: {e}"))),
            "application/apply-patch+yaml" => {
                let field_manager = params.field_manager.clone().filter(|m| !m.is_empty());
                let Some(field_manager) = field_manager else {
                    return Err(patch_options_invalid(
                        "fieldManager",
                        "Required value: is required for apply patch",
                    ));
                };
                let config: Value = serde_yaml_ng::from_slice(body)
                    .map_err(|e| Error::BadRequest(format!("error decoding YAML: {e}")))?;
                if !config.is_object() {
                    return Err(Error::BadRequest(
                        "error decoding YAML: the applied configuration must be an object"
                            .to_owned(),
                    ));
                }
                Ok(Patch::Apply { config, field_manager, force: params.force })
            }
            other => Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format ({other:?}) - accepted media \
                 types include: {PATCH_MEDIA_TYPES}"
            ))),
        }
    }
}

/// The API server's 422 for bad `PatchOptions`.
fn patch_options_invalid(field: &str, message: &str) -> Error {
    Error::Invalid {
        kind: "PatchOptions".to_owned(),
        name: String::new(),
        causes: vec![FieldError { field: field.to_owned(), message: message.to_owned() }],
    }
}

/// Applies a merge or JSON patch to a document in place. A failing JSON patch leaves `target`
/// unchanged. Strategic merge patch and server-side apply need the kind's schema: they are
/// refused here (the embedded store applies them with `weir-apimachinery`).
pub fn apply_patch(target: &mut Value, patch: &Patch) -> Result<()> {
    match patch {
        Patch::Merge(merge) => {
            json_patch::merge(target, merge);
            Ok(())
        }
        Patch::Json(ops) => json_patch::patch(target, ops)
            .map_err(|e| Error::BadRequest(format!("JSON patch failed: {e}"))),
        Patch::Strategic(_) | Patch::Apply { .. } => Err(Error::Internal(format!(
            "a {} patch needs the kind's schema: the backend applies it",
            patch.content_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_removes_null_keys_and_replaces_arrays() {
        let mut doc = json!({"spec": {"a": 1, "b": [1, 2], "c": "x"}});
        let patch = Patch::Merge(json!({"spec": {"a": null, "b": [3]}}));
        apply_patch(&mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"spec": {"b": [3], "c": "x"}}));
    }

    #[test]
    fn failing_json_patch_leaves_document_unchanged() {
        let mut doc = json!({"spec": {"a": 1}});
        let body = br#"[{"op":"replace","path":"/spec/a","value":2},{"op":"test","path":"/spec/a","value":9}]"#;
        let patch = Patch::from_body("application/json-patch+json", body).unwrap();
        assert!(apply_patch(&mut doc, &patch).is_err());
        assert_eq!(doc, json!({"spec": {"a": 1}}));
    }

    #[test]
    fn unknown_content_type_is_unsupported_media_type() {
        let err = Patch::from_body("text/plain", b"{}").unwrap_err();
        assert_eq!(err.status(), 415);
    }

    #[test]
    fn strategic_merge_patch_is_its_own_variant() {
        let patch =
            Patch::from_body("application/strategic-merge-patch+json", br#"{"a":1}"#).unwrap();
        assert_eq!(patch, Patch::Strategic(json!({"a": 1})));
        assert_eq!(patch.content_type(), "application/strategic-merge-patch+json");
    }

    #[test]
    fn apply_parses_yaml_and_needs_a_field_manager() {
        let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n";
        let err = Patch::from_body("application/apply-patch+yaml", yaml).unwrap_err();
        assert_eq!(err.status(), 422);
        let params = PatchParams { field_manager: Some("kubectl".to_owned()), force: true };
        let patch = Patch::from_request("application/apply-patch+yaml", yaml, &params).unwrap();
        let Patch::Apply { config, field_manager, force } = &patch else { panic!("{patch:?}") };
        assert_eq!(config["data"]["k"], "v");
        assert_eq!((field_manager.as_str(), *force), ("kubectl", true));
        assert_eq!(
            patch.query(),
            vec![("fieldManager", "kubectl".to_owned()), ("force", "true".to_owned())]
        );
    }

    #[test]
    fn force_on_a_merge_patch_is_invalid() {
        let params = PatchParams { field_manager: None, force: true };
        let err = Patch::from_request("application/merge-patch+json", b"{}", &params).unwrap_err();
        assert_eq!(err.status(), 422);
    }
}
