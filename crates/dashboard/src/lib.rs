//! weir-dashboard: the web UI of weir, served by `weir up` at `/ui/` on the API's address.
//!
//! What it is: server-rendered HTML pages (Applications and their resource trees, Rollouts
//! with their steps, revisions, traffic split and analysis charts) plus one small script that
//! toggles the theme, counts pause timers down and re-renders `<main>` when the server-sent
//! event stream (`/ui/events`, backed by the cluster's `watch`) reports a change of a kind the
//! page shows. Actions are plain form POSTs carrying a CSRF token.
//!
//! Why server-rendered: no npm build step in CI, a page weight of a few kilobytes, and every
//! view reuses the Rust logic the CLI prints (`weir_rollout_controller::{ops, view}` and
//! `weir_app_controller::ops`) instead of a second copy in JavaScript.
//!
//! Auth: `/ui/login` takes the API token; the cookie carries a random session id (HttpOnly,
//! SameSite=Strict, Path=/ui), see [`session`]. Pages without a session redirect to the
//! login; actions and events without one get 401, actions with a wrong CSRF token 403.
//!
//! Read [`router`] first.

mod apps;
mod chart;
mod events;
mod html;
mod rollouts;
mod session;
mod tree;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use weir_app_controller::git::Repos;
use weir_cluster::Cluster;
use weir_controller::Shutdown;

use session::{Session, Sessions};

/// The largest form accepted (a login or an action).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// What every dashboard handler shares.
pub(crate) struct Dashboard<C> {
    pub(crate) cluster: C,
    /// Ends the event streams, so an open browser tab never holds up a graceful shutdown.
    pub(crate) shutdown: Shutdown,
    sessions: Sessions,
    /// Clones for the diff view (under the data directory), if there is one.
    pub(crate) repos: Option<Repos>,
}

impl<C> std::fmt::Debug for Dashboard<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").field("sessions", &self.sessions).finish_non_exhaustive()
    }
}

/// How the dashboard runs.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// The API token the login page accepts.
    pub token: String,
    /// Where the diff view keeps its git clones (`<data_dir>/dashboard-repos`); without it
    /// the diff page points to `weir app diff`.
    pub data_dir: Option<PathBuf>,
    /// When triggered, the event streams end (trigger it before waiting for connections).
    pub shutdown: Shutdown,
}

/// The dashboard's routes (all under `/ui`), over `cluster`.
pub fn router<C: Cluster + Clone>(cluster: C, config: DashboardConfig) -> Router {
    let repos = config.data_dir.map(|d| Repos::new(d.join("dashboard-repos")));
    let sessions = Sessions::new(config.token);
    let state = Arc::new(Dashboard { cluster, shutdown: config.shutdown, sessions, repos });
    Router::new()
        .route("/ui", get(|| async { redirect("/ui/applications") }))
        .route("/ui/", get(|| async { redirect("/ui/applications") }))
        .route("/ui/login", get(login_form).post(login::<C>))
        .route("/ui/logout", post(logout::<C>))
        .route("/ui/assets/dashboard.js", get(script))
        .route("/ui/assets/dashboard.css", get(stylesheet))
        .route("/ui/events", get(events::stream::<C>))
        .route("/ui/applications", get(apps::list::<C>))
        .route("/ui/applications/{ns}/{name}", get(apps::show::<C>))
        .route("/ui/applications/{ns}/{name}/diff", get(apps::diff::<C>))
        .route("/ui/applications/{ns}/{name}/{action}", post(apps::action::<C>))
        .route("/ui/rollouts", get(rollouts::list::<C>))
        .route("/ui/rollouts/{ns}/{name}", get(rollouts::show::<C>))
        .route("/ui/rollouts/{ns}/{name}/{action}", post(rollouts::action::<C>))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

type Shared<C> = State<Arc<Dashboard<C>>>;

/// The fields of a form body (`application/x-www-form-urlencoded`). A request with no body
/// and no `Content-Type` has no fields: an action whose CSRF token travels in the
/// `X-CSRF-Token` header needs no form (axum's `Form` alone answers such a request 415).
#[derive(Debug)]
struct Fields(HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        if request.headers().contains_key(CONTENT_TYPE) {
            let axum::Form(fields) =
                axum::Form::<HashMap<String, String>>::from_request(request, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
            return Ok(Fields(fields));
        }
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if body.is_empty() {
            Ok(Fields(HashMap::new()))
        } else {
            Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a body needs Content-Type: application/x-www-form-urlencoded\n",
            )
                .into_response())
        }
    }
}

fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/ui/"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// Headers every HTML response carries: no framing, no inline scripts, no caching.
fn html_response(status: StatusCode, body: String) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
        ),
        (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
        (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
    ];
    (status, headers, body).into_response()
}

/// Whether the script asked for `<main>`'s content only (a live re-render).
fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.get("x-weir-fragment").is_some()
}

/// A page: the whole document, or `<main>`'s content for a live re-render.
fn render_page(headers: &HeaderMap, page: &html::Page<'_>, body: &str) -> Response {
    let text = if wants_fragment(headers) {
        html::main_content(page, body)
    } else {
        html::page(page, body)
    };
    html_response(StatusCode::OK, text)
}

/// An error page (a read failed), keeping the frame so people can navigate away.
fn error_page(headers: &HeaderMap, page: &html::Page<'_>, error: &weir_cluster::Error) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!(r#"<p class="flash error">{}</p>"#, html::esc(&error.to_string()));
    let text = if wants_fragment(headers) {
        html::main_content(page, &body)
    } else {
        html::page(page, &body)
    };
    html_response(status, text)
}

/// Why a request was refused.
#[derive(Debug)]
enum Refusal {
    /// A page without a session: to the login.
    Login,
    /// An action or stream without a session.
    Unauthorized,
    /// An action with a missing or wrong CSRF token.
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Login => redirect("/ui/login"),
            Refusal::Unauthorized => (StatusCode::UNAUTHORIZED, "log in first\n").into_response(),
            Refusal::Forbidden => {
                (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response()
            }
        }
    }
}

impl<C> Dashboard<C> {
    /// The session of a page request.
    fn page_session(&self, headers: &HeaderMap) -> Result<Session, Refusal> {
        self.sessions.of_request(headers).ok_or(if wants_fragment(headers) {
            Refusal::Unauthorized
        } else {
            Refusal::Login
        })
    }

    /// The session of an action whose CSRF token (form field `csrf` or header
    /// `X-CSRF-Token`) matches.
    fn action_session(
        &self,
        headers: &HeaderMap,
        fields: &HashMap<String, String>,
    ) -> Result<Session, Refusal> {
        let session = self.sessions.of_request(headers).ok_or(Refusal::Unauthorized)?;
        let presented = fields
            .get("csrf")
            .map(String::as_str)
            .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
            .unwrap_or("");
        if session.csrf_matches(presented) { Ok(session) } else { Err(Refusal::Forbidden) }
    }
}

async fn login_form() -> Response {
    html_response(StatusCode::OK, html::login_page(None))
}

async fn login<C: Cluster + Clone>(State(state): Shared<C>, Fields(fields): Fields) -> Response {
    let presented = fields.get("token").map(String::as_str).unwrap_or("");
    match state.sessions.login(presented) {
        Some(id) => {
            let mut response = redirect("/ui/applications");
            if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(Some(&id))) {
                response.headers_mut().insert(SET_COOKIE, cookie);
            }
            response
        }
        None => html_response(StatusCode::UNAUTHORIZED, html::login_page(Some("wrong token"))),
    }
}

async fn logout<C: Cluster + Clone>(
    State(state): Shared<C>,
    headers: HeaderMap,
    Fields(fields): Fields,
) -> Response {
    if let Err(refusal) = state.action_session(&headers, &fields) {
        return refusal.into_response();
    }
    state.sessions.logout(&headers);
    let mut response = redirect("/ui/login");
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(None)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../assets/dashboard.js"))
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../assets/dashboard.css"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CACHE_CONTROL, HeaderValue::from_static("max-age=300")),
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
    ];
    (headers, body).into_response()
}

/// The URL a form action returns to, with the outcome to show.
fn back_to(path: &str, outcome: &str) -> Response {
    redirect(&format!("{path}?flash={}", html::seg(outcome)))
}
