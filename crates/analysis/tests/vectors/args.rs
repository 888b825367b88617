//! `args.yaml`: `{{args.x}}` substitution, argument merging, template flattening, building
//! runs, a Rollout's arguments, run labels and the controller's secret resolution
//! (71 vectors).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use weir_analysis as wa;
use weir_model::rollouts::{AnalysisRunArgument, AnalysisTemplateSpec, Argument, Rollout};

use crate::support::*;

fn file() -> Value {
    load("args.yaml")
}

fn expect_result(r: &mut Report, n: &str, got: Result<String, wa::ArgError>, want: &Value) {
    let got = got.map_err(|e| e.to_string());
    if let Some(re) = want["error_regex"].as_str() {
        let re = regex::Regex::new(re).expect("regex");
        r.check(n, got.as_ref().err().is_some_and(|e| re.is_match(e)), || {
            format!("{got:?} !~ {re}")
        });
    } else if let Some(e) = want["error"].as_str() {
        r.eq(n, "error", got.err().as_deref(), Some(e));
    } else {
        r.eq(n, "result", got.ok().as_deref(), want["result"].as_str());
    }
}

#[test]
fn substitution() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["resolve_args"]) {
        let got = wa::resolve_args(s(&case["template"]), &args(&case["args"]));
        expect_result(&mut r, &name(case), got, &case["expect"]);
        r.ran += 1;
    }
    for case in cases(&f["resolve_quoted_args"]) {
        let got = wa::resolve_quoted_args(s(&case["template"]), &args(&case["args"]));
        expect_result(&mut r, &name(case), got, &case["expect"]);
        r.ran += 1;
    }
    for case in cases(&f["resolve_experiment_args"]) {
        let n = format!("{} {}", name(case), s(&case["template"]));
        let ex = &case["experiment"];
        let available = (ex["status"]["availableAt"] == "now").then(now);
        let rs: Vec<(String, String)> = ex["spec"]["templates"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let t = s(&t["name"]).to_owned();
                let hash =
                    s(&case["replicaSets"][&t]["labels"]["rollouts-pod-template-hash"]).to_owned();
                (t, hash)
            })
            .collect();
        let rs: Vec<wa::ExperimentTemplateRs<'_>> = rs
            .iter()
            .map(|(t, h)| wa::ExperimentTemplateRs {
                template: t,
                replica_set: "",
                pod_template_hash: h,
            })
            .collect();
        let got = wa::resolve_experiment_args(
            s(&case["template"]),
            &rs,
            available,
            ex["spec"]["duration"].as_str(),
        );
        let mut want = case["expect"].clone();
        match want["result"].as_str() {
            Some("<now, RFC3339>") => {
                want["result"] = json!(now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
            Some("<now + 1m, RFC3339>") => {
                want["result"] = json!(at(60).strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
            _ => {}
        }
        expect_result(&mut r, &n, got, &want);
        r.ran += 1;
    }
    for case in cases(&f["resolve_metric_args"]) {
        let n = format!("{} {}", name(case), case["metric"]["name"]);
        let got = wa::resolve_metric_args(&metric(&case["metric"]), &args(&case["args"]));
        match got {
            Ok(m) => r.eq(
                &n,
                "successCondition",
                m.success_condition.as_deref(),
                case["expect"]["successCondition"].as_str(),
            ),
            Err(e) => r.check(&n, false, || e.to_string()),
        }
        r.ran += 1;
    }
    r.finish("substitution", 7 + 1 + 5 + 3);
}

fn arg_summary(a: &Argument) -> Value {
    let mut v = json!({"name": a.name});
    if let Some(x) = &a.value {
        v["value"] = json!(x);
    }
    if a.value_from.is_some() {
        v["valueFrom_set"] = json!(true);
    }
    v
}

#[test]
fn merge_args() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["merge_args"]) {
        let n = name(case);
        let incoming = opt_args(&case["incoming"]);
        let template = opt_args(&case["template"]);
        let got = wa::merge_args(incoming.as_deref(), template.as_deref());
        let want = &case["expect"];
        match got {
            Ok(args) => {
                r.eq(&n, "error", None, want["error"].as_str());
                let got = args.map(|a| a.iter().map(arg_summary).collect::<Vec<_>>());
                let want = want["args"].as_array().cloned();
                r.eq(&n, "args", got, want);
            }
            Err(e) => r.eq(&n, "error", Some(e.to_string().as_str()), want["error"].as_str()),
        }
        r.ran += 1;
    }
    r.finish("merge_args", 6);
}

