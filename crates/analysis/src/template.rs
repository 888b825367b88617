//! `{{...}}` placeholder substitution (Argo's `utils/template`): `ResolveArgs` (raw values)
//! and `ResolveQuotedArgs` (values escaped for a JSON/Go string literal).
//!
//! Placeholders have no escaping. The tag between `{{` and `}}` is trimmed of whitespace
//! before lookup (`{{ args.x }}` works). An unknown tag is an error naming the raw,
//! untrimmed tag, and when several are unknown the last one is named. An argument without
//! a value fails the whole call, referenced or not.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use weir_model::duration::parse_nanos;
use weir_model::rollouts::Argument;

use crate::error::ArgError;
use weir_gocompat::{escape as go_escape, quote as go_quote};

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

/// Argo's `ResolveArgs`: substitutes `{{args.NAME}}` with the raw argument values.
pub fn resolve_args(template: &str, args: &[Argument]) -> Result<String, ArgError> {
    resolve_with(template, args, false)
}

/// Argo's `ResolveQuotedArgs`: like [`resolve_args`], with each value escaped as inside a Go
/// (and JSON) string literal, without the quotes, so it can go into JSON text.
pub fn resolve_quoted_args(template: &str, args: &[Argument]) -> Result<String, ArgError> {
    resolve_with(template, args, true)
}

fn resolve_with(template: &str, args: &[Argument], quote: bool) -> Result<String, ArgError> {
    let mut values = BTreeMap::new();
    for arg in args {
        let Some(value) = &arg.value else {
            return Err(ArgError::NotSupplied(arg.name.clone()));
        };
        let value = if quote { go_escape(value) } else { value.clone() };
        values.insert(format!("args.{}", arg.name), value);
    }
    substitute(template, &values)
}

/// A template of an experiment, for [`resolve_experiment_args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExperimentTemplateRs<'a> {
    /// The experiment template's name.
    pub template: &'a str,
    /// Its ReplicaSet's name.
    pub replica_set: &'a str,
    /// Its ReplicaSet's `rollouts-pod-template-hash` label (`""` if none).
    pub pod_template_hash: &'a str,
}

/// Argo's `ResolveExperimentArgsValue`: substitutes `templates.<name>.replicaset.name`,
/// `templates.<name>.podTemplateHash`, `experiment.availableAt` and `experiment.finishedAt`
/// (`availableAt` + `duration`), times in RFC 3339 (UTC, whole seconds).
pub fn resolve_experiment_args(
    template: &str,
    replica_sets: &[ExperimentTemplateRs<'_>],
    available_at: Option<Timestamp>,
    duration: Option<&str>,
) -> Result<String, ArgError> {
    let mut values = BTreeMap::new();
    for rs in replica_sets {
        let t = rs.template;
        values.insert(format!("templates.{t}.replicaset.name"), rs.replica_set.to_owned());
        if !rs.pod_template_hash.is_empty() {
            values
                .insert(format!("templates.{t}.podTemplateHash"), rs.pod_template_hash.to_owned());
        }
    }
    if let Some(at) = available_at {
        values.insert("experiment.availableAt".to_owned(), rfc3339(at));
        if let Some(d) = duration.filter(|d| !d.is_empty()) {
            let nanos = parse_nanos(d).map_err(|e| ArgError::Duration(e.to_string()))?;
            let end = at
                .checked_add(SignedDuration::from_nanos(nanos))
                .map_err(|e| ArgError::Duration(e.to_string()))?;
            values.insert("experiment.finishedAt".to_owned(), rfc3339(end));
        }
    }
    substitute(template, &values)
}

/// Go's `time.RFC3339` of a UTC instant, whole seconds.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Replaces every `{{tag}}` by `values[tag.trim()]`.
pub(crate) fn substitute(
    template: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, ArgError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unresolved = None;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            return Err(ArgError::UnterminatedTag {
                template: go_quote(template),
                rest: go_quote(after),
            });
        };
        let tag = &after[..end];
        match values.get(tag.trim()) {
            Some(v) => out.push_str(v),
            None => unresolved = Some(tag.to_owned()),
        }
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    match unresolved {
        Some(tag) => Err(ArgError::Unresolved(tag)),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(name: &str, value: &str) -> Argument {
        Argument { name: name.into(), value: Some(value.into()), value_from: None }
    }

    #[test]
    fn last_unknown_tag_is_named() {
        let err = resolve_args("{{args.a}} {{ args.b }}", &[]).unwrap_err();
        assert_eq!(err.to_string(), "failed to resolve {{ args.b }}");
    }

    #[test]
    fn values_are_not_rescanned() {
        let got = resolve_args("{{args.a}}", &[arg("a", "{{args.a}}")]).unwrap();
        assert_eq!(got, "{{args.a}}");
    }
}
