//! HTML building blocks: escaping, the page frame (navigation, theme toggle, the `<main>` the
//! live updates replace), status badges, action forms and JSON field readers. Every piece of
//! text from an object goes through [`esc`].

use std::fmt::Write as _;

use serde_json::Value;

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes one path segment of a dashboard URL (names are DNS labels, but never trust that).
pub(crate) fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The string at a JSON pointer, or `""`.
pub(crate) fn text<'a>(value: Option<&'a Value>, pointer: &str) -> &'a str {
    value.and_then(|v| v.pointer(pointer)).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer, or 0.
pub(crate) fn int(value: Option<&Value>, pointer: &str) -> i64 {
    value.and_then(|v| v.pointer(pointer)).and_then(Value::as_i64).unwrap_or(0)
}

/// Which top-level view a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Applications,
    Rollouts,
}

/// What a page shows and which changes make it re-render.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub(crate) title: &'a str,
    pub(crate) nav: Nav,
    /// Kinds whose changes re-render `<main>` (comma-separated, e.g. `Rollout,Pod`).
    pub(crate) watch: &'a str,
    /// A message shown above the content (the outcome of the last action).
    pub(crate) flash: Option<&'a str>,
    pub(crate) csrf: &'a str,
}

/// The `<main>` element's content with the flash message.
pub(crate) fn main_content(page: &Page<'_>, body: &str) -> String {
    let mut out = String::new();
    if let Some(flash) = page.flash.filter(|f| !f.is_empty()) {
        let class = if flash.starts_with("error") { "flash error" } else { "flash" };
        let _ = write!(out, r#"<p class="{class}" role="status">{}</p>"#, esc(flash));
    }
    out.push_str(body);
    out
}

/// A whole page around `body`.
pub(crate) fn page(page: &Page<'_>, body: &str) -> String {
    let active = |nav: Nav| if page.nav == nav { r#" aria-current="page""# } else { "" };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · weir</title><link rel="stylesheet" href="/ui/assets/dashboard.css"><script src="/ui/assets/dashboard.js"></script></head>
<body><header><a class="brand" href="/ui/">weir</a><nav><a href="/ui/applications"{apps}>Applications</a><a href="/ui/rollouts"{ros}>Rollouts</a></nav>
<span class="live" id="live" title="live updates">●</span>
<button type="button" id="theme" class="ghost" title="switch theme">◐</button>
<form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="{csrf}"><button class="ghost">Log out</button></form></header>
<main id="main" data-watch="{watch}">{main}</main></body></html>"#,
        title = esc(page.title),
        apps = active(Nav::Applications),
        ros = active(Nav::Rollouts),
        csrf = esc(page.csrf),
        watch = esc(page.watch),
        main = main_content(page, body),
    )
}

/// The login page (no session yet).
pub(crate) fn login_page(error: Option<&str>) -> String {
    let error =
        error.map(|e| format!(r#"<p class="flash error">{}</p>"#, esc(e))).unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Log in · weir</title><link rel="stylesheet" href="/ui/assets/dashboard.css"><script src="/ui/assets/dashboard.js"></script></head>
<body class="login"><main><h1>weir</h1>{error}
<form method="post" action="/ui/login"><label>API token<input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button>Log in</button></form>
<p class="hint">The token is in <code>DATA_DIR/token</code> (default <code>~/.local/share/weir/token</code>).</p></main></body></html>"#
    )
}

/// The CSS class of a status word (health, sync, phase).
pub(crate) fn status_class(status: &str) -> &'static str {
    match status {
        "Healthy" | "Synced" | "Running" | "Successful" | "Succeeded" | "Completed" => "ok",
        "Degraded" | "Failed" | "Error" | "Terminated" | "Aborted" | "CrashLoopBackOff" => "bad",
        "Progressing" | "Pending" | "ContainerCreating" | "Terminating" => "prog",
        "Paused" | "Suspended" | "Inconclusive" => "paused",
        "OutOfSync" => "warn",
        _ => "unknown",
    }
}

/// A coloured status badge.
pub(crate) fn badge(status: &str) -> String {
    let shown = if status.is_empty() { "Unknown" } else { status };
    format!(r#"<span class="badge {}">{}</span>"#, status_class(shown), esc(shown))
}

/// A button that POSTs to `action` with the CSRF token and `fields`.
pub(crate) fn action_button(
    action: &str,
    label: &str,
    csrf: &str,
    fields: &[(&str, &str)],
    class: &str,
) -> String {
    let mut hidden = String::new();
    for (name, value) in fields {
        let _ =
            write!(hidden, r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value));
    }
    format!(
        r#"<form method="post" action="{}" class="action"><input type="hidden" name="csrf" value="{}">{hidden}<button class="{}">{}</button></form>"#,
        esc(action),
        esc(csrf),
        esc(class),
        esc(label)
    )
}

/// The first `n` characters of a revision.
pub(crate) fn short(revision: &str, n: usize) -> String {
    revision.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_path_segments_are_escaped() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(badge("<x>"), r#"<span class="badge unknown">&lt;x&gt;</span>"#);
    }
}
