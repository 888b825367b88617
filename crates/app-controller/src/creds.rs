//! Repository credentials, as Argo CD keeps them: Secrets labelled
//! `argocd.argoproj.io/secret-type: repository` with `url`, `username` and `password` keys
//! (base64 `data` or plain `stringData`). Credentials never appear in `Debug`, logs or messages.

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
        Some(format!("Authorization: Basic {}", base64_encode(raw.as_bytes())))
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
    String::from_utf8(base64_decode(encoded)?).ok()
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

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "user:p@ss"] {
            assert_eq!(base64_decode(&base64_encode(s.as_bytes())).as_deref(), Some(s.as_bytes()));
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }

    #[test]
    fn secrets_are_matched_by_url_and_never_printed() {
        let secret: Object = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "r", "labels": {SECRET_TYPE_LABEL: "repository"}},
            "data": {"url": base64_encode(b"https://git.example/a.git"),
                     "username": base64_encode(b"me"), "password": base64_encode(b"s3cret")}
        }))
        .expect("secret");
        let creds = find_credentials(&[secret], "https://git.example/a").expect("found");
        assert!(!format!("{creds:?}").contains("s3cret"));
        assert_eq!(redact_url("https://me:pw@h/x"), "https://***@h/x");
    }
}
