//! Argo Rollouts' own Istio unit tests as data (`istio/virtualservice-patches.yaml`): every
//! test runs here, one case per vector, against the same functions the router uses. The file's
//! fake API is modelled by an [`ObjectSnapshot`] plus a list of the API verbs the controller
//! would issue (`get` for each read when reads are not served from a cache, `update` per write).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use weir_model::rollouts::{Rollout, WeightDestination};

mod checks;

use super::destination_rule::delaying_replica_set;
use super::routes::{RouteKind, parse_http_routes, parse_l4_routes};
use super::selection::{
    http_route_indexes, validate_http_routes, validate_route_destinations, validate_tcp_routes,
    validate_tls_routes,
};
use super::weights::{WeightPatch, apply_patches, reconcile_virtual_service};
use super::{IstioRouter, multiple_virtual_services_configured};
use crate::{
    Lookup, ObjectSnapshot, ObjectUpdate, Operation, ReplicaSetAvailability, RouterError,
    TrafficRouter,
};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/argo-test-vectors/istio/virtualservice-patches.yaml"
);

/// Tests we deliberately do not run, by name, with the reason.
const SKIPPED: &[(&str, &str)] = &[];

type Fixtures = BTreeMap<String, Value>;

/// What one step produced.
#[derive(Default)]
struct Outcome {
    error: Option<RouterError>,
    /// The object the route checks look at when it is not taken from the cluster state.
    object: Option<Value>,
    result: Option<Value>,
}

struct Case<'a> {
    test: &'a Value,
    fixtures: &'a Fixtures,
    variant: Option<&'a str>,
    state: ObjectSnapshot,
    faults: BTreeMap<String, String>,
    via_cache: bool,
    actions: Vec<&'static str>,
    previous_output: Option<Value>,
}

fn rollout_from(canary: &Value, status: Option<&Value>) -> Result<Rollout, String> {
    let mut ro = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "rollout", "namespace": "default"},
        "spec": {"strategy": {"canary": canary}},
    });
    if let Some(status) = status {
        ro["status"] = status.clone();
    }
    serde_json::from_value(ro).map_err(|e| format!("rollout: {e}"))
}

fn weight_destinations(v: Option<&Value>) -> Result<Vec<WeightDestination>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("additional: {e}")),
    }
}

