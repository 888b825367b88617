//! The strategic merge patch and server-side apply cases in `tests/cases/*.yaml`, run against
//! the built-in schemas. Each case names where its expectation comes from (`source`).
//!
//! A case: `kind` (`apps/v1 Deployment`), the starting `object` (absent: none yet), and
//! `steps`, each one of `strategic: <patch>`, `apply: {manager, config, force}` or
//! `update: {manager, object}`, followed by `expect: <whole object>` or
//! `error: {reason, message}` (a failed step leaves the object as it was). Step `i` runs at
//! `2026-01-01T00:00:0iZ`.

use serde::Deserialize;
use serde_json::Value;
use weir_apimachinery::apply::{ApplyError, ApplyRequest, apply, record_update};
use weir_apimachinery::schema::{Kind, builtin};
use weir_apimachinery::strategic::{PatchError, strategic_merge_patch};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    source: String,
    kind: String,
    #[serde(default)]
    object: Option<Value>,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    strategic: Option<Value>,
    #[serde(default)]
    apply: Option<ApplyStep>,
    #[serde(default)]
    update: Option<UpdateStep>,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    error: Option<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyStep {
    manager: String,
    config: Value,
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateStep {
    manager: String,
    object: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    reason: String,
    message: String,
    #[serde(default)]
    fields: Vec<String>,
}

fn kind_of(spec: &str) -> (Kind<'static>, String) {
    let (api_version, kind) = spec.split_once(' ').expect("kind: '<apiVersion> <Kind>'");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let found =
        builtin().kind(group, version, kind).unwrap_or_else(|| panic!("no schema for {spec}"));
    (found, api_version.to_owned())
}

/// Runs one step; the new object or (reason, message, conflicting fields).
fn run(
    step: &Step,
    object: Option<&Value>,
    kind: Kind<'static>,
    api_version: &str,
    now: &str,
) -> Result<Value, (String, String, Vec<String>)> {
    if let Some(patch) = &step.strategic {
        let original = object.cloned().unwrap_or(Value::Null);
        return strategic_merge_patch(&original, patch, Some(kind.ty)).map_err(|e| match e {
            PatchError::BadRequest(m) => ("BadRequest".to_owned(), m, vec![]),
        });
    }
    if let Some(step) = &step.apply {
        let request = ApplyRequest {
            live: object,
            config: &step.config,
            ty: Some(kind.ty),
            manager: &step.manager,
            api_version,
            force: step.force,
            now,
        };
        return apply(&request).map_err(apply_error);
    }
    if let Some(update) = &step.update {
        let mut new = update.object.clone();
        record_update(object, &mut new, Some(kind.ty), &update.manager, api_version, now)
            .map_err(apply_error)?;
        return Ok(new);
    }
    panic!("a step needs strategic, apply or update");
}

fn apply_error(e: ApplyError) -> (String, String, Vec<String>) {
    match e {
        ApplyError::BadRequest(m) => ("BadRequest".to_owned(), m, vec![]),
        ApplyError::Conflict { message, conflicts } => {
            ("Conflict".to_owned(), message, conflicts.into_iter().map(|c| c.field).collect())
        }
    }
}

fn run_file(file: &str) {
    let path = format!("{}/tests/cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let cases: Vec<Case> = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            !case.source.trim().is_empty(),
            "{}: every case says where it comes from",
            case.name
        );
        let (kind, api_version) = kind_of(&case.kind);
        let mut object = case.object.clone();
        for (index, step) in case.steps.iter().enumerate() {
            let now = format!("2026-01-01T00:00:0{index}Z");
            let outcome = run(step, object.as_ref(), kind, &api_version, &now);
            match (&outcome, &step.expect, &step.error) {
                (Ok(new), Some(expected), None) => {
                    if new != expected {
                        failures.push(format!(
                            "{} step {index}:\n  got      {}\n  expected {}",
                            case.name,
                            serde_json::to_string(new).unwrap(),
                            serde_json::to_string(expected).unwrap()
                        ));
                    }
                }
                (Err((reason, message, fields)), None, Some(expected)) => {
                    if *reason != expected.reason || *message != expected.message || *fields != expected.fields {
                        failures.push(format!(
                            "{} step {index}: got error {reason} {message:?} {fields:?}, expected {} {:?} {:?}",
                            case.name, expected.reason, expected.message, expected.fields
                        ));
                    }
                }
                (outcome, _, _) => failures.push(format!(
                    "{} step {index}: unexpected outcome {outcome:?} (a step has exactly one of expect/error)",
                    case.name
                )),
            }
            if let Ok(new) = outcome {
                object = Some(new);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn strategic_merge_patch_cases() {
    run_file("strategic.yaml");
}

#[test]
fn server_side_apply_cases() {
    run_file("apply.yaml");
}
