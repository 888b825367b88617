//! The part of Kubernetes' validation a Rollout relies on: label selectors
//! (`ValidateLabelSelector`, `LabelSelectorAsSelector`) and pod templates
//! (`ValidatePodTemplateSpecForReplicaSet` after pod defaults), limited to the checks a
//! Rollout template commonly trips.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::validate::{child, go_quote, go_string_map, index};
use crate::{Diagnostic, ErrorType};

/// A parsed label selector: `Nothing` (nil selector), `Everything` (empty) or requirements.
#[derive(Debug)]
pub(super) enum Selector {
    Nothing,
    Everything,
    Requirements(Vec<(String, String, Vec<String>)>),
}

impl Selector {
    /// `metav1.LabelSelectorAsSelector`; `None` when the selector is invalid.
    pub(super) fn from_label_selector(sel: Option<&LabelSelector>) -> Option<Selector> {
        let Some(sel) = sel else { return Some(Selector::Nothing) };
        let labels = sel.match_labels.as_ref();
        let exprs = sel.match_expressions.as_ref();
        if labels.map_or(0, BTreeMap::len) + exprs.map_or(0, Vec::len) == 0 {
            return Some(Selector::Everything);
        }
        let mut reqs = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            if !crate::validate::is_qualified_name(k).is_empty()
                || !crate::validate::is_valid_label_value(v).is_empty()
            {
                return None;
            }
            reqs.push((k.clone(), "In".to_owned(), vec![v.clone()]));
        }
        for e in exprs.into_iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let ok = match e.operator.as_str() {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                _ => false,
            };
            if !ok || !crate::validate::is_qualified_name(&e.key).is_empty() {
                return None;
            }
            reqs.push((e.key.clone(), e.operator.clone(), values));
        }
        Some(Selector::Requirements(reqs))
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Everything => true,
            Selector::Requirements(reqs) => reqs.iter().all(|(k, op, values)| match op.as_str() {
                "In" => labels.get(k).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(k).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(k),
                _ => !labels.contains_key(k),
            }),
        }
    }
}

/// `ValidateLabelSelector` (matchExpressions, then matchLabels).
pub(super) fn validate_label_selector(sel: &LabelSelector, path: &str) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let p = index(&child(path, "matchExpressions"), i);
        let values = e.values.as_deref().unwrap_or(&[]);
        match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(Diagnostic::required(
                child(&p, "values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(Diagnostic::new(
                ErrorType::Forbidden,
                child(&p, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(Diagnostic {
                error_type: ErrorType::NotSupported,
                field: child(&p, "operator"),
                bad_value: Some(go_quote(other)),
                detail: r#"supported values: "In", "NotIn", "Exists", "DoesNotExist""#.to_owned(),
            }),
        }
        errs.extend(validate_label_name(&e.key, &child(&p, "key")));
        for (j, v) in values.iter().enumerate() {
            for msg in crate::validate::is_valid_label_value(v) {
                errs.push(Diagnostic::invalid(index(&child(&p, "values"), j), go_quote(v), msg));
            }
        }
    }
    errs.extend(validate_labels(sel.match_labels.as_ref(), &child(path, "matchLabels")));
    errs
}

fn validate_label_name(name: &str, path: &str) -> Vec<Diagnostic> {
    crate::validate::is_qualified_name(name)
        .into_iter()
        .map(|m| Diagnostic::invalid(path, go_quote(name), m))
        .collect()
}

/// `ValidateLabels`.
fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &str) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in crate::validate::is_valid_label_value(v) {
            errs.push(Diagnostic::invalid(path, go_quote(v), msg));
        }
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet` after Kubernetes' pod defaults, limited to the
/// checks a Rollout template commonly trips: selector/labels, metadata keys, containers
/// (present, named, unique, with an image), `restartPolicy: Always`, no
/// `activeDeadlineSeconds`.
pub(super) fn validate_pod_template_spec_for_replica_set(
    template: &PodTemplateSpec,
    selector: &Selector,
    path: &str,
) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    let meta = template.metadata.as_ref();
    let labels = meta.and_then(|m| m.labels.as_ref());
    if !matches!(selector, Selector::Everything)
        && !selector.matches(labels.unwrap_or(&BTreeMap::new()))
    {
        errs.push(Diagnostic::invalid(
            child(path, "metadata.labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_labels(labels, &child(path, "metadata.labels")));
    for k in meta.and_then(|m| m.annotations.as_ref()).into_iter().flatten().map(|(k, _)| k) {
        for msg in crate::validate::is_qualified_name(&k.to_lowercase()) {
            errs.push(Diagnostic::invalid(child(path, "metadata.annotations"), go_quote(k), msg));
        }
    }

    let spec_path = child(path, "spec");
    let pod = template.spec.clone().unwrap_or_default();
    let mut names = BTreeSet::new();
    for (list, field) in
        [(&pod.init_containers, "initContainers"), (&Some(pod.containers.clone()), "containers")]
    {
        let list_path = child(&spec_path, field);
        let list = list.as_deref().unwrap_or(&[]);
        if field == "containers" && list.is_empty() {
            errs.push(Diagnostic::required(&list_path, ""));
        }
        for (i, c) in list.iter().enumerate() {
            let cp = index(&list_path, i);
            let name_path = child(&cp, "name");
            if c.name.is_empty() {
                errs.push(Diagnostic::required(&name_path, ""));
            } else {
                for msg in crate::validate::is_dns1123_label(&c.name) {
                    errs.push(Diagnostic::invalid(&name_path, go_quote(&c.name), msg));
                }
            }
            if !names.insert(c.name.clone()) {
                errs.push(Diagnostic {
                    error_type: ErrorType::Duplicate,
                    field: name_path,
                    bad_value: Some(go_quote(&c.name)),
                    detail: String::new(),
                });
            }
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(Diagnostic::required(child(&cp, "image"), ""));
            } else if image.trim() != image {
                errs.push(Diagnostic::invalid(
                    child(&cp, "image"),
                    go_quote(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let restart = pod.restart_policy.as_deref().unwrap_or("Always");
    if restart != "Always" {
        errs.push(Diagnostic {
            error_type: ErrorType::NotSupported,
            field: child(&spec_path, "restartPolicy"),
            bad_value: Some(go_quote(restart)),
            detail: r#"supported values: "Always""#.to_owned(),
        });
    }
    if let Some(ads) = pod.active_deadline_seconds {
        errs.push(Diagnostic::invalid(
            child(&spec_path, "activeDeadlineSeconds"),
            ads.to_string(),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}
