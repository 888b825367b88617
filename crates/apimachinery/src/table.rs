//! `meta.k8s.io/v1` Tables, what `kubectl get` asks for (`Accept:
//! application/json;as=Table;v=v1;g=meta.k8s.io`): the columns of Kubernetes' own printers for
//! built-in kinds (`printers`), a CRD's `additionalPrinterColumns` for custom kinds (with
//! `Name` first and `Age` when the CRD declares no column, as the apiextensions server does),
//! `Name` and `Age` for anything else. Every cell of every column is filled (the API server
//! prints wide); kubectl hides the columns of priority 1 unless `-o wide`.
//!
//! Pure: ages are computed from a `now` passed in.

mod jsonpath;
mod printers;
mod time;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use jsonpath::JsonPath;

pub(crate) const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One column of a Table (`TableColumnDefinition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDefinition {
    /// The header (kubectl upper-cases it).
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: String,
    /// `name` for the object's name column, else usually empty.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0: always shown; 1 and more: shown by `-o wide`.
    pub priority: i64,
}

impl ColumnDefinition {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "type": self.kind, "format": self.format,
            "description": self.description, "priority": self.priority,
        })
    }
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// The object's metadata as a `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

/// A request for a Table the API server would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// `includeObject` is not `None`, `Metadata` or `Object`.
    #[error(
        "includeObject: Unsupported value: {0:?}: supported values: \"Metadata\", \"None\", \"Object\""
    )]
    IncludeObject(String),
}

impl IncludeObject {
    /// The `includeObject` query parameter (absent: `Metadata`).
    pub fn parse(value: Option<&str>) -> Result<Self, TableError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(TableError::IncludeObject(other.to_owned())),
        }
    }
}

/// How the cells of a kind are made.
#[derive(Debug, Clone)]
enum Cells {
    /// A built-in printer.
    Builtin(printers::Printer),
    /// A CRD's columns, after the name.
    Custom(Vec<Option<JsonPath>>),
}

/// Turns objects of one kind into Table rows.
#[derive(Debug, Clone)]
pub struct TableConvertor {
    columns: Vec<ColumnDefinition>,
    cells: Cells,
}

impl TableConvertor {
    /// The convertor of `group`/`version` `kind`: a built-in printer, else the printer columns
    /// of the kind's CRD (`crd`, applied at runtime, else a built-in CRD), else `Name`/`Age`.
    pub fn for_kind(group: &str, version: &str, kind: &str, crd: Option<&Value>) -> Self {
        if let Some(printer) = printers::Printer::for_kind(group, kind) {
            return TableConvertor { columns: printer.columns(), cells: Cells::Builtin(printer) };
        }
        let columns = match crd {
            Some(crd) => crd_columns(crd, version),
            None => builtin_crd_columns(group, kind, version),
        };
        TableConvertor::custom(&columns)
    }

    /// A convertor for CRD `additionalPrinterColumns` (JSON as the CRD declares them).
    fn custom(columns: &[Value]) -> Self {
        let default_age = [json!({
            "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
            "description": AGE_DESCRIPTION,
        })];
        let columns = if columns.is_empty() { &default_age[..] } else { columns };
        let mut definitions = vec![name_column()];
        let mut paths = Vec::new();
        for column in columns {
            let text = |key: &str| column.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
            let json_path = text("jsonPath");
            let description = match text("description") {
                d if d.is_empty() => {
                    format!("Custom resource definition column (in JSONPath format): {json_path}")
                }
                d => d,
            };
            definitions.push(ColumnDefinition {
                name: text("name"),
                kind: text("type"),
                format: text("format"),
                description,
                priority: column.get("priority").and_then(Value::as_i64).unwrap_or(0),
            });
            paths.push(JsonPath::parse(&json_path));
        }
        TableConvertor { columns: definitions, cells: Cells::Custom(paths) }
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[ColumnDefinition] {
        &self.columns
    }

    /// The cells of one object, one per column.
    pub fn cells(&self, object: &Value, now: SystemTime) -> Vec<Value> {
        match &self.cells {
            Cells::Builtin(printer) => printer.cells(object, now),
            Cells::Custom(paths) => {
                let mut cells = vec![json!(name_of(object))];
                for (path, column) in paths.iter().zip(&self.columns[1..]) {
                    let value = path.as_ref().and_then(|p| p.find(object).into_iter().next());
                    cells.push(custom_cell(&column.kind, value, now));
                }
                cells
            }
        }
    }

    /// One row: the cells and the object as `include` asks.
    pub fn row(&self, object: &Value, include: IncludeObject, now: SystemTime) -> Value {
        let mut row = Map::new();
        row.insert("cells".to_owned(), Value::Array(self.cells(object, now)));
        match include {
            IncludeObject::None => {}
            IncludeObject::Object => {
                row.insert("object".to_owned(), object.clone());
            }
            IncludeObject::Metadata => {
                row.insert("object".to_owned(), partial_object_metadata(object));
            }
        }
        Value::Object(row)
    }

    /// A Table of `objects`, with the list's `metadata` (resourceVersion, continue) kept.
    /// `api_version` is `meta.k8s.io/v1` (or `v1beta1`, if that is what was asked for);
    /// `with_columns` is false for the watch events after the first, as the API server saves
    /// the column definitions there.
    pub fn table(
        &self,
        objects: &[Value],
        metadata: Value,
        options: &TableOptions,
        now: SystemTime,
    ) -> Value {
        let columns: Vec<Value> = if options.with_columns {
            self.columns.iter().map(ColumnDefinition::to_json).collect()
        } else {
            Vec::new()
        };
        let rows: Vec<Value> = objects.iter().map(|o| self.row(o, options.include, now)).collect();
        json!({
            "kind": "Table",
            "apiVersion": options.api_version,
            "metadata": metadata,
            "columnDefinitions": columns,
            "rows": rows,
        })
    }
}

/// How a Table is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    pub api_version: String,
    /// What each row carries.
    pub include: IncludeObject,
    /// Whether the column definitions are sent.
    pub with_columns: bool,
}

