//! Server-side apply (`application/apply-patch+yaml`) with structured-merge-diff semantics,
//! and the field ownership every write leaves in `metadata.managedFields`.
//!
//! [`apply`] merges an applied configuration into the live object (lists by
//! `x-kubernetes-list-type`: `map` items by their keys, `set` values one by one, `atomic` lists
//! as one value; maps field by field unless `x-kubernetes-map-type: atomic`), refuses to change
//! a field another manager owns unless forced (a [`ApplyError::Conflict`] naming the managers
//! and fields as the API server does), removes what the manager applied before and no longer
//! applies when nobody else owns it, and records the manager's fields as an `Apply` entry.
//! [`record_update`] gives the fields a non-apply write changed to its manager (`Update`).
//!
//! Field sets are kept as sorted member paths whose elements are already in the `FieldsV1`
//! encoding (`f:name`, `k:{"name":"x"}`, `v:"value"`), so reading and writing `fieldsV1` is a
//! tree conversion. No clock: the time of an entry is passed in.

mod fields;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::schema::{ListType, Type};
use fields::{Path, display_path, encode_key, encode_value, fields_v1, member_paths};

/// The manager the API server gives the fields of an object that had no `managedFields` when
/// it was first applied to.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One server-side apply request.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    /// The object as stored, `None` when the apply creates it.
    pub live: Option<&'a Value>,
    /// The applied configuration (a partial object with apiVersion, kind and name).
    pub config: &'a Value,
    /// The kind's schema, `None` for a kind without one (fields are then granular maps and
    /// atomic lists).
    pub ty: Option<Type<'a>>,
    /// The `fieldManager` query parameter.
    pub manager: &'a str,
    /// The request's group/version (`apps/v1`), recorded in the entry.
    pub api_version: &'a str,
    /// `force=true`: take the conflicting fields from their managers.
    pub force: bool,
    /// The time to record (RFC 3339, seconds).
    pub now: &'a str,
}

/// One field another manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `conflict with "manager" using apps/v1`
    pub message: String,
    /// `.spec.replicas`
    pub field: String,
}

/// Why an apply is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The applied configuration is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// Fields owned by other managers would change (409, reason `Conflict`).
    #[error("{message}")]
    Conflict {
        /// `Apply failed with 1 conflict: conflict with "…" using apps/v1: .spec.replicas`
        message: String,
        /// One cause per field (`FieldManagerConflict`).
        conflicts: Vec<Conflict>,
    },
}

/// A managedFields entry, its field set decoded.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<Value>,
    subresource: Option<String>,
    fields: BTreeSet<Path>,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.is_none()
    }

    /// The API server's name for a manager in conflict messages.
    fn describe(&self) -> String {
        let mut name = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            name = format!("{name} with subresource {sub:?}");
        }
        if self.operation == "Update" { format!("{name} using {}", self.api_version) } else { name }
    }

    fn to_value(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager.clone()));
        entry.insert("operation".into(), Value::String(self.operation.clone()));
        entry.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            entry.insert("time".into(), time.clone());
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), fields_v1(&self.fields));
        if let Some(sub) = &self.subresource {
            entry.insert("subresource".into(), Value::String(sub.clone()));
        }
        Value::Object(entry)
    }
}

fn entries_of(object: &Value) -> Vec<Entry> {
    let Some(Value::Array(items)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            Entry {
                manager: text("manager"),
                operation: text("operation"),
                api_version: text("apiVersion"),
                time: item.get("time").filter(|t| !t.is_null()).cloned(),
                subresource: item.get("subresource").and_then(Value::as_str).map(str::to_owned),
                fields: item.get("fieldsV1").map(member_paths).unwrap_or_default(),
            }
        })
        .collect()
}

