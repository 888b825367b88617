//! The patch path: every [`Patch`] kind applied to an object as stored. Merge and JSON
//! patches need nothing more; strategic merge patch and server-side apply use the kind's
//! schema from `weir-apimachinery` (built-in kinds and compiled-in CRDs, or the CRD object
//! stored for a kind defined at run time).
//!
//! [`patch_value`] is pure (the time is passed in), so the HTTP API can check a patch's
//! result before the store writes it.

use serde_json::Value;
use weir_apimachinery::apply::{self, ApplyError, ApplyRequest};
use weir_apimachinery::schema::{self, Origin, Schemas};
use weir_apimachinery::strategic::{self, PatchError};
use weir_cluster::{
    Error, FieldError, PATCH_MEDIA_TYPES, Patch, ResourceType, Result, apply_patch,
};

/// The name of the CustomResourceDefinition that defines `rt` (`<plural>.<group>`).
pub fn crd_name(rt: &ResourceType) -> String {
    format!("{}.{}", rt.plural, rt.group)
}

/// Whether applying `patch` to `rt` may need the CRD object (a kind without a compiled-in
/// schema, patched by server-side apply).
pub(crate) fn needs_crd(rt: &ResourceType, patch: &Patch) -> bool {
    matches!(patch, Patch::Apply { .. })
        && !rt.group.is_empty()
        && schema::builtin().kind(&rt.group, &rt.version, &rt.kind).is_none()
}

/// Applies `patch` to `live` (`None`: the object does not exist, which only an apply accepts)
/// and returns the new object. `crd` is the CRD object of a kind defined at run time, if any;
/// `now` (RFC 3339) stamps a server-side apply's managedFields entry.
pub fn patch_value(
    live: Option<&Value>,
    patch: &Patch,
    rt: &ResourceType,
    crd: Option<&Value>,
    now: &str,
) -> Result<Value> {
    let runtime: Option<Schemas> = crd.and_then(|crd| Schemas::from_crd(crd).ok());
    let kind = schema::builtin()
        .kind(&rt.group, &rt.version, &rt.kind)
        .or_else(|| runtime.as_ref().and_then(|s| s.kind(&rt.group, &rt.version, &rt.kind)));
    let missing = || Error::NotFound { kind: rt.plural.clone(), name: String::new() };
    match patch {
        Patch::Merge(_) | Patch::Json(_) => {
            let mut value = live.cloned().ok_or_else(missing)?;
            apply_patch(&mut value, patch)?;
            Ok(value)
        }
        Patch::Strategic(body) => {
            let live = live.ok_or_else(missing)?;
            let Some(kind) = kind.filter(|k| k.origin == Origin::BuiltIn) else {
                // The API server serves strategic merge patch for compiled-in types only.
                return Err(Error::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types \
                     include: {}",
                    PATCH_MEDIA_TYPES.replace("application/strategic-merge-patch+json, ", "")
                )));
            };
            strategic::strategic_merge_patch(live, body, Some(kind.ty)).map_err(|e| match e {
                PatchError::BadRequest(message) => Error::BadRequest(message),
            })
        }
        Patch::Apply { config, field_manager, force } => {
            let request = ApplyRequest {
                live,
                config,
                ty: kind.map(|k| k.ty),
                manager: field_manager,
                api_version: &rt.api_version(),
                force: *force,
                now,
            };
            apply::apply(&request).map_err(apply_error)
        }
    }
}

/// Checks that an applied configuration addresses the request's object (kind, apiVersion,
/// name and namespace of the URL); other patches pass.
pub fn check_apply_identity(
    patch: &Patch,
    rt: &ResourceType,
    name: &str,
    namespace: Option<&str>,
) -> Result<()> {
    let Patch::Apply { config, .. } = patch else { return Ok(()) };
    apply::check_identity(config, &rt.api_version(), &rt.kind, name, namespace).map_err(apply_error)
}

fn apply_error(error: ApplyError) -> Error {
    match error {
        ApplyError::BadRequest(message) => Error::BadRequest(message),
        ApplyError::Conflict { message, conflicts } => Error::ApplyConflict {
            message,
            causes: conflicts
                .into_iter()
                .map(|c| FieldError { field: c.field, message: c.message })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(api_version: &str, kind: &str) -> ResourceType {
        ResourceType::guess(api_version, kind)
    }

    #[test]
    fn strategic_merge_patch_on_a_custom_resource_is_unsupported() {
        let live = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}});
        let patch = Patch::Strategic(json!({"spec": {"replicas": 2}}));
        let err =
            patch_value(Some(&live), &patch, &rt("argoproj.io/v1alpha1", "Rollout"), None, "")
                .unwrap_err();
        assert_eq!(err.status(), 415);
        assert_eq!(err.reason(), "UnsupportedMediaType");
    }

    #[test]
    fn apply_on_a_kind_defined_at_run_time_uses_its_crd() {
        let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [{
            "name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"parts": {
                    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                    "items": {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}}}}}}}}]}});
        let widget = rt("example.com/v1", "Widget");
        let apply = |manager: &str, parts: Value| Patch::Apply {
            config: json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"parts": parts}}),
            field_manager: manager.to_owned(),
            force: false,
        };
        let first =
            patch_value(None, &apply("a", json!([{"id": "x", "n": 1}])), &widget, Some(&crd), "t1")
                .unwrap();
        let second = patch_value(
            Some(&first),
            &apply("b", json!([{"id": "y", "n": 2}])),
            &widget,
            Some(&crd),
            "t2",
        )
        .unwrap();
        // A list map: both items kept, each with its owner.
        assert_eq!(second["spec"]["parts"], json!([{"id": "x", "n": 1}, {"id": "y", "n": 2}]));
        assert_eq!(second["metadata"]["managedFields"].as_array().unwrap().len(), 2);
    }
}
