//! Field selectors (`metadata.name=web,status.phase!=Running`), with the fields the Kubernetes
//! API server lets clients select on for each kind.
//!
//! Where the field sets come from: the API server's field label conversion functions
//! (`pkg/apis/core/v1/conversion.go` `AddFieldLabelConversionFuncs` for Pods, Nodes, Events,
//! Namespaces, Secrets; `pkg/apis/batch/v1/conversion.go` for Jobs; `pkg/apis/events/v1` for
//! `events.k8s.io` Events) and, for every other kind (custom resources included),
//! `metadata.name` and `metadata.namespace` only. A value is the field as Go would print it:
//! an absent string is `""`, an absent bool `false`, an absent integer `0`.
//!
//! Syntax as `k8s.io/apimachinery/pkg/fields` parses it: comma-separated terms, each
//! `field=value`, `field==value` or `field!=value`; `\` escapes `\`, `,` and `=` in values.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::{Error, Object, Result};

/// How a term compares the field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOperator {
    /// `=` or `==`.
    Equals,
    /// `!=`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field's path, e.g. `involvedObject.name`.
    pub field: String,
    /// How it is compared.
    pub operator: FieldOperator,
    /// The value compared with.
    pub value: String,
}

/// A conjunction of field requirements; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// What a field's value is when the object does not set it (Go's zero value).
#[derive(Debug, Clone, Copy)]
enum Zero {
    Text,
    Bool,
    Int,
}

/// A selectable field: its name in the selector and where its value lives in the object.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    path: &'static [&'static str],
    zero: Zero,
}

const fn text(name: &'static str, path: &'static [&'static str]) -> Field {
    Field { name, path, zero: Zero::Text }
}

const POD_FIELDS: &[Field] = &[
    text("spec.nodeName", &["spec", "nodeName"]),
    text("spec.restartPolicy", &["spec", "restartPolicy"]),
    text("spec.schedulerName", &["spec", "schedulerName"]),
    text("spec.serviceAccountName", &["spec", "serviceAccountName"]),
    Field { name: "spec.hostNetwork", path: &["spec", "hostNetwork"], zero: Zero::Bool },
    text("status.phase", &["status", "phase"]),
    text("status.podIP", &["status", "podIP"]),
    text("status.nominatedNodeName", &["status", "nominatedNodeName"]),
];

const CORE_EVENT_FIELDS: &[Field] = &[
    text("involvedObject.kind", &["involvedObject", "kind"]),
    text("involvedObject.namespace", &["involvedObject", "namespace"]),
    text("involvedObject.name", &["involvedObject", "name"]),
    text("involvedObject.uid", &["involvedObject", "uid"]),
    text("involvedObject.apiVersion", &["involvedObject", "apiVersion"]),
    text("involvedObject.resourceVersion", &["involvedObject", "resourceVersion"]),
    text("involvedObject.fieldPath", &["involvedObject", "fieldPath"]),
    text("reason", &["reason"]),
    text("reportingComponent", &["reportingComponent"]),
    text("source", &["source", "component"]),
    text("type", &["type"]),
];

const EVENTS_V1_FIELDS: &[Field] = &[
    text("regarding.kind", &["regarding", "kind"]),
    text("regarding.namespace", &["regarding", "namespace"]),
    text("regarding.name", &["regarding", "name"]),
    text("regarding.uid", &["regarding", "uid"]),
    text("regarding.apiVersion", &["regarding", "apiVersion"]),
    text("regarding.resourceVersion", &["regarding", "resourceVersion"]),
    text("regarding.fieldPath", &["regarding", "fieldPath"]),
    text("reason", &["reason"]),
    text("reportingController", &["reportingController"]),
    text("type", &["type"]),
];

const NODE_FIELDS: &[Field] =
    &[Field { name: "spec.unschedulable", path: &["spec", "unschedulable"], zero: Zero::Bool }];
const NAMESPACE_FIELDS: &[Field] = &[text("status.phase", &["status", "phase"])];
const SECRET_FIELDS: &[Field] = &[text("type", &["type"])];
const JOB_FIELDS: &[Field] =
    &[Field { name: "status.successful", path: &["status", "successful"], zero: Zero::Int }];
const REPLICA_SET_FIELDS: &[Field] =
    &[Field { name: "status.replicas", path: &["status", "replicas"], zero: Zero::Int }];

/// The fields beyond `metadata.name`/`metadata.namespace` a kind can be selected on.
fn kind_fields(group: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (group, kind) {
        ("", "Pod") => POD_FIELDS,
        ("", "Event") => CORE_EVENT_FIELDS,
        ("events.k8s.io", "Event") => EVENTS_V1_FIELDS,
        ("", "Node") => NODE_FIELDS,
        ("", "Namespace") => NAMESPACE_FIELDS,
        ("", "Secret") => SECRET_FIELDS,
        ("batch", "Job") => JOB_FIELDS,
        ("apps", "ReplicaSet") => REPLICA_SET_FIELDS,
        _ => return None,
    })
}

