//! kube-rs errors → [`weir_cluster::Error`]: the same variants `weir-client` derives from a
//! `Status` body, so a controller cannot tell which backend answered.

use kube::core::Status;
use weir_cluster::{Error, FieldError, StatusParts};

/// What went wrong with one request, as the retry policy needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// The server answered with a `Status` (HTTP code and reason).
    Status(Box<Status>),
    /// No connection could be made: the request was never sent, so it did not take effect.
    Connect(String),
    /// The connection broke or timed out after the request may have been sent: a write may or
    /// may not have landed.
    Ambiguous(String),
    /// Anything else (a body that does not decode, a request that cannot be built): retrying
    /// will not help.
    Permanent(String),
}

impl Failure {
    /// Classifies a kube-rs error.
    pub(crate) fn from_kube(error: kube::Error) -> Failure {
        match error {
            kube::Error::Api(status) => Failure::Status(status),
            kube::Error::HyperError(e) => Failure::Ambiguous(chain(&e)),
            kube::Error::Service(e) => {
                let text = chain(e.as_ref());
                if is_connect_error(e.as_ref()) {
                    Failure::Connect(text)
                } else {
                    Failure::Ambiguous(text)
                }
            }
            kube::Error::ReadEvents(e) => Failure::Ambiguous(chain(&e)),
            // Discovery found the group but not the version or kind: the server does not serve
            // it, which is what a 404 says.
            kube::Error::Discovery(e) => Failure::Status(Box::new(Status {
                code: 404,
                reason: "NotFound".to_owned(),
                message: e.to_string(),
                ..Status::default()
            })),
            other => Failure::Permanent(chain(&other)),
        }
    }

    /// The cluster error a caller sees once retries are over.
    pub(crate) fn into_error(self, server: &str) -> Error {
        match self {
            Failure::Status(status) => error_from_status(&status),
            Failure::Connect(text) | Failure::Ambiguous(text) => {
                Error::Unavailable(format!("cannot reach the Kubernetes API at {server}: {text}"))
            }
            Failure::Permanent(text) => Error::Internal(text),
        }
    }
}

/// Whether the error chain shows that no connection was established (refused, DNS, connect
/// timeout): hyper-util's connect errors say `client error (Connect)`.
fn is_connect_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        if let Some(client) = e.downcast_ref::<hyper_util_error::Error>()
            && client.is_connect()
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// hyper-util's client error (the connector kube-rs builds on).
mod hyper_util_error {
    pub(crate) use hyper_util::client::legacy::Error;
}

/// An error and its causes, one line (of a multi-line text, such as a YAML parser's with its
/// source excerpt, only the first line, which says what and where).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let first_line = |e: &dyn std::error::Error| {
        e.to_string().lines().next().unwrap_or_default().trim_end().to_owned()
    };
    let mut text = first_line(error);
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = first_line(cause);
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Rebuilds the cluster error from a `Status` (as `weir-client` does from the same body).
pub(crate) fn error_from_status(status: &Status) -> Error {
    let details = status.details.as_ref();
    Error::from_status(StatusParts {
        code: status.code,
        reason: status.reason.clone(),
        message: status.message.clone(),
        kind: details.map(|d| d.kind.clone()).unwrap_or_default(),
        name: details.map(|d| d.name.clone()).unwrap_or_default(),
        causes: details
            .map(|d| d.causes.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| FieldError { field: c.field.clone(), message: c.message.clone() })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use kube::core::response::{StatusCause, StatusDetails};

    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status { code, reason: reason.into(), message: message.into(), ..Status::default() }
    }

    fn with_details(mut s: Status, kind: &str, name: &str) -> Status {
        s.details = Some(StatusDetails {
            kind: kind.into(),
            name: name.into(),
            group: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: 0,
        });
        s
    }

    /// Each expected value is the variant `weir-client`'s `error_from_status` gives for the same
    /// code and reason (crates/client/src/lib.rs), plus 403 → Forbidden and 429 → Unavailable.
    #[test]
    fn statuses_map_to_the_variants_the_http_client_uses() {
        let cases: Vec<(Status, Error)> = vec![
            (status(401, "Unauthorized", "x"), Error::Unauthorized),
            (
                status(403, "Forbidden", "rollouts is forbidden"),
                Error::Forbidden("rollouts is forbidden".into()),
            ),
            (
                with_details(status(404, "NotFound", "not found"), "rollouts", "r"),
                Error::NotFound { kind: "rollouts".into(), name: "r".into() },
            ),
            (
                status(404, "NotFound", "the server could not find the requested resource"),
                Error::NotFound { kind: "resource".into(), name: String::new() },
            ),
            (
                with_details(status(409, "AlreadyExists", "exists"), "pods", "p"),
                Error::AlreadyExists { kind: "pods".into(), name: "p".into() },
            ),
            (
                with_details(
                    status(
                        409,
                        "Conflict",
                        "Operation cannot be fulfilled on pods \"p\": the object has been modified",
                    ),
                    "pods",
                    "p",
                ),
                Error::Conflict {
                    kind: "pods".into(),
                    name: "p".into(),
                    message: "the object has been modified".into(),
                },
            ),
            (
                status(410, "Expired", "too old resource version: 5 (90)"),
                Error::Expired { requested: 5, oldest: 90 },
            ),
            (status(400, "BadRequest", "bad selector"), Error::BadRequest("bad selector".into())),
            (status(429, "TooManyRequests", "slow down"), Error::Unavailable("slow down".into())),
            (status(503, "ServiceUnavailable", "down"), Error::Unavailable("down".into())),
            (
                status(500, "InternalError", "boom"),
                Error::Internal("500 InternalError: boom".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(error_from_status(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn invalid_keeps_every_field_cause() {
        let mut s =
            with_details(status(422, "Invalid", "Rollout \"r\" is invalid"), "Rollout", "r");
        if let Some(details) = s.details.as_mut() {
            details.causes = vec![StatusCause {
                reason: "FieldValueInvalid".into(),
                message: "must be >= 0".into(),
                field: "spec.replicas".into(),
            }];
        }
        assert_eq!(
            error_from_status(&s),
            Error::Invalid {
                kind: "Rollout".into(),
                name: "r".into(),
                causes: vec![FieldError {
                    field: "spec.replicas".into(),
                    message: "must be >= 0".into()
                }],
            }
        );
        assert!(!Error::Forbidden(String::new()).is_transient(), "403 is not hot-retried");
    }
}
