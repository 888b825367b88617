//! `assessment.yaml`: metric and run verdicts, the reconcile step, scheduling, retention,
//! rule matching, phase order, termination, lookups, TTL and ValidateMetrics (164 vectors).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use weir_analysis as wa;
use weir_model::rollouts::{
    AnalysisPhase, AnalysisRun, DryRun, Measurement, MeasurementRetention, RunSummary,
};

use crate::support::*;

fn phase(v: &Value) -> AnalysisPhase {
    AnalysisPhase::parse(s(v)).unwrap_or_else(|| panic!("phase {v}"))
}

fn file() -> Value {
    load("assessment.yaml")
}

#[test]
fn assess_metric_status() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["assess_metric_status"]) {
        let n = name(case);
        let m = metric(&case["metric"]);
        let res = result(&case["result"]);
        for (key, terminating) in [("false", false), ("true", true)] {
            if let Some(want) = case["expect"].get(key) {
                let got = wa::assess_metric_status(&m, &res, terminating);
                r.eq(&n, &format!("terminating={key}"), got, phase(want));
            }
        }
        r.ran += 1;
    }
    for case in cases(&f["assess_metric_failure_inconclusive_or_error"]) {
        let n = name(case);
        let got = wa::limit_exceeded(&metric(&case["metric"]), &result(&case["result"]));
        let want = (phase(&case["expect"]["phase"]), s(&case["expect"]["message"]).to_owned());
        r.eq(&n, "phase and reason", got, Some(want));
        r.ran += 1;
    }
    r.finish("assess_metric_status", 31 + 3);
}

/// `newTerminatingRun(status, isDryRun)` with the case's overrides.
fn terminating_run(spec: &Value, status_override: Option<&str>) -> AnalysisRun {
    let st = status_override.unwrap_or_else(|| s(&spec["status"]));
    let dry = spec["isDryRun"].as_bool().unwrap_or(false);
    let mut failed = json!({"name": "failed-metric", "count": 1, "dryRun": dry, "phase": st,
        "measurements": [{"phase": st, "startedAt": -60, "finishedAt": -60}]});
    match st {
        "Failed" => failed["failed"] = json!(1),
        "Inconclusive" => failed["inconclusive"] = json!(1),
        _ => {
            failed["error"] = json!(1);
            failed["measurements"] = json!([{"phase": st, "startedAt": -120, "finishedAt": -120}]);
        }
    }
    let mut results = vec![
        json!({"name": "run-forever", "dryRun": dry, "phase": "Running",
               "measurements": [{"phase": "Running", "startedAt": -60}]}),
        failed,
    ];
    if let Some(o) = spec["override"].as_object() {
        for (k, v) in o {
            let (metric_name, field) = k.split_once('.').expect("metric.field");
            let r = results.iter_mut().find(|r| r["name"] == metric_name).expect("metric");
            r[field] = v.clone();
        }
    }
    let metrics = metrics(&json!([
        {"name": "run-forever", "provider": "job"}, {"name": "failed-metric", "provider": "job"}
    ]));
    let mut run = run(metrics, Some(status(&json!({"phase": "Running", "results": results}))));
    if dry {
        run.spec.dry_run = Some(vec![
            DryRun { metric_name: "run-forever".into() },
            DryRun { metric_name: "failed-metric".into() },
        ]);
    }
    run
}

fn summary_eq(r: &mut Report, n: &str, got: Option<&RunSummary>, want: &Value) {
    let d = RunSummary::default();
    let got = got.unwrap_or(&d);
    for (key, v) in [
        ("count", got.count),
        ("successful", got.successful),
        ("failed", got.failed),
        ("inconclusive", got.inconclusive),
        ("error", got.error),
    ] {
        r.eq(
            n,
            &format!("dryRunSummary.{key}"),
            i64::from(v.unwrap_or(0)),
            want[key].as_i64().unwrap_or(0),
        );
    }
}

