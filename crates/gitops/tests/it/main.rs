//! Data-driven tests over Argo CD's own test vectors (`shared/fixtures/argo-cd-test-vectors`).

mod defaulted;
mod diff;
mod health;
mod lua_health;
mod paths;
mod sync;

use std::path::PathBuf;

use serde_json::Value;

pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/argo-cd-test-vectors"
    ))
}

pub(crate) fn load_yaml(rel: &str) -> Value {
    let path = fixtures().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

pub(crate) fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Collects failures so one test reports every failing case by name.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) passed: usize,
    pub(crate) skipped: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl Report {
    pub(crate) fn check(&mut self, name: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(format!("{name}: {}", detail()));
        }
    }
    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push(format!("{name}: {why}"));
    }
    pub(crate) fn finish(self, section: &str) {
        eprintln!(
            "{section}: {} passed, {} skipped, {} failed",
            self.passed,
            self.skipped.len(),
            self.failures.len()
        );
        for s in &self.skipped {
            eprintln!("  skipped {s}");
        }
        assert!(self.failures.is_empty(), "{section} failures:\n{}", self.failures.join("\n"));
    }
}
