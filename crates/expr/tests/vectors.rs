//! Walks every case of `shared/fixtures/argo-test-vectors/analysis/expressions.yaml` (159).
//!
//! Pure expression cases (EvaluateResult, EvalCondition, EvalTime, the helper functions, and
//! each provider case that states the `result` handed to the evaluator) run here. Provider cases
//! that only describe a raw backend response (the provider fails before any condition is
//! evaluated, or builds the result itself) are not expressions:
//! - for the providers weir implements (prometheus, skywalking, web) they are *delegated*: the
//!   real provider runs them against a local server in `weir-analysis-controller`'s
//!   `tests/it/vectors.rs`;
//! - for the providers weir does not implement (datadog, graphite, influxdb, newrelic,
//!   wavefront), and Go's string-list helper `Equal` (no expression reaches it), they are
//!   *deferred*.
//!
//! Every case is counted. Run with `--nocapture` to see the summary and both lists.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Y;
use weir_expr::argo::{self, Phase};
use weir_expr::{Duration, Value};

fn fixtures() -> PathBuf {
    match std::env::var_os("WEIR_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    delegated: Vec<String>,
    deferred: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: String, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(e) => self.failures.push(format!("{name}: {e}")),
        }
    }
    fn delegate(&mut self, name: String) {
        self.delegated.push(name);
    }
    fn defer(&mut self, name: String, reason: &str) {
        self.deferred.push(format!("{name}: {reason}"));
    }
}

fn get<'a>(y: &'a Y, key: &str) -> Option<&'a Y> {
    y.as_mapping().and_then(|m| m.get(key))
}

fn text<'a>(y: &'a Y, key: &str) -> &'a str {
    get(y, key).and_then(Y::as_str).unwrap_or("")
}

fn items<'a>(y: &'a Y, key: &str) -> &'a [Y] {
    get(y, key).and_then(Y::as_sequence).map_or(&[], Vec::as_slice)
}

fn case_name(section: &str, case: &Y, i: usize) -> String {
    let mut parts = vec![section.to_owned()];
    for key in ["test", "case", "name"] {
        match get(case, key) {
            Some(Y::String(s)) => parts.push(s.clone()),
            Some(Y::Number(n)) => parts.push(format!("case {n}")),
            _ => {}
        }
    }
    if parts.len() == 1 {
        parts.push(format!("#{i}"));
    }
    parts.join(" / ")
}

/// YAML data as a Go value; `floats` turns every number into `float64`.
fn yaml_value(y: &Y, floats: bool) -> Value {
    match y {
        Y::Null => Value::Nil,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => match (floats, n.as_i64()) {
            (false, Some(i)) => Value::Int(i),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(seq) => Value::array(seq.iter().map(|v| yaml_value(v, floats))),
        Y::Mapping(m) => Value::map(m.iter().map(|(k, v)| {
            let key = match k {
                Y::String(s) => s.clone(),
                other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_owned(),
            };
            (key, yaml_value(v, floats))
        })),
        Y::Tagged(t) => yaml_value(&t.value, floats),
    }
}

/// The value the Go test hands to the evaluator, from the YAML data and its `result_go_type`.
fn go_value(y: &Y, go_type: &str) -> Value {
    let nil_types = ["nil", "*float64(nil)", "[]string(nil)"];
    if nil_types.contains(&go_type) {
        return Value::Nil;
    }
    let floats = go_type.starts_with("*float64")
        || go_type.contains("JSON")
        || (go_type.contains("float64") && !go_type.contains("int"));
    yaml_value(y, floats)
}

fn result_of(case: &Y) -> Value {
    let go_type = text(case, "result_go_type");
    go_value(get(case, "result").unwrap_or(&Y::Null), go_type)
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Successful => "Successful",
        Phase::Failed => "Failed",
        Phase::Inconclusive => "Inconclusive",
        Phase::Error => "Error",
    }
}

