//! A readable unified diff of two objects (`weir app diff`): both rendered as indented JSON
//! with sorted keys, compared line by line (longest common subsequence), with `---`/`+++`
//! headers and `-`/`+` lines with three lines of context.

use serde_json::Value;

/// Renders `value` as pretty JSON with object keys sorted, one field per line.
pub fn render(value: &Value) -> String {
    if value.is_null() {
        return String::new();
    }
    serde_json::to_string_pretty(&sorted(value)).unwrap_or_default()
}

/// A copy with every object's keys in sorted order.
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Unified diff from `live` to `predicted`; empty when they render the same.
pub fn unified(live_label: &str, predicted_label: &str, live: &Value, predicted: &Value) -> String {
    let a_text = render(live);
    let b_text = render(predicted);
    let a: Vec<&str> = a_text.lines().collect();
    let b: Vec<&str> = b_text.lines().collect();
    let ops = edit_script(&a, &b);
    if ops.iter().all(|op| matches!(op, Op::Same(_))) {
        return String::new();
    }
    let mut out = format!("--- {live_label}\n+++ {predicted_label}\n");
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i] + CONTEXT + 1;
        while i + 1 < changed.len() && changed[i + 1] <= end + CONTEXT {
            i += 1;
            end = changed[i] + CONTEXT + 1;
        }
        let end = end.min(ops.len());
        out.push_str("@@\n");
        for op in &ops[start..end] {
            match op {
                Op::Same(l) => out.push_str(&format!(" {l}\n")),
                Op::Del(l) => out.push_str(&format!("-{l}\n")),
                Op::Add(l) => out.push_str(&format!("+{l}\n")),
            }
        }
        i += 1;
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(Op::Add(b[j]));
            j += 1;
        } else {
            ops.push(Op::Del(a[i]));
            i += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_changed_lines() {
        let live = json!({"spec": {"replicas": 1, "image": "a"}});
        let predicted = json!({"spec": {"replicas": 2, "image": "a"}});
        let text = unified("live", "target", &live, &predicted);
        assert!(text.contains("-    \"replicas\": 1"), "{text}");
        assert!(text.contains("+    \"replicas\": 2"), "{text}");
        assert_eq!(unified("a", "b", &live, &live), "");
    }
}