fn spec(v: &Value) -> AnalysisTemplateSpec {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.retain(|_, x| !x.is_null());
    }
    if let Some(ms) = v.get("metrics").cloned() {
        v["metrics"] = json!(
            ms.as_array()
                .into_iter()
                .flatten()
                .map(|m| serde_json::to_value(metric(m)).expect("metric"))
                .collect::<Vec<_>>()
        );
    }
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("template {v}: {e}"))
}

fn specs(case: &Value, keys: &[&str]) -> Vec<AnalysisTemplateSpec> {
    keys.iter()
        .flat_map(|k| case[*k].as_array().cloned().unwrap_or_default())
        .map(|t| spec(&t))
        .collect()
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("json")
}

#[test]
fn flatten_and_build_runs() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["flatten_templates"]) {
        let n = name(case);
        let all = specs(case, &["templates", "clusterTemplates"]);
        let refs: Vec<&AnalysisTemplateSpec> = all.iter().collect();
        let want = &case["expect"];
        match wa::flatten_templates(&refs) {
            Err(e) => r.eq(&n, "error", Some(e.to_string().as_str()), want["error"].as_str()),
            Ok(t) => {
                r.eq(&n, "error", None, want["error"].as_str());
                if let Some(c) = want["metrics_count"].as_u64() {
                    r.eq(&n, "metrics_count", t.metrics().len() as u64, c);
                }
                if let Some(c) = want["args_count"].as_u64() {
                    r.eq(&n, "args_count", t.args.as_ref().map_or(0, Vec::len) as u64, c);
                }
                let w = if want.get("spec").is_some() { &want["spec"] } else { want };
                if let Some(ms) = w.get("metrics") {
                    let want: Vec<Value> =
                        ms.as_array().into_iter().flatten().map(|m| to_json(&metric(m))).collect();
                    r.eq(&n, "metrics", t.metrics().iter().map(to_json).collect::<Vec<_>>(), want);
                }
                if let Some(a) = w.get("args") {
                    r.eq(
                        &n,
                        "args",
                        t.args.as_ref().map(to_json),
                        (!a.is_null()).then(|| a.clone()),
                    );
                }
            }
        }
        r.ran += 1;
    }
    for case in cases(&f["new_analysis_run_from_templates"]) {
        let n = name(case);
        let mut all = specs(case, &["templates", "clusterTemplates"]);
        if case.get("template").is_some() {
            all.push(spec(&case["template"]));
        }
        let refs: Vec<&AnalysisTemplateSpec> = all.iter().collect();
        let map = |v: &Value| -> BTreeMap<String, String> {
            serde_json::from_value(if v.is_null() { json!({}) } else { v.clone() }).expect("map")
        };
        let meta = wa::RunMeta {
            name: s(&case["name"]).to_owned(),
            generate_name: s(&case["generateName"]).to_owned(),
            namespace: s(&case["namespace"]).to_owned(),
            labels: map(&case["labels"]),
            annotations: map(&case["annotations"]),
        };
        let incoming = opt_args(&case["args"]);
        let want = &case["expect"];
        match wa::new_analysis_run(&refs, incoming.as_deref(), None, None, meta) {
            Err(e) => r.eq(&n, "error", Some(e.to_string().as_str()), want["error"].as_str()),
            Ok(run) => {
                r.eq(&n, "error", None, want["error"].as_str());
                let md = &run.metadata;
                let wm = &want["metadata"];
                for (key, got) in [
                    ("name", md.name.clone()),
                    ("generateName", md.generate_name.clone()),
                    ("namespace", md.namespace.clone()),
                ] {
                    if let Some(w) = wm[key].as_str() {
                        r.eq(&n, key, got.as_deref(), Some(w));
                    }
                }
                if let Some(c) = wm["labels_count"].as_u64() {
                    r.eq(&n, "labels_count", md.labels.as_ref().map_or(0, BTreeMap::len) as u64, c);
                }
                for (key, got) in [("labels", &md.labels), ("annotations", &md.annotations)] {
                    if wm.get(key).is_some() {
                        r.eq(&n, key, got.clone().unwrap_or_default(), map(&wm[key]));
                    }
                }
                if want.get("metadata_resourceVersion_present").is_some() {
                    r.eq(&n, "resourceVersion", md.resource_version.is_some(), false);
                }
                let got_args: Vec<Value> = run.spec.args.iter().flatten().map(to_json).collect();
                if let Some(c) = want["args_count"].as_u64() {
                    r.eq(&n, "args_count", got_args.len() as u64, c);
                }
                for w in want["args_contain"].as_array().into_iter().flatten() {
                    r.check(&n, got_args.contains(w), || format!("args {got_args:?} lack {w}"));
                }
                for key in ["args", "spec_args"] {
                    if let Some(w) = want[key].as_array() {
                        r.eq(&n, key, &got_args, w);
                    }
                }
            }
        }
        r.ran += 1;
    }
    for case in cases(&f["filter_unique_templates"]) {
        let n = format!("TestAnalysisTemplateFiltering {}", case["templates"]);
        for (key, count) in
            [("templates", "templates_count"), ("clusterTemplates", "clusterTemplates_count")]
        {
            let mut named: Vec<wa::NamedTemplate> = case[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| wa::NamedTemplate {
                    name: s(x).to_owned(),
                    spec: AnalysisTemplateSpec::default(),
                })
                .collect();
            wa::filter_unique_templates(&mut named);
            r.eq(&n, count, named.len() as u64, case["expect"][count].as_u64().unwrap_or(0));
        }
        r.ran += 1;
    }
    r.finish("flatten_and_build_runs", 10 + 7 + 3);
}

