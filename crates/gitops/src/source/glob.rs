//! Glob patterns as Argo CD's `util/glob` uses them for directory include/exclude (gobwas/glob
//! compiled without separators): `*` and `**` match any text including `/`, `?` one character,
//! `[abc]`, `[a-z]`, `[!x]` classes, `{a,b}` alternation (nestable), `\` escapes.

use regex::Regex;

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// A `[` or `{` is never closed (gobwas: "unexpected end of input").
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// The translated pattern was refused by the regex engine.
    #[error("{0}")]
    Regex(String),
}

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    regex: Regex,
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let body = translate(&chars, &mut pos, false)?;
        let regex =
            Regex::new(&format!("^(?s:{body})$")).map_err(|e| GlobError::Regex(e.to_string()))?;
        Ok(Glob { regex })
    }

    /// True when the whole `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// `Match(pattern, text)`: an invalid pattern matches nothing.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    Glob::new(pattern).is_ok_and(|g| g.is_match(text))
}

/// Translates until the end (or, inside braces, until the closing `}` or a `,`).
fn translate(chars: &[char], pos: &mut usize, in_braces: bool) -> Result<String, GlobError> {
    let mut out = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            '}' | ',' if in_braces => return Ok(out),
            '*' => {
                while *pos + 1 < chars.len() && chars[*pos + 1] == '*' {
                    *pos += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '\\' => {
                *pos += 1;
                let escaped = chars.get(*pos).ok_or(GlobError::UnexpectedEnd)?;
                out.push_str(&regex::escape(&escaped.to_string()));
            }
            '[' => out.push_str(&class(chars, pos)?),
            '{' => {
                let mut alternatives = Vec::new();
                loop {
                    *pos += 1;
                    alternatives.push(translate(chars, pos, true)?);
                    match chars.get(*pos) {
                        Some(',') => continue,
                        Some('}') => break,
                        _ => return Err(GlobError::UnexpectedEnd),
                    }
                }
                out.push_str(&format!("(?:{})", alternatives.join("|")));
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        *pos += 1;
    }
    if in_braces {
        return Err(GlobError::UnexpectedEnd);
    }
    Ok(out)
}

/// A `[...]` class starting at `chars[*pos] == '['`; leaves `pos` on the closing `]`.
fn class(chars: &[char], pos: &mut usize) -> Result<String, GlobError> {
    let mut out = String::from("[");
    *pos += 1;
    if chars.get(*pos) == Some(&'!') {
        out.push('^');
        *pos += 1;
    }
    loop {
        match chars.get(*pos) {
            None => return Err(GlobError::UnexpectedEnd),
            Some(']') => break,
            Some('-') => out.push('-'),
            Some(c) => {
                if matches!(c, '[' | '\\' | '^' | '&' | '~') {
                    out.push('\\');
                }
                out.push(*c);
            }
        }
        *pos += 1;
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_not_special() {
        assert!(glob_match("*.yaml", "subdir/a.yaml"));
        assert!(glob_match("**/*.yaml", "subdir/a.yaml"));
        assert!(!glob_match("**/*.yaml", "a.yaml"));
        assert!(glob_match("{*.yaml.sealed,*.yaml}", "x.yaml.sealed"));
        assert!(glob_match("[a-c]?", "bz"));
        assert!(!glob_match("[!a-c]?", "bz"));
    }

    #[test]
    fn unclosed_groups_are_errors() {
        assert_eq!(Glob::new("e[[a*").err(), Some(GlobError::UnexpectedEnd));
        assert_eq!(Glob::new("{a,b").err(), Some(GlobError::UnexpectedEnd));
    }
}
