//! A browser opening the address `weir up` prints (`http://127.0.0.1:7171/`) lands on the
//! dashboard: a `GET /` that accepts HTML is redirected to `/ui/`. Every other request, and a
//! `GET /` from an API client (kubectl, curl, kube-rs ask for JSON), is answered as before.

use axum::extract::Request;
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Where a browser is sent.
const DASHBOARD: &str = "/ui/";

/// Middleware: redirects a browser's `GET /` to the dashboard.
pub(crate) async fn redirect_root_to_dashboard(request: Request, next: Next) -> Response {
    if is_browser_root(request.method(), request.uri().path(), request.headers().get(ACCEPT)) {
        return (StatusCode::SEE_OTHER, [(LOCATION, HeaderValue::from_static(DASHBOARD))])
            .into_response();
    }
    next.run(request).await
}

/// Whether a request is a browser's page load of `/`: a GET whose `Accept` lists `text/html`.
fn is_browser_root(method: &Method, path: &str, accept: Option<&HeaderValue>) -> bool {
    let accepts_html = accept
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|t| t.trim().starts_with("text/html")));
    method == Method::GET && path == "/" && accepts_html
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accept headers as sent by Firefox/Chrome (a page load), curl (`*/*`), kubectl and
    /// kube-rs (JSON, protobuf).
    #[test]
    fn only_a_browser_page_load_of_the_root_is_redirected() {
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let kubectl =
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        let cases = [
            (Method::GET, "/", Some(firefox), true),
            (Method::GET, "/", Some("text/html"), true),
            (Method::GET, "/", Some("*/*"), false),
            (Method::GET, "/", Some(kubectl), false),
            (Method::GET, "/", None, false),
            (Method::POST, "/", Some(firefox), false),
            (Method::GET, "/api", Some(firefox), false),
            (Method::GET, "/ui/", Some(firefox), false),
        ];
        for (method, path, accept, expected) in cases {
            let accept = accept.map(HeaderValue::from_static);
            assert_eq!(
                is_browser_root(&method, path, accept.as_ref()),
                expected,
                "{method} {path} {accept:?}"
            );
        }
    }
}
