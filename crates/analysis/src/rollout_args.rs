//! Arguments a Rollout passes to its analyses (`BuildArgumentsForRolloutAnalysisRun`):
//! literal values, `podTemplateHashValue: Stable|Latest`, and `fieldRef` paths: downward-API
//! syntax for `metadata…` paths (`metadata.labels['app']`), a walk over the Rollout's JSON for
//! any other path (`spec.template.spec.containers[0].image`), which must end in a primitive.

use std::collections::BTreeMap;

use regex::Regex;
use weir_model::rollouts::{AnalysisRunArgument, Argument, Rollout};

use crate::error::ArgError;
use weir_gocompat::quote as go_quote;

/// The pod template hashes `podTemplateHashValue` can name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodHashes<'a> {
    /// The stable ReplicaSet's `rollouts-pod-template-hash` (`Stable`).
    pub stable: Option<&'a str>,
    /// The new ReplicaSet's `rollouts-pod-template-hash` (`Latest`).
    pub latest: Option<&'a str>,
}

/// Argo's `BuildArgumentsForRolloutAnalysisRun`: each rollout argument as a run argument with
/// a literal value. A hash that is not known yet, or an unknown `podTemplateHashValue`, gives
/// `""` as in Argo.
pub fn build_rollout_args(
    args: &[AnalysisRunArgument],
    hashes: PodHashes<'_>,
    rollout: &Rollout,
) -> Result<Vec<Argument>, ArgError> {
    let mut json = None;
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let value = match &arg.value_from {
            None => arg.value.clone().unwrap_or_default(),
            Some(from) => {
                if let Some(which) = &from.pod_template_hash_value {
                    match which.as_str() {
                        "Latest" => hashes.latest.unwrap_or_default().to_owned(),
                        "Stable" => hashes.stable.unwrap_or_default().to_owned(),
                        _ => String::new(),
                    }
                } else if let Some(field) = &from.field_ref {
                    let path = field.field_path.as_str();
                    if path.starts_with("metadata") {
                        metadata_field(rollout, path)?
                    } else {
                        let json = match &json {
                            Some(j) => j,
                            None => json.insert(
                                serde_json::to_value(rollout)
                                    .map_err(|e| ArgError::FieldPath(e.to_string()))?,
                            ),
                        };
                        extract_value(json, path)?
                    }
                } else {
                    String::new()
                }
            }
        };
        out.push(Argument { name: arg.name.clone(), value: Some(value), value_from: None });
    }
    Ok(out)
}

/// Kubernetes' `fieldpath.ExtractFieldPathAsString` over the Rollout's metadata.
fn metadata_field(rollout: &Rollout, path: &str) -> Result<String, ArgError> {
    let meta = &rollout.metadata;
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);
    if let Some((base, key)) = split_subscript(path) {
        return match base {
            "metadata.annotations" => Ok(annotations.get(key).cloned().unwrap_or_default()),
            "metadata.labels" => Ok(labels.get(key).cloned().unwrap_or_default()),
            _ => Err(ArgError::FieldPath(format!(
                "fieldPath {} does not support subscript",
                go_quote(path)
            ))),
        };
    }
    Ok(match path {
        "metadata.annotations" => format_map(annotations),
        "metadata.labels" => format_map(labels),
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        _ => return Err(ArgError::FieldPath(format!("unsupported fieldPath: {path}"))),
    })
}

fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (base, key) = s.split_once("['")?;
    (!base.is_empty()).then_some((base, key))
}

fn format_map(m: &BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={}", go_quote(v))).collect::<Vec<_>>().join("\n")
}

/// Argo's `extractValueFromRollout`: `path` split on `.`, `[` and `]`, walked over the
/// Rollout's JSON; the end must be a primitive, printed like Go's `%v`.
pub fn extract_value(rollout: &serde_json::Value, path: &str) -> Result<String, ArgError> {
    let invalid = || ArgError::FieldPath(format!("invalid path {path} in rollout"));
    let separators = Regex::new(r"[.\[\]]+").expect("a constant, valid regex");
    let mut current = Some(rollout);
    for section in separators.split(path).filter(|s| !s.is_empty()) {
        current = match current {
            Some(serde_json::Value::Array(items)) => {
                let i: usize = section
                    .parse()
                    .map_err(|_| ArgError::FieldPath(format!("invalid index '{section}'")))?;
                Some(
                    items
                        .get(i)
                        .ok_or_else(|| ArgError::FieldPath(format!("index {i} out of range")))?,
                )
            }
            Some(serde_json::Value::Object(map)) => map.get(section),
            _ => return Err(invalid()),
        };
    }
    match current {
        None | Some(serde_json::Value::Null) => Err(invalid()),
        Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
            Err(ArgError::FieldPath(format!(
                "path {path} in rollout must terminate in a primitive value"
            )))
        }
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        Some(serde_json::Value::Number(n)) => Ok(go_number(n)),
    }
}

/// A JSON number as Go prints the `float64` it decodes to with `%v`.
fn go_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_go() {
        let v = serde_json::json!({"spec": {"replicas": 3, "ratio": 0.5}});
        assert_eq!(extract_value(&v, "spec.replicas").unwrap(), "3");
        assert_eq!(extract_value(&v, "spec.ratio").unwrap(), "0.5");
    }

    #[test]
    fn whole_label_map_is_formatted() {
        let mut ro = Rollout::new("r", Default::default());
        ro.metadata.labels =
            Some(BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]));
        assert_eq!(metadata_field(&ro, "metadata.labels").unwrap(), "a=\"1\"\nb=\"2\"");
        assert!(metadata_field(&ro, "metadata.generation").is_err());
    }
}
