//! The JSONPath subset of CRD printer columns (`additionalPrinterColumns[].jsonPath`), which
//! the API server restricts to "simple" paths: fields (`.spec.replicas`, `['a.b']`), indexes
//! (`[0]`), wildcards (`[*]`) and equality filters (`[?(@.type=="Ready")]`).

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    /// `[?(@.a.b == "v")]`.
    Filter(Vec<String>, Value),
}

/// A parsed column path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses a column's path (with or without the `{…}` template braces); `None` when it is
    /// not a simple path.
    pub(crate) fn parse(text: &str) -> Option<JsonPath> {
        let text = text.trim();
        let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
        let mut rest = text.strip_prefix('$').unwrap_or(text);
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return None;
                }
                steps.push(if name == "*" { Step::Wildcard } else { Step::Field(name.to_owned()) });
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = bracket_end(after)?;
                steps.push(parse_bracket(after[..end].trim())?);
                rest = &after[end + 1..];
            } else {
                return None;
            }
        }
        Some(JsonPath { steps })
    }

    /// Every value the path selects in `root`, in document order.
    pub(crate) fn find<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match step {
                    Step::Field(name) => next.extend(value.get(name.as_str())),
                    Step::Index(i) => {
                        if let Some(items) = value.as_array() {
                            let index = if *i < 0 { items.len() as i64 + i } else { *i };
                            next.extend(usize::try_from(index).ok().and_then(|i| items.get(i)));
                        }
                    }
                    Step::Wildcard => match value {
                        Value::Array(items) => next.extend(items),
                        Value::Object(map) => next.extend(map.values()),
                        _ => {}
                    },
                    Step::Filter(path, expected) => {
                        for item in value.as_array().into_iter().flatten() {
                            let found = path.iter().try_fold(item, |v, key| v.get(key.as_str()));
                            if found == Some(expected) {
                                next.push(item);
                            }
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

/// The index of the `]` closing a bracket, skipping quoted text.
fn bracket_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Ok(index) = inner.parse::<i64>() {
        return Some(Step::Index(index));
    }
    if let Some(name) = unquote(inner) {
        return Some(Step::Field(name));
    }
    let filter = inner.strip_prefix("?(")?.strip_suffix(')')?.trim();
    let (left, right) = filter.split_once("==")?;
    let path = left.trim().strip_prefix("@.")?;
    let keys: Vec<String> = path.split('.').map(str::to_owned).collect();
    if keys.iter().any(String::is_empty) {
        return None;
    }
    let right = right.trim();
    let expected = match unquote(right) {
        Some(text) => Value::String(text),
        None => serde_json::from_str(right).ok()?,
    };
    Some(Step::Filter(keys, expected))
}

fn unquote(text: &str) -> Option<String> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find(path: &str, value: &Value) -> Vec<Value> {
        JsonPath::parse(path).unwrap().find(value).into_iter().cloned().collect()
    }

    /// The paths of the built-in CRDs' printer columns (Argo, Istio, Gateway API).
    #[test]
    fn evaluates_the_paths_crds_use() {
        let object = json!({
            "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "hosts": ["a", "b"], "mtls": {"mode": "STRICT"}},
            "status": {
                "conditions": [
                    {"type": "Accepted", "status": "True"},
                    {"type": "Programmed", "status": "False"}
                ],
                "addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}]
            }
        });
        assert_eq!(find(".spec.replicas", &object), [json!(3)]);
        assert_eq!(find(".spec.hosts", &object), [json!(["a", "b"])]);
        assert_eq!(find(".spec.mtls.mode", &object), [json!("STRICT")]);
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Programmed")].status"#, &object),
            [json!("False")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type == 'Accepted')].status", &object),
            [json!("True")]
        );
        assert_eq!(
            find(".status.addresses[*].value", &object),
            [json!("10.0.0.1"), json!("10.0.0.2")]
        );
        assert_eq!(find(".spec.hosts[1]", &object), [json!("b")]);
        assert_eq!(find(".spec.hosts[-1]", &object), [json!("b")]);
        assert_eq!(
            find("{.metadata['creationTimestamp']}", &object),
            [json!("2024-01-01T00:00:00Z")]
        );
        assert!(find(".status.missing.field", &object).is_empty());
        assert!(find(".spec.replicas[0]", &object).is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_simple_path() {
        for path in ["spec", ".spec..x", ".spec[", ".a[?(@.x > 1)]", ".a[?(x==1)]"] {
            assert!(JsonPath::parse(path).is_none(), "{path}");
        }
    }
}