#[test]
fn rollout_args_and_labels() {
    let f = file();
    let mut r = Report::default();
    let section = &f["build_arguments_for_rollout_analysis_run"];
    let ro = &section["rollout"];
    let rollout: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": ro["metadata"],
        "spec": {"template": {"metadata": {"labels": ro["spec_template_labels"]}}},
        "status": {"pauseConditions": [{"reason": "test-reason", "startTime": "2024-01-01T00:00:00Z"}]}
    }))
    .expect("rollout");
    let hashes = wa::PodHashes {
        stable: section["stableRS_labels"]["rollouts-pod-template-hash"].as_str(),
        latest: section["newRS_labels"]["rollouts-pod-template-hash"].as_str(),
    };
    let all: Vec<AnalysisRunArgument> = cases(section)
        .iter()
        .map(|c| serde_json::from_value(c["arg"].clone()).expect("arg"))
        .collect();
    let built = wa::build_rollout_args(&all, hashes, &rollout);
    r.check("BuildArgumentsForRolloutAnalysisRun", built.is_ok(), || format!("{built:?}"));
    let built = built.unwrap_or_default();
    for (i, case) in cases(section).iter().enumerate() {
        let n = format!("TestBuildArgumentsForRolloutAnalysisRun {}", s(&case["arg"]["name"]));
        r.eq(&n, "arg", built.get(i).map(to_json), Some(case["expect"].clone()));
        r.ran += 1;
    }
    let section = &f["extract_value_from_rollout"];
    for case in cases(section) {
        let got = wa::extract_value(&section["rollout"], s(&case["path"]));
        expect_result(
            &mut r,
            &name(case),
            got,
            &json!({"result": case["expect"]["value"], "error": case["expect"]["error"]}),
        );
        r.ran += 1;
    }
    for case in cases(&f["analysis_run_labels"]) {
        let n = name(case);
        let (hash, id) = (s(&case["podHash"]), s(&case["instanceID"]));
        let got = match s(&case["test"]) {
            "TestPrePromotionLabels" => wa::labels::pre_promotion(hash, id),
            "TestPostPromotionLabels" => wa::labels::post_promotion(hash, id),
            "TestStepLabels" => {
                wa::labels::step(case["index"].as_i64().unwrap_or(0) as i32, hash, id)
            }
            _ => wa::labels::background(hash, id),
        };
        let want: BTreeMap<String, String> =
            serde_json::from_value(case["expect"].clone()).expect("labels");
        r.eq(&n, "labels", got, want);
        r.ran += 1;
    }
    r.finish("rollout_args_and_labels", 7 + 10 + 4);
}