fn set_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    // The API server's order: operation, time, manager, apiVersion.
    entries.sort_by(|a, b| {
        let time = |e: &Entry| e.time.as_ref().and_then(Value::as_str).unwrap_or("").to_owned();
        (a.operation.as_str(), time(a), a.manager.as_str(), a.api_version.as_str()).cmp(&(
            b.operation.as_str(),
            time(b),
            b.manager.as_str(),
            b.api_version.as_str(),
        ))
    });
    let Some(object) = object.as_object_mut() else { return };
    let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else { return };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        let values = entries.iter().map(Entry::to_value).collect();
        metadata.insert("managedFields".into(), Value::Array(values));
    }
}

/// Top-level and metadata fields no manager owns (the API server strips them, and `status` is
/// reset on the main resource).
const UNOWNED_TOP: &[&str] = &["apiVersion", "kind", "status"];
const UNOWNED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Every owned member of `object` with its value (`true` for list items and set values).
fn leaves(object: &Value, ty: Option<Type<'_>>) -> Result<BTreeMap<Path, Value>, ApplyError> {
    let mut out = BTreeMap::new();
    let Value::Object(map) = object else { return Ok(out) };
    for (key, value) in map {
        if UNOWNED_TOP.contains(&key.as_str()) {
            continue;
        }
        let field_ty = ty.and_then(|t| t.field(key));
        let mut path = vec![format!("f:{key}")];
        if key == "metadata"
            && let Value::Object(meta) = value
        {
            for (meta_key, meta_value) in meta {
                if UNOWNED_META.contains(&meta_key.as_str()) {
                    continue;
                }
                path.push(format!("f:{meta_key}"));
                collect(meta_value, field_ty.and_then(|t| t.field(meta_key)), &mut path, &mut out)?;
                path.pop();
            }
            continue;
        }
        collect(value, field_ty, &mut path, &mut out)?;
    }
    Ok(out)
}

