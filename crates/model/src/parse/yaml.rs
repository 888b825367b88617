//! YAML reading: splitting a file into documents the way Kubernetes' `YAMLReader` does (on
//! `---` lines), and converting a YAML value into JSON the way `sigs.k8s.io/yaml` does
//! (merge keys applied, scalar keys stringified, tags dropped).

use serde_json::{Map, Number, Value as Json};
use serde_yaml_ng::Value as Yaml;

/// One document's text and where it starts in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chunk {
    /// Byte range in the file.
    pub(crate) span: std::ops::Range<usize>,
    /// 1-based line of the chunk's first line.
    pub(crate) line: usize,
}

/// Whether a line starts a new document: `---` alone or followed by whitespace.
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Splits YAML text into documents. A leading chunk holding only blanks and comments (text
/// before a first `---` that does not itself start with `---`) is dropped; every later chunk counts as a document, empty or not.
pub(crate) fn split_documents(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        if is_separator(line) && offset > 0 {
            chunks.push(Chunk { span: start..offset, line: start_line });
            start = offset;
            start_line = number + 1;
        }
        offset += line.len();
    }
    chunks.push(Chunk { span: start..text.len(), line: start_line });
    if let Some(first) = chunks.first()
        && chunks.len() > 1
        && !is_separator(&text[first.span.clone()])
        && is_blank(&text[first.span.clone()])
    {
        chunks.remove(0);
    }
    chunks
}

/// Whether YAML text holds nothing but whitespace, comments and document markers.
pub(crate) fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// Converts a parsed YAML value into JSON: merge keys (`<<`) applied, non-string scalar keys
/// stringified, tags dropped. Fails on values JSON cannot hold (NaN, infinities, collection
/// keys) with the field path and a message.
pub(crate) fn to_json(mut value: Yaml) -> Result<Json, (String, String)> {
    value.apply_merge().map_err(|e| (String::new(), e.to_string()))?;
    convert(value, &mut String::new())
}

fn convert(value: Yaml, path: &mut String) -> Result<Json, (String, String)> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                Json::Number(u.into())
            } else if let Some(i) = n.as_i64() {
                Json::Number(i.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Json::Number(
                    Number::from_f64(f).ok_or_else(|| {
                        (path.clone(), format!("{n} cannot be represented in JSON"))
                    })?,
                )
            }
        }
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(convert(item, path)?);
                path.truncate(len);
            }
            Json::Array(out)
        }
        Yaml::Mapping(mapping) => {
            let mut out = Map::new();
            for (key, item) in mapping {
                let key = scalar_key(key, path)?;
                let len = path.len();
                super::locate::push_key(path, &key);
                let item = convert(item, path)?;
                path.truncate(len);
                out.insert(key, item);
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => convert(tagged.value, path)?,
    })
}

fn scalar_key(key: Yaml, path: &str) -> Result<String, (String, String)> {
    match key {
        Yaml::String(s) => Ok(s),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Null => Ok("null".to_owned()),
        Yaml::Tagged(tagged) => scalar_key(tagged.value, path),
        Yaml::Sequence(_) | Yaml::Mapping(_) => Err((
            path.to_owned(),
            "invalid map key: a mapping key must be a scalar (quote templated values such as \"{{x}}\")"
                .to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(&str, usize)> {
        split_documents(text).into_iter().map(|c| (&text[c.span], c.line)).collect()
    }

    #[test]
    fn splits_on_separator_lines_only() {
        assert_eq!(texts("a: 1\n---\nb: 2\n"), vec![("a: 1\n", 1), ("---\nb: 2\n", 2)]);
        assert_eq!(texts("---\na: 1\n"), vec![("---\na: 1\n", 1)]);
        assert_eq!(texts("# c\n---\na: 1"), vec![("---\na: 1", 2)]);
        assert_eq!(texts("a: |\n  ---x\n----\n"), vec![("a: |\n  ---x\n----\n", 1)]);
        assert_eq!(texts("a: 1\n---\n--- # two\nb: 1").len(), 3);
    }

    #[test]
    fn ints_stay_ints_and_keys_become_strings() {
        let yaml: Yaml = serde_yaml_ng::from_str("a: 1\nb: 1.0\n3: x\ntrue: y\nc: on").unwrap();
        let json = to_json(yaml).unwrap();
        assert_eq!(json.to_string(), r#"{"a":1,"b":1.0,"3":"x","true":"y","c":"on"}"#);
    }

    #[test]
    fn merge_keys_are_applied() {
        let yaml: Yaml = serde_yaml_ng::from_str("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2").unwrap();
        assert_eq!(to_json(yaml).unwrap()["m"], serde_json::json!({"x": 1, "y": 2}));
    }
}
