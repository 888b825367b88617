//! Argo CD Application validation (being written).

use crate::Diagnostic;
use crate::argocd::Application;

/// Every problem of an Application's spec.
pub fn validate_application(_app: &Application) -> Vec<Diagnostic> {
    Vec::new()
}