/// Whether a group is one of Kubernetes' built-in API groups (whose kinds answer an
/// unsupported field with `field label not supported`; custom resources answer differently).
fn is_builtin_group(group: &str) -> bool {
    group.is_empty()
        || !group.contains('.')
        || group.ends_with(".k8s.io") && !group.ends_with(".x-k8s.io")
}

fn value_at(obj: &Object, field: &Field) -> String {
    let mut path = field.path.iter();
    let mut current = path.next().and_then(|first| obj.data.get(*first));
    for key in path {
        current = current.and_then(|v| v.get(*key));
    }
    match (current, field.zero) {
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Bool(b)), _) => b.to_string(),
        (Some(Value::Number(n)), _) => n.to_string(),
        (None | Some(Value::Null), Zero::Text) => String::new(),
        (None | Some(Value::Null), Zero::Bool) => "false".to_owned(),
        (None | Some(Value::Null), Zero::Int) => "0".to_owned(),
        (Some(other), _) => other.to_string(),
    }
}

/// The values of every selectable field of `obj` but `metadata.name` and `metadata.namespace`
/// (which never change): what a watch compares before and after a change to turn "started
/// matching" into ADDED and "stopped matching" into DELETED. Empty for kinds with no such field.
pub fn selectable_fields(group: &str, kind: &str, obj: &Object) -> BTreeMap<String, String> {
    kind_fields(group, kind)
        .into_iter()
        .flatten()
        .map(|f| (f.name.to_owned(), value_at(obj, f)))
        .collect()
}

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// A selector for exactly one name (`metadata.name=<name>`).
    pub fn name(name: &str) -> Self {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: "metadata.name".to_owned(),
                operator: FieldOperator::Equals,
                value: name.to_owned(),
            }],
        }
    }

    /// A selector of these requirements (all must hold).
    pub fn from_requirements(requirements: Vec<FieldRequirement>) -> Self {
        FieldSelector { requirements }
    }

    /// Parses the selector syntax (see the module docs). Fields are not checked here: see
    /// [`FieldSelector::check`].
    pub fn parse(text: &str) -> Result<Self> {
        let mut requirements = Vec::new();
        for term in split_unescaped(text, ',') {
            if term.trim().is_empty() {
                continue;
            }
            requirements.push(parse_term(text, &term)?);
        }
        Ok(FieldSelector { requirements })
    }

    /// Refuses a field the kind cannot be selected on, with the API server's message.
    pub fn check(&self, group: &str, kind: &str) -> Result<()> {
        let known = kind_fields(group, kind).unwrap_or(&[]);
        for r in &self.requirements {
            let field = r.field.as_str();
            if matches!(field, "metadata.name" | "metadata.namespace")
                || known.iter().any(|f| f.name == field)
            {
                continue;
            }
            return Err(Error::BadRequest(if is_builtin_group(group) {
                format!("field label not supported: {field}")
            } else {
                format!(
                    "{field:?} is not a known field selector: only \"metadata.name\", \
                     \"metadata.namespace\""
                )
            }));
        }
        Ok(())
    }

    /// Whether `obj` (of `group`/`kind`) is selected. A field the kind does not have never
    /// matches (callers [`check`](FieldSelector::check) first).
    pub fn matches(&self, group: &str, kind: &str, obj: &Object) -> bool {
        let known = kind_fields(group, kind).unwrap_or(&[]);
        self.requirements.iter().all(|r| {
            let actual = match r.field.as_str() {
                "metadata.name" => obj.metadata.name.clone().unwrap_or_default(),
                "metadata.namespace" => obj.metadata.namespace.clone().unwrap_or_default(),
                other => match known.iter().find(|f| f.name == other) {
                    Some(field) => value_at(obj, field),
                    None => return false,
                },
            };
            r.holds(&actual)
        })
    }

    /// Whether an object whose selectable fields (as [`selectable_fields`] returns them) were
    /// `fields`, with this name and namespace, was selected.
    pub fn matches_fields(
        &self,
        name: &str,
        namespace: &str,
        fields: &BTreeMap<String, String>,
    ) -> bool {
        self.requirements.iter().all(|r| {
            let actual = match r.field.as_str() {
                "metadata.name" => name,
                "metadata.namespace" => namespace,
                other => match fields.get(other) {
                    Some(v) => v.as_str(),
                    None => return false,
                },
            };
            r.holds(actual)
        })
    }

    /// Whether the selector has no requirement.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether only `metadata.name`/`metadata.namespace` are selected on (fields that never
    /// change, so a change can never make an object start or stop matching).
    pub fn only_identity(&self) -> bool {
        self.requirements
            .iter()
            .all(|r| matches!(r.field.as_str(), "metadata.name" | "metadata.namespace"))
    }
}

