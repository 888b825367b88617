//! `ignoreDifferences`: rules matched by group, kind (globs allowed), name and namespace that
//! remove fields before comparing, given as JSON pointers or as jq path expressions. The jq
//! support is the path subset Argo CD users write: `.a.b`, `.a["k"]`, `.a[]`, `.a[0]`, and
//! `| select(.x == "v")` filters (with `==`/`!=` against strings, numbers, booleans, null).

use serde_json::Value;

use crate::source::glob_match;

/// One `ignoreDifferences` entry.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRule {
    /// API group ("" = core); a glob.
    pub group: String,
    /// Kind; a glob.
    pub kind: String,
    /// Only this name, when set.
    pub name: Option<String>,
    /// Only this namespace, when set.
    pub namespace: Option<String>,
    /// RFC 6901 pointers to remove.
    pub json_pointers: Vec<String>,
    /// jq path expressions whose results are removed.
    pub jq_paths: Vec<JqPath>,
    /// Fields owned by these managers are ignored (needs managedFields; kept for callers).
    pub managed_fields_managers: Vec<String>,
}

/// All rules that apply to an app.
#[derive(Debug, Clone, Default)]
pub struct IgnoreDifferences {
    /// The rules, in order.
    pub rules: Vec<IgnoreRule>,
}

impl IgnoreRule {
    /// True when this rule applies to `obj`.
    pub fn matches(&self, obj: &Value) -> bool {
        let key = crate::ResourceKey::of(obj);
        let group_ok = self.group == key.group || glob_match(&self.group, &key.group);
        let kind_ok = self.kind == key.kind || glob_match(&self.kind, &key.kind);
        group_ok
            && kind_ok
            && self.name.as_ref().is_none_or(|n| n.is_empty() || *n == key.name)
            && self.namespace.as_ref().is_none_or(|n| n.is_empty() || *n == key.namespace)
    }
}

impl IgnoreDifferences {
    /// Removes the ignored fields from `obj` in place. Missing paths are not errors.
    pub fn apply(&self, obj: &mut Value) {
        let matching: Vec<&IgnoreRule> = self.rules.iter().filter(|r| r.matches(obj)).collect();
        for rule in matching {
            for pointer in &rule.json_pointers {
                remove_pointer(obj, pointer);
            }
            for jq in &rule.jq_paths {
                jq.remove_from(obj);
            }
        }
    }
}

impl IgnoreDifferences {
    /// Argo CD's `RespectIgnoreDifferences=true`: the fields these rules ignore keep their
    /// live values when `target` is applied (a field ignored in the target and absent from the
    /// live object is left out), so a sync does not undo what another controller owns, such as
    /// the route weights a Rollout sets in its VirtualService.
    pub fn respect(&self, target: &mut Value, live: &Value) {
        let matching: Vec<&IgnoreRule> = self.rules.iter().filter(|r| r.matches(target)).collect();
        for rule in matching {
            let mut in_target = Vec::new();
            let mut in_live = Vec::new();
            for pointer in &rule.json_pointers {
                if let Some(path) = pointer_path(pointer) {
                    in_target.push(path.clone());
                    in_live.push(path);
                }
            }
            for jq in &rule.jq_paths {
                collect(target, &jq.steps, &mut Vec::new(), &mut in_target);
                collect(live, &jq.steps, &mut Vec::new(), &mut in_live);
            }
            // Removals first, later array indexes first, so earlier ones do not shift them.
            in_target.sort();
            for path in in_target.iter().rev() {
                if lookup(live, Some(path)).is_none() {
                    remove_path(target, path);
                }
            }
            for path in &in_live {
                if let Some(value) = lookup(live, Some(path)) {
                    set_path(target, path, value.clone());
                }
            }
        }
    }
}

/// An RFC 6901 pointer as a path (array indexes are digits), `None` for the root.
fn pointer_path(pointer: &str) -> Option<Vec<Loc>> {
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|token| {
                let token = token.replace("~1", "/").replace("~0", "~");
                match token.parse::<usize>() {
                    Ok(i) => Loc::Index(i),
                    Err(_) => Loc::Key(token),
                }
            })
            .collect(),
    )
}

