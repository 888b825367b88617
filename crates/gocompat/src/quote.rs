//! Go's `strconv.Quote`, which Argo and Kubernetes use for `%q` in messages, and (without the
//! outer quotes) to escape values substituted into JSON text.

/// Go's `strconv.Quote(s)`: double quotes around `s` with Go escapes inside.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    push_escaped(&mut out, s);
    out.push('"');
    out
}

/// Go's `strconv.Quote(s)` without the surrounding quotes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unprintable(c) => {
                let n = c as u32;
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
}

/// An approximation of Go's `!unicode.IsPrint` for non-ASCII characters: C1 controls, the
/// non-ASCII spaces other than U+0020, format characters and private/unassigned planes.
fn is_unprintable(c: char) -> bool {
    matches!(c as u32,
        0x80..=0xA0 | 0xAD | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x206F
        | 0x3000 | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b\\c\n\t"), r#""a\"b\\c\n\t""#);
        assert_eq!(escape("x\u{0}y\u{7f}"), r"x\x00y\x7f");
        assert_eq!(escape("é ü"), "é ü");
        assert_eq!(escape("\u{a0}"), r"\u00a0");
        assert_eq!(quote("\u{7}\u{8}\u{c}\u{b}"), r#""\a\b\f\v""#);
    }
}
