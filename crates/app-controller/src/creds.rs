//! Repository credentials, as Argo CD keeps them: Secrets labelled
//! `argocd.argoproj.io/secret-type: repository` with `url`, `username` and `password` keys
//! (base64 `data` or plain `stringData`). Credentials never appear in `Debug`, logs or messages.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use weir_cluster::Object;

use crate::git::normalize_url;

/// The label Argo CD marks repository Secrets with.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// A username and password (or token) for an http(s) repository.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &"<redacted>").finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }

    /// `Authorization: Basic …`, or `None` when both parts are empty.
    pub(crate) fn basic_header(&self) -> Option<String> {
        if self.username.is_empty() && self.password.is_empty() {
            return None;
        }
        let user = if self.username.is_empty() { "git" } else { &self.username };
        let raw = format!("{user}:{}", self.password);
        Some(format!("Authorization: Basic {}", STANDARD.encode(raw.as_bytes())))
    }
}

/// The credentials of the first repository Secret whose `url` names `url`.
pub fn find_credentials(secrets: &[Object], url: &str) -> Option<Credentials> {
    let want = normalize_url(url);
    secrets
        .iter()
        .filter(|s| s.kind == "Secret" && s.label(SECRET_TYPE_LABEL) == Some("repository"))
        .find(|s| secret_value(s, "url").is_some_and(|u| normalize_url(&u) == want))
        .map(|s| {
            Credentials::new(
                secret_value(s, "username").unwrap_or_default(),
                secret_value(s, "password").unwrap_or_default(),
            )
        })
}

fn secret_value(secret: &Object, key: &str) -> Option<String> {
    if let Some(text) =
        secret.data.get("stringData").and_then(|d| d.get(key)).and_then(Value::as_str)
    {
        return Some(text.to_string());
    }
    let encoded = secret.data.get("data")?.get(key)?.as_str()?;
    String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()
}

/// `url` with any `user:password@` part replaced by `***@`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_matched_by_url_and_never_printed() {
        let secret: Object = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "r", "labels": {SECRET_TYPE_LABEL: "repository"}},
            "data": {"url": STANDARD.encode(b"https://git.example/a.git"),
                     "username": STANDARD.encode(b"me"), "password": STANDARD.encode(b"s3cret")}
        }))
        .expect("secret");
        let creds = find_credentials(&[secret], "https://git.example/a").expect("found");
        assert!(!format!("{creds:?}").contains("s3cret"));
        assert_eq!(redact_url("https://me:pw@h/x"), "https://***@h/x");
    }
}