fn collect(
    value: &Value,
    ty: Option<Type<'_>>,
    path: &mut Path,
    out: &mut BTreeMap<Path, Value>,
) -> Result<(), ApplyError> {
    match value {
        Value::Object(map) if !map.is_empty() && !ty.is_some_and(|t| t.is_atomic_map()) => {
            for (key, child) in map {
                path.push(format!("f:{key}"));
                collect(child, ty.and_then(|t| t.field(key)), path, out)?;
                path.pop();
            }
        }
        Value::Array(items) => match ty.map_or(ListType::Atomic, |t| t.list_type()) {
            ListType::Atomic => {
                out.insert(path.clone(), value.clone());
            }
            ListType::Set => {
                for item in items {
                    path.push(encode_value(item));
                    out.insert(path.clone(), Value::Bool(true));
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                let item_ty = ty.and_then(|t| t.items());
                for (index, item) in items.iter().enumerate() {
                    let key = item_key(item, keys).map_err(|missing| {
                        ApplyError::BadRequest(format!(
                            "{}: element {index}: associative list with keys has an element that \
                             omits key field {missing:?} (and doesn't have default value)",
                            display_path(path)
                        ))
                    })?;
                    path.push(encode_key(&key));
                    out.insert(path.clone(), Value::Bool(true));
                    if let Value::Object(fields) = item {
                        for (field, child) in fields {
                            path.push(format!("f:{field}"));
                            collect(child, item_ty.and_then(|t| t.field(field)), path, out)?;
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
        },
        _ => {
            out.insert(path.clone(), value.clone());
        }
    }
    Ok(())
}

/// The key fields of a list-map item (sorted by name). A missing `protocol` is `TCP`, the
/// default the API server's schema gives every port protocol; another missing key is an error.
fn item_key(item: &Value, keys: &[Box<str>]) -> Result<Map<String, Value>, String> {
    let mut sorted: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    let mut key = Map::new();
    for name in sorted {
        match item.get(name) {
            Some(value) => {
                key.insert(name.to_owned(), value.clone());
            }
            None if name == "protocol" => {
                key.insert(name.to_owned(), Value::String("TCP".into()));
            }
            None => return Err(name.to_owned()),
        }
    }
    Ok(key)
}

/// Merges the applied configuration into the live value.
fn merge(live: &mut Value, config: &Value, ty: Option<Type<'_>>) {
    match (&mut *live, config) {
        (Value::Object(live_map), Value::Object(config_map))
            if !ty.is_some_and(|t| t.is_atomic_map()) =>
        {
            for (key, value) in config_map {
                let field_ty = ty.and_then(|t| t.field(key));
                match live_map.get_mut(key) {
                    Some(slot) => merge(slot, value, field_ty),
                    None => {
                        live_map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live_items), Value::Array(config_items)) => {
            match ty.map_or(ListType::Atomic, |t| t.list_type()) {
                ListType::Atomic => *live = config.clone(),
                ListType::Set => {
                    let items = std::mem::take(live_items);
                    *live_items =
                        merge_in_order(items, config_items, |v| Some(encode_value(v)), |l, _| l);
                }
                ListType::Map(keys) => {
                    let item_ty = ty.and_then(|t| t.items());
                    let items = std::mem::take(live_items);
                    let id = |item: &Value| item_key(item, keys).ok().map(|k| encode_key(&k));
                    *live_items = merge_in_order(items, config_items, id, |mut l, c| {
                        merge(&mut l, c, item_ty);
                        l
                    });
                }
            }
        }
        _ => *live = config.clone(),
    }
}

/// structured-merge-diff's order for a merged list (`visitListItems`): the applied items
/// (shared or new) come in the applied configuration's order; an item only in the live list is
/// emitted when the walk over the live list reaches it.
fn merge_in_order(
    live: Vec<Value>,
    config: &[Value],
    id: impl Fn(&Value) -> Option<String>,
    mut merge_item: impl FnMut(Value, &Value) -> Value,
) -> Vec<Value> {
    let live_ids: Vec<Option<String>> = live.iter().map(&id).collect();
    let config_ids: Vec<Option<String>> = config.iter().map(&id).collect();
    let in_config = |i: &Option<String>| i.is_some() && config_ids.contains(i);
    let mut shared: std::collections::VecDeque<&Option<String>> =
        config_ids.iter().filter(|c| c.is_some() && live_ids.contains(c)).collect();
    let mut live_items: Vec<Option<Value>> = live.into_iter().map(Some).collect();
    let mut merged: Vec<&Option<String>> = Vec::new();
    let mut out = Vec::with_capacity(live_items.len() + config.len());
    let (mut l, mut r) = (0, 0);
    while l < live_ids.len() || r < config.len() {
        if l < live_ids.len() && r < config.len() {
            if live_ids[l].is_some() && live_ids[l] == config_ids[r] {
                if let Some(item) = live_items[l].take() {
                    out.push(merge_item(item, &config[r]));
                }
                merged.push(&config_ids[r]);
                if shared.front() == Some(&&config_ids[r]) {
                    shared.pop_front();
                }
                (l, r) = (l + 1, r + 1);
                continue;
            }
            if in_config(&live_ids[l]) && shared.front().is_some_and(|next| **next != live_ids[l]) {
                l += 1;
                continue;
            }
        }
        if l < live_ids.len() {
            if !in_config(&live_ids[l]) {
                out.extend(live_items[l].take());
                l += 1;
                continue;
            }
            if merged.contains(&&live_ids[l]) {
                l += 1;
                continue;
            }
        }
        if r < config.len() {
            let matching = live_ids
                .iter()
                .position(|i| i.is_some() && *i == config_ids[r])
                .and_then(|at| live_items[at].take());
            out.push(match matching {
                Some(item) => merge_item(item, &config[r]),
                None => config[r].clone(),
            });
            merged.push(&config_ids[r]);
            if shared.front() == Some(&&config_ids[r]) {
                shared.pop_front();
            }
            r += 1;
        }
    }
    out
}

/// Removes the member at `path` from `value` (a field, a list-map item or a set value).
fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = value;
    for step in parents {
        let next = match current {
            Value::Object(map) => step.strip_prefix("f:").and_then(|f| map.get_mut(f)),
            Value::Array(items) => items.iter_mut().find(|item| matches_step(item, step)),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match current {
        Value::Object(map) => {
            if let Some(field) = last.strip_prefix("f:") {
                map.shift_remove(field);
            }
        }
        Value::Array(items) => items.retain(|item| !matches_step(item, last)),
        _ => {}
    }
}

fn matches_step(item: &Value, step: &str) -> bool {
    if let Some(value) = step.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| &v == item);
    }
    let Some(Ok(Value::Object(key))) = step.strip_prefix("k:").map(serde_json::from_str::<Value>)
    else {
        return false;
    };
    key.iter().all(|(name, value)| match item.get(name) {
        Some(v) => v == value,
        None => name == "protocol" && value == "TCP",
    })
}

/// The members whose value differs between two states (added, removed or changed).
fn changed(before: &BTreeMap<Path, Value>, after: &BTreeMap<Path, Value>) -> BTreeSet<Path> {
    let mut out: BTreeSet<Path> = BTreeSet::new();
    for (path, value) in before {
        if after.get(path) != Some(value) {
            out.insert(path.clone());
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            out.insert(path.clone());
        }
    }
    out
}

fn is_prefix(prefix: &[String], path: &[String]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

/// Applies `request.config` to the live object (or to nothing: an apply that creates) and
/// returns the new object with its `metadata.managedFields`.
pub fn apply(request: &ApplyRequest<'_>) -> Result<Value, ApplyError> {
    let config = request.config;
    if !config.is_object() {
        return Err(ApplyError::BadRequest(
            "the applied configuration must be an object".to_owned(),
        ));
    }
    if config.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::BadRequest("metadata.managedFields must be nil".to_owned()));
    }
    let empty = Value::Object(Map::new());
    let live = request.live.unwrap_or(&empty);
    let mut entries = entries_of(live);
    let live_leaves = leaves(live, request.ty)?;
    if request.live.is_some() && entries.is_empty() && !live_leaves.is_empty() {
        // An object nobody owns yet: its fields belong to `before-first-apply`.
        entries.push(Entry {
            manager: BEFORE_FIRST_APPLY.to_owned(),
            operation: "Update".to_owned(),
            api_version: request.api_version.to_owned(),
            time: Some(Value::String(request.now.to_owned())),
            subresource: None,
            fields: live_leaves.keys().cloned().collect(),
        });
    }
    let config_leaves = leaves(config, request.ty)?;
    let mut merged = live.clone();
    merge(&mut merged, config, request.ty);
    let merged_leaves = leaves(&merged, request.ty)?;
    let changed = changed(&live_leaves, &merged_leaves);

    let is_applier = |e: &Entry| e.is(request.manager, "Apply");
    let mut conflicts = Vec::new();
    for entry in entries.iter_mut().filter(|e| !is_applier(e)) {
        let taken: Vec<Path> = entry.fields.intersection(&changed).cloned().collect();
        if taken.is_empty() {
            continue;
        }
        if request.force {
            for path in &taken {
                entry.fields.remove(path);
            }
        } else {
            let message = format!("conflict with {}", entry.describe());
            conflicts
                .extend(taken.iter().map(|p| (entry.describe(), message.clone(), display_path(p))));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(conflicts));
    }

    let config_set: BTreeSet<Path> = config_leaves.keys().cloned().collect();
    let previous =
        entries.iter().find(|e| is_applier(e)).map(|e| e.fields.clone()).unwrap_or_default();
    let others: Vec<&Path> =
        entries.iter().filter(|e| !is_applier(e)).flat_map(|e| e.fields.iter()).collect();
    for path in previous.difference(&config_set) {
        if !others.iter().any(|owned| is_prefix(path, owned)) {
            remove_path(&mut merged, path);
        }
    }

    match entries.iter_mut().find(|e| is_applier(e)) {
        Some(entry) if entry.fields == config_set && entry.api_version == request.api_version => {}
        Some(entry) => {
            entry.fields = config_set;
            entry.api_version = request.api_version.to_owned();
            entry.time = Some(Value::String(request.now.to_owned()));
        }
        None => entries.push(Entry {
            manager: request.manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: request.api_version.to_owned(),
            time: Some(Value::String(request.now.to_owned())),
            subresource: None,
            fields: config_set,
        }),
    }
    set_entries(&mut merged, entries);
    Ok(merged)
}

fn conflict_error(conflicts: Vec<(String, String, String)>) -> ApplyError {
    let message = if let [(manager, _, field)] = conflicts.as_slice() {
        format!("Apply failed with 1 conflict: conflict with {manager}: {field}")
    } else {
        let mut by_manager: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (manager, _, field) in &conflicts {
            by_manager.entry(manager).or_default().push(field);
        }
        let mut lines = Vec::new();
        for (manager, fields) in by_manager {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(fields.iter().map(|f| format!("- {f}")));
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    let conflicts =
        conflicts.into_iter().map(|(_, message, field)| Conflict { message, field }).collect();
    ApplyError::Conflict { message, conflicts }
}

/// A non-apply write (create, update, patch) by `manager`: the fields it changed become its
/// own (`operation: Update`) and leave the other managers; `new`'s `managedFields` are
/// replaced. Nothing changes when the write changed no field.
pub fn record_update(
    live: Option<&Value>,
    new: &mut Value,
    ty: Option<Type<'_>>,
    manager: &str,
    api_version: &str,
    now: &str,
) -> Result<(), ApplyError> {
    let empty = Value::Object(Map::new());
    let before = leaves(live.unwrap_or(&empty), ty)?;
    let after = leaves(new, ty)?;
    let mut entries = live.map(entries_of).unwrap_or_default();
    let changed = changed(&before, &after);
    if changed.is_empty() {
        set_entries(new, entries);
        return Ok(());
    }
    for entry in entries.iter_mut().filter(|e| !e.is(manager, "Update")) {
        entry.fields.retain(|path| !changed.contains(path));
    }
    let present = |p: &Path| after.contains_key(p);
    match entries.iter_mut().find(|e| e.is(manager, "Update")) {
        Some(entry) => {
            entry.fields.extend(changed.iter().filter(|p| present(p)).cloned());
            entry.fields.retain(|p| present(p));
            entry.api_version = api_version.to_owned();
            entry.time = Some(Value::String(now.to_owned()));
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: api_version.to_owned(),
            time: Some(Value::String(now.to_owned())),
            subresource: None,
            fields: changed.into_iter().filter(|p| present(p)).collect(),
        }),
    }
    set_entries(new, entries);
    Ok(())
}

/// The applied configuration must address the request's object: the API server's 400s for a
/// missing or different kind, apiVersion, name or namespace.
pub fn check_identity(
    config: &Value,
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
) -> Result<(), ApplyError> {
    let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str);
    let bad = |message: String| Err(ApplyError::BadRequest(message));
    let Some(config_kind) = text("/kind").filter(|k| !k.is_empty()) else {
        return bad(format!("Object 'Kind' is missing in '{config}'"));
    };
    let Some(config_version) = text("/apiVersion").filter(|v| !v.is_empty()) else {
        return bad(format!("Object 'apiVersion' is missing in '{config}'"));
    };
    if config_version != api_version {
        return bad(format!(
            "Incorrect version specified in apply patch. Specified patch version: \
             {config_version}, expected: {api_version}"
        ));
    }
    if config_kind != kind {
        return bad(format!(
            "the kind of the object ({config_kind}) does not match the kind on the URL ({kind})"
        ));
    }
    let config_name = text("/metadata/name").unwrap_or("");
    if config_name != name {
        return bad(format!(
            "the name of the object ({config_name}) does not match the name on the URL ({name})"
        ));
    }
    if let (Some(url), Some(body)) = (namespace, text("/metadata/namespace"))
        && url != body
    {
        return bad(format!(
            "the namespace of the object ({body}) does not match the namespace on the URL ({url})"
        ));
    }
    Ok(())
}