fn secrets(v: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                serde_json::from_value(s["data"].clone()).expect("data"),
            )
        })
        .collect()
}

#[test]
fn controller_arg_resolution() {
    let f = file();
    let mut r = Report::default();
    for case in cases(&f["controller_arg_resolution"]) {
        let n = name(case);
        let sec = secrets(&case["secrets"]);
        let want = &case["expect"];
        if case["function"].as_str().is_some_and(|f| f.starts_with("resolveArgs")) {
            let got = wa::resolve_secret_args(&args(&case["args"]), &sec).and_then(|(a, red)| {
                wa::resolve_metric_args(&metric(&case["metric"]), &a).map(|m| (m, red))
            });
            match got {
                Err(e) => r.eq(
                    &n,
                    "error",
                    Some(e.to_string()),
                    want["error"].as_str().map(str::to_owned),
                ),
                Ok((m, red)) => {
                    r.eq(&n, "error", None, want["error"].as_str());
                    r.eq(
                        &n,
                        "successCondition",
                        m.success_condition.as_deref(),
                        want["resolved_successCondition"].as_str(),
                    );
                    if let Some(v) = want["secret_values_to_redact_contain"].as_str() {
                        r.eq(&n, "redacted", red.contains(v), true);
                    }
                }
            }
        } else if case.get("template").is_some() {
            let got = wa::resolve_args(s(&case["template"]), &args(&case["args"]));
            r.eq(&n, "resolved", got.ok().as_deref(), want["resolved"].as_str());
        } else {
            let dry_runs: Vec<Value> =
                if s(&case["test"]) == "TestResolveMetricArgsUnableToSubstitute" {
                    vec![json!([]), json!([{"metricName": "*"}]), json!([])]
                } else {
                    vec![Value::Null]
                };
            for dry in dry_runs {
                let mut run = run(metrics(&case["metrics"]), None);
                run.spec.args = Some(args(&case["args"]));
                if dry.is_array() {
                    run.spec.dry_run = Some(serde_json::from_value(dry.clone()).expect("dryRun"));
                }
                let mock = &case["provider_mock"]["Run"];
                let mut seen_headers = Vec::new();
                let out = wa::reconcile(&run, &sec, now(), |t| {
                    if let Some(web) = &t.metric.provider.web {
                        seen_headers.extend(web.headers.iter().flatten().map(|h| h.value.clone()));
                    }
                    let mut m = wa::error_measurement("", now(), now());
                    m.phase = s(&mock["phase"]).to_owned();
                    m.message = mock["message"].as_str().map(str::to_owned);
                    wa::TaskOutcome {
                        metric: t.metric.name.clone(),
                        measurement: m,
                        metadata: BTreeMap::new(),
                    }
                });
                let n = format!("{n} dryRun={dry}");
                if let Some(p) = want["run_phase"].as_str() {
                    r.eq(&n, "run phase", out.status.phase.as_str(), p);
                }
                if let Some(m) = want["run_message"].as_str() {
                    r.eq(&n, "run message", out.status.message.as_deref(), Some(m));
                }
                if let Some(m) = want["measurement_0_message"].as_str() {
                    let got = out
                        .status
                        .metric_results
                        .iter()
                        .flatten()
                        .next()
                        .and_then(|res| res.measurements.as_ref()?.first()?.message.clone());
                    r.eq(&n, "measurement message", got.as_deref(), Some(m));
                    let status = serde_json::to_string(&out.status).expect("json");
                    r.eq(&n, "secret absent from status", status.contains("12345"), false);
                    r.eq(
                        &n,
                        "provider saw the secret",
                        seen_headers.contains(&"12345".to_owned()),
                        true,
                    );
                }
            }
        }
        r.ran += 1;
    }
    r.finish("controller_arg_resolution", 8);
}
