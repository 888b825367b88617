//! The lexer: source text to expr tokens (`Identifier`, `Number`, `String`, `Operator`,
//! `Bracket`, `EOF`). Token display follows expr's `Kind("value")` so error texts match Go.

use std::fmt;

use crate::value::go_quote;

/// Token kinds, named as in expr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Identifier,
    Number,
    Str,
    Operator,
    Bracket,
    Eof,
}

/// A token: its kind and its value (the unescaped text for strings).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) value: String,
}

impl Token {
    pub(crate) fn is(&self, kind: Kind, value: &str) -> bool {
        self.kind == kind && self.value == value
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Identifier => "Identifier",
            Kind::Number => "Number",
            Kind::Str => "String",
            Kind::Operator => "Operator",
            Kind::Bracket => "Bracket",
            Kind::Eof => "EOF",
        };
        if self.value.is_empty() {
            f.write_str(kind)
        } else {
            write!(f, "{kind}({})", go_quote(&self.value))
        }
    }
}

const WORD_OPERATORS: [&str; 8] =
    ["and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"];

/// Splits `src` into tokens, ending with `EOF`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let tok = |kind, value: &str| Token { kind, value: value.to_owned() };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments.
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err("unclosed comment".into());
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            i = scan_number(&chars, i);
            tokens.push(Token { kind: Kind::Number, value: chars[start..i].iter().collect() });
            continue;
        }
        if c == '"' || c == '\'' {
            let (value, end) = scan_string(&chars, i)?;
            tokens.push(Token { kind: Kind::Str, value });
            i = end;
            continue;
        }
        if c == '`' {
            let start = i + 1;
            let Some(len) = chars[start..].iter().position(|c| *c == '`') else {
                return Err("literal not terminated".into());
            };
            tokens
                .push(Token { kind: Kind::Str, value: chars[start..start + len].iter().collect() });
            i = start + len + 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let kind = if WORD_OPERATORS.contains(&word.as_str()) {
                Kind::Operator
            } else {
                Kind::Identifier
            };
            tokens.push(Token { kind, value: word });
            continue;
        }
        if "([{".contains(c) || ")]}".contains(c) {
            tokens.push(tok(Kind::Bracket, &c.to_string()));
            i += 1;
            continue;
        }
        let two: String = [c, next.unwrap_or(' ')].iter().collect();
        let op = match two.as_str() {
            "&&" | "||" | "!=" | "==" | "<=" | ">=" | "**" | ".." | "??" | "?:" => two.clone(),
            // `?.` is optional chaining unless a digit follows (`a ?.5 : 1`).
            "?." if !chars.get(i + 2).is_some_and(char::is_ascii_digit) => two.clone(),
            _ if "#,:%+-^*/<>!?.|=;&".contains(c) => c.to_string(),
            _ => {
                return Err(format!("unrecognized character: U+{:04X} '{c}'", c as u32));
            }
        };
        i += op.chars().count();
        tokens.push(Token { kind: Kind::Operator, value: op });
    }
    tokens.push(tok(Kind::Eof, ""));
    Ok(tokens)
}

fn scan_number(chars: &[char], mut i: usize) -> usize {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    if at(i) == '0' && matches!(at(i + 1), 'x' | 'X' | 'o' | 'O' | 'b' | 'B') {
        i += 2;
        while at(i).is_ascii_hexdigit() || at(i) == '_' {
            i += 1;
        }
        return i;
    }
    while at(i).is_ascii_digit() || at(i) == '_' {
        i += 1;
    }
    // A fraction, but not the range operator `1..2` nor a member access.
    if at(i) == '.' && at(i + 1) != '.' && !at(i + 1).is_alphabetic() && at(i + 1) != '_' {
        i += 1;
        while at(i).is_ascii_digit() || at(i) == '_' {
            i += 1;
        }
    }
    if matches!(at(i), 'e' | 'E') {
        let mut j = i + 1;
        if matches!(at(j), '+' | '-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            i = j;
            while at(i).is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// Scans a quoted string starting at `chars[start]`, unescaping Go escapes.
fn scan_string(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("literal not terminated".into());
        };
        i += 1;
        if c == quote {
            return Ok((out, i));
        }
        if c == '\n' {
            return Err("literal not terminated".into());
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else {
            return Err("literal not terminated".into());
        };
        i += 1;
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (len, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => {
                i -= 1;
                (3, 8)
            }
            _ => return Err("invalid char escape".into()),
        };
        let digits: String = chars.get(i..i + len).map(|d| d.iter().collect()).unwrap_or_default();
        let code = u32::from_str_radix(&digits, radix).map_err(|_| "invalid char escape")?;
        let ch = char::from_u32(code).ok_or("invalid char escape")?;
        out.push(ch);
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str) -> Vec<String> {
        lex(src).unwrap().into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            values(r#"1..3 "a.b" 'x\n' `r\n` a?.b 10.5e3"#),
            vec![
                r#"Number("1")"#,
                r#"Operator("..")"#,
                r#"Number("3")"#,
                r#"String("a.b")"#,
                r#"String("x\n")"#,
                r#"String("r\\n")"#,
                r#"Identifier("a")"#,
                r#"Operator("?.")"#,
                r#"Identifier("b")"#,
                r#"Number("10.5e3")"#,
                "EOF",
            ]
        );
        assert_eq!(values("not in")[0], r#"Operator("not")"#);
        assert!(lex("\"abc").is_err());
        assert!(lex("a @ b").is_err());
        assert!(lex("'\\x4'").is_err());
    }
}
