//! Strategic merge patch (`application/strategic-merge-patch+json`) applied the way the API
//! server applies it (k8s.io/apimachinery `strategicpatch.StrategicMergePatch`):
//!
//! - maps merge recursively and `null` deletes a key;
//! - a list with `x-kubernetes-patch-strategy: merge` merges by its merge key (objects) or as
//!   a set (primitives); any other list is replaced;
//! - the directives `$patch: replace|delete` (on a map or on a list item), `$setElementOrder/<list>`,
//!   `$deleteFromPrimitiveList/<list>` and `$retainKeys` act and are never stored;
//! - merged lists keep apimachinery's order: patch items in the patch's (or `$setElementOrder`'s)
//!   order, server-only items where they were, a new item before the server-only items it does
//!   not follow.
//!
//! The schema comes from [`crate::schema`]; without one (an undeclared field), maps merge and
//! lists are replaced, as apimachinery does for fields its schema does not know.

use serde_json::{Map, Value};

use crate::schema::{ListPatch, Type};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch cannot be applied; messages are apimachinery's. weir answers
/// all of them 400 BadRequest, as the API server answers its patch format errors (for the
/// others, such as a missing merge key, the API server's status code is not reproduced).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch does not apply to this object.
    #[error("{0}")]
    BadRequest(String),
}

type Result<T> = std::result::Result<T, PatchError>;

fn bad(message: impl Into<String>) -> PatchError {
    PatchError::BadRequest(message.into())
}

/// Go's rendering of a decoded JSON value's type, as apimachinery's messages show it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` rendering of a value (`map[a:1 b:x]`), for apimachinery's error messages.
fn go_display(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(go_display).collect::<Vec<_>>().join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> =
                entries.iter().map(|(k, v)| format!("{k}:{}", go_display(v))).collect();
            format!("map[{}]", inner.join(" "))
        }
        other => other.to_string(),
    }
}

fn bad_arg(expected: &str, actual: &Value) -> PatchError {
    bad(format!("expected a {expected}, but received a {}", go_type(actual)))
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    bad(format!("map: {} does not contain declared merge key: {key}", go_display(item)))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    let directive = go_display(directive);
    bad(format!(
        "unknown patch type: {directive} in map: {}",
        go_display(&Value::Object(map.clone()))
    ))
}

