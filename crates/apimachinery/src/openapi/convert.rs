//! Swagger 2.0 ↔ OpenAPI 3.0, the way the API server publishes both: `#/definitions/X` becomes
//! `#/components/schemas/X` (a reference with sibling keys wrapped in `allOf`, as kube-openapi
//! does), body parameters become request bodies, responses get one content entry per media
//! type the operation produces; custom kinds' v3 schemas go the other way for `/openapi/v2`.

use serde_json::{Map, Value, json};

const V2_PREFIX: &str = "#/definitions/";
const V3_PREFIX: &str = "#/components/schemas/";

/// A v2 schema in v3 form.
pub(super) fn schema(v2: &Value) -> Value {
    match v2 {
        Value::Object(map) => {
            let mut out = Map::new();
            let mut reference = None;
            for (key, value) in map {
                match key.as_str() {
                    "$ref" => {
                        reference = value.as_str().map(|r| r.replacen(V2_PREFIX, V3_PREFIX, 1));
                    }
                    // Vendor extensions and examples are data, not schemas.
                    k if k.starts_with("x-") || k == "example" || k == "default" || k == "enum" => {
                        out.insert(key.clone(), value.clone());
                    }
                    "properties" | "patternProperties" | "definitions" => {
                        let converted = value
                            .as_object()
                            .map(|m| m.iter().map(|(k, v)| (k.clone(), schema(v))).collect())
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                    _ => {
                        out.insert(key.clone(), schema(value));
                    }
                }
            }
            match reference {
                Some(reference) if out.is_empty() => json!({ "$ref": reference }),
                Some(reference) => {
                    out.insert("allOf".to_owned(), json!([{ "$ref": reference }]));
                    Value::Object(out)
                }
                None => Value::Object(out),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(schema).collect()),
        other => other.clone(),
    }
}

/// A v3 schema (a custom kind's) in v2 form: references back to `#/definitions/`, a lone
/// `allOf` reference unwrapped, and what Swagger 2.0 cannot say (`nullable`, `anyOf`, `oneOf`,
/// `not`) dropped, as the API server's v2 publishing of CRDs does. A nullable field loses its
/// type and a field that keeps unknown fields its properties, so that kubectl's client-side
/// validation (which reads v2) accepts `null` and fields the schema does not list there.
pub(super) fn downgrade_schema(v3: &Value) -> Value {
    match v3 {
        Value::Object(map) => {
            let mut out = Map::new();
            let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
            let open = map.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool)
                == Some(true);
            for (key, value) in map {
                if (nullable && key == "type")
                    || (open
                        && matches!(
                            key.as_str(),
                            "type" | "properties" | "items" | "additionalProperties" | "required"
                        ))
                {
                    continue;
                }
                match key.as_str() {
                    "nullable" | "anyOf" | "oneOf" | "not" => {}
                    "$ref" => {
                        let r = value.as_str().unwrap_or("").replacen(V3_PREFIX, V2_PREFIX, 1);
                        out.insert(key.clone(), Value::String(r));
                    }
                    "allOf" => {
                        let single_ref = value
                            .as_array()
                            .filter(|items| items.len() == 1)
                            .and_then(|items| items[0].get("$ref"))
                            .and_then(Value::as_str);
                        if let Some(r) = single_ref {
                            out.insert(
                                "$ref".to_owned(),
                                json!(r.replacen(V3_PREFIX, V2_PREFIX, 1)),
                            );
                        }
                    }
                    k if k.starts_with("x-") || k == "example" || k == "default" || k == "enum" => {
                        out.insert(key.clone(), value.clone());
                    }
                    "properties" | "patternProperties" => {
                        let converted = value
                            .as_object()
                            .map(|m| {
                                m.iter().map(|(k, v)| (k.clone(), downgrade_schema(v))).collect()
                            })
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                    _ => {
                        out.insert(key.clone(), downgrade_schema(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(downgrade_schema).collect()),
        other => other.clone(),
    }
}

/// A v2 path item (operations and path-level parameters) in v3 form. Global parameters
/// (`#/parameters/X`) are written inline, so a client finds each one on its operation.
pub(super) fn path_item(v2: &Value, parameters: &Map<String, Value>) -> Value {
    let Some(map) = v2.as_object() else { return json!({}) };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "parameters" => {
                let (params, _) = convert_parameters(value, parameters, &[]);
                out.insert(key.clone(), Value::Array(params));
            }
            "get" | "put" | "post" | "delete" | "options" | "head" | "patch" => {
                out.insert(key.clone(), operation(value, parameters));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn operation(v2: &Value, parameters: &Map<String, Value>) -> Value {
    let Some(map) = v2.as_object() else { return json!({}) };
    let media_types = |key: &str| -> Vec<String> {
        map.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect()
    };
    let consumes = media_types("consumes");
    let produces = media_types("produces");
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "consumes" | "produces" | "schemes" => {}
            "parameters" => {
                let (params, body) = convert_parameters(value, parameters, &consumes);
                if !params.is_empty() {
                    out.insert(key.clone(), Value::Array(params));
                }
                if let Some(body) = body {
                    out.insert("requestBody".to_owned(), body);
                }
            }
            "responses" => {
                let responses: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, response)| (code.clone(), self::response(response, &produces)))
                    .collect();
                out.insert(key.clone(), Value::Object(responses));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn response(v2: &Value, produces: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("description".to_owned(), v2.get("description").cloned().unwrap_or(json!("")));
    if let Some(s) = v2.get("schema") {
        let converted = schema(s);
        let content: Map<String, Value> =
            produces.iter().map(|media| (media.clone(), json!({ "schema": converted }))).collect();
        out.insert("content".to_owned(), Value::Object(content));
    }
    Value::Object(out)
}

/// Parameters in v3 form, and the request body made of the body parameter.
fn convert_parameters(
    v2: &Value,
    globals: &Map<String, Value>,
    consumes: &[String],
) -> (Vec<Value>, Option<Value>) {
    let mut params = Vec::new();
    let mut body = None;
    for param in v2.as_array().into_iter().flatten() {
        let resolved = match param.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix("#/parameters/").and_then(|name| globals.get(name)) {
                Some(global) => global,
                None => continue,
            },
            None => param,
        };
        if resolved.get("in").and_then(Value::as_str) == Some("body") {
            let converted = schema(resolved.get("schema").unwrap_or(&json!({})));
            let content: Map<String, Value> = consumes
                .iter()
                .map(|media| (media.clone(), json!({ "schema": converted })))
                .collect();
            let mut request_body = json!({ "content": content });
            if resolved.get("required").and_then(Value::as_bool) == Some(true) {
                request_body["required"] = json!(true);
            }
            body = Some(request_body);
            continue;
        }
        let mut out = Map::new();
        let mut param_schema = Map::new();
        for (key, value) in resolved.as_object().into_iter().flatten() {
            match key.as_str() {
                "name" | "in" | "description" | "required" => {
                    out.insert(key.clone(), value.clone());
                }
                "type" | "format" | "uniqueItems" | "items" | "enum" | "default" => {
                    param_schema.insert(key.clone(), value.clone());
                }
                k if k.starts_with("x-") => {
                    out.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        out.insert("schema".to_owned(), Value::Object(param_schema));
        params.push(Value::Object(out));
    }
    (params, body)
}

/// Appends the names of every `#/components/schemas/` reference in `value`.
pub(super) fn collect_refs(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    if let Some(name) = v.as_str().and_then(|r| r.strip_prefix(V3_PREFIX)) {
                        names.push(name.to_owned());
                    }
                } else {
                    collect_refs(v, names);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_with_siblings_are_wrapped_in_all_of() {
        // The shape kube-openapi publishes for Deployment.spec in /openapi/v3/apis/apps/v1.
        let v2 = json!({"properties": {
            "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "description": "d"},
            "items": {"type": "array", "items": {"$ref": "#/definitions/X"}}
        }});
        assert_eq!(
            schema(&v2),
            json!({"properties": {
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}], "description": "d"},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/X"}}
            }})
        );
    }

    #[test]
    fn a_property_named_like_a_keyword_is_a_property() {
        let v2 = json!({"properties": {"$ref": {"type": "string"}, "default": {"type": "string"}}});
        assert_eq!(schema(&v2), v2);
    }

    #[test]
    fn downgrading_drops_what_swagger_cannot_say() {
        let v3 = json!({"properties": {
            "metadata": {"allOf": [{"$ref": "#/components/schemas/M"}], "description": "m"},
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
            "note": {"type": "string", "nullable": true},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"a": {"type": "string"}}}
        }});
        assert_eq!(
            downgrade_schema(&v3),
            json!({"properties": {
                "metadata": {"$ref": "#/definitions/M", "description": "m"},
                "port": {"x-kubernetes-int-or-string": true},
                "note": {},
                "open": {"x-kubernetes-preserve-unknown-fields": true}
            }})
        );
    }

    #[test]
    fn operations_get_request_bodies_and_inline_parameters() {
        let globals: Map<String, Value> = serde_json::from_value(json!({
            "body-1": {"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/P"}},
            "force-1": {"in": "query", "name": "force", "type": "boolean", "uniqueItems": true}
        }))
        .unwrap();
        let item = json!({
            "parameters": [{"in": "path", "name": "name", "required": true, "type": "string"}],
            "patch": {
                "consumes": ["application/merge-patch+json"], "produces": ["application/json"],
                "parameters": [{"$ref": "#/parameters/body-1"}, {"$ref": "#/parameters/force-1"}],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/D"}}},
                "x-kubernetes-action": "patch"
            }
        });
        assert_eq!(
            path_item(&item, &globals),
            json!({
                "parameters": [{"in": "path", "name": "name", "required": true, "schema": {"type": "string"}}],
                "patch": {
                    "parameters": [{"in": "query", "name": "force", "schema": {"type": "boolean", "uniqueItems": true}}],
                    "requestBody": {"content": {"application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/P"}}}, "required": true},
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/D"}}}}},
                    "x-kubernetes-action": "patch"
                }
            })
        );
    }
}