/// Sets the value at `path` when its parent exists (an object gets the key; an array only
/// an existing index), so a live field never creates structure the target does not have.
fn set_path(obj: &mut Value, path: &[Loc], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let Some(cur) = walk_mut(obj, parents) else { return };
    match (cur, last) {
        (Value::Object(map), Loc::Key(k)) => {
            map.insert(k.clone(), value);
        }
        (Value::Object(map), Loc::Index(i)) => {
            map.insert(i.to_string(), value);
        }
        (Value::Array(items), Loc::Index(i)) if *i < items.len() => items[*i] = value,
        _ => {}
    }
}

fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return };
    let last = last.replace("~1", "/").replace("~0", "~");
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Why a jq path expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid jq path expression {expr:?}: {reason}")]
pub struct JqPathError {
    /// The expression.
    pub expr: String,
    /// What is wrong or unsupported.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
    Each,
    Select { path: Vec<Step>, equal: bool, value: Value },
}

/// A compiled jq path expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JqPath {
    steps: Vec<Step>,
}

impl JqPath {
    /// Parses the supported subset; anything else is an error.
    pub fn parse(expr: &str) -> Result<Self, JqPathError> {
        let err = |reason: &str| JqPathError { expr: expr.to_string(), reason: reason.to_string() };
        let mut steps = Vec::new();
        for stage in split_pipes(expr).map_err(|r| err(&r))? {
            let stage = stage.trim();
            if let Some(inner) = stage.strip_prefix("select(").and_then(|s| s.strip_suffix(')')) {
                let (lhs, rhs, equal) = if let Some((l, r)) = inner.split_once("==") {
                    (l, r, true)
                } else if let Some((l, r)) = inner.split_once("!=") {
                    (l, r, false)
                } else {
                    return Err(err("select needs == or !="));
                };
                let path = parse_path(lhs.trim()).map_err(|r| err(&r))?;
                let value: Value =
                    serde_json::from_str(rhs.trim()).map_err(|_| err("select needs a literal"))?;
                steps.push(Step::Select { path, equal, value });
            } else {
                steps.extend(parse_path(stage).map_err(|r| err(&r))?);
            }
        }
        if steps.is_empty() {
            return Err(err("empty expression"));
        }
        Ok(JqPath { steps })
    }

    /// Removes every location the expression selects.
    pub fn remove_from(&self, obj: &mut Value) {
        let mut found = Vec::new();
        collect(obj, &self.steps, &mut Vec::new(), &mut found);
        // Later array indexes first, so earlier removals do not shift them.
        found.sort();
        for path in found.into_iter().rev() {
            remove_path(obj, &path);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Loc {
    Key(String),
    Index(usize),
}

fn collect(v: &Value, steps: &[Step], at: &mut Vec<Loc>, out: &mut Vec<Vec<Loc>>) {
    let Some((step, rest)) = steps.split_first() else {
        if !at.is_empty() {
            out.push(at.clone());
        }
        return;
    };
    let mut go = |child: &Value, loc: Loc, at: &mut Vec<Loc>| {
        at.push(loc);
        collect(child, rest, at, out);
        at.pop();
    };
    match step {
        Step::Key(k) => {
            if let Some(child) = v.get(k) {
                go(child, Loc::Key(k.clone()), at);
            }
        }
        Step::Index(i) => {
            if let Some(items) = v.as_array() {
                let idx = if *i < 0 { items.len() as i64 + i } else { *i };
                if let Some(child) =
                    usize::try_from(idx).ok().and_then(|i| items.get(i).map(|c| (i, c)))
                {
                    go(child.1, Loc::Index(child.0), at);
                }
            }
        }
        Step::Each => match v {
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    go(child, Loc::Index(i), at);
                }
            }
            Value::Object(map) => {
                for (k, child) in map {
                    go(child, Loc::Key(k.clone()), at);
                }
            }
            _ => {}
        },
        Step::Select { path, equal, value } => {
            let mut probe = Vec::new();
            collect(v, path, &mut Vec::new(), &mut probe);
            let actual = if path.is_empty() { Some(v) } else { lookup(v, probe.first()) };
            if (actual == Some(value)) == *equal || (actual.is_none() && value.is_null() && *equal)
            {
                collect(v, rest, at, out);
            }
        }
    }
}

fn lookup<'a>(v: &'a Value, path: Option<&Vec<Loc>>) -> Option<&'a Value> {
    path?.iter().try_fold(v, |v, loc| match loc {
        Loc::Key(k) => v.get(k),
        Loc::Index(i) => v.get(*i),
    })
}

