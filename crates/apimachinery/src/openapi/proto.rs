//! `/openapi/v2` as protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
//! the only form client-go's `OpenAPISchema()` reads: the `openapi.v2.Document` message of
//! google/gnostic's `OpenAPIv2.proto`, written by hand from the JSON document (a few message
//! types; no protobuf dependency for them). kubectl reads it to validate the items of a
//! `kind: List` file and for `explain --output plaintext-openapiv2`.
//!
//! What is encoded: the document's version and info, every path (operations, parameters,
//! responses, vendor extensions) and every definition (references, types, formats,
//! descriptions, required, properties, items, additionalProperties, allOf, vendor extensions).
//! Vendor extension values are written as YAML (JSON text, which YAML reads), as gnostic does.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Debug, Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }

    fn boolean(&mut self, field: u32, value: bool) {
        if value {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, value: i64) {
        if value != 0 {
            self.key(field, 0);
            self.varint(value as u64);
        }
    }

    fn double(&mut self, field: u32, value: f64) {
        if value != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&value.to_le_bytes());
        }
    }

    fn str_at(&mut self, field: u32, object: &Map<String, Value>, key: &str) {
        if let Some(text) = object.get(key).and_then(Value::as_str) {
            self.string(field, text);
        }
    }

    fn strings_at(&mut self, field: u32, object: &Map<String, Value>, key: &str) {
        for text in object.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(text) = text.as_str() {
                self.bytes(field, text.as_bytes());
            }
        }
    }

    fn bool_at(&mut self, field: u32, object: &Map<String, Value>, key: &str) {
        self.boolean(field, object.get(key).and_then(Value::as_bool) == Some(true));
    }

    /// `repeated NamedAny vendor_extension`: every `x-` key.
    fn vendor_extensions(&mut self, field: u32, object: &Map<String, Value>) {
        for (key, value) in object.iter().filter(|(k, _)| k.starts_with("x-")) {
            let mut named = Message::default();
            named.string(1, key);
            named.message(2, any(value));
            self.message(field, named);
        }
    }
}

/// `openapi.v2.Any` with its `yaml` (JSON is YAML).
fn any(value: &Value) -> Message {
    let mut any = Message::default();
    any.string(2, &value.to_string());
    any
}

/// The protobuf `openapi.v2.Document` of a v2 JSON document.
pub(super) fn document(document: &Value) -> Vec<u8> {
    let empty = Map::new();
    let root = document.as_object().unwrap_or(&empty);
    let mut out = Message::default();
    out.str_at(1, root, "swagger");
    if let Some(info) = root.get("info").and_then(Value::as_object) {
        let mut message = Message::default();
        message.str_at(1, info, "title");
        message.str_at(2, info, "version");
        message.str_at(3, info, "description");
        out.message(2, message);
    }
    if let Some(paths) = root.get("paths").and_then(Value::as_object) {
        let mut message = Message::default();
        for (path, item) in paths {
            let mut named = Message::default();
            named.string(1, path);
            named.message(2, path_item(item.as_object().unwrap_or(&empty)));
            message.message(2, named);
        }
        out.message(8, message);
    }
    if let Some(definitions) = root.get("definitions").and_then(Value::as_object) {
        out.message(9, named_schemas(definitions));
    }
    out.vendor_extensions(16, root);
    out.0
}

fn named_schemas(schemas: &Map<String, Value>) -> Message {
    let mut message = Message::default();
    for (name, value) in schemas {
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, schema(value));
        message.message(1, named);
    }
    message
}

fn path_item(item: &Map<String, Value>) -> Message {
    let mut message = Message::default();
    for (field, verb) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = item.get(verb).and_then(Value::as_object) {
            message.message(field, operation(op));
        }
    }
    for param in item.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        message.message(9, parameters_item(param));
    }
    message.vendor_extensions(10, item);
    message
}

fn operation(op: &Map<String, Value>) -> Message {
    let mut message = Message::default();
    message.strings_at(1, op, "tags");
    message.str_at(2, op, "summary");
    message.str_at(3, op, "description");
    message.str_at(5, op, "operationId");
    message.strings_at(6, op, "produces");
    message.strings_at(7, op, "consumes");
    for param in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        message.message(8, parameters_item(param));
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        let mut codes = Message::default();
        for (code, response) in responses {
            let response = response.as_object();
            let mut inner = Message::default();
            inner.str_at(1, response.unwrap_or(&Map::new()), "description");
            if let Some(schema_value) = response.and_then(|r| r.get("schema")) {
                let mut item = Message::default();
                item.message(1, schema(schema_value));
                inner.message(2, item);
            }
            let mut value = Message::default();
            value.message(1, inner);
            let mut named = Message::default();
            named.string(1, code);
            named.message(2, value);
            codes.message(1, named);
        }
        message.message(9, codes);
    }
    message.strings_at(10, op, "schemes");
    message.bool_at(11, op, "deprecated");
    message.vendor_extensions(13, op);
    message
}

