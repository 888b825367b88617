//! Server-side field validation, which kubectl uses instead of its own when the OpenAPI v3
//! document declares `fieldValidation` on the kind's PATCH operation (it does, see `openapi`):
//! `fieldValidation=Strict` refuses a create, update or patch naming a field the kind's schema
//! does not declare (400, the API server's `strict decoding error: unknown field "…"`),
//! `Warn` answers with a `Warning` header per field, `Ignore` says nothing. Checked before the
//! request is handled, so a refused write changes nothing.
//!
//! Without the parameter the API server warns; weir checks nothing then, so that a weir whose
//! only client is its own CLI (or kube-rs, which sends the parameter only when set and does not
//! show warnings) never builds the field trees (~25 MB). kubectl always sends the parameter.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use serde_json::Value;
use weir_apimachinery::unknown_fields::FieldSchemas;
use weir_cluster::Error;

use super::ApiState;
use super::openapi::served_kinds;
use super::path::ApiPath;

/// The field trees of the registry's latest state.
#[derive(Debug, Default)]
pub(crate) struct FieldSchemaCache {
    built: tokio::sync::Mutex<Option<(u64, Arc<FieldSchemas>)>>,
}

async fn schemas<C>(state: &ApiState<C>) -> Result<Arc<FieldSchemas>, Error> {
    let mut built = state.field_schemas.built.lock().await;
    let generation = state.resources.generation();
    if let Some((at, schemas)) = built.as_ref()
        && *at == generation
    {
        return Ok(schemas.clone());
    }
    let kinds = served_kinds(&state.resources.snapshot());
    let crds = state.resources.crds();
    let schemas = tokio::task::spawn_blocking(move || FieldSchemas::build(&kinds, &crds))
        .await
        .map_err(|e| Error::Internal(format!("building the field schemas failed: {e}")))?;
    let schemas = Arc::new(schemas);
    *built = Some((generation, schemas.clone()));
    Ok(schemas)
}

/// What the request asks to happen to unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Ignore,
    Warn,
    Strict,
}

fn directive(query: &HashMap<String, String>) -> Result<Directive, Error> {
    match query.get("fieldValidation").map(String::as_str) {
        None | Some("") => Ok(Directive::Ignore),
        Some("Warn") => Ok(Directive::Warn),
        Some("Strict") => Ok(Directive::Strict),
        Some("Ignore") => Ok(Directive::Ignore),
        Some(other) => Err(Error::BadRequest(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Checks a write's body. `Ok` carries the warnings to add to the response.
pub(crate) async fn check<C>(
    state: &ApiState<C>,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<String>, Error> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return Ok(Vec::new());
    }
    let directive = directive(query)?;
    if directive == Directive::Ignore {
        return Ok(Vec::new());
    }
    let Some(path) = ApiPath::parse(path) else { return Ok(Vec::new()) };
    let Some(rt) = state.resources.for_path(&path.group, &path.version, &path.plural) else {
        return Ok(Vec::new());
    };
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if *method == Method::PATCH && content_type.starts_with("application/json-patch") {
        return Ok(Vec::new()); // operations, not an object: checked as the store applies them
    }
    // A body that is not JSON (or not an object) is the handler's to refuse.
    let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let schemas = schemas(state).await?;
    let Some(unknown) = schemas.unknown_fields(&rt.group, &path.version, &rt.kind, &value) else {
        return Ok(Vec::new());
    };
    let messages: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    if messages.is_empty() || directive == Directive::Warn {
        return Ok(messages);
    }
    let strict = format!("strict decoding error: {}", messages.join(", "));
    Err(Error::BadRequest(if *method == Method::PATCH {
        strict
    } else {
        format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {strict}",
            kind = rt.kind,
            version = path.version
        )
    }))
}

/// Adds one `Warning: 299 - "…"` header per message, as the API server warns.
pub(crate) fn add_warnings(response: &mut Response, warnings: &[String]) {
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives() {
        let query = |v: &str| HashMap::from([("fieldValidation".to_owned(), v.to_owned())]);
        assert_eq!(directive(&HashMap::new()).unwrap(), Directive::Ignore);
        assert_eq!(directive(&query("Warn")).unwrap(), Directive::Warn);
        assert_eq!(directive(&query("Strict")).unwrap(), Directive::Strict);
        assert_eq!(directive(&query("Ignore")).unwrap(), Directive::Ignore);
        assert!(matches!(directive(&query("strict")), Err(Error::BadRequest(_))));
    }
}