/// Applies `patch` to `original` (a whole object) with the object's schema `ty`.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    ty: Option<Type<'_>>,
) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(bad(format!(
            "invalid JSON document: a strategic merge patch must be a JSON object, not {}",
            go_type(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), ty).map(Value::Object)
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Option<Type<'_>>,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                // What replaces the map is the rest of the patch, with its own directives applied.
                return merge_map(Map::new(), patch, ty);
            }
            // apimachinery's handleDirectiveInMergeMap: a deleted map is an empty map.
            Some("delete") => return Ok(Map::new()),
            // `merge` is the default strategy: accepted and dropped.
            Some("merge") => {
                patch.shift_remove(DIRECTIVE);
            }
            _ => return Err(bad_patch_type(directive, &patch)),
        }
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_order(&mut original, &mut patch, ty)?;

    for (key, patch_value) in patch {
        if let Some(list_key) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(&mut original, list_key, &patch_value)?;
            continue;
        }
        if key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        let field_ty = ty.and_then(|t| t.field(&key));
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let merged = match original.shift_remove_entry(&key) {
            None => merge_value(empty_like(&patch_value), patch_value, field_ty)?,
            Some((_, old)) => merge_value(old, patch_value, field_ty)?,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// An empty value of the patch value's kind, to merge a new field into (so that its
/// directives are applied, never stored).
fn empty_like(value: &Value) -> Value {
    match value {
        Value::Object(_) => Value::Object(Map::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        _ => Value::Null,
    }
}

fn merge_value(original: Value, patch: Value, ty: Option<Type<'_>>) -> Result<Value> {
    match (original, patch) {
        (Value::Object(original), Value::Object(patch)) => {
            if ty.is_some_and(|t| t.replaces_map()) {
                merge_map(Map::new(), patch, ty).map(Value::Object)
            } else {
                merge_map(original, patch, ty).map(Value::Object)
            }
        }
        (Value::Array(original), Value::Array(patch)) => {
            let strategy = ty.map_or(ListPatch::Replace, |t| t.list_patch());
            let items = ty.and_then(|t| t.items());
            merge_list(original, patch, strategy, items).map(Value::Array)
        }
        // Different kinds, or scalars: the patch's value, with its directives applied.
        (_, Value::Object(patch)) => merge_map(Map::new(), patch, ty).map(Value::Object),
        (_, Value::Array(patch)) => {
            let strategy = ty.map_or(ListPatch::Replace, |t| t.list_patch());
            merge_list(Vec::new(), patch, strategy, ty.and_then(|t| t.items())).map(Value::Array)
        }
        (_, patch) => Ok(patch),
    }
}

/// `$retainKeys`: keys of `original` missing from the list are cleared; every key the patch
/// sets must be in the list.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retain) = retain else {
        return Err(bad("invalid patch format of retainKeys"));
    };
    let retained = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
            || key == DIRECTIVE
        {
            continue;
        }
        if !retained(key) {
            return Err(bad("invalid patch format of retainKeys"));
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list (if the patch has it) and orders the result as
/// the directive says, server-only items kept where they were.
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Option<Type<'_>>,
) -> Result<()> {
    let keys: Vec<String> =
        patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive_key in keys {
        let Some(order) = patch.shift_remove(&directive_key) else { continue };
        let list_key = &directive_key[SET_ELEMENT_ORDER.len()..];
        if list_key.is_empty() {
            return Err(bad("invalid patch format of setElementOrder list"));
        }
        let Value::Array(order) = order else {
            return Err(bad_arg("[]interface {}", &order));
        };
        let field_ty = ty.and_then(|t| t.field(list_key));
        let strategy = field_ty.map_or(ListPatch::Replace, |t| t.list_patch());
        let merge_key = match strategy {
            ListPatch::MergeByKey(key) => Some(key),
            _ => None,
        };
        let original_list = match original.get(list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg("[]interface {}", other)),
        };
        let patch_list = match patch.shift_remove(list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(bad_arg("[]interface {}", &other)),
        };
        if let Some(patch_list) = &patch_list {
            validate_against_order(patch_list, &order, merge_key)?;
        }
        let items_ty = field_ty.and_then(|t| t.items());
        let merged = match (original_list.clone(), patch_list) {
            (Some(original), None) => original,
            (original, Some(patch)) => {
                merge_list(original.unwrap_or_default(), patch, strategy, items_ty)?
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, merge_key)?;
        let server_order = original_list.unwrap_or_default();
        let ordered = normalize_order(in_order, server_only, &order, &server_order, merge_key);
        original.insert(list_key.to_owned(), Value::Array(ordered));
    }
    Ok(())
}

/// The patch's items (deletions aside) must appear in `$setElementOrder` in the same order.
fn validate_against_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    let kept: Vec<&Value> = patch.iter().filter(|item| !has_directive(item)).collect();
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if same_element(kept[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() {
        return Err(bad(format!(
            "the order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}",
            go_display(&Value::Array(patch.to_vec())),
            go_display(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn has_directive(item: &Value) -> bool {
    item.get(DIRECTIVE).is_some()
}

fn same_element(a: &Value, b: &Value, merge_key: Option<&str>) -> Result<bool> {
    let Some(key) = merge_key else { return Ok(a == b) };
    let left = a.get(key).ok_or_else(|| no_merge_key(a, key))?;
    let right = b.get(key).ok_or_else(|| no_merge_key(b, key))?;
    Ok(left == right)
}

/// `$deleteFromPrimitiveList/<list>`: removes every listed value from the original list.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    list_key: &str,
    values: &Value,
) -> Result<()> {
    if list_key.is_empty() {
        return Err(bad("invalid patch format of primitive list"));
    }
    let Value::Array(values) = values else {
        return Err(bad_arg("[]interface {}", values));
    };
    match original.get_mut(list_key) {
        None => Ok(()),
        Some(Value::Array(items)) => {
            items.retain(|item| !values.contains(item));
            Ok(())
        }
        Some(other) => Err(bad_arg("[]interface {}", other)),
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    strategy: ListPatch<'_>,
    items: Option<Type<'_>>,
) -> Result<Vec<Value>> {
    match strategy {
        ListPatch::Replace => replace_list(patch, items),
        ListPatch::MergeSet => {
            if patch.iter().chain(&original).any(|v| v.is_object() || v.is_array()) {
                if patch.iter().any(Value::is_object) {
                    return Err(bad("cannot merge lists without merge key for type map"));
                }
                return replace_list(patch, items);
            }
            let mut merged = original.clone();
            for item in &patch {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            let (in_patch, server_only) = partition(merged, &patch, None)?;
            Ok(normalize_order(in_patch, server_only, &patch, &original, None))
        }
        ListPatch::MergeByKey(key) => merge_keyed_list(original, patch, key, items),
    }
}

/// A list that replaces: its items' own directives are applied (a `$patch` item is dropped).
fn replace_list(patch: Vec<Value>, items: Option<Type<'_>>) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(patch.len());
    for item in patch {
        match item {
            Value::Object(map) if map.contains_key(DIRECTIVE) => {}
            Value::Object(map) => out.push(Value::Object(merge_map(Map::new(), map, items)?)),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn merge_keyed_list(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    items: Option<Type<'_>>,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    if let Some(scalar) = patch.iter().chain(&original).find(|v| !v.is_object()) {
        return Err(bad_arg("map[string]interface {}", scalar));
    }
    // The special items first: `$patch: delete` removes by key, `$patch: replace` replaces.
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item.get(key).ok_or_else(|| no_merge_key(&item, key))?;
                original.retain(|o| o.get(key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(bad("merging lists cannot yet be specified in the patch")),
            _ => {
                let map = item.as_object().cloned().unwrap_or_default();
                return Err(bad_patch_type(directive, &map));
            }
        }
    }
    if replace {
        return replace_list(plain, items);
    }
    let server_order = original.clone();
    for item in &plain {
        let value = item.get(key).ok_or_else(|| no_merge_key(item, key))?;
        let Value::Object(patch_map) = item.clone() else { continue };
        match original.iter().position(|o| o.get(key) == Some(value)) {
            Some(at) => {
                let Value::Object(old) = std::mem::take(&mut original[at]) else { continue };
                original[at] = Value::Object(merge_map(old, patch_map, items)?);
            }
            None => original.push(Value::Object(merge_map(Map::new(), patch_map, items)?)),
        }
    }
    let (in_patch, server_only) = partition(original, &plain, Some(key))?;
    Ok(normalize_order(in_patch, server_only, &plain, &server_order, Some(key)))
}

/// Splits `list` into the items present in `by` and the others, each in list order.
fn partition(
    list: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for item in list {
        let found = match merge_key {
            None => by.contains(&item),
            Some(key) => {
                let value = item.get(key).ok_or_else(|| no_merge_key(&item, key))?;
                by.iter().any(|b| b.get(key) == Some(value))
            }
        };
        if found { present.push(item) } else { absent.push(item) }
    }
    Ok((present, absent))
}

fn position(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    match merge_key {
        None => list.iter().position(|v| v == item),
        Some(key) => {
            let value = item.get(key)?;
            list.iter().position(|v| v.get(key) == Some(value))
        }
    }
}

/// apimachinery's normalizeElementOrder: the patch items sorted by `patch_order`, the
/// server-only items by `server_order`, then interleaved: a server-only item comes first only
/// when it precedes the next patch item in the server's order.
fn normalize_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    patch_items.sort_by_key(|v| position(patch_order, v, merge_key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| position(server_order, v, merge_key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (position(server_order, l, merge_key), position(server_order, r, merge_key)) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn without_a_schema_maps_merge_and_lists_replace() {
        let original = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let patch = json!({"a": {"b": null, "d": 3}, "l": [3]});
        let out = strategic_merge_patch(&original, &patch, None).unwrap();
        assert_eq!(out, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn a_patch_that_is_not_an_object_is_a_bad_request() {
        let err = strategic_merge_patch(&json!({}), &json!([1]), None).unwrap_err();
        assert!(matches!(err, PatchError::BadRequest(_)));
    }

    #[test]
    fn go_display_renders_maps_sorted() {
        assert_eq!(
            go_display(&json!({"name": "x", "$patch": "delete"})),
            "map[$patch:delete name:x]"
        );
    }
}
