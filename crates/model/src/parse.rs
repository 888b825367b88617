//! Reading manifest files: multi-document YAML, JSON (one object, a stream of objects, or a
//! `kind: List`), every problem reported with file, document, object, field, line and column.
//!
//! - [`parse_manifests`] turns one file's text into [`ParsedDocument`]s (dynamic
//!   [`Object`]s) and collects a [`ParseError`] for every bad document, so `weir lint` can
//!   print them all and `weir apply` can refuse the file before applying anything
//!   ([`ParsedFile::into_result`]).
//! - [`check_manifests`] adds typed conversion ([`crate::typed::TypedObject`]) and validation,
//!   and [`read_manifests`] returns the typed objects only if there was no problem at all.
//!
//! Documents are split on `---` lines as Kubernetes' `YAMLReader` does, so a syntax error in
//! one document does not hide the next. Empty documents are skipped but still counted:
//! "document 3" is the third `---`-separated part of the file, as a human counts. Items of a
//! `List` (or `*List` kind with `items`) become documents of their own that remember their
//! index (`items[2]`). YAML follows serde_yaml_ng (YAML 1.2 core schema: `on`/`yes` are
//! strings, `1` stays an integer and `1.0` a float); merge keys are applied.

use std::fmt;
use std::ops::Range;

use serde_json::Value;
use weir_cluster::Object;

mod check;
mod locate;
mod yaml;

pub use check::{CheckReport, check_manifests, read_manifests};
pub use locate::{Segment, parse_path, render_path};
pub(crate) use locate::{from_serde_path as field_path, push_key as push_field_key};

/// The largest document accepted (3 MiB, above etcd's 1.5 MiB object limit).
pub const MAX_DOCUMENT_BYTES: usize = 3 * 1024 * 1024;
/// The largest file accepted (32 MiB).
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// The syntax a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, possibly several `---`-separated documents.
    Yaml,
    /// JSON: one value or a stream of values.
    Json,
}

/// One object read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// The file name as given.
    pub file: String,
    /// 1-based document number in the file.
    pub document: usize,
    /// Index in the document's `items` when it came from a `List`.
    pub item: Option<usize>,
    /// 1-based line where the document starts.
    pub line: usize,
    /// Byte range of the document in the file's text.
    pub span: Range<usize>,
    /// How the file was read.
    pub format: Format,
    /// The object.
    pub object: Object,
}

impl ParsedDocument {
    /// `items[2].` for a List item, `""` otherwise: the prefix of field paths in the source.
    pub fn field_prefix(&self) -> String {
        self.item.map(|i| format!("items[{i}].")).unwrap_or_default()
    }

    /// Line and column (1-based, in the whole file) of a field of this object, e.g.
    /// `spec.strategy.canary.steps[0].setWeight`; the nearest existing parent when the field
    /// is absent. `text` is the file's full text.
    pub fn locate(&self, text: &str, field: &str) -> Option<(usize, usize)> {
        let path = format!("{}{}", self.field_prefix(), field);
        locate_in(text, self.format, &self.span, &parse_path(&path))
    }

    /// An error about this document (kind and name filled in).
    pub fn error(&self, field: Option<String>, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.clone(),
            document: Some(self.document),
            item: self.item,
            kind: Some(self.object.kind.clone()).filter(|k| !k.is_empty()),
            name: Some(self.object.name().to_owned()).filter(|n| !n.is_empty()),
            field,
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

/// One problem in a file: where it is (as precisely as known) and what is wrong.
///
/// Also used for typed-conversion and validation problems by [`check_manifests`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The file name as given.
    pub file: String,
    /// 1-based document number; `None` for problems with the whole file.
    pub document: Option<usize>,
    /// Index in the document's `items` for a List item.
    pub item: Option<usize>,
    /// The object's kind, when known.
    pub kind: Option<String>,
    /// The object's name, when known.
    pub name: Option<String>,
    /// Field path inside the object, e.g. `spec.strategy.canary.steps[0].setWeight`.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the file.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
}

impl ParseError {
    fn file_level(file: &str, message: impl Into<String>) -> Self {
        ParseError {
            file: file.to_owned(),
            document: None,
            item: None,
            kind: None,
            name: None,
            field: None,
            message: message.into(),
            line: None,
            column: None,
        }
    }

