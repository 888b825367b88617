//! `POST /api/webhook` wired to the Application controller a process runs: the composition
//! (`weir up` here, `weir controller` in the CLI) passes the controller's
//! [`WebhookTarget`](weir_app_controller::webhook::WebhookTarget); no global registry.

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::post;
use weir_app_controller::webhook::WebhookTarget;

use crate::api::MAX_BODY_BYTES;

/// The unauthenticated webhook route (a shared secret, when configured, signs each payload),
/// with the API's body limit.
pub fn router(target: WebhookTarget) -> Router {
    Router::new()
        .route(
            "/api/webhook",
            post(move |headers: HeaderMap, body: Bytes| {
                let target = target.clone();
                async move { target.answer(&headers, &body) }
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
