//! The Lua health engine against Argo CD's Lua health cases (`health/lua/<group>/<Kind>/
//! health_test.yaml`). Argo CD's scripts are not in the fixtures (and are not copied): each
//! test here runs a script written for this test, from the behaviour the spec describes
//! (`shared/specs/argo-cd.md` §2.11), and expects the `{status, message}` Argo CD's test lists.

use serde_json::json;
use weir_gitops::health::lua::{HealthOverrides, HealthScript};
use weir_gitops::health::{HealthStatus, assess_with};

use crate::{Report, fixtures, load_yaml, s};

/// A CronJob health check written for weir's tests: suspended, running, never scheduled, never
/// succeeded and last-run-failed, in that order.
const CRON_JOB_SCRIPT: &str = r#"
local health = {status = "Healthy"}
local status = obj.status or {}
if obj.spec ~= nil and obj.spec.suspend == true then
  health.message = "CronJob is Suspended"
elseif status.active ~= nil and #status.active > 0 then
  health.message = "The job is running. Its last execution may not have been successful"
elseif status.lastScheduleTime == nil then
  health.message = "CronJob has not been scheduled yet"
elseif status.lastSuccessfulTime == nil then
  health.message = "The CronJob never completed successfully. It may not be healthy"
elseif status.lastSuccessfulTime < status.lastScheduleTime then
  health.status = "Degraded"
  health.message = "CronJob has not completed its last execution successfully"
else
  health.message = "CronJob has completed its last execution successfully"
end
return health
"#;

#[test]
fn cron_job_cases_through_a_lua_script() {
    let dir = "health/lua/batch/CronJob";
    if !fixtures().join(dir).exists() {
        eprintln!("skipped: {dir} is absent");
        return;
    }
    let mut overrides = HealthOverrides::new();
    overrides.insert(
        "batch/CronJob",
        HealthScript { script: CRON_JOB_SCRIPT.to_owned(), use_open_libs: false },
    );
    let tests = load_yaml(&format!("{dir}/health_test.yaml"));
    let mut report = Report::default();
    let cases = tests["tests"].as_array().map(Vec::as_slice).unwrap_or_default();
    assert_eq!(cases.len(), 6, "health_test.yaml lists the 6 CronJob cases");
    for case in cases {
        let input = s(case, "inputPath");
        let obj = load_yaml(&format!("{dir}/{input}"));
        let want_status = s(&case["healthStatus"], "status");
        let want_message = s(&case["healthStatus"], "message");
        let got = assess_with(&overrides, &obj);
        report.check(
            &input,
            got.as_ref()
                .is_some_and(|h| h.status.as_str() == want_status && h.message == want_message),
            || format!("want {want_status} {want_message:?}, got {got:?}"),
        );
    }
    report.finish("lua CronJob");
}

#[test]
fn a_script_replaces_the_built_in_check_and_a_failing_one_is_unknown() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 1,
        "updatedReplicas": 1, "availableReplicas": 1}});
    let mut overrides = HealthOverrides::new();
    assert_eq!(assess_with(&overrides, &deployment).map(|h| h.status), Some(HealthStatus::Healthy));
    overrides.insert(
        "apps/Deployment",
        HealthScript {
            script: "return {status = 'Degraded', message = 'custom ' .. obj.metadata.name}".into(),
            use_open_libs: false,
        },
    );
    let custom = assess_with(&overrides, &deployment).expect("a health");
    assert_eq!((custom.status, custom.message.as_str()), (HealthStatus::Degraded, "custom web"));
    overrides.insert(
        "apps/Deployment",
        HealthScript { script: "return obj.nope.nope".into(), use_open_libs: false },
    );
    let failed = assess_with(&overrides, &deployment).expect("a health");
    assert_eq!(failed.status, HealthStatus::Unknown);
    assert_eq!(
        failed.message,
        "error running the health script of apps/Deployment: <string>:1: attempt to index field \
         'nope' (a nil value)"
    );
}
