//! Diagnostics: one problem in one field, rendered the way Kubernetes' `field.Error` is.

use std::fmt;

/// The class of a field problem, as Kubernetes' `field.ErrorType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// "Invalid value": the value is set but wrong.
    Invalid,
    /// "Required value": the value is missing.
    Required,
    /// "Forbidden": the value may not be set here.
    Forbidden,
    /// "Unsupported value": not one of the allowed values.
    NotSupported,
    /// "Duplicate value".
    Duplicate,
    /// "Internal error".
    Internal,
}

impl ErrorType {
    /// The words Kubernetes prints for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Invalid => "Invalid value",
            ErrorType::Required => "Required value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// One problem with one field of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub error_type: ErrorType,
    /// Dotted field path, e.g. `spec.strategy.canary.steps[0].setWeight`; `""` for the object.
    pub field: String,
    /// The offending value as Go's `%#v` would print it (strings quoted), if any.
    pub bad_value: Option<String>,
    /// The message text alone (Argo's message constants land here).
    pub detail: String,
}

impl Diagnostic {
    /// An "Invalid value" diagnostic.
    pub fn invalid(
        field: impl Into<String>,
        bad_value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Diagnostic {
            error_type: ErrorType::Invalid,
            field: field.into(),
            bad_value: Some(bad_value.into()),
            detail: detail.into(),
        }
    }

    /// A "Required value" diagnostic.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            error_type: ErrorType::Required,
            field: field.into(),
            bad_value: None,
            detail: detail.into(),
        }
    }

    /// A diagnostic of the given type without a value.
    pub fn new(error_type: ErrorType, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic { error_type, field: field.into(), bad_value: None, detail: detail.into() }
    }

    /// Converts into the cluster API's field error (used for HTTP 422 answers).
    pub fn to_field_error(&self) -> weir_cluster::FieldError {
        let message = self.to_string();
        let message = message
            .strip_prefix(&format!("{}: ", self.field))
            .map(str::to_owned)
            .unwrap_or(message);
        weir_cluster::FieldError { field: self.field.clone(), message }
    }
}

impl fmt::Display for Diagnostic {
    /// `<field>: Invalid value: <value>: <detail>`, `<field>: Required value: <detail>`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(self.error_type.as_str())?;
        if let Some(value) = &self.bad_value {
            write!(f, ": {value}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}