impl TableOptions {
    /// The Table a request's `Accept` header asks for, if it asks for one first: kubectl sends
    /// `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`.
    pub fn from_accept(accept: &str, include: IncludeObject) -> Option<TableOptions> {
        for media in accept.split(',') {
            let mut parts = media.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or("");
            let params: BTreeMap<&str, &str> = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            if !matches!(media_type, "application/json" | "*/*" | "application/*") {
                continue;
            }
            match (params.get("as"), params.get("g"), params.get("v")) {
                (Some(&"Table"), Some(&"meta.k8s.io"), Some(&version))
                    if version == "v1" || version == "v1beta1" =>
                {
                    return Some(TableOptions {
                        api_version: format!("meta.k8s.io/{version}"),
                        include,
                        with_columns: true,
                    });
                }
                // Another `as=` (PartialObjectMetadata, …) is not a Table.
                (Some(_), _, _) => continue,
                // Plain JSON is acceptable before any Table: the client prefers objects.
                (None, _, _) => return None,
            }
        }
        None
    }
}

/// `metadata.name`.
pub(crate) fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn name_column() -> ColumnDefinition {
    ColumnDefinition {
        name: "Name".to_owned(),
        kind: "string".to_owned(),
        format: "name".to_owned(),
        description: NAME_DESCRIPTION.to_owned(),
        priority: 0,
    }
}

fn partial_object_metadata(object: &Value) -> Value {
    let api_version = "meta.k8s.io/v1";
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A CRD column's cell, as the apiextensions table convertor makes it: strings printed as
/// JSONPath prints (lists and maps as JSON), typed columns only from a value of their type,
/// dates as ages; `null` when the path finds nothing.
fn custom_cell(kind: &str, value: Option<&Value>, now: SystemTime) -> Value {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Value::Null };
    match kind {
        "string" => json!(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        "integer" => match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Value::from)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "number" => value.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => value.as_bool().map(Value::from).unwrap_or(Value::Null),
        "date" => match value.as_str() {
            Some(text) => json!(time::age(Some(text), now)),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// A CRD's printer columns for `version` (that version's, else the first version's).
fn crd_columns(crd: &Value, version: &str) -> Vec<Value> {
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
    let entry = versions.and_then(|vs| {
        vs.iter().find(|v| v.get("name").and_then(Value::as_str) == Some(version)).or(vs.first())
    });
    entry
        .and_then(|v| v.get("additionalPrinterColumns"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The printer columns of the built-in CRDs, by group, kind and version (read once from the
/// embedded CRDs, which are deserialized into nothing but their columns).
fn builtin_crd_columns(group: &str, kind: &str, version: &str) -> Vec<Value> {
    #[derive(serde::Deserialize)]
    struct Crd {
        spec: Spec,
    }
    #[derive(serde::Deserialize)]
    struct Spec {
        group: String,
        names: Names,
        #[serde(default)]
        versions: Vec<Version>,
    }
    #[derive(serde::Deserialize)]
    struct Names {
        kind: String,
    }
    #[derive(serde::Deserialize)]
    struct Version {
        name: String,
        #[serde(rename = "additionalPrinterColumns", default)]
        columns: Vec<Value>,
    }
    type Columns = BTreeMap<(String, String), Value>;
    static COLUMNS: OnceLock<Columns> = OnceLock::new();
    let columns = COLUMNS.get_or_init(|| {
        let crds: Vec<Crd> = serde_json::from_str(crate::data::BUILTIN_CRDS).unwrap_or_default();
        crds.into_iter()
            .map(|crd| {
                let versions: Vec<Value> = crd
                    .spec
                    .versions
                    .into_iter()
                    .map(|v| json!({ "name": v.name, "additionalPrinterColumns": v.columns }))
                    .collect();
                ((crd.spec.group, crd.spec.names.kind), json!({ "spec": { "versions": versions } }))
            })
            .collect()
    });
    columns
        .get(&(group.to_owned(), kind.to_owned()))
        .map(|crd| crd_columns(crd, version))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