#[test]
fn assess_run_status() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["assess_run_status"]) {
        let n = name(case);
        let (metrics, mut status) = if case.get("run").is_some() {
            let run = terminating_run(&case["run"], None);
            (run.spec.metrics, run.status.unwrap_or_default())
        } else {
            (metrics(&case["metrics"]), status(&json!({"results": case["results"]})))
        };
        let dry: BTreeSet<String> = case["dryRun"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| v.as_bool() == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let got = wa::assess_run_status(false, &metrics, &dry, &mut status);
        let want = &case["expect"];
        r.eq(&n, "phase", got.phase, phase(&want["phase"]));
        r.eq(&n, "message", got.message.as_str(), s(&want["message"]));
        if let Some(phases) = want["result_phases"].as_object() {
            for (metric_name, p) in phases {
                let res = wa::metric_result(&status, metric_name).map(|r| r.phase.as_str());
                r.eq(&n, metric_name, res, Some(s(p)));
            }
        }
        if want.get("dryRunSummary").is_some() {
            summary_eq(&mut r, &n, status.dry_run_summary.as_ref(), &want["dryRunSummary"]);
        }
        r.ran += 1;
    }
    r.finish("assess_run_status", 9);
}

fn mock_measurement(mock: &Value, base: Option<&Measurement>) -> Measurement {
    let mut m = base.cloned().unwrap_or_default();
    m.phase = s(&mock["phase"]).to_owned();
    m.value = mock["value"].as_str().map(str::to_owned);
    m.message = mock["message"].as_str().map(str::to_owned);
    if m.started_at.is_none() {
        m.started_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    }
    m
}

fn mocked(case: &Value) -> impl FnMut(&wa::Task) -> wa::TaskOutcome + '_ {
    let mock = &case["provider_mock"];
    move |task: &wa::Task| {
        let measurement = match &task.action {
            wa::TaskAction::Run => match mock.get("Run") {
                Some(m) => mock_measurement(m, None),
                None => wa::error_measurement("unexpected Run", now(), now()),
            },
            wa::TaskAction::Resume(m) => match mock.get("Resume") {
                Some(mk) => mock_measurement(mk, Some(m)),
                None => m.clone(),
            },
            wa::TaskAction::Terminate(m) => match mock.get("Terminate") {
                Some(mk) => mock_measurement(mk, Some(m)),
                None => m.clone(),
            },
        };
        let metadata: BTreeMap<String, String> =
            serde_json::from_value(mock.get("GetMetadata").cloned().unwrap_or(json!({})))
                .expect("metadata");
        wa::TaskOutcome { metric: task.metric.name.clone(), measurement, metadata }
    }
}

