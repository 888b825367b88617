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
    /// 409: a server-side apply would change fields that other managers own (reason
    /// `Conflict`); one cause per field, its message naming the manager.
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<FieldError> },
    /// 422: the object is not acceptable; every problem is listed.
    #[error("{kind} \"{name}\" is invalid: {}", join_causes(causes))]
    Invalid { kind: String, name: String, causes: Vec<FieldError> },
    /// 400: the request itself is malformed (bad patch, bad selector, mismatched names).
    #[error("{0}")]
    BadRequest(String),
    /// 415: the request body's content type does not apply here (strategic merge patch on a
    /// custom resource).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 410: a watch asked for a resourceVersion the backend no longer retains; list again.
    #[error("too old resource version: {requested} (oldest retained: {oldest})")]
    Expired { requested: u64, oldest: u64 },
    /// 504: the backend could not answer in time, e.g. a list asked for a resourceVersion
    /// newer than the backend has (`Too large resource version: …`); retry later.
    #[error("{0}")]
    Timeout(String),
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

/// What a Kubernetes `Status` body says, as [`Error::from_status`] reads it (each client
/// takes it from its own representation of the body).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusParts {
    /// The HTTP code (`code`).
    pub code: u16,
    /// `reason` (`AlreadyExists`, `Conflict`, …).
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `details.kind`.
    pub kind: String,
    /// `details.name`.
    pub name: String,
    /// `details.causes`.
    pub causes: Vec<FieldError>,
}

impl Error {
    /// Rebuilds the error a server answered with from its `Status` (the inverse of
    /// [`Error::status`] and [`Error::reason`]): the same mapping for every client of a
    /// Kubernetes-style API (weir's own HTTP client, the kube-rs backend).
    pub fn from_status(status: StatusParts) -> Error {
        let StatusParts { code, reason, message, kind, name, causes } = status;
        match (code, reason.as_str()) {
            (401, _) => Error::Unauthorized,
            (403, _) => Error::Forbidden(message),
            (404, _) => Error::NotFound { kind: non_empty(kind, "resource"), name },
            (409, "AlreadyExists") => Error::AlreadyExists { kind, name },
            // A server-side apply conflict names the fields and managers as causes.
            (409, _) if !causes.is_empty() => Error::ApplyConflict { message, causes },
            (409, _) => Error::Conflict { kind, name, message: conflict_detail(&message) },
            (410, _) => {
                let numbers: Vec<u64> = message
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                Error::Expired {
                    requested: numbers.first().copied().unwrap_or(0),
                    oldest: numbers.get(1).copied().unwrap_or(0),
                }
            }
            (415, _) => Error::UnsupportedMediaType(message),
            (422, _) => Error::Invalid { kind, name, causes },
            (400 | 413, _) => Error::BadRequest(message),
            (429 | 503, _) => Error::Unavailable(message),
            (504, _) => Error::Timeout(message),
            (code, reason) => Error::Internal(format!("{code} {reason}: {message}")),
        }
    }

    /// The HTTP status code Kubernetes would answer with.
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } | Error::ApplyConflict { .. } => {
                409
            }
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) => 400,
            Error::UnsupportedMediaType(_) => 415,
            Error::Expired { .. } => 410,
            Error::Unauthorized => 401,
            Error::TooLarge { .. } => 413,
            Error::Unavailable(_) => 503,
            Error::Timeout(_) => 504,
            Error::Forbidden(_) => 403,
            Error::Internal(_) => 500,
        }
    }

    /// The Kubernetes `Status.reason` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } | Error::ApplyConflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::BadRequest(_) => "BadRequest",
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::Expired { .. } => "Expired",
            Error::Unauthorized => "Unauthorized",
            Error::TooLarge { .. } => "RequestEntityTooLarge",
            Error::Unavailable(_) => "ServiceUnavailable",
            Error::Timeout(_) => "Timeout",
            Error::Forbidden(_) => "Forbidden",
            Error::Internal(_) => "InternalError",
        }
    }

    /// Whether retrying the same call later may succeed (network, lock, conflict).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Conflict { .. }
                | Error::Unavailable(_)
                | Error::Expired { .. }
                | Error::Timeout(_)
        )
    }
}

fn non_empty(text: String, default: &str) -> String {
    if text.is_empty() { default.to_owned() } else { text }
}

/// The detail of a conflict message (`Operation cannot be fulfilled on x "y": <detail>`).
fn conflict_detail(message: &str) -> String {
    message
        .split_once("\": ")
        .map(|(_, detail)| detail.to_owned())
        .unwrap_or_else(|| message.to_owned())
}
