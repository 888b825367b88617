//! Analysis arguments: merging a rollout's or user's arguments into a template's
//! (`MergeArgs`), resolving `valueFrom.secretKeyRef` through a [`SecretSource`], and
//! substituting `{{args.x}}` into a metric (`ResolveMetricArgs`).
//!
//! Secret values are collected in a [`Redactor`] so that every message that may contain them
//! is stored and logged with `*****` instead.

use std::collections::BTreeMap;
use std::fmt;

use weir_model::rollouts::{Argument, Metric};

use crate::error::ArgError;
use crate::template::resolve_quoted_args;

/// Where secret values come from: the decoded `data` of a Secret in the run's namespace, by
/// name. The controller reads the Secrets named by [`secret_names`] and passes them in.
pub trait SecretSource {
    /// The decoded data of the Secret `name`, or `None` if it does not exist.
    fn secret(&self, name: &str) -> Option<BTreeMap<String, String>>;
}

impl SecretSource for BTreeMap<String, BTreeMap<String, String>> {
    fn secret(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.get(name).cloned()
    }
}

/// A [`SecretSource`] without any Secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn secret(&self, _name: &str) -> Option<BTreeMap<String, String>> {
        None
    }
}

/// Replaces secret values by `*****` in messages. `Debug` does not show the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    values: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    /// The text that replaces a secret value.
    pub const MASK: &'static str = "*****";

    /// A redactor for these values (empty values are ignored).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        // Longest first, so a value containing another is masked whole.
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every secret value replaced by [`Redactor::MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), Self::MASK);
            }
        }
        out
    }

    /// Whether `value` is one of the secret values.
    pub fn contains(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }
}

/// The Secrets the arguments read, in order, without repeats.
pub fn secret_names(args: &[Argument]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for arg in args {
        if let Some(r) = arg.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref())
            && !names.contains(&r.name.as_str())
        {
            names.push(&r.name);
        }
    }
    names
}

/// Argo's `MergeArgs`: the template's arguments in order, each overridden by the incoming
/// argument of the same name (its `value`, else its `valueFrom`); incoming arguments the
/// template does not declare are dropped. Every result must have a value or a `valueFrom`,
/// else `args.X was not resolved`. `None` templates give `None`.
pub fn merge_args(
    incoming: Option<&[Argument]>,
    template: Option<&[Argument]>,
) -> Result<Option<Vec<Argument>>, ArgError> {
    let Some(template) = template else {
        return Ok(None);
    };
    let mut merged = template.to_vec();
    for arg in incoming.unwrap_or_default() {
        if let Some(slot) = merged.iter_mut().find(|a| a.name == arg.name) {
            if arg.value.is_some() {
                slot.value.clone_from(&arg.value);
            } else if arg.value_from.is_some() {
                slot.value_from.clone_from(&arg.value_from);
            }
        }
    }
    if let Some(missing) = merged.iter().find(|a| a.value.is_none() && a.value_from.is_none()) {
        return Err(ArgError::NotResolved(missing.name.clone()));
    }
    Ok(Some(merged))
}

/// The controller's `resolveArgs`: every `valueFrom.secretKeyRef` argument gets the secret's
/// value, and the values are collected for redaction. Other arguments are kept as they are.
pub fn resolve_secret_args(
    args: &[Argument],
    secrets: &dyn SecretSource,
) -> Result<(Vec<Argument>, Redactor), ArgError> {
    let mut resolved = args.to_vec();
    let mut values = Vec::new();
    for arg in &mut resolved {
        let Some(r) = arg.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) else {
            continue;
        };
        let data =
            secrets.secret(&r.name).ok_or_else(|| ArgError::SecretNotFound(r.name.clone()))?;
        let value = data
            .get(&r.key)
            .cloned()
            .ok_or_else(|| ArgError::KeyNotInSecret { name: r.name.clone(), key: r.key.clone() })?;
        values.push(value.clone());
        arg.value = Some(value);
    }
    Ok((resolved, Redactor::new(values)))
}

/// The arguments with each secret replaced by a stand-in value: Argo's
/// `getResolvedMetricsWithoutSecrets`, used to validate and schedule without reading Secrets.
pub(crate) fn without_secrets(args: &[Argument]) -> Vec<Argument> {
    args.iter()
        .map(|a| {
            let mut a = a.clone();
            if a.value_from.as_ref().is_some_and(|v| v.secret_key_ref.is_some()) {
                a.value_from = None;
                a.value = Some("temp-for-secret".to_owned());
            }
            a
        })
        .collect()
}

/// Go's field order of `v1alpha1.Metric`: with several unresolved placeholders, Argo names
/// the last one in this order.
const GO_METRIC_FIELDS: [&str; 11] = [
    "name",
    "interval",
    "initialDelay",
    "count",
    "successCondition",
    "failureCondition",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
    "provider",
    "consecutiveSuccessLimit",
];

/// Argo's `ResolveMetricArgs`: the metric serialised to JSON (Go's field order), every
/// `{{args.x}}` substituted with the JSON-escaped value, and parsed back; so every string
/// field (conditions, query, headers, address…) is substituted and quotes round-trip.
pub fn resolve_metric_args(metric: &Metric, args: &[Argument]) -> Result<Metric, ArgError> {
    let json = serde_json::to_value(metric).map_err(|e| ArgError::InvalidMetric(e.to_string()))?;
    let mut ordered = serde_json::Map::new();
    if let serde_json::Value::Object(mut fields) = json {
        for key in GO_METRIC_FIELDS {
            if let Some(v) = fields.remove(key) {
                ordered.insert(key.to_owned(), v);
            }
        }
        ordered.extend(fields);
    }
    let text = serde_json::Value::Object(ordered).to_string();
    let resolved = resolve_quoted_args(&text, args)?;
    serde_json::from_str(&resolved).map_err(|e| ArgError::InvalidMetric(e.to_string()))
}

/// [`resolve_metric_args`] for every metric, stopping at the first error.
pub fn resolve_metrics(metrics: &[Metric], args: &[Argument]) -> Result<Vec<Metric>, ArgError> {
    metrics.iter().map(|m| resolve_metric_args(m, args)).collect()
}

#[cfg(test)]
mod tests {
    use weir_model::rollouts::{SecretKeyRef, ValueFrom};

    use super::*;

    fn secret_arg(name: &str, secret: &str, key: &str) -> Argument {
        Argument {
            name: name.into(),
            value: None,
            value_from: Some(ValueFrom {
                secret_key_ref: Some(SecretKeyRef { name: secret.into(), key: key.into() }),
                field_ref: None,
            }),
        }
    }

    #[test]
    fn secrets_are_resolved_and_redacted() {
        let mut secrets = BTreeMap::new();
        secrets.insert("s".to_owned(), BTreeMap::from([("k".to_owned(), "hunter2".to_owned())]));
        let (args, redactor) =
            resolve_secret_args(&[secret_arg("a", "s", "k"), secret_arg("b", "s", "k")], &secrets)
                .unwrap();
        assert_eq!(args[1].value.as_deref(), Some("hunter2"));
        assert_eq!(redactor.redact("pw hunter2!"), "pw *****!");
        assert_eq!(format!("{redactor:?}"), "Redactor(1 values)");
        assert_eq!(secret_names(&args), vec!["s"]);
    }

    #[test]
    fn go_field_order_decides_the_reported_placeholder() {
        let metric: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "successCondition": "{{args.a}}", "failureLimit": "{{args.b}}"
        }))
        .unwrap();
        let err = resolve_metric_args(&metric, &[]).unwrap_err();
        assert_eq!(err.to_string(), "failed to resolve {{args.b}}");
    }
}
