//! `POST /api/webhook`: push events from GitHub, GitLab and Gitea refresh the Applications of
//! the pushed repository at once instead of at the next polling period. With a shared secret,
//! GitHub's `X-Hub-Signature-256` and Gitea's `X-Gitea-Signature` (HMAC-SHA256 of the body) or
//! GitLab's `X-Gitlab-Token` must match; without one, any push is accepted (a refresh only
//! re-reads git, as in Argo CD).
//!
//! Whoever composes weir (the API server of `weir up`, `weir controller`'s health server) wires
//! `POST /api/webhook` to a [`WebhookTarget`]: the controller's [`RefreshHandle`] and the shared
//! secret from its config. [`handle`] is the same logic, testable without HTTP.

use serde_json::Value;

use crate::refresh::RefreshHandle;
use subtle::ConstantTimeEq;

/// The largest payload read (Argo CD's default `webhook.maxPayloadSizeMB` is 50).
pub const MAX_PAYLOAD_BYTES: usize = 50 * 1024 * 1024;

/// What `POST /api/webhook` reaches: one Application controller's refresh handle and the
/// shared secret of its config (built with [`WebhookTarget::of`]).
#[derive(Clone)]
pub struct WebhookTarget {
    refresh: RefreshHandle,
    secret: Option<String>,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("WebhookTarget")
            .field("secret", &self.secret.as_ref().map(|_| "*****"))
            .finish()
    }
}

impl WebhookTarget {
    /// The target of the controller that `config` starts (its handle is shared with it).
    pub fn of(config: &crate::AppControllerConfig) -> Self {
        WebhookTarget { refresh: config.refresh.clone(), secret: config.webhook_secret.clone() }
    }

    /// Answers one webhook request: the HTTP status and a short message.
    pub fn answer(&self, headers: &http::HeaderMap, body: &[u8]) -> (http::StatusCode, String) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let outcome = handle(&self.refresh, self.secret.as_deref(), header, body);
        let status = http::StatusCode::from_u16(outcome.status).unwrap_or(http::StatusCode::OK);
        (status, outcome.message)
    }
}

/// What a webhook call did: an HTTP status code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 200, 400 (unreadable payload) or 401 (signature mismatch).
    pub status: u16,
    /// A short human message.
    pub message: String,
}

impl Outcome {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Outcome { status, message: message.into() }
    }
}

/// Handles one webhook call: `header` looks up a request header (case-insensitive).
pub fn handle<'a>(
    refresh: &RefreshHandle,
    secret: Option<&str>,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
) -> Outcome {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Outcome::new(400, "payload too large");
    }
    if let Some(secret) = secret.filter(|s| !s.is_empty())
        && !authentic(secret, &header, body)
    {
        return Outcome::new(401, "webhook signature mismatch");
    }
    let event = header("X-GitHub-Event")
        .or_else(|| header("X-Gitea-Event"))
        .or_else(|| header("X-Gitlab-Event"))
        .unwrap_or("push");
    if !matches!(event, "push" | "Push Hook" | "Tag Push Hook") {
        return Outcome::new(200, format!("ignored event {event:?}"));
    }
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        return Outcome::new(400, "payload is not JSON");
    };
    let urls = repo_urls(&payload);
    if urls.is_empty() {
        return Outcome::new(400, "no repository URL in the payload");
    }
    let refreshed: usize = urls.iter().map(|u| refresh.refresh_repo(u)).sum();
    Outcome::new(200, format!("refreshed {refreshed} application(s)"))
}

fn authentic<'a>(secret: &str, header: &impl Fn(&str) -> Option<&'a str>, body: &[u8]) -> bool {
    if let Some(token) = header("X-Gitlab-Token") {
        return bool::from(token.as_bytes().ct_eq(secret.as_bytes()));
    }
    let signature = header("X-Hub-Signature-256")
        .and_then(|s| s.strip_prefix("sha256="))
        .or_else(|| header("X-Gitea-Signature"));
    let Some(signature) = signature else { return false };
    let Ok(tag) = hex::decode(signature.trim()) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, body, &tag).is_ok()
}

fn repo_urls(payload: &Value) -> Vec<String> {
    let mut urls = Vec::new();
    for (object, keys) in [
        ("repository", &["html_url", "clone_url", "ssh_url", "git_url", "url"][..]),
        ("project", &["web_url", "http_url", "git_http_url", "git_ssh_url"][..]),
    ] {
        for key in keys {
            if let Some(url) = payload.get(object).and_then(|o| o.get(key)).and_then(Value::as_str)
                && !urls.iter().any(|u| u == url)
            {
                urls.push(url.to_string());
            }
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    #[test]
    fn github_pushes_are_checked_and_counted() {
        let refresh = RefreshHandle::new();
        let body = br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/o/r","clone_url":"https://github.com/o/r.git"}}"#;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3");
        let signature = format!("sha256={}", hex::encode(ring::hmac::sign(&key, body)));
        let good = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", signature.as_str())];
        assert_eq!(handle(&refresh, Some("s3"), headers(&good), body).status, 200);
        let bad = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=00")];
        assert_eq!(handle(&refresh, Some("s3"), headers(&bad), body).status, 401);
        assert_eq!(handle(&refresh, None, headers(&bad), body).status, 200);
        let ping = [("X-GitHub-Event", "ping")];
        assert!(handle(&refresh, None, headers(&ping), body).message.contains("ignored"));
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2, as GitHub (`sha256=` prefix) and Gitea (bare hex) send it.
        let (secret, body) = ("Jefe", b"what do ya want for nothing?");
        let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let github = format!("sha256={tag}");
        let upper = tag.to_ascii_uppercase();
        for (name, value) in [
            ("X-Hub-Signature-256", github.as_str()),
            ("X-Gitea-Signature", tag),
            ("X-Gitea-Signature", upper.as_str()),
        ] {
            assert!(authentic(secret, &headers(&[(name, value)]), body), "{name}: {value}");
        }
        for value in ["sha256=00", "sha256=zz", "5bdcc146"] {
            assert!(!authentic(secret, &headers(&[("X-Hub-Signature-256", value)]), body));
        }
        assert!(!authentic("jefe", &headers(&[("X-Gitea-Signature", tag)]), body));
    }

    #[test]
    fn gitlab_tokens_and_urls() {
        let refresh = RefreshHandle::new();
        let body = br#"{"project":{"web_url":"https://gitlab.com/o/r","git_http_url":"https://gitlab.com/o/r.git"}}"#;
        let ok = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "t")];
        assert_eq!(handle(&refresh, Some("t"), headers(&ok), body).status, 200);
        let wrong = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "x")];
        assert_eq!(handle(&refresh, Some("t"), headers(&wrong), body).status, 401);
        assert_eq!(handle(&refresh, None, headers(&ok), b"{}").status, 400);
    }
}