    fn at(mut self, position: Option<(usize, usize)>) -> Self {
        if let Some((line, column)) = position {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }
}

impl fmt::Display for ParseError {
    /// `bookinfo.yaml: document 3 (Rollout/reviews): spec.replicas: invalid type: string "x",
    /// expected i32 (line 20, column 18)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        if let Some(document) = self.document {
            write!(f, " document {document}")?;
        }
        if let Some(item) = self.item {
            write!(f, " items[{item}]")?;
        }
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => write!(f, " ({kind}/{name})")?,
            (Some(kind), None) => write!(f, " ({kind})")?,
            (None, Some(name)) => write!(f, " ({name})")?,
            (None, None) => {}
        }
        if self.document.is_some() {
            f.write_str(":")?;
        }
        if let Some(field) = self.field.as_deref().filter(|f| !f.is_empty()) {
            write!(f, " {field}:")?;
        }
        write!(f, " {}", self.message)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " (line {line}, column {column})"),
            (Some(line), None) => write!(f, " (line {line})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ParseError {}

/// Everything read from one file: the good documents and a problem for each bad one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFile {
    /// Objects in file order (List items in item order).
    pub documents: Vec<ParsedDocument>,
    /// Every problem found, in file order.
    pub errors: Vec<ParseError>,
}

impl ParsedFile {
    /// The documents if there was no problem at all, else every problem.
    pub fn into_result(self) -> Result<Vec<ParsedDocument>, Vec<ParseError>> {
        if self.errors.is_empty() { Ok(self.documents) } else { Err(self.errors) }
    }
}