/// Checks the error expectations (`error`, `error_contains`, `error_regex`, `error_any`,
/// `message`, `message_contains`, `full_text_per_source`) against `err`.
fn check_error(expect: &Y, err: Option<&str>) -> Result<(), String> {
    if let Some(e) = get(expect, "error") {
        match (e, err) {
            (Y::Null, None) => {}
            (Y::Null, Some(got)) => return Err(format!("unexpected error {got:?}")),
            (Y::String(want), Some(got)) if want == got => {}
            (want, got) => return Err(format!("error: want {want:?}, got {got:?}")),
        }
    }
    let mut contains: Vec<&str> = Vec::new();
    for key in ["error_contains", "message_contains"] {
        match get(expect, key) {
            Some(Y::String(s)) => contains.push(s),
            Some(Y::Sequence(seq)) => contains.extend(seq.iter().filter_map(Y::as_str)),
            _ => {}
        }
    }
    for want in contains {
        if !err.is_some_and(|e| e.contains(want)) {
            return Err(format!("error should contain {want:?}, got {err:?}"));
        }
    }
    if let Some(pattern) = get(expect, "error_regex").and_then(Y::as_str) {
        let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        if !err.is_some_and(|e| re.is_match(e)) {
            return Err(format!("error should match /{pattern}/, got {err:?}"));
        }
    }
    if get(expect, "error_any").and_then(Y::as_bool) == Some(true) && err.is_none() {
        return Err("expected an error".into());
    }
    for key in ["message", "full_text_per_source"] {
        if let Some(want) = get(expect, key).and_then(Y::as_str)
            && err != Some(want)
        {
            return Err(format!("{key}: want {want:?}, got {err:?}"));
        }
    }
    Ok(())
}

fn check_phase(expect: &Y, got: Phase) -> Result<(), String> {
    let want = text(expect, "phase");
    if want != phase_name(got) {
        return Err(format!("phase: want {want}, got {}", phase_name(got)));
    }
    Ok(())
}

fn evaluate_result_case(case: &Y) -> Result<(), String> {
    let result = result_of(case);
    let (phase, err) = argo::evaluate_result(
        &result,
        text(case, "successCondition"),
        text(case, "failureCondition"),
    );
    let expect = get(case, "expect").ok_or("no expect")?;
    check_phase(expect, phase)?;
    check_error(expect, err.as_deref())
}

fn eval_condition_case(case: &Y) -> Result<(), String> {
    let result = result_of(case);
    let out = argo::evaluate_condition(text(case, "condition"), &result);
    let expect = get(case, "expect").ok_or("no expect")?;
    let value = *out.as_ref().unwrap_or(&false);
    if let Some(want) = get(expect, "value").and_then(Y::as_bool)
        && want != value
    {
        return Err(format!("value: want {want}, got {out:?}"));
    }
    check_error(expect, out.as_ref().err().map(String::as_str))
}

/// Runs `src` in Argo's environment for `input` and compares with `expect.value` / `panics`.
fn helper_case(src: &str, input: &Value, expect: &Y, floats: bool) -> Result<(), String> {
    let program = weir_expr::compile(src).map_err(|e| e.to_string())?;
    let out = program.run(&argo::environment(input)).map_err(|e| e.to_string());
    if get(expect, "panics").and_then(Y::as_bool) == Some(true) {
        return match out {
            Err(_) => Ok(()),
            Ok(v) => Err(format!("expected a panic/error, got {v:?}")),
        };
    }
    let want = yaml_value(get(expect, "value").unwrap_or(&Y::Null), floats);
    match out {
        Ok(got) if got == want => Ok(()),
        other => Err(format!("{src}: want {want:?}, got {other:?}")),
    }
}

