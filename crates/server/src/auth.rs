//! Bearer-token authentication of API requests.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::api::{ApiState, error_response};

/// The token every request must carry as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub(crate) struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(*****)")
    }
}

impl Token {
    pub(crate) fn new(secret: String) -> Self {
        Token(secret)
    }

    /// Compares in time independent of where the strings differ.
    fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Rejects requests without the right bearer token with 401.
pub(crate) async fn require_token<C: weir_cluster::Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if state.token.matches(token) => next.run(request).await,
        _ => error_response(&weir_cluster::Error::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_only_itself_and_never_prints() {
        let token = Token::new("abc123".to_owned());
        assert!(token.matches("abc123"));
        assert!(!token.matches("abc124"));
        assert!(!token.matches("abc12"));
        assert_eq!(format!("{token:?}"), "Token(*****)");
    }
}