fn reconcile_case(r: &mut Report, n: &str, case: &Value, status_override: Option<&str>) {
    let mut run = if case.get("run").is_some() {
        terminating_run(&case["run"], status_override)
    } else {
        let st = (!case["status"].is_null()).then(|| status(&case["status"]));
        run(metrics(&case["metrics"]), st)
    };
    let spec = &case["spec"];
    if let Some(t) = spec["terminate"].as_bool() {
        run.spec.terminate = Some(t);
    }
    for a in [&spec["args"], &case["args"]] {
        if !a.is_null() {
            run.spec.args = Some(args(a));
        }
    }
    if case["dryRun"].is_array() {
        run.spec.dry_run = Some(serde_json::from_value(case["dryRun"].clone()).expect("dryRun"));
    }
    if case["measurementRetention"].is_array() {
        run.spec.measurement_retention =
            Some(serde_json::from_value(case["measurementRetention"].clone()).expect("retention"));
    }
    let out = wa::reconcile(&run, &wa::NoSecrets, now(), mocked(case));
    let want = &case["expect"];
    let sub = |v: &Value| s(v).replace("<status>", status_override.unwrap_or(""));
    if want.get("phase").is_some() {
        r.eq(n, "phase", out.status.phase.clone(), sub(&want["phase"]));
    }
    if want.get("message").is_some() {
        r.eq(n, "message", out.status.message.clone().unwrap_or_default(), sub(&want["message"]));
    }
    if want.get("dryRunSummary").is_some() {
        summary_eq(r, n, out.status.dry_run_summary.as_ref(), &want["dryRunSummary"]);
    }
    if let Some(c) = want.get("completedAt") {
        r.eq(n, "completedAt", offset_of(out.status.completed_at.as_ref()), c.as_i64());
    }
    if let Some(d) = want.get("deletions") {
        r.eq(n, "deletions", u64::from(out.delete), d.as_u64().unwrap_or(0));
    }
    for (metric_name, w) in want["results"].as_object().into_iter().flatten() {
        let Some(res) = wa::metric_result(&out.status, metric_name) else {
            r.check(n, false, || format!("no result for {metric_name}"));
            continue;
        };
        let ms = res.measurements.clone().unwrap_or_default();
        for (k, v) in w.as_object().into_iter().flatten() {
            let what = format!("{metric_name}.{k}");
            match k.as_str() {
                "phase" => r.eq(n, &what, res.phase.clone(), sub(v)),
                "message" => r.eq(n, &what, res.message.clone().unwrap_or_default(), sub(v)),
                "measurements_count" => r.eq(n, &what, ms.len() as u64, v.as_u64().unwrap_or(0)),
                "last_measurement_phase" => {
                    r.eq(n, &what, ms.last().map(|m| m.phase.clone()), Some(sub(v)));
                }
                "consecutiveError" | "error" | "count" => {
                    let got = match k.as_str() {
                        "consecutiveError" => res.consecutive_error,
                        "error" => res.error,
                        _ => res.count,
                    };
                    r.eq(n, &what, i64::from(got.unwrap_or(0)), v.as_i64().unwrap_or(0));
                }
                "metadata" => {
                    let want: BTreeMap<String, String> =
                        serde_json::from_value(v.clone()).expect("map");
                    r.eq(n, &what, res.metadata.clone(), Some(want));
                }
                "measurement_0" => {
                    let m = ms.first().cloned().unwrap_or_default();
                    if let Some(p) = v.get("phase") {
                        r.eq(n, &what, m.phase.clone(), sub(p));
                    }
                    if v.get("finishedAt_set").is_some() {
                        r.eq(n, &what, m.finished_at.is_some(), true);
                    }
                    if let Some(msg) = v.get("message") {
                        r.eq(n, &what, m.message.clone().unwrap_or_default(), sub(msg));
                    }
                }
                other => r.check(n, false, || format!("unknown expectation {other}")),
            }
        }
    }
}

#[test]
fn reconcile_analysis_run() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["reconcile_analysis_run"]) {
        let n = name(case);
        if case["run"]["status"] == "<status>" {
            for st in ["Failed", "Inconclusive", "Error"] {
                reconcile_case(&mut r, &format!("{n} [{st}]"), case, Some(st));
            }
        } else {
            reconcile_case(&mut r, &n, case, None);
        }
        r.ran += 1;
    }
    r.finish("reconcile_analysis_run", 18);
}

#[test]
fn schedule() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["generate_metric_tasks"]) {
        let n = name(case);
        let ms = metrics(&case["metrics"]);
        let st = status(&case["status"]);
        let terminating = wa::is_terminating(false, Some(&st));
        let tasks = wa::metric_tasks(&ms, &st, terminating, now());
        let names: Vec<&str> = tasks.iter().map(|t| ms[t.index].name.as_str()).collect();
        let want: Vec<&str> =
            case["expect"]["tasks"].as_array().expect("tasks").iter().map(s).collect();
        r.eq(&n, "tasks", names, want);
        if case["expect"]["task_0_has_incomplete_measurement"] == true {
            r.eq(&n, "incomplete", tasks.first().is_some_and(|t| t.incomplete.is_some()), true);
        }
        r.ran += 1;
    }
    for case in cases(&f["next_reconcile_time"]) {
        let n = name(case);
        let got =
            wa::next_reconcile_time(&metrics(&case["metrics"]), &status(&case["status"]), now());
        let want = match &case["expect"]["next"] {
            Value::Null => None,
            Value::Number(x) => x.as_i64(),
            Value::String(x) => x.trim_start_matches('+').parse().ok(),
            other => panic!("{other}"),
        };
        r.eq(&n, "next", got.map(|t| t.as_second() - now().as_second()), want);
        r.ran += 1;
    }
    r.finish("schedule", 14 + 10);
}

