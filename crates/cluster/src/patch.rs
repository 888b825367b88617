//! Patches: JSON merge patch (RFC 7386) and JSON patch (RFC 6902), applied to JSON values.

use serde_json::Value;

use crate::{Error, Result};

/// A patch as a client sends it; the HTTP `Content-Type` picks the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// `application/merge-patch+json`: `null` removes a key, objects merge, arrays replace.
    Merge(Value),
    /// `application/json-patch+json`: a list of add/remove/replace/move/copy/test operations.
    Json(json_patch::Patch),
}

impl Patch {
    /// The HTTP content type of this patch.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
        }
    }

    /// Parses a patch body sent with a given content type.
    pub fn from_body(content_type: &str, body: &[u8]) -> Result<Self> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        match media_type {
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                serde_json::from_slice(body)
                    .map(Patch::Merge)
                    .map_err(|e| Error::BadRequest(format!("invalid merge patch: {e}")))
            }
            "application/json-patch+json" => serde_json::from_slice(body)
                .map(Patch::Json)
                .map_err(|e| Error::BadRequest(format!("invalid JSON patch: {e}"))),
            other => Err(Error::BadRequest(format!(
                "unsupported patch content type {other:?}: use application/merge-patch+json \
                 or application/json-patch+json"
            ))),
        }
    }
}

/// Applies a patch to a document in place. A failing JSON patch leaves `target` unchanged.
pub fn apply_patch(target: &mut Value, patch: &Patch) -> Result<()> {
    match patch {
        Patch::Merge(merge) => {
            json_patch::merge(target, merge);
            Ok(())
        }
        Patch::Json(ops) => json_patch::patch(target, ops)
            .map_err(|e| Error::BadRequest(format!("JSON patch failed: {e}"))),
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
    fn unknown_content_type_is_a_bad_request() {
        let err = Patch::from_body("text/plain", b"{}").unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