impl FieldRequirement {
    fn holds(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

/// Splits on `sep` where it is not escaped by a backslash; backslashes stay in the parts.
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if escaped {
        current.push('\\');
    }
    parts.push(current);
    parts
}

fn parse_term(selector: &str, term: &str) -> Result<FieldRequirement> {
    let bad =
        || Error::BadRequest(format!("invalid selector: '{selector}'; can't understand '{term}'"));
    // The first unescaped operator: `!=`, `==` or `=` (in that order of precedence at a position).
    let chars: Vec<char> = term.chars().collect();
    let mut i = 0;
    let mut found = None;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '!' if chars.get(i + 1) == Some(&'=') => {
                found = Some((i, 2, FieldOperator::NotEquals));
                break;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                found = Some((i, 2, FieldOperator::Equals));
                break;
            }
            '=' => {
                found = Some((i, 1, FieldOperator::Equals));
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let (at, len, operator) = found.ok_or_else(bad)?;
    let field: String = chars[..at].iter().collect();
    let value: String = chars[at + len..].iter().collect();
    let field = field.trim();
    if field.is_empty() {
        return Err(bad());
    }
    Ok(FieldRequirement {
        field: field.to_owned(),
        operator,
        value: unescape(&value).ok_or_else(bad)?,
    })
}

/// Removes the escapes of `\\`, `\,` and `\=`; any other escape is invalid.
fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=")
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                let op = match r.operator {
                    FieldOperator::Equals => "=",
                    FieldOperator::NotEquals => "!=",
                };
                format!("{}{op}{}", r.field, escape(&r.value))
            })
            .collect();
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Object {
        Object::from_value(value).unwrap()
    }

    fn pod(name: &str, phase: Option<&str>, node: Option<&str>) -> Object {
        let mut value = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": []},
        });
        if let Some(phase) = phase {
            value["status"] = json!({"phase": phase});
        }
        if let Some(node) = node {
            value["spec"]["nodeName"] = json!(node);
        }
        object(value)
    }

    #[test]
    fn parses_every_operator_and_prints_back() {
        let sel = FieldSelector::parse("metadata.name=web,status.phase!=Running,spec.nodeName==n1")
            .unwrap();
        let ops: Vec<_> = sel.requirements().iter().map(|r| r.operator).collect();
        assert_eq!(ops, [FieldOperator::Equals, FieldOperator::NotEquals, FieldOperator::Equals]);
        assert_eq!(sel.to_string(), "metadata.name=web,status.phase!=Running,spec.nodeName=n1");
        assert!(FieldSelector::parse("").unwrap().is_empty());
    }

    #[test]
    fn escaped_separators_belong_to_the_value() {
        // `fields.EscapeValue` in apimachinery escapes `\`, `,` and `=` this way.
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(sel.requirements()[0].value, r"a,b=c\d");
        assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d");
    }

    #[test]
    fn malformed_terms_get_the_api_servers_message() {
        for bad in ["metadata.name", "=x", r"metadata.name=a\x"] {
            let err = FieldSelector::parse(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
            assert!(err.to_string().starts_with("invalid selector: "), "{err}");
        }
    }

    #[test]
    fn unsupported_fields_are_refused_as_the_api_server_does() {
        let sel = FieldSelector::parse("foo=bar").unwrap();
        let err = sel.check("", "ConfigMap").unwrap_err();
        assert_eq!((err.status(), err.to_string()), (400, "field label not supported: foo".into()));
        let err =
            FieldSelector::parse("spec.x=1").unwrap().check("argoproj.io", "Rollout").unwrap_err();
        assert!(err.to_string().contains("is not a known field selector"), "{err}");
        // Pods accept their own fields, ConfigMaps do not.
        let phase = FieldSelector::parse("status.phase=Running").unwrap();
        assert!(phase.check("", "Pod").is_ok());
        assert!(phase.check("", "ConfigMap").is_err());
        assert!(FieldSelector::name("x").check("argoproj.io", "Rollout").is_ok());
    }

    #[test]
    fn pods_match_on_their_fields_with_go_zero_values() {
        let running = pod("a", Some("Running"), Some("n1"));
        let pending = pod("b", None, None);
        let cases = [
            ("status.phase=Running", true, false),
            ("status.phase!=Running", false, true),
            ("spec.nodeName=", false, true),
            ("spec.nodeName=n1,metadata.name=a", true, false),
            ("metadata.namespace=ns", true, true),
            ("spec.hostNetwork=false", true, true),
        ];
        for (text, a, b) in cases {
            let sel = FieldSelector::parse(text).unwrap();
            assert_eq!(sel.matches("", "Pod", &running), a, "{text} on running");
            assert_eq!(sel.matches("", "Pod", &pending), b, "{text} on pending");
        }
    }

    #[test]
    fn core_events_select_on_the_involved_object() {
        // `kubectl describe pod web` lists events with this selector (kubectl's describe.go).
        let event = object(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "ns", "uid": "u1"},
            "reason": "Started", "type": "Normal", "source": {"component": "kubelet"},
        }));
        let describe = "involvedObject.name=web,involvedObject.namespace=ns,involvedObject.kind=Pod,involvedObject.uid=u1";
        assert!(FieldSelector::parse(describe).unwrap().matches("", "Event", &event));
        for (text, expected) in [
            ("involvedObject.name=other", false),
            ("reason=Started,type=Normal", true),
            ("source=kubelet", true),
            ("type=Warning", false),
        ] {
            assert_eq!(
                FieldSelector::parse(text).unwrap().matches("", "Event", &event),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn other_kinds_select_bools_and_integers_as_go_prints_them() {
        let node = object(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}));
        let sel = FieldSelector::parse("spec.unschedulable=false").unwrap();
        assert!(sel.matches("", "Node", &node));
        let job = object(json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "ns"},
            "status": {"successful": 1}
        }));
        assert!(FieldSelector::parse("status.successful=1").unwrap().matches("batch", "Job", &job));
        let secret = object(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
            "type": "kubernetes.io/tls"
        }));
        assert!(
            FieldSelector::parse("type=kubernetes.io/tls").unwrap().matches("", "Secret", &secret)
        );
    }

    #[test]
    fn remembered_fields_match_like_the_object() {
        let running = pod("a", Some("Running"), None);
        let fields = selectable_fields("", "Pod", &running);
        assert_eq!(fields.get("status.phase").map(String::as_str), Some("Running"));
        let sel = FieldSelector::parse("status.phase=Running,metadata.name=a").unwrap();
        assert!(sel.matches_fields("a", "ns", &fields));
        assert!(!sel.matches_fields("b", "ns", &fields));
        assert!(!sel.only_identity());
        assert!(FieldSelector::name("a").only_identity());
    }
}