fn values_run(v: &Value) -> weir_model::rollouts::AnalysisRunStatus {
    let results: Vec<Value> = v
        .as_object()
        .expect("run")
        .iter()
        .map(|(k, vals)| {
            let ms: Vec<Value> = vals
                .as_array()
                .expect("values")
                .iter()
                .map(|x| json!({"phase": "Successful", "value": x}))
                .collect();
            json!({"name": k, "phase": "Running", "measurements": ms})
        })
        .collect();
    status(&json!({"results": results}))
}

#[test]
fn measurement_retention() {
    let f = file();
    let section = &f["measurement_retention"];
    let mut r = Report::default();
    for case in cases(section) {
        let n = name(case);
        let mut st = values_run(case.get("run").unwrap_or(&section["base_run"]));
        let retention: BTreeMap<String, MeasurementRetention> =
            serde_json::from_value(case["retention"].clone()).expect("retention");
        let limit = case["defaultLimit"].as_u64().expect("limit") as usize;
        wa::trim_measurements(&mut st, &retention, limit);
        for (metric_name, want) in case["expect"].as_object().expect("expect") {
            if metric_name == "provider_address_seen_by_GarbageCollect" {
                let got =
                    wa::resolve_args(s(&case["provider_address_template"]), &args(&case["args"]));
                r.eq(&n, metric_name, got.ok(), Some(s(want).to_owned()));
                continue;
            }
            let got: Vec<String> = wa::metric_result(&st, metric_name)
                .and_then(|r| r.measurements.clone())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.value)
                .collect();
            let want: Vec<String> =
                want.as_array().expect("values").iter().map(|x| s(x).to_owned()).collect();
            r.eq(&n, metric_name, got, want);
        }
        r.ran += 1;
    }
    r.finish("measurement_retention", 5);
}

#[test]
fn rule_matching() {
    let f = file();
    let mut r = Report::default();
    for (key, is_dry) in [("dry_run", true), ("measurement_retention", false)] {
        for case in cases(&f["rule_matching"][key]) {
            let n = name(case);
            let ms = metrics(&json!(
                case["metrics"]
                    .as_array()
                    .expect("metrics")
                    .iter()
                    .map(|m| json!({"name": m}))
                    .collect::<Vec<_>>()
            ));
            let names: Result<Vec<String>, String> = if is_dry {
                let rules: Vec<DryRun> =
                    serde_json::from_value(case["rules"].clone()).expect("rules");
                wa::dry_run_metrics(&rules, &ms).map(|m| m.into_iter().collect())
            } else {
                let rules: Vec<MeasurementRetention> =
                    serde_json::from_value(case["rules"].clone()).expect("rules");
                wa::retention_metrics(&rules, &ms).map(|m| m.into_keys().collect())
            };
            let want = &case["expect"];
            match (&names, want["error"].as_str()) {
                (Err(e), Some(w)) => r.eq(&n, "error", e.as_str(), w),
                (Ok(got), None) => {
                    if let Some(size) = want["map_size"].as_u64() {
                        r.eq(&n, "map_size", got.len() as u64, size);
                    }
                    for k in
                        want["map"].as_object().map(|m| m.keys().collect()).unwrap_or_else(Vec::new)
                    {
                        r.eq(&n, "map", got.contains(k), true);
                    }
                    for k in want["map_has"].as_array().into_iter().flatten() {
                        r.eq(&n, "map_has", got.iter().any(|g| g == s(k)), true);
                    }
                }
                (got, w) => r.check(&n, false, || format!("got {got:?}, want error {w:?}")),
            }
            r.ran += 1;
        }
    }
    r.finish("rule_matching", 6);
}