fn helper_functions(doc: &Y, tally: &mut Tally) {
    let section = get(doc, "helper_functions").cloned().unwrap_or(Y::Null);
    let helpers: [(&str, &str, bool); 6] = [
        ("asInt", "asInt(result)", false),
        ("asFloat", "asFloat(result)", true),
        ("isInf", "isInf(result)", false),
        ("isNil", "isNil(result)", false),
        ("valueFromPointer", "result", false),
        ("default", "", false),
    ];
    for (key, src, floats) in helpers {
        let Some(group) = get(&section, key) else {
            tally.failures.push(format!("helper_functions.{key}: missing"));
            continue;
        };
        for (i, case) in items(group, "cases").iter().enumerate() {
            let name = format!("helper_functions.{key} #{i}");
            let go_type = text(case, "input_go_type");
            let expect = get(case, "expect").unwrap_or(&Y::Null);
            let outcome = if key == "default" {
                let input =
                    go_value(get(case, "result").unwrap_or(&Y::Null), text(case, "result_go_type"));
                let d = get(case, "default_arg").and_then(Y::as_i64).unwrap_or(0);
                // The Go test compares with the untyped constant; our default keeps the int.
                let floats = !input.is_nil();
                helper_case(&format!("default(result, {d})"), &input, expect, floats)
            } else {
                let input = go_value(get(case, "input").unwrap_or(&Y::Null), go_type);
                let floats = floats || go_type.contains("float64");
                helper_case(src, &input, expect, floats)
            };
            tally.record(name, outcome);
        }
    }
    if let Some(group) = get(&section, "isNilOrEmpty") {
        for (i, case) in items(group, "cases").iter().enumerate() {
            let input =
                go_value(get(case, "input").unwrap_or(&Y::Null), text(case, "input_go_type"));
            let want = get(case, "expect").and_then(|e| get(e, "value")).and_then(Y::as_bool);
            let got = argo::is_nil_or_empty(&input);
            let outcome =
                if want == Some(got) { Ok(()) } else { Err(format!("want {want:?}, got {got}")) };
            tally.record(format!("helper_functions.isNilOrEmpty #{i}"), outcome);
        }
    }
    if let Some(group) = get(&section, "equal_unordered_string_lists") {
        for (i, _) in items(group, "cases").iter().enumerate() {
            tally.defer(
                format!("helper_functions.equal_unordered_string_lists #{i}"),
                "Go helper Equal (string-list comparison): no expression or weir code path uses it",
            );
        }
    }
}

fn eval_time_case(case: &Y) -> Result<(), String> {
    let out = argo::evaluate_time(text(case, "expression"));
    let expect = get(case, "expect").ok_or("no expect")?;
    match (text(expect, "time"), &out) {
        ("zero", Err(_)) => {}
        ("zero", Ok(t)) => return Err(format!("expected an error, got {t}")),
        (want, Ok(t)) if t.to_rfc3339() == want => {}
        (want, got) => return Err(format!("time: want {want}, got {got:?}")),
    }
    check_error(expect, out.as_ref().err().map(String::as_str))
}

/// Prometheus range-query bounds are EvalTime expressions and the step a Go duration; the
/// provider wraps the errors as below.
fn range_query(case: &Y) -> Result<(), String> {
    let rq = get(case, "rangeQuery").ok_or("no rangeQuery")?;
    let expect = get(case, "expect").ok_or("no expect")?;
    let start = argo::evaluate_time(text(rq, "start"))
        .map_err(|e| format!("failed to parse rangeQuery.start as time: {e}"));
    let end = argo::evaluate_time(text(rq, "end"))
        .map_err(|e| format!("failed to parse rangeQuery.end as time: {e}"));
    let step = Duration::parse(text(rq, "step"))
        .map_err(|e| format!("failed to parse rangeQuery.step as duration: {e}"));
    let err = start.as_ref().err().or(end.as_ref().err()).or(step.as_ref().err());
    if let Some(e) = err {
        if text(expect, "phase") != "Error" {
            return Err(format!("unexpected error {e}"));
        }
        return check_error(expect, Some(e));
    }
    for (key, got) in [
        ("query_start_sent", start.map(|t| t.to_string())),
        ("query_end_sent", end.map(|t| t.to_string())),
        ("query_step_sent", step.map(|d| d.to_string())),
    ] {
        if let Some(want) = get(expect, key).and_then(Y::as_str)
            && got.as_deref() != Ok(want)
        {
            return Err(format!("{key}: want {want}, got {got:?}"));
        }
    }
    Ok(())
}

fn provider_case(case: &Y) -> Result<(), String> {
    if get(case, "rangeQuery").is_some() {
        range_query(case)?;
        if get(case, "result").is_none() {
            return Ok(());
        }
    }
    evaluate_result_case(case)
}

/// Whether the vector states the value the evaluator receives and expects what the evaluator
/// decides (rather than a provider-level failure before evaluation).
fn evaluable(case: &Y) -> bool {
    if get(case, "rangeQuery").is_some() {
        return true;
    }
    let expect = get(case, "expect").unwrap_or(&Y::Null);
    let message = get(expect, "message").and_then(Y::as_str);
    get(case, "result").is_some() && message.is_none_or(|m| m.starts_with("could not evaluate"))
}

