//! Label selectors, equality- and set-based, parsed from Kubernetes' string syntax
//! (`app=web,tier!=db,env in (prod,stage),!canary`) or built from a `LabelSelector` object;
//! field selectors are in [`fields`].

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

use crate::{Error, Result};

pub mod fields;

pub use fields::{FieldOperator, FieldRequirement, FieldSelector, selectable_fields};

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

/// A conjunction of requirements; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// A selector requiring every given label.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        LabelSelector {
            requirements: labels
                .into_iter()
                .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Converts a Kubernetes `LabelSelector` (`matchLabels` + `matchExpressions`).
    pub fn from_k8s(selector: &meta::LabelSelector) -> Result<Self> {
        let mut requirements = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let key = expr.key.clone();
            requirements.push(match expr.operator.as_str() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => {
                    return Err(Error::BadRequest(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            });
        }
        Ok(LabelSelector { requirements })
    }

    /// Parses Kubernetes' selector string syntax.
    pub fn parse(text: &str) -> Result<Self> {
        let mut requirements = Vec::new();
        for term in split_terms(text)? {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v),
            Requirement::NotEquals(k, v) => get(k) != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }

    /// Whether the selector has no requirement (and so selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in order.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(bad_selector(text, "unbalanced parentheses"));
        }
    }
    if depth != 0 {
        return Err(bad_selector(text, "unbalanced parentheses"));
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(checked_key(key.trim(), term)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        let key = checked_key(key.trim(), term)?;
        let value = checked_value(&key, 0, value.trim())?;
        return Ok(Requirement::NotEquals(key, value));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        let key = checked_key(key.trim(), term)?;
        let value = checked_value(&key, 0, value.trim())?;
        return Ok(Requirement::Equals(key, value));
    }
    if let Some(open) = term.find('(') {
        let head: Vec<&str> = term[..open].split_whitespace().collect();
        let Some(body) = term[open + 1..].strip_suffix(')') else {
            return Err(bad_selector(term, "expected ')' at the end"));
        };
        let values: Vec<String> = body.split(',').map(|v| v.trim().to_owned()).collect();
        if let [key, _] = head.as_slice() {
            for (i, v) in values.iter().enumerate() {
                checked_value(key, i, v)?;
            }
        }
        return match head.as_slice() {
            [key, "in"] => Ok(Requirement::In(checked_key(key, term)?, values)),
            [key, "notin"] => Ok(Requirement::NotIn(checked_key(key, term)?, values)),
            _ => Err(bad_selector(term, "expected 'KEY in (…)' or 'KEY notin (…)'")),
        };
    }
    Ok(Requirement::Exists(checked_key(term, term)?))
}

/// A label key, checked as the API server does (`unable to parse requirement: invalid label
/// key ...`, Kubernetes' message).
fn checked_key(key: &str, term: &str) -> Result<String> {
    if key.is_empty() {
        return Err(bad_selector(term, "invalid label key"));
    }
    let problems = crate::validation::qualified_name(key);
    if problems.is_empty() {
        return Ok(key.to_owned());
    }
    Err(Error::BadRequest(format!(
        "unable to parse requirement: invalid label key {}: {}",
        crate::validation::go_quote(key),
        problems.join("; ")
    )))
}

/// A value: another operator inside it (`a==b==c`) is Kubernetes' "found '==', expected: ','
/// or 'end of string'"; otherwise it must be a valid label value.
fn checked_value(key: &str, index: usize, value: &str) -> Result<String> {
    let operator = ["==", "!=", "="]
        .iter()
        .filter_map(|op| value.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())));
    if let Some((_, op)) = operator {
        return Err(Error::BadRequest(format!("found '{op}', expected: ',' or 'end of string'")));
    }
    let problems = crate::validation::label_value(value);
    if problems.is_empty() {
        return Ok(value.to_owned());
    }
    Err(Error::BadRequest(format!(
        "unable to parse requirement: values[{index}][{key}]: Invalid value: {}: {}",
        crate::validation::go_quote(value),
        problems.join("; ")
    )))
}

fn bad_selector(text: &str, why: &str) -> Error {
    Error::BadRequest(format!("unable to parse label selector {text:?}: {why}"))
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn parses_and_matches_every_operator() {
        let sel =
            LabelSelector::parse("app=web, tier!=db,env in (prod, stage),!canary,team").unwrap();
        assert!(sel.matches(Some(&labels(&[("app", "web"), ("env", "prod"), ("team", "a")]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web"), ("env", "dev"), ("team", "a")]))));
        assert!(!sel.matches(Some(&labels(&[
            ("app", "web"),
            ("env", "prod"),
            ("team", "a"),
            ("canary", "1")
        ]))));
        assert!(!sel.matches(None));
        assert_eq!(sel.to_string(), "app=web,tier!=db,env in (prod,stage),!canary,team");
    }

    #[test]
    fn notin_matches_absent_keys_and_empty_matches_all() {
        let sel = LabelSelector::parse("env notin (prod)").unwrap();
        assert!(sel.matches(None));
        assert!(LabelSelector::parse("").unwrap().matches(None));
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in ["env in (a", "a b", "=x", "env in", "a==b==c", "x<y>=1", "a=b c"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
        let err = LabelSelector::parse("a==b==c").unwrap_err();
        assert_eq!(err.to_string(), "found '==', expected: ',' or 'end of string'");
        let err = LabelSelector::parse("component+kube-apiserver").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "unable to parse requirement: invalid label key \"component+kube-apiserver\": \
                 name part must consist of"
            ),
            "{err}"
        );
    }
}
