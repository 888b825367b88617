//! The JSONPath subset the web provider supports: Kubernetes-style templates of one path,
//! `{$}`, `{$.a.b[0]}`, `{.a.b}`, `{$['a'].b}`; no filters, wildcards or unions.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Parses a `{...}` template into segments.
fn parse(template: &str) -> Result<Vec<Segment>, String> {
    let inner = template.trim();
    let inner = inner.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(inner);
    let mut rest = inner.trim();
    rest = rest.strip_prefix('$').unwrap_or(rest);
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("unsupported JSONPath {template:?}"));
            }
            out.push(Segment::Key(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("unclosed [ in JSONPath {template:?}"))?;
            let inside = r[..end].trim();
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => out.push(Segment::Key(key.to_owned())),
                None => out.push(Segment::Index(
                    inside.parse().map_err(|_| format!("unsupported JSONPath {template:?}"))?,
                )),
            }
            rest = &r[end + 1..];
        } else {
            return Err(format!("unsupported JSONPath {template:?}"));
        }
    }
    Ok(out)
}

/// The value `template` selects in `data`, or why there is none (`a is not found`).
pub(crate) fn find<'a>(template: &str, data: &'a Value) -> Result<&'a Value, String> {
    let mut at = data;
    for seg in parse(template)? {
        at = match (&seg, at) {
            (Segment::Key(k), Value::Object(map)) => {
                map.get(k).ok_or_else(|| format!("{k} is not found"))?
            }
            (Segment::Index(i), Value::Array(items)) => {
                items.get(*i).ok_or_else(|| format!("array index out of bounds: index {i}"))?
            }
            (Segment::Key(k), _) => return Err(format!("{k} is not found")),
            (Segment::Index(i), _) => return Err(format!("index {i} of a non-array")),
        };
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_simple_subset_selects() {
        let data = json!({"a": {"b": [1, {"c": "x"}]}, "d e": true});
        assert_eq!(find("{$}", &data), Ok(&data));
        assert_eq!(find("{$.a.b[0]}", &data), Ok(&json!(1)));
        assert_eq!(find("{.a.b[1].c}", &data), Ok(&json!("x")));
        assert_eq!(find("{$['d e']}", &data), Ok(&json!(true)));
        assert_eq!(find("{$.z}", &data), Err("z is not found".to_owned()));
        assert!(find("{$.a.b[*]}", &data).is_err());
    }
}