fn replica_sets(v: Option<&Value>) -> Vec<ReplicaSetAvailability> {
    let Some(list) = v.and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .map(|rs| ReplicaSetAvailability {
            name: rs["name"].as_str().unwrap_or("").to_owned(),
            pod_template_hash: rs["labels"]["rollouts-pod-template-hash"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            replicas: rs["specReplicas"].as_i64().unwrap_or(1) as i32,
            available_replicas: rs["availableReplicas"].as_i64().unwrap_or(0) as i32,
        })
        .collect()
}

impl Case<'_> {
    fn canary(&self, step: &Value) -> Value {
        let mut canary = step.get("canary").unwrap_or(&self.test["canary"]).clone();
        if let (Some(over), Some(c)) =
            (self.test.get("canary_override").and_then(Value::as_object), canary.as_object_mut())
        {
            for (k, v) in over {
                c.insert(k.clone(), v.clone());
            }
        }
        canary
    }

    fn router(&self, step: &Value) -> Result<IstioRouter, String> {
        let ro = rollout_from(&self.canary(step), self.test.get("rollout_status"))?;
        IstioRouter::new(&ro).map_err(|e| format!("router: {e}"))
    }

    fn input(&self, name: &str) -> Result<Value, String> {
        let name = match name {
            "variant" => self.variant.ok_or("no variant")?,
            "previous_output" => {
                return self.previous_output.clone().ok_or_else(|| "no previous output".into());
            }
            other => other,
        };
        self.fixtures.get(name).cloned().ok_or_else(|| format!("unknown fixture {name}"))
    }

    /// Runs a router operation like the controller would against the fake API.
    fn call(
        &mut self,
        router: &IstioRouter,
        op: Operation,
        f: impl FnOnce(&IstioRouter, &ObjectSnapshot) -> Result<Vec<ObjectUpdate>, RouterError>,
    ) -> Option<RouterError> {
        let mut snapshot = self.state.clone();
        for key in router.reads(op) {
            if !self.via_cache {
                self.actions.push("get");
                if let Some(cause) = self.faults.get("get") {
                    snapshot.record(key, Lookup::Failed(cause.clone()));
                }
            }
        }
        let updates = match f(router, &snapshot) {
            Ok(u) => u,
            Err(e) => return Some(e),
        };
        for u in updates {
            self.actions.push("update");
            if let Some(cause) = self.faults.get("update") {
                return Some(u.failed(cause));
            }
            self.state.apply(&u);
        }
        None
    }

    fn step(&mut self, step: &Value) -> Result<Outcome, String> {
        let op = step["op"].as_str().ok_or("step without op")?;
        let mut out = Outcome::default();
        let additional = weight_destinations(step.get("additionalDestinations"))?;
        let weight = step["desiredWeight"].as_i64().unwrap_or(0) as i32;
        let canary = self.canary(step);
        match op {
            "reconcileVirtualService" => {
                let router = self.router(step)?;
                let vs_ref = match step.get("virtualService_entry").and_then(Value::as_u64) {
                    Some(i) => router.virtual_services.get(i as usize).cloned(),
                    None => router.virtual_services.first().cloned(),
                }
                .ok_or("no virtual service entry")?;
                let input = self.input(step["input"].as_str().ok_or("no input")?)?;
                let r = reconcile_virtual_service(
                    &router.targets,
                    router.managed(),
                    &vs_ref,
                    &input,
                    weight,
                    &additional,
                );
                match r {
                    Ok((obj, _)) => {
                        self.previous_output = Some(obj.clone());
                        out.object = Some(obj);
                    }
                    Err(e) => out.error = Some(e),
                }
            }
            "SetWeight" => {
                let router = self.router(step)?;
                out.error = self.call(&router, Operation::SetWeight, |r, s| {
                    r.set_weight(s, weight, &additional)
                });
            }
            "SetHeaderRoute" => {
                let router = self.router(step)?;
                let route = serde_json::from_value(step["setHeaderRoute"].clone())
                    .map_err(|e| format!("setHeaderRoute: {e}"))?;
                out.error = self
                    .call(&router, Operation::SetHeaderRoute, |r, s| r.set_header_route(s, &route));
            }
            "SetMirrorRoute" => {
                let router = self.router(step)?;
                let route = serde_json::from_value(step["setMirrorRoute"].clone())
                    .map_err(|e| format!("setMirrorRoute: {e}"))?;
                out.error = self
                    .call(&router, Operation::SetMirrorRoute, |r, s| r.set_mirror_route(s, &route));
            }
            "RemoveManagedRoutes" => {
                let router = self.router(step)?;
                out.error = self.call(&router, Operation::RemoveManagedRoutes, |r, s| {
                    r.remove_managed_routes(s)
                });
            }
            "UpdateHash" => {
                let router = self.router(step)?;
                let canary_hash = step["canaryHash"].as_str().unwrap_or("");
                let stable_hash = step["stableHash"].as_str().unwrap_or("");
                out.error = self.call(&router, Operation::UpdateHash, |r, s| {
                    r.update_hash(s, canary_hash, stable_hash, &additional)
                });
            }
            "ValidateHTTPRoutes" | "ValidateTlsRoutes" | "ValidateTcpRoutes" => {
                let router = self.router(step)?;
                let vs_ref = router.virtual_services.first().cloned().unwrap_or_default();
                let routes = &self.test["input_routes"];
                let r = match op {
                    "ValidateHTTPRoutes" => {
                        let raw = routes["http"].as_array().ok_or("no http routes")?;
                        let parsed = parse_http_routes(raw)?;
                        let names = vs_ref.routes.unwrap_or_default();
                        validate_http_routes(&router.targets, router.managed(), &names, &parsed)
                    }
                    "ValidateTlsRoutes" => {
                        let raw = routes["tls"].as_array().ok_or("no tls routes")?;
                        let parsed = parse_l4_routes(RouteKind::Tls, raw)?;
                        let sel = vs_ref.tls_routes.unwrap_or_default();
                        validate_tls_routes(&router.targets, &sel, &parsed)
                    }
                    _ => {
                        let raw = routes["tcp"].as_array().ok_or("no tcp routes")?;
                        let parsed = parse_l4_routes(RouteKind::Tcp, raw)?;
                        let sel = vs_ref.tcp_routes.unwrap_or_default();
                        validate_tcp_routes(&router.targets, &sel, &parsed)
                    }
                };
                out.error = r.err();
            }
            "validateVirtualServiceRouteDestinations" => {
                let parsed = parse_http_routes(&[json!({"route": step["route"]})])?;
                let dr = match &step["destinationRule"] {
                    Value::Null => None,
                    v => Some(serde_json::from_value(v.clone()).map_err(|e| e.to_string())?),
                };
                out.error = validate_route_destinations(
                    &parsed[0].route,
                    step["stableService"].as_str().unwrap_or(""),
                    step["canaryService"].as_str().unwrap_or(""),
                    dr.as_ref(),
                )
                .err();
            }
            "getHttpRouteIndexesToPatch" => {
                let raw = step["httpRoutes"].as_array().ok_or("no httpRoutes")?;
                let parsed = parse_http_routes(raw)?;
                let names: Vec<String> = serde_json::from_value(step["routeNames"].clone())
                    .map_err(|e| e.to_string())?;
                match http_route_indexes(&names, &parsed) {
                    Ok(idx) => out.result = Some(json!({"indexes": idx})),
                    Err(e) => {
                        out.result = Some(json!({"indexes": null}));
                        out.error = Some(e);
                    }
                }
            }
            "shouldDelayDestinationRuleUpdate" => {
                let router = self.router(step)?;
                let sets = replica_sets(self.test.get("replicaSets"));
                let no_services = router.targets.canary_service.is_empty()
                    && router.targets.stable_service.is_empty();
                let rs = no_services
                    .then(|| {
                        delaying_replica_set(
                            &sets,
                            step["canaryHash"].as_str().unwrap_or(""),
                            step["stableHash"].as_str().unwrap_or(""),
                            router.aborted,
                        )
                    })
                    .flatten();
                out.result = Some(json!({
                    "delay": rs.is_some(),
                    "replicaSetName": rs.map_or("", |r| r.name.as_str()),
                }));
            }
            "patchVirtualService" => {
                let mut patches = Vec::new();
                for p in step["patches"].as_array().ok_or("no patches")? {
                    patches.push(WeightPatch {
                        kind: match p["routeType"].as_str() {
                            Some("tls") => RouteKind::Tls,
                            Some("tcp") => RouteKind::Tcp,
                            _ => RouteKind::Http,
                        },
                        route_index: p["routeIndex"].as_u64().unwrap_or(0) as usize,
                        destination_index: p["destinationIndex"].as_u64().unwrap_or(0) as usize,
                        weight: p["weight"].as_i64().unwrap_or(0),
                        host: String::new(),
                        delete: false,
                    });
                }
                let mut http = step["http"].as_array().cloned().unwrap_or_default();
                out.error = apply_patches(&patches, &mut http, &mut [], &mut []).err();
            }
            "MultipleVirtualServiceConfigured" => {
                let ro = rollout_from(&canary, None)?;
                out.result = Some(json!({"result": multiple_virtual_services_configured(&ro)}));
            }
            other => return Err(format!("unknown op {other}")),
        }
        Ok(out)
    }
}