/// `ParametersItem`: a reference, a body parameter or a query/path/header/formData one.
fn parameters_item(param: &Value) -> Message {
    let empty = Map::new();
    let param = param.as_object().unwrap_or(&empty);
    let mut item = Message::default();
    if let Some(reference) = param.get("$ref").and_then(Value::as_str) {
        let mut json_reference = Message::default();
        json_reference.string(1, reference);
        item.message(2, json_reference);
        return item;
    }
    let mut parameter = Message::default();
    let location = param.get("in").and_then(Value::as_str).unwrap_or("");
    if location == "body" {
        let mut body = Message::default();
        body.str_at(1, param, "description");
        body.str_at(2, param, "name");
        body.str_at(3, param, "in");
        body.bool_at(4, param, "required");
        if let Some(s) = param.get("schema") {
            body.message(5, schema(s));
        }
        body.vendor_extensions(6, param);
        parameter.message(1, body);
    } else {
        // Query and formData sub-schemas have `allowEmptyValue` at 5, shifting what follows.
        let (field, shifted) = match location {
            "header" => (1, false),
            "formData" => (2, true),
            "query" => (3, true),
            _ => (4, false),
        };
        let offset = u32::from(shifted);
        let mut sub = Message::default();
        sub.bool_at(1, param, "required");
        sub.str_at(2, param, "in");
        sub.str_at(3, param, "description");
        sub.str_at(4, param, "name");
        if shifted {
            sub.bool_at(5, param, "allowEmptyValue");
        }
        sub.str_at(5 + offset, param, "type");
        sub.str_at(6 + offset, param, "format");
        sub.bool_at(19 + offset, param, "uniqueItems");
        sub.vendor_extensions(22 + offset, param);
        let mut non_body = Message::default();
        non_body.message(field, sub);
        parameter.message(2, non_body);
    }
    item.message(1, parameter);
    item
}

fn schema(value: &Value) -> Message {
    let mut message = Message::default();
    let Some(s) = value.as_object() else { return message };
    message.str_at(1, s, "$ref");
    message.str_at(2, s, "format");
    message.str_at(3, s, "title");
    message.str_at(4, s, "description");
    if let Some(default) = s.get("default") {
        message.message(5, any(default));
    }
    let number = |key: &str| s.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let integer = |key: &str| s.get(key).and_then(Value::as_i64).unwrap_or(0);
    message.double(6, number("multipleOf"));
    message.double(7, number("maximum"));
    message.bool_at(8, s, "exclusiveMaximum");
    message.double(9, number("minimum"));
    message.bool_at(10, s, "exclusiveMinimum");
    message.int64(11, integer("maxLength"));
    message.int64(12, integer("minLength"));
    message.str_at(13, s, "pattern");
    message.int64(14, integer("maxItems"));
    message.int64(15, integer("minItems"));
    message.bool_at(16, s, "uniqueItems");
    message.int64(17, integer("maxProperties"));
    message.int64(18, integer("minProperties"));
    message.strings_at(19, s, "required");
    for value in s.get("enum").and_then(Value::as_array).into_iter().flatten() {
        message.message(20, any(value));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.key(2, 0);
            item.varint(u64::from(*allowed));
            message.message(21, item);
        }
        Some(additional @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(additional));
            message.message(21, item);
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(kind)) => {
            let mut item = Message::default();
            item.string(1, kind);
            message.message(22, item);
        }
        Some(Value::Array(kinds)) => {
            let mut item = Message::default();
            for kind in kinds.iter().filter_map(Value::as_str) {
                item.bytes(1, kind.as_bytes());
            }
            message.message(22, item);
        }
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(items)) => {
            let mut item = Message::default();
            items.iter().for_each(|i| item.message(1, schema(i)));
            message.message(23, item);
        }
        Some(items @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(items));
            message.message(23, item);
        }
        _ => {}
    }
    for part in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        message.message(24, schema(part));
    }
    if let Some(properties) = s.get("properties").and_then(Value::as_object) {
        message.message(25, named_schemas(properties));
    }
    message.bool_at(27, s, "readOnly");
    message.vendor_extensions(31, s);
    message
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn varints_and_fields_follow_the_protobuf_encoding() {
        // protobuf's documentation: 150 as a varint is 96 01; field 1, type 0 key is 08.
        let mut message = Message::default();
        message.int64(1, 150);
        assert_eq!(message.0, [0x08, 0x96, 0x01]);
        let mut message = Message::default();
        message.string(2, "testing");
        assert_eq!(message.0, b"\x12\x07testing");
    }

    #[test]
    fn a_definition_with_its_group_version_kind() {
        let bytes = document(&json!({
            "swagger": "2.0",
            "definitions": {"D": {"type": "object", "properties": {"a": {"type": "string"}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "D", "version": "v1"}]}}
        }));
        // Document.swagger (field 1) = "2.0".
        assert_eq!(&bytes[..5], b"\x0a\x032.0");
        // The definitions (field 9) hold the name, the type, the property and the extension.
        assert_eq!(bytes[5], 0x4a);
        let text = String::from_utf8_lossy(&bytes);
        for part in ["D", "object", "string", "x-kubernetes-group-version-kind", "\"kind\":\"D\""] {
            assert!(text.contains(part), "{part}");
        }
    }
}
