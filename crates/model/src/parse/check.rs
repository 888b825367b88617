//! Parsing plus typed conversion plus validation: what `weir lint -f` prints and what
//! `weir apply -f` requires to be empty.

use super::{ParseError, ParsedDocument, parse_manifests};
use crate::typed::TypedObject;

/// What [`check_manifests`] found in one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    /// How many objects were read (List items count one each; bad documents count too).
    pub documents: usize,
    /// Every problem, in file order; empty when the file is fine.
    pub problems: Vec<ParseError>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every problem in one file: syntax, structure, typed conversion (wrong types, unknown
/// fields, unregistered kinds) and validation, each naming file, document, `Kind/name`,
/// field, line and column, in file order.
pub fn check_manifests(file: &str, text: &str) -> CheckReport {
    let (documents, result) = read_counted(file, text);
    CheckReport { documents, problems: result.err().unwrap_or_default() }
}

/// The typed objects of one file, or every problem if there is any (nothing is returned for
/// a file with a single bad document, so that nothing of it gets applied).
pub fn read_manifests(
    file: &str,
    text: &str,
) -> Result<Vec<(ParsedDocument, TypedObject)>, Vec<ParseError>> {
    read_counted(file, text).1
}

#[allow(clippy::type_complexity)]
fn read_counted(
    file: &str,
    text: &str,
) -> (usize, Result<Vec<(ParsedDocument, TypedObject)>, Vec<ParseError>>) {
    let parsed = parse_manifests(file, text);
    let count = parsed.documents.len()
        + parsed
            .errors
            .iter()
            .filter(|e| e.document.is_some())
            .map(|e| (e.document, e.item))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    let mut errors = parsed.errors;
    let mut objects = Vec::with_capacity(parsed.documents.len());
    for doc in parsed.documents {
        match TypedObject::decode(&doc.object) {
            Err(e) => errors.push(located(&doc, text, e.field, e.message)),
            Ok(typed) => {
                for diagnostic in typed.validate() {
                    let message = diagnostic.to_field_error().message;
                    errors.push(located(&doc, text, diagnostic.field, message));
                }
                objects.push((doc, typed));
            }
        }
    }
    if errors.is_empty() {
        (count, Ok(objects))
    } else {
        errors.sort_by_key(|e| {
            (e.document.unwrap_or(0), e.item.unwrap_or(0), e.line.unwrap_or(usize::MAX))
        });
        (count, Err(errors))
    }
}

fn located(doc: &ParsedDocument, text: &str, field: String, message: String) -> ParseError {
    let position = doc.locate(text, &field);
    let mut error = doc.error(Some(field).filter(|f| !f.is_empty()), message);
    if let Some((line, column)) = position {
        error.line = Some(line);
        error.column = Some(column);
    }
    error
}
