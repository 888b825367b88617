//! The one error type of the routers: what went wrong, with the message Argo Rollouts would
//! report (the controller copies it into events and conditions unchanged).

use std::fmt;

/// Why a router could not compute the objects to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// A referenced object does not exist: `virtualservices.networking.istio.io "vsvc" not found`.
    /// The controller retries; the user may not have applied it yet.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// `<plural>.<group>`, as in Kubernetes' NotFound messages.
        resource: String,
        /// The object's name.
        name: String,
    },
    /// The rollout or a referenced object does not allow the change (a route that is not
    /// there, a destination missing from a route, a malformed route). Argo's exact text.
    #[error("{0}")]
    Invalid(String),
    /// The DestinationRule switch waits until a ReplicaSet that would receive traffic is
    /// fully available (subset-level routing without canary/stable Services).
    #[error("delaying destination rule switch: ReplicaSet {replica_set} not fully available")]
    Delayed {
        /// The ReplicaSet that is not available yet.
        replica_set: String,
    },
    /// Reading or writing an object through the cluster API failed; the message says which
    /// call, as Argo words it, followed by the cause.
    #[error("{0}")]
    Api(String),
}

impl RouterError {
    /// Whether this is a missing object (Kubernetes `NotFound`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RouterError::NotFound { .. })
    }

    pub(crate) fn invalid(message: impl fmt::Display) -> Self {
        RouterError::Invalid(message.to_string())
    }

    /// Prefixes the message with `context: `, keeping the kind of error where it matters
    /// (a missing object stays `NotFound` so the controller can tell).
    pub(crate) fn context(self, context: &str) -> Self {
        match self {
            RouterError::NotFound { .. } | RouterError::Delayed { .. } => self,
            RouterError::Invalid(m) => RouterError::Invalid(format!("{context}: {m}")),
            RouterError::Api(m) => RouterError::Api(format!("{context}: {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_argos() {
        let e = RouterError::NotFound {
            resource: "destinationrules.networking.istio.io".into(),
            name: "istio-destrule".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"destinationrules.networking.istio.io "istio-destrule" not found"#
        );
        assert!(e.is_not_found());
        let e = RouterError::Delayed { replica_set: "rs-1".into() };
        assert_eq!(
            e.to_string(),
            "delaying destination rule switch: ReplicaSet rs-1 not fully available"
        );
        let e = RouterError::invalid("boom").context("[X] failed");
        assert_eq!(e.to_string(), "[X] failed: boom");
    }
}
