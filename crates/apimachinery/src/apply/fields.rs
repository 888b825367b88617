//! Field paths in the `FieldsV1` encoding (`f:<field>`, `k:<keys as JSON>`, `v:<value as
//! JSON>`, `.` for "this node itself"), their conversion from and to a `fieldsV1` tree, and
//! their rendering in conflict messages (`.spec.containers[name="x"].image`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// A member's path: its elements, each already encoded (`f:spec`, `k:{"name":"x"}`).
pub(super) type Path = Vec<String>;

/// `k:{"name":"x"}` for a list-map item with these (sorted) key fields.
pub(super) fn encode_key(key: &Map<String, Value>) -> String {
    format!("k:{}", Value::Object(key.clone()))
}

/// `v:"value"` for a set member.
pub(super) fn encode_value(value: &Value) -> String {
    format!("v:{value}")
}

/// The member paths of a `fieldsV1` tree: every leaf (`{}`) and every node marked `.`.
pub(super) fn member_paths(tree: &Value) -> BTreeSet<Path> {
    fn walk(node: &Map<String, Value>, path: &mut Path, out: &mut BTreeSet<Path>) {
        for (element, child) in node {
            if element == "." {
                continue;
            }
            path.push(element.clone());
            match child {
                Value::Object(grandchildren) => {
                    if grandchildren.is_empty() || grandchildren.contains_key(".") {
                        out.insert(path.clone());
                    }
                    walk(grandchildren, path, out);
                }
                _ => {
                    out.insert(path.clone());
                }
            }
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    if let Value::Object(root) = tree {
        walk(root, &mut Vec::new(), &mut out);
    }
    out
}

/// The `fieldsV1` tree of a set of member paths (elements sorted, `.` first).
pub(super) fn fields_v1(paths: &BTreeSet<Path>) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    fn render(node: &Node) -> Value {
        let mut out = Map::new();
        if node.member && !node.children.is_empty() {
            out.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (element, child) in &node.children {
            out.insert(element.clone(), render(child));
        }
        Value::Object(out)
    }
    let mut root = Node::default();
    for path in paths {
        let mut node = &mut root;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }
    render(&root)
}

/// The path as the API server prints it in conflicts: `.spec.replicas`,
/// `.spec.template.spec.containers[name="nginx"].image`, `.metadata.finalizers[="a"]`.
pub(super) fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else if let Some(Ok(Value::Object(key))) =
            element.strip_prefix("k:").map(serde_json::from_str::<Value>)
        {
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else {
            out.push_str(element);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_and_marks_list_items() {
        // The shape kubectl shows for `kubectl apply --server-side` of a Deployment.
        let tree = json!({
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
        });
        let paths = member_paths(&tree);
        assert_eq!(paths.len(), 4);
        assert_eq!(fields_v1(&paths), tree);
        let image = paths.iter().find(|p| p.last().is_some_and(|e| e == "f:image")).unwrap();
        assert_eq!(display_path(image), ".spec.template.spec.containers[name=\"nginx\"].image");
    }
}
