//! Errors of the cluster API, one variant per Kubernetes `Status` reason a caller acts on.

/// One invalid field: its JSON path (`spec.strategy.canary.steps[0].setWeight`) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Path of the field, dotted, with `[i]` for list items.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Result of a cluster API call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a cluster API call failed. Each variant maps to one HTTP status (see [`Error::status`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 404: no such object (or no such resource type).
    #[error("{kind} \"{name}\" not found")]
    NotFound { kind: String, name: String },
    /// 409: create of a name that exists.
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: String, name: String },
    /// 409: the resourceVersion (or uid) precondition did not hold; re-read and retry.
    #[error("operation cannot be fulfilled on {kind} \"{name}\": {message}")]
    Conflict { kind: String, name: String, message: String },
    /// 422: the object is not acceptable; every problem is listed.
    #[error("{kind} \"{name}\" is invalid: {}", join_causes(causes))]
    Invalid { kind: String, name: String, causes: Vec<FieldError> },
    /// 400: the request itself is malformed (bad patch, bad selector, mismatched names).
    #[error("{0}")]
    BadRequest(String),
    /// 410: a watch asked for a resourceVersion the backend no longer retains; list again.
    #[error("too old resource version: {requested} (oldest retained: {oldest})")]
    Expired { requested: u64, oldest: u64 },
    /// 403: the request is understood and refused (e.g. new content in a terminating
    /// namespace).
    #[error("{0}")]
    Forbidden(String),
    /// 401: no or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// 413: the object is larger than the backend accepts.
    #[error("object is too large: {size} bytes (limit {limit} bytes)")]
    TooLarge { size: usize, limit: usize },
    /// 503: the backend cannot be reached; retry with backoff.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// 500: the backend failed (I/O, corruption); the message says how.
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_causes(causes: &[FieldError]) -> String {
    causes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl Error {
    /// The HTTP status code Kubernetes would answer with.
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } => 409,
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) => 400,
            Error::Expired { .. } => 410,
            Error::Unauthorized => 401,
            Error::TooLarge { .. } => 413,
            Error::Unavailable(_) => 503,
            Error::Forbidden(_) => 403,
            Error::Internal(_) => 500,
        }
    }

    /// The Kubernetes `Status.reason` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::BadRequest(_) => "BadRequest",
            Error::Expired { .. } => "Expired",
            Error::Unauthorized => "Unauthorized",
            Error::TooLarge { .. } => "RequestEntityTooLarge",
            Error::Unavailable(_) => "ServiceUnavailable",
            Error::Forbidden(_) => "Forbidden",
            Error::Internal(_) => "InternalError",
        }
    }

    /// Whether retrying the same call later may succeed (network, lock, conflict).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Conflict { .. } | Error::Unavailable(_) | Error::Expired { .. })
    }
}