#[test]
fn phase_ordering_and_lookups() {
    let f = file();
    let mut r = Report::default();
    for case in f["phase_ordering"]["is_worse"]["cases"].as_array().expect("cases") {
        let n = format!("TestIsWorst {} -> {}", s(&case["current"]), s(&case["new"]));
        r.eq(
            &n,
            "is_worse",
            wa::is_worse(phase(&case["current"]), phase(&case["new"])),
            case["expect"] == true,
        );
        r.ran += 1;
    }
    for case in f["phase_ordering"]["worst"]["cases"].as_array().expect("cases") {
        let n = format!("TestWorst {} {}", s(&case["a"]), s(&case["b"]));
        r.eq(&n, "worst", wa::worst(phase(&case["a"]), phase(&case["b"])), phase(&case["expect"]));
        r.ran += 1;
    }
    for case in cases(&f["is_terminating"]) {
        let n = format!("{} {}", name(case), case["results"]);
        let st = if case["status"] == "empty" {
            None
        } else {
            Some(status(&json!({"results": case["results"]})))
        };
        let terminate = case["terminate"].as_bool().unwrap_or(false);
        r.eq(
            &n,
            "is_terminating",
            wa::is_terminating(terminate, st.as_ref()),
            case["expect"] == true,
        );
        r.ran += 1;
    }
    for case in cases(&f["metric_completed_and_lookup"]) {
        let n = format!("{} {}", name(case), s(&case["query"]));
        let st = status(&json!({"results": case["results"]}));
        let q = s(&case["query"]);
        if s(&case["test"]) == "TestMetricCompleted" {
            r.eq(&n, "completed", wa::metric_completed(&st, q), case["expect"] == true);
        } else {
            let got = wa::last_measurement(&st, q)
                .map(|m| (m.phase.clone(), m.value.clone().unwrap_or_default()));
            let want = (!case["expect"].is_null()).then(|| {
                (s(&case["expect"]["phase"]).to_owned(), s(&case["expect"]["value"]).to_owned())
            });
            r.eq(&n, "last", got, want);
        }
        r.ran += 1;
    }
    r.finish("phase_ordering_and_lookups", 18 + 11 + 6);
}

fn ttl_run(ttl: &Value, st: &Value) -> AnalysisRun {
    let mut st = st.clone();
    let deletion = st.as_object_mut().and_then(|m| m.remove("deletionTimestamp"));
    let mut run = run(metrics(&json!([{"name": "m", "provider": "job"}])), Some(status(&st)));
    if !ttl.is_null() {
        run.spec.ttl_strategy = Some(serde_json::from_value(ttl.clone()).expect("ttl"));
    }
    if let Some(d) = deletion {
        run.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(d.as_i64().unwrap_or(0))));
    }
    run
}

#[test]
fn ttl_garbage_collection() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["ttl_garbage_collection"]) {
        let n = format!("{} {}", name(case), case["ttlStrategy"]);
        let ttl = &case["ttlStrategy"];
        if case.get("deleted").is_some() {
            r.eq(&n, "deleted", wa::ttl_expired(&ttl_run(ttl, &case["deleted"]), now()), true);
            r.eq(&n, "kept", wa::ttl_expired(&ttl_run(ttl, &case["kept"]), now()), false);
        } else {
            let run = ttl_run(ttl, &case["run"]);
            let out = wa::reconcile(&run, &wa::NoSecrets, now(), |t| wa::TaskOutcome {
                metric: t.metric.name.clone(),
                measurement: wa::error_measurement("not measured in this test", now(), now()),
                metadata: BTreeMap::new(),
            });
            let want_delete =
                case["expect"]["api_actions"].as_array().is_some_and(|a| !a.is_empty());
            r.eq(&n, "delete", out.delete, want_delete);
            if run.status.as_ref().is_some_and(|s| s.phase != "Running") {
                r.eq(&n, "status unchanged", out.changed, false);
            }
        }
        r.ran += 1;
    }
    r.finish("ttl_garbage_collection", 16);
}

#[test]
fn validate_metrics() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["validate_metrics"]) {
        let n = name(case);
        let got = wa::validate_metrics(&metrics(&case["metrics"])).err();
        let want = &case["expect"];
        if let Some(re) = want["error_regex"].as_str() {
            let re = regex::Regex::new(re).expect("regex");
            r.check(&n, got.as_deref().is_some_and(|g| re.is_match(g)), || {
                format!("{got:?} !~ {re}")
            });
        } else {
            r.eq(&n, "error", got.as_deref(), want["error"].as_str());
        }
        r.ran += 1;
    }
    r.finish("validate_metrics", 17);
}