/// The value at `path`, if every step exists.
fn walk_mut<'v>(obj: &'v mut Value, path: &[Loc]) -> Option<&'v mut Value> {
    path.iter().try_fold(obj, |cur, loc| match loc {
        Loc::Key(k) => cur.get_mut(k),
        Loc::Index(i) => cur.get_mut(*i),
    })
}

fn remove_path(obj: &mut Value, path: &[Loc]) {
    let Some((last, parents)) = path.split_last() else { return };
    let Some(cur) = walk_mut(obj, parents) else { return };
    match (cur, last) {
        (Value::Object(map), Loc::Key(k)) => {
            map.remove(k);
        }
        (Value::Array(items), Loc::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// Splits on top-level `|`, checking quotes and parentheses balance.
fn split_pipes(expr: &str) -> Result<Vec<String>, String> {
    let (mut parts, mut cur, mut depth, mut in_str, mut escaped) =
        (Vec::new(), String::new(), 0i32, false, false);
    for c in expr.chars() {
        if in_str {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unexpected {c:?}"));
                }
            }
            '|' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if in_str {
        return Err("unterminated string".into());
    }
    if depth != 0 {
        return Err("unbalanced brackets".into());
    }
    parts.push(cur);
    Ok(parts)
}

/// `.a.b["c"][0][]`; `.` alone is the identity.
fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    if chars.first() != Some(&'.') {
        return Err(format!("unsupported expression {text:?}"));
    }
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                if i > start {
                    steps.push(Step::Key(chars[start..i].iter().collect()));
                }
            }
            '[' => {
                let close = chars[i..].iter().position(|c| *c == ']').ok_or("unclosed [")? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                if inner.is_empty() {
                    steps.push(Step::Each);
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else if let Ok(Value::String(k)) = serde_json::from_str::<Value>(inner) {
                    steps.push(Step::Key(k));
                } else {
                    return Err(format!("unsupported index {inner:?}"));
                }
                i = close + 1;
            }
            c if c.is_whitespace() => i += 1,
            c => return Err(format!("unsupported character {c:?}")),
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_removes_matching_items() {
        let jq = JqPath::parse(r#".spec.items[] | select(.name == "b")"#).expect("parse");
        let mut v = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        jq.remove_from(&mut v);
        assert_eq!(v, json!({"spec": {"items": [{"name": "a"}, {"name": "c"}]}}));
    }

    #[test]
    fn respected_fields_keep_their_live_values() {
        // A Rollout moved the weights of the git manifest's 100/0 route to 90/10.
        let rules = IgnoreDifferences {
            rules: vec![IgnoreRule {
                group: "networking.istio.io".into(),
                kind: "VirtualService".into(),
                jq_paths: vec![JqPath::parse(".spec.http[].route[].weight").expect("parse")],
                json_pointers: vec!["/metadata/annotations/owner".into()],
                ..IgnoreRule::default()
            }],
        };
        let vs = |stable: u64, canary: u64, timeout: &str| {
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                   "metadata": {"name": "reviews", "annotations": {"owner": "git"}},
                   "spec": {"http": [{"timeout": timeout, "route": [
                       {"destination": {"subset": "stable"}, "weight": stable},
                       {"destination": {"subset": "canary"}, "weight": canary}]}]}})
        };
        let mut target = vs(100, 0, "5s");
        let mut live = vs(90, 10, "7s");
        live["metadata"]["annotations"] = json!({});
        rules.respect(&mut target, &live);
        assert_eq!(target["spec"]["http"][0]["route"][0]["weight"], 90);
        assert_eq!(target["spec"]["http"][0]["route"][1]["weight"], 10);
        assert_eq!(target["spec"]["http"][0]["timeout"], "5s", "not ignored: git's value");
        assert_eq!(target["metadata"]["annotations"], json!({}), "absent live: left out");
        // Another kind is untouched.
        let mut other = json!({"kind": "Service", "spec": {"http": [{"route": [{"weight": 1}]}]}});
        rules.respect(&mut other, &live);
        assert_eq!(other["spec"]["http"][0]["route"][0]["weight"], 1);
    }

    #[test]
    fn bad_expressions_are_errors() {
        assert!(JqPath::parse(r#".a[] | select(.name == "x)"#).is_err());
        assert!(JqPath::parse("until(true==false; [.] + [1])").is_err());
        assert!(JqPath::parse(".nothing) | .data").is_err());
    }
}