type CaseFn = fn(&Y) -> Result<(), String>;

/// The providers weir implements; their provider-level vectors run in
/// `weir-analysis-controller` against the real provider code.
const IMPLEMENTED_PROVIDERS: [&str; 3] = ["prometheus", "skywalking", "web"];

#[test]
fn expression_vectors() {
    let path = fixtures().join("argo-test-vectors/analysis/expressions.yaml");
    let raw = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Y = serde_yaml_ng::from_str(&raw).expect("expressions.yaml parses");
    let mut tally = Tally::default();

    let sections: [(&str, CaseFn); 3] = [
        ("evaluate_result", evaluate_result_case),
        ("eval_condition", eval_condition_case),
        ("eval_time", eval_time_case),
    ];
    for (section, run) in sections {
        let cases = get(&doc, section).map_or(&[][..], |s| items(s, "cases"));
        assert!(!cases.is_empty(), "section {section} has no cases");
        for (i, case) in cases.iter().enumerate() {
            tally.record(case_name(section, case, i), run(case));
        }
    }

    helper_functions(&doc, &mut tally);

    let providers = get(&doc, "providers").and_then(Y::as_mapping).expect("providers section");
    for (key, group) in providers {
        let Some(provider) = key.as_str() else { continue };
        if provider == "note" {
            continue;
        }
        for (i, case) in items(group, "cases").iter().enumerate() {
            let name = case_name(&format!("providers.{provider}"), case, i);
            if evaluable(case) {
                tally.record(name, provider_case(case));
            } else if IMPLEMENTED_PROVIDERS.contains(&provider) {
                tally.delegate(name);
            } else {
                let reason = format!(
                    "weir has no {provider} provider: the vector gives the raw backend response and a provider-level outcome"
                );
                tally.defer(name, &reason);
            }
        }
        if let Some(extra) = get(group, "find_data_point_value") {
            for (i, case) in items(extra, "cases").iter().enumerate() {
                tally.defer(
                    case_name(&format!("providers.{provider}.find_data_point_value"), case, i),
                    &format!(
                        "weir has no {provider} provider: data-point selection, not an expression"
                    ),
                );
            }
        }
    }

    for d in &tally.delegated {
        eprintln!("delegated to weir-analysis-controller tests/it/vectors.rs: {d}");
    }
    for d in &tally.deferred {
        eprintln!("deferred: {d}");
    }
    eprintln!(
        "{} passed, {} delegated, {} deferred",
        tally.passed,
        tally.delegated.len(),
        tally.deferred.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{} failing vectors:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    let total = tally.passed + tally.delegated.len() + tally.deferred.len();
    assert_eq!(total, 159, "every vector must be walked (passed + delegated + deferred)");
    assert!(
        tally
            .deferred
            .iter()
            .all(|d| !IMPLEMENTED_PROVIDERS.iter().any(|p| d.contains(&format!("providers.{p} ")))),
        "a vector of an implemented provider is deferred: {:?}",
        tally.deferred
    );
}

/// Every condition written in the shared fixtures' manifests compiles, and the seed demo's
/// condition runs unchanged.
#[test]
fn seed_demo_condition() {
    let path = fixtures().join("seed-demo/argo/rollout/analysis.yaml");
    let raw = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Y = serde_yaml_ng::from_str(&raw).expect("analysis.yaml parses");
    let metrics = get(&doc, "spec").map_or(&[][..], |s| items(s, "metrics"));
    assert!(!metrics.is_empty());
    for metric in metrics {
        let cond = text(metric, "successCondition");
        assert_eq!(cond, "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})");
        let data = |v: f64| {
            Value::from_json_go(&serde_json::json!({
                "service_apdex": {"label": null, "values": {"values": [{"value": 9999}, {"value": v}]}}
            }))
        };
        assert_eq!(argo::evaluate_result(&data(9900.0), cond, "").0, Phase::Successful);
        assert_eq!(argo::evaluate_result(&data(9899.0), cond, "").0, Phase::Failed);
    }
}