/// Reads every object in one manifest file. `file` names the file in messages; a `.json`
/// name (or text starting with `{` that parses as JSON) selects JSON.
pub fn parse_manifests(file: &str, text: &str) -> ParsedFile {
    let mut out = ParsedFile::default();
    if text.len() > MAX_FILE_BYTES {
        out.errors.push(ParseError::file_level(
            file,
            format!(
                "file is {} bytes, over the {} MiB ({MAX_FILE_BYTES} bytes) limit per file",
                text.len(),
                MAX_FILE_BYTES >> 20
            ),
        ));
        return out;
    }
    let text_start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let body = &text[text_start..];
    let looks_json = body.trim_start().starts_with('{');
    if file.ends_with(".json") || looks_json {
        match json_documents(body, text_start) {
            Ok(docs) => {
                for (index, (span, value)) in docs.into_iter().enumerate() {
                    let ctx = DocContext::new(file, index + 1, text, span, Format::Json);
                    ctx.add_value(value, &mut out);
                }
                return out;
            }
            Err((message, position)) if file.ends_with(".json") || !looks_json => {
                out.errors.push(ParseError::file_level(file, message).at(position));
                return out;
            }
            Err(_) => {} // Not JSON after all: a YAML flow mapping. Read it as YAML.
        }
    }
    for (index, chunk) in yaml::split_documents(text).into_iter().enumerate() {
        let span = chunk.span.start.max(text_start)..chunk.span.end;
        let ctx = DocContext::new(file, index + 1, text, span, Format::Yaml);
        let source = &text[ctx.span.clone()];
        if yaml::is_blank(source) {
            continue;
        }
        if source.len() > MAX_DOCUMENT_BYTES {
            out.errors.push(ctx.too_big());
            continue;
        }
        match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(source) {
            Err(e) => {
                let message = strip_location(&e.to_string());
                let position = e.location().map(|l| (l.line() + chunk.line - 1, l.column()));
                out.errors.push(ctx.error(None, message).at(position));
            }
            Ok(serde_yaml_ng::Value::Null) => {} // comments only
            Ok(value) => {
                let text_at = |v: Option<&serde_yaml_ng::Value>| {
                    v.and_then(serde_yaml_ng::Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                let kind = text_at(value.get("kind"));
                let name = text_at(value.get("metadata").and_then(|m| m.get("name")));
                match yaml::to_json(value) {
                    Ok(value) => ctx.add_value(value, &mut out),
                    Err((field, message)) => {
                        let position = ctx.locate(&field);
                        let field = Some(field).filter(|f| !f.is_empty());
                        let error = ParseError { kind, name, ..ctx.error(field, message) };
                        out.errors.push(error.at(position));
                    }
                }
            }
        }
    }
    out
}

/// The objects of one file, or every problem if any document is bad (for `weir apply -f`:
/// nothing of a half-broken file is applied).
pub fn parse_objects(file: &str, text: &str) -> Result<Vec<Object>, Vec<ParseError>> {
    parse_manifests(file, text)
        .into_result()
        .map(|docs| docs.into_iter().map(|d| d.object).collect())
}

/// Splits JSON text into values with their byte spans.
#[allow(clippy::type_complexity)]
fn json_documents(
    text: &str,
    offset: usize,
) -> Result<Vec<(Range<usize>, Value)>, (String, Option<(usize, usize)>)> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut start = 0;
    while let Some(next) = stream.next() {
        match next {
            Ok(value) => {
                let end = stream.byte_offset();
                let lead = text[start..end].len() - text[start..end].trim_start().len();
                docs.push((offset + start + lead..offset + end, value));
                start = end;
            }
            Err(e) => {
                let position = (e.line() > 0).then(|| (e.line(), e.column()));
                return Err((strip_location(&e.to_string()), position));
            }
        }
    }
    Ok(docs)
}

/// Removes the parser's own " at line L column C" suffix (the position is reported apart).
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// 1-based line and column of `path` inside the document at `span` of `text`.
fn locate_in(
    text: &str,
    format: Format,
    span: &Range<usize>,
    path: &[Segment],
) -> Option<(usize, usize)> {
    let source = text.get(span.clone())?;
    let first_line = line_of(text, span.start);
    let (line, column) = match format {
        Format::Yaml => locate::locate_yaml(source, path)?,
        Format::Json => locate::locate_json(source, path)?,
    };
    Some((line + first_line - 1, column))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Where one document is, for building its objects and errors.
struct DocContext<'a> {
    file: &'a str,
    document: usize,
    text: &'a str,
    span: Range<usize>,
    format: Format,
}

impl<'a> DocContext<'a> {
    fn new(
        file: &'a str,
        document: usize,
        text: &'a str,
        span: Range<usize>,
        format: Format,
    ) -> Self {
        DocContext { file, document, text, span, format }
    }

    fn start(&self) -> Option<(usize, usize)> {
        locate_in(self.text, self.format, &self.span, &[])
    }

    fn locate(&self, path: &str) -> Option<(usize, usize)> {
        locate_in(self.text, self.format, &self.span, &parse_path(path))
    }

    fn error(&self, field: Option<String>, message: impl Into<String>) -> ParseError {
        ParseError {
            document: Some(self.document),
            field,
            ..ParseError::file_level(self.file, message)
        }
    }

    fn too_big(&self) -> ParseError {
        let len = self.span.len();
        self.error(
            None,
            format!(
                "document is {len} bytes, over the {} MiB ({MAX_DOCUMENT_BYTES} bytes) limit per document",
                MAX_DOCUMENT_BYTES >> 20
            ),
        )
        .at(Some((line_of(self.text, self.span.start), 1)))
    }

    /// Adds a document's value: one object, or the items of a List.
    fn add_value(&self, value: Value, out: &mut ParsedFile) {
        if self.span.len() > MAX_DOCUMENT_BYTES {
            out.errors.push(self.too_big());
            return;
        }
        if value.is_null() {
            return;
        }
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let is_list = kind == "List"
            || (kind.ends_with("List") && value.get("items").is_some_and(Value::is_array));
        if !is_list {
            self.add_object(value, None, out);
            return;
        }
        let Value::Object(mut list) = value else { return };
        match list.remove("items") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.add_object(item, Some(i), out);
                }
            }
            Some(_) => out.errors.push(
                self.error(Some("items".into()), "a List's items must be a sequence")
                    .at(self.locate("items")),
            ),
        }
    }

    fn add_object(&self, value: Value, item: Option<usize>, out: &mut ParsedFile) {
        let prefix = item.map(|i| format!("items[{i}].")).unwrap_or_default();
        let mut base = self.error(None, "");
        base.item = item;
        let Value::Object(map) = &value else {
            let mut e = base;
            e.message = format!("document is not a mapping (found {})", describe(&value));
            let path = prefix.trim_end_matches('.');
            out.errors.push(e.at(self.locate(path)));
            return;
        };
        base.kind =
            map.get("kind").and_then(Value::as_str).filter(|k| !k.is_empty()).map(str::to_owned);
        base.name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let mut bad = false;
        for field in ["apiVersion", "kind"] {
            let message = match map.get(field) {
                None | Some(Value::Null) => format!("missing required field \"{field}\""),
                Some(Value::String(s)) if s.is_empty() => format!("\"{field}\" must not be empty"),
                Some(Value::String(_)) => continue,
                Some(other) => format!("\"{field}\" must be a string, not {}", describe(other)),
            };
            bad = true;
            let mut e = base.clone();
            e.field = Some(field.to_owned());
            e.message = message;
            out.errors.push(e.at(self.locate(&format!("{prefix}{field}"))));
        }
        if bad {
            return;
        }
        match serde_path_to_error::deserialize::<_, Object>(value) {
            Ok(object) => out.documents.push(ParsedDocument {
                file: self.file.to_owned(),
                document: self.document,
                item,
                line: self.start().map_or_else(|| line_of(self.text, self.span.start), |p| p.0),
                span: self.span.clone(),
                format: self.format,
                object,
            }),
            Err(e) => {
                let field = locate::from_serde_path(e.path());
                let mut err = base;
                err.message = strip_location(&e.inner().to_string());
                let position = self.locate(&format!("{prefix}{field}"));
                err.field = Some(field);
                out.errors.push(err.at(position));
            }
        }
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
