//! Browser sessions: the login form's token is compared with the API token in constant time;
//! a successful login gets a random session id (the cookie; never the token itself) and a
//! random CSRF token that every action must send back. Sessions live in memory: a restart of
//! weir asks people to log in again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use subtle::ConstantTimeEq;

/// The cookie that carries the session id.
pub(crate) const COOKIE_NAME: &str = "weir_session";
/// How long a session lasts without being used.
const IDLE_LIMIT: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; the least recently used goes first.
const MAX_SESSIONS: usize = 256;

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A logged-in browser.
#[derive(Clone)]
pub(crate) struct Session {
    id: String,
    /// Sent in every action's form (`csrf`) or `X-CSRF-Token` header.
    pub(crate) csrf: String,
    last_used: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session(*****)")
    }
}

impl Session {
    /// Whether `presented` is this session's CSRF token.
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// The API token and the sessions it opened.
pub(crate) struct Sessions {
    token: String,
    sessions: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(*****)")
    }
}

impl Sessions {
    pub(crate) fn new(token: String) -> Self {
        Sessions { token, sessions: Mutex::new(Vec::new()) }
    }

    /// Opens a session if `presented` is the API token; returns its id (the cookie value).
    pub(crate) fn login(&self, presented: &str) -> Option<String> {
        if self.token.is_empty()
            || !bool::from(self.token.as_bytes().ct_eq(presented.trim().as_bytes()))
        {
            return None;
        }
        let session = Session { id: random_hex(), csrf: random_hex(), last_used: Instant::now() };
        let id = session.id.clone();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|s| now.duration_since(s.last_used) < IDLE_LIMIT);
        if sessions.len() >= MAX_SESSIONS {
            sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used));
            sessions.truncate(MAX_SESSIONS - 1);
        }
        sessions.push(session);
        Some(id)
    }

    /// The session of the request's cookie, if it is open (every stored id is compared in
    /// constant time).
    pub(crate) fn of_request(&self, headers: &HeaderMap) -> Option<Session> {
        let presented = cookie(headers, COOKIE_NAME)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut found = None;
        for s in sessions.iter_mut() {
            let fresh = now.duration_since(s.last_used) < IDLE_LIMIT;
            if bool::from(s.id.as_bytes().ct_eq(presented.as_bytes())) && fresh {
                s.last_used = now;
                found = Some(s.clone());
            }
        }
        found
    }

    /// Ends the session of the request's cookie.
    pub(crate) fn logout(&self, headers: &HeaderMap) {
        if let Some(presented) = cookie(headers, COOKIE_NAME) {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.retain(|s| !bool::from(s.id.as_bytes().ct_eq(presented.as_bytes())));
        }
    }
}

/// The `Set-Cookie` value for a session id (`None`: one that clears the cookie).
pub(crate) fn set_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{COOKIE_NAME}={id}; Path=/ui; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn only_the_token_opens_a_session_and_the_cookie_is_not_the_token() {
        let sessions = Sessions::new("s3cret".to_owned());
        assert!(sessions.login("wrong").is_none());
        assert!(sessions.login("").is_none());
        let id = sessions.login("s3cret").expect("session");
        assert!(!id.contains("s3cret"));
        let headers = with_cookie(&format!("other=1; {COOKIE_NAME}={id}"));
        let session = sessions.of_request(&headers).expect("known");
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("nope"));
        assert!(sessions.of_request(&with_cookie(&format!("{COOKIE_NAME}=forged"))).is_none());
        sessions.logout(&headers);
        assert!(sessions.of_request(&headers).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = set_cookie(Some("abc"));
        for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
            assert!(value.contains(part), "{value}");
        }
        assert!(!format!("{:?}", Sessions::new("s3cret".into())).contains("s3cret"));
    }
}