fn run_case(test: &Value, fixtures: &Fixtures, variant: Option<&str>) -> Result<(), String> {
    let mut state = ObjectSnapshot::new();
    let mut keys = Vec::new();
    for entry in test["cluster"].as_array().into_iter().flatten() {
        let (name, rename) = match entry {
            Value::String(s) => (s.as_str(), None),
            other => (other["fixture"].as_str().unwrap_or(""), other["set_metadata_name"].as_str()),
        };
        let mut obj = fixtures.get(name).cloned().ok_or(format!("unknown fixture {name}"))?;
        if let Some(n) = rename {
            obj["metadata"]["name"] = Value::from(n);
        }
        keys.push(crate::ObjectKey::of(&obj).ok_or("fixture without key")?);
        state.insert(obj);
    }
    state.replica_sets = replica_sets(test.get("replicaSets"));
    let faults = test["api_faults"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    let mut case = Case {
        test,
        fixtures,
        variant,
        state,
        faults,
        via_cache: test["reads_via_cache"].as_bool().unwrap_or(true),
        actions: Vec::new(),
        previous_output: None,
    };
    for (i, step) in test["steps"].as_array().into_iter().flatten().enumerate() {
        let start = case.actions.len();
        let out = case.step(step).map_err(|e| format!("step {i}: {e}"))?;
        let step_actions = case.actions[start..].to_vec();
        checks::check_step(&case.state, &case.actions, step, &step_actions, &out, &keys)
            .map_err(|e| format!("step {i} ({}): {e}", step["op"].as_str().unwrap_or("")))?;
    }
    Ok(())
}

fn run_test(test: &Value, fixtures: &Fixtures) -> Result<(), String> {
    if let Some(subtests) = test["subtests"].as_array() {
        for sub in subtests {
            let mut merged = test.clone();
            for (k, v) in sub.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
            run_case(&merged, fixtures, None)
                .map_err(|e| format!("subtest {:?}: {e}", sub["name"].as_str().unwrap_or("")))?;
        }
        return Ok(());
    }
    if let Some(variants) = test["variants"].as_array() {
        for v in variants {
            let v = v.as_str().unwrap_or("");
            run_case(test, fixtures, Some(v)).map_err(|e| format!("variant {v}: {e}"))?;
        }
        return Ok(());
    }
    run_case(test, fixtures, None)
}

#[test]
fn argo_istio_vectors() {
    let text = std::fs::read_to_string(FILE).expect("vector file is readable");
    let doc: Value = serde_yaml_ng::from_str(&text).expect("vector file is YAML");
    let fixtures: Fixtures = doc["fixtures"]
        .as_object()
        .expect("fixtures")
        .iter()
        .map(|(k, v)| {
            let obj: Value = serde_yaml_ng::from_str(v.as_str().expect("fixture text"))
                .expect("fixture is YAML");
            (k.clone(), obj)
        })
        .collect();
    let tests = doc["tests"].as_array().expect("tests");
    let mut per_category: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for test in tests {
        let name = test["test"].as_str().expect("test name");
        let category = test["category"].as_str().unwrap_or("?").to_owned();
        let entry = per_category.entry(category).or_default();
        if SKIPPED.iter().any(|(n, _)| *n == name) {
            entry.2 += 1;
            continue;
        }
        match run_test(test, &fixtures) {
            Ok(()) => entry.0 += 1,
            Err(e) => {
                entry.1 += 1;
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    for (cat, (pass, fail, skip)) in &per_category {
        eprintln!("{cat}: {pass} passed, {fail} failed, {skip} skipped");
    }
    assert_eq!(tests.len(), 80, "the file has 80 tests");
    assert!(failures.is_empty(), "{} failing vectors:\n{}", failures.len(), failures.join("\n"));
}
