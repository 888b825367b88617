//! Finding the line and column of a field path (`spec.steps[0].setWeight`) in a document's
//! source text.
//!
//! The text is deserialized again with a seed that walks the path and fails on purpose when it
//! reaches the node; the YAML and JSON parsers stamp that error with the node's position. When
//! the path leaves the document (a missing field), the position of the deepest node found is
//! returned.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Splits a dotted field path with `[n]` indices into segments. Bracketed non-numbers are keys
/// (`metadata.labels[app.kubernetes.io/name]`).
pub fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut key = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => push_segment(&mut out, &mut key),
            '[' => {
                push_segment(&mut out, &mut key);
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                match inner.parse() {
                    Ok(index) => out.push(Segment::Index(index)),
                    Err(_) => out.push(Segment::Key(inner)),
                }
            }
            c => key.push(c),
        }
    }
    push_segment(&mut out, &mut key);
    out
}

fn push_segment(out: &mut Vec<Segment>, key: &mut String) {
    if !key.is_empty() {
        out.push(Segment::Key(std::mem::take(key)));
    }
}

/// Renders segments back into a dotted path (keys holding `.`, `[` or `]` in brackets).
pub fn render_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => push_key(&mut out, key),
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Appends a key to a dotted path: `.key`, or `[key]` when the key holds `.`, `[` or `]`
/// (as Kubernetes' `field.Path.Key` prints map keys such as label names).
pub(crate) fn push_key(path: &mut String, key: &str) {
    if key.contains(['.', '[', ']']) {
        path.push('[');
        path.push_str(key);
        path.push(']');
    } else {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    }
}

/// A serde_path_to_error path as a dotted path.
pub(crate) fn from_serde_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => push_key(&mut out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&mut out, variant),
            serde_path_to_error::Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

const FOUND: &str = "\u{0}weir-locate-found";

/// 1-based line and column of `path` in one YAML document's text.
pub(crate) fn locate_yaml(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match (Nav { path }).deserialize(de) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| (l.line(), l.column())),
    }
}

/// 1-based line and column of `path` in a JSON text.
pub(crate) fn locate_json(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    let mut de = serde_json::Deserializer::from_str(text);
    match (Nav { path }).deserialize(&mut de) {
        Ok(()) => None,
        Err(e) if e.line() > 0 => Some((e.line(), e.column())),
        Err(_) => None,
    }
}

struct Nav<'a> {
    path: &'a [Segment],
}

impl<'de> DeserializeSeed<'de> for Nav<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nav<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(wanted), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        while let Some(key) = map.next_key::<KeyText>()? {
            if key.0 == *wanted {
                return map.next_value_seed(Nav { path: rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom(FOUND))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(wanted), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let mut index = 0;
        loop {
            if index == *wanted {
                return match seq.next_element_seed(Nav { path: rest })? {
                    Some(()) => Ok(()),
                    None => Err(de::Error::custom(FOUND)),
                };
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(FOUND));
            }
            index += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
}

/// A mapping key read as text, whatever its scalar type.
struct KeyText(String);

impl<'de> serde::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
kind: Rollout
spec:
  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {}
      - setWeight: x
";

    #[test]
    fn paths_parse_and_render() {
        let path = parse_path("spec.steps[0].setWeight");
        assert_eq!(path[1], Segment::Key("steps".into()));
        assert_eq!(path[2], Segment::Index(0));
        assert_eq!(render_path(&path), "spec.steps[0].setWeight");
        assert_eq!(parse_path("metadata.labels[a.b/c]")[2], Segment::Key("a.b/c".into()));
    }

    #[test]
    fn finds_values_in_yaml() {
        let at = |p| locate_yaml(DOC, &parse_path(p));
        assert_eq!(at("spec.strategy.canary.steps[2].setWeight"), Some((8, 20)));
        assert_eq!(at("spec.strategy.canary.steps[0].setWeight"), Some((6, 20)));
        assert_eq!(at("kind"), Some((1, 7)));
        // A missing field points at its parent.
        assert_eq!(at("spec.strategy.canary.steps[1].pause.duration"), Some((7, 16)));
    }

    #[test]
    fn finds_values_in_json() {
        let text = "{\n  \"spec\": {\n    \"replicas\": \"x\"\n  }\n}";
        let at = locate_json(text, &parse_path("spec.replicas"));
        assert_eq!(at.map(|(l, _)| l), Some(3));
    }
}
