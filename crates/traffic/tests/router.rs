//! The router used the way the rollout controller uses it: read what `reads` names, call an
//! operation, write what it returns, against the seed's own Rollout, VirtualService and
//! DestinationRule; plus invariants over many weights (sum to 100, idempotent).

use serde_json::{Value, json};
use weir_model::rollouts::{Rollout, SetHeaderRoute, SetMirrorRoute, WeightDestination};
use weir_traffic::{
    IstioRouter, Lookup, ObjectKey, ObjectSnapshot, ObjectUpdate, Operation,
    ReplicaSetAvailability, RouterError, TrafficRouter,
};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/seed-demo/argo");

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{SEED}/{path}")).expect("seed file");
    serde_yaml_ng::from_str(&text).expect("seed YAML")
}

fn seed_rollout() -> Rollout {
    let mut ro = yaml("rollout/rollout.yaml");
    ro["metadata"]["namespace"] = json!("bookinfo");
    serde_json::from_value(ro).expect("the seed rollout is a valid Rollout")
}

/// The seed's `reviews` VirtualService and DestinationRule, in namespace `bookinfo`.
fn seed_objects() -> ObjectSnapshot {
    let conf = yaml("tse/conf.yaml");
    let items = conf.get("items").or(Some(&conf)).and_then(Value::as_array).expect("items");
    let mut objects = ObjectSnapshot::new();
    for item in items {
        let kind = item["kind"].as_str().unwrap_or("");
        if (kind == "VirtualService" || kind == "DestinationRule")
            && item["metadata"]["name"] == "reviews"
        {
            let mut item = item.clone();
            item["metadata"]["namespace"] = json!("bookinfo");
            assert!(objects.insert(item));
        }
    }
    objects
}

fn rollout(canary: Value) -> Rollout {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"strategy": {"canary": canary}},
    }))
    .expect("valid rollout")
}

fn host_level_vs() -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"hosts": ["app"], "http": [{"name": "primary", "timeout": "5s", "route": [
            {"destination": {"host": "app-stable.default.svc.cluster.local"}, "weight": 100},
            {"destination": {"host": "app-canary.default.svc.cluster.local"}, "weight": 0}
        ]}]}
    })
}

fn host_level_router(extra: Value) -> IstioRouter {
    let mut canary = json!({
        "stableService": "app-stable", "canaryService": "app-canary",
        "trafficRouting": {"istio": {"virtualService": {"name": "app", "routes": ["primary"]}}},
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        canary[k] = v.clone();
    }
    IstioRouter::new(&rollout(canary)).expect("istio rollout")
}

/// What the controller does: the snapshot holds what `reads` names; each update is written.
fn run(
    router: &dyn TrafficRouter,
    objects: &mut ObjectSnapshot,
    op: Operation,
    call: impl FnOnce(&dyn TrafficRouter, &ObjectSnapshot) -> Result<Vec<ObjectUpdate>, RouterError>,
) -> Result<Vec<ObjectUpdate>, RouterError> {
    for key in router.reads(op) {
        assert!(matches!(objects.get(&key), Lookup::Found(_)), "{key:?} is read");
    }
    let updates = call(router, objects)?;
    for u in &updates {
        assert_eq!(u.operation, op);
        objects.apply(u);
    }
    Ok(updates)
}

fn object(objects: &ObjectSnapshot, kind: &str, namespace: &str, name: &str) -> Value {
    let key = ObjectKey {
        api_version: "networking.istio.io/v1alpha3".into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    match objects.get(&key) {
        Lookup::Found(v) => v.clone(),
        other => panic!("{kind} {name}: {other:?}"),
    }
}

fn weights(vs: &Value, route: usize) -> Vec<i64> {
    vs["spec"]["http"][route]["route"]
        .as_array()
        .expect("route")
        .iter()
        .map(|d| d["weight"].as_i64().unwrap_or(0))
        .collect()
}

fn available(name: &str, hash: &str, replicas: i32, available: i32) -> ReplicaSetAvailability {
    ReplicaSetAvailability {
        name: name.into(),
        pod_template_hash: hash.into(),
        replicas,
        available_replicas: available,
    }
}

#[test]
fn the_seed_rollout_walks_its_steps_on_the_seed_mesh_objects() {
    let router = IstioRouter::new(&seed_rollout()).expect("istio rollout");
    let router: &dyn TrafficRouter = &router;
    assert_eq!(router.type_name(), "Istio");
    let mut objects = seed_objects();
    objects.replica_sets =
        vec![available("reviews-s1", "s1", 5, 5), available("reviews-c1", "c1", 1, 0)];

    // Subset-level routing without Services: the switch waits for the canary's pods.
    let err =
        run(router, &mut objects, Operation::UpdateHash, |r, o| r.update_hash(o, "c1", "s1", &[]))
            .expect_err("canary not available yet");
    assert_eq!(err, RouterError::Delayed { replica_set: "reviews-c1".into() });
    objects.replica_sets[1].available_replicas = 1;
    let updates =
        run(router, &mut objects, Operation::UpdateHash, |r, o| r.update_hash(o, "c1", "s1", &[]))
            .expect("hashes");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].event_reason, "UpdatedDestinationRule");
    let dr = object(&objects, "DestinationRule", "bookinfo", "reviews");
    assert_eq!(
        dr["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"],
        "reviews-rollout"
    );
    assert_eq!(
        dr["metadata"]["annotations"]["tsb.tetrate.io/tenant"], "tse",
        "other annotations stay"
    );
    assert_eq!(
        dr["spec"]["subsets"][0]["labels"],
        json!({"app": "reviews", "version": "stable", "rollouts-pod-template-hash": "s1"})
    );
    assert_eq!(dr["spec"]["subsets"][1]["labels"]["rollouts-pod-template-hash"], "c1");
    let again =
        run(router, &mut objects, Operation::UpdateHash, |r, o| r.update_hash(o, "c1", "s1", &[]));
    assert!(again.expect("no change").is_empty(), "same hashes: nothing to write");

    let steps: Vec<i32> = seed_rollout()
        .spec
        .strategy
        .and_then(|s| s.canary)
        .map_or(vec![], |c| c.steps().iter().filter_map(|s| s.set_weight).collect());
    assert_eq!(steps, [10, 20, 40, 60, 80]);
    for w in steps.into_iter().chain([100, 0]) {
        let updates =
            run(router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, w, &[]))
                .expect("weights");
        assert_eq!(updates.len(), 1, "weight {w} is one write");
        assert_eq!(
            updates[0].event_message,
            format!("VirtualService `reviews` set to desiredWeight '{w}'")
        );
        let vs = object(&objects, "VirtualService", "bookinfo", "reviews");
        assert_eq!(weights(&vs, 0), [i64::from(100 - w), i64::from(w)]);
        assert_eq!(vs["spec"]["hosts"], json!(["reviews"]), "the rest of the object stays");
        let again = run(router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, w, &[]));
        assert!(again.expect("no change").is_empty(), "weight {w} again: nothing to write");
    }
    assert_eq!(router.verify_weight(&objects, 0, &[]), Ok(None));
}

#[test]
fn weights_sum_to_100_and_reconcile_is_idempotent() {
    let router = host_level_router(json!({}));
    let exp = |name: &str, weight| WeightDestination {
        service_name: Some(name.into()),
        pod_template_hash: Some(format!("{name}-hash")),
        weight,
    };
    for w in (0..=100).step_by(5) {
        for experiments in [vec![], vec![exp("exp-a", 5)], vec![exp("exp-b", 10), exp("exp-a", 5)]]
        {
            let total: i32 = experiments.iter().map(|e| e.weight).sum();
            let mut objects = ObjectSnapshot::new();
            objects.insert(host_level_vs());
            run(&router, &mut objects, Operation::SetWeight, |r, o| {
                r.set_weight(o, w, &experiments)
            })
            .expect("weights");
            let vs = object(&objects, "VirtualService", "default", "app");
            let ws = weights(&vs, 0);
            let expected_len = 2 + experiments.iter().filter(|e| e.weight != 0).count();
            assert_eq!(ws.len(), expected_len, "w={w} experiments={total}");
            if w + total <= 100 {
                assert_eq!(ws.iter().sum::<i64>(), 100, "w={w} experiments={total}: {ws:?}");
            } else {
                assert_eq!(ws[0], 0, "stable is floored at 0");
            }
            assert_eq!(vs["spec"]["http"][0]["timeout"], "5s");
            let again = router.set_weight(&objects, w, &experiments).expect("weights");
            assert!(again.is_empty(), "w={w}: second reconcile writes nothing");
            // Back to no experiment: their destinations go, and the split is whole again.
            run(&router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, w, &[]))
                .expect("weights");
            let vs = object(&objects, "VirtualService", "default", "app");
            assert_eq!(weights(&vs, 0), [i64::from(100 - w), i64::from(w)]);
        }
    }
}

#[test]
fn managed_routes_go_first_and_are_removed_at_the_end() {
    let router = host_level_router(json!({
        "trafficRouting": {
            "managedRoutes": [{"name": "mirror"}, {"name": "header"}],
            "istio": {"virtualService": {"name": "app", "routes": ["primary"]}}
        },
        "steps": [{"setWeight": 20}, {"setHeaderRoute": {"name": "header"}}]
    }));
    let mut objects = ObjectSnapshot::new();
    objects.insert(host_level_vs());
    run(&router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, 20, &[]))
        .expect("weights");
    let before = object(&objects, "VirtualService", "default", "app");

    let header: SetHeaderRoute = serde_json::from_value(json!({
        "name": "header", "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}]
    }))
    .expect("header route");
    let mirror: SetMirrorRoute = serde_json::from_value(json!({
        "name": "mirror", "percentage": 50, "match": [{"method": {"exact": "GET"}}]
    }))
    .expect("mirror route");
    run(&router, &mut objects, Operation::SetHeaderRoute, |r, o| r.set_header_route(o, &header))
        .expect("header");
    run(&router, &mut objects, Operation::SetMirrorRoute, |r, o| r.set_mirror_route(o, &mirror))
        .expect("mirror");
    let again = router.set_header_route(&objects, &header).expect("header");
    assert!(again.is_empty(), "the same header route again: nothing to write");

    let vs = object(&objects, "VirtualService", "default", "app");
    let names: Vec<&str> = vs["spec"]["http"]
        .as_array()
        .expect("http")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["mirror", "header", "primary"]);
    assert_eq!(
        vs["spec"]["http"][1]["route"],
        json!([
            {"destination": {"host": "app-canary"}, "weight": 100}
        ])
    );
    assert_eq!(vs["spec"]["http"][0]["mirror"], json!({"host": "app-canary"}));
    assert_eq!(weights(&vs, 0), [80, 20], "the mirror route copies the current split");

    // SetWeight keeps the managed mirror route in step with the weighted route.
    run(&router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, 40, &[]))
        .expect("weights");
    let vs = object(&objects, "VirtualService", "default", "app");
    assert_eq!(weights(&vs, 0), [60, 40]);
    assert_eq!(weights(&vs, 2), [60, 40]);

    run(&router, &mut objects, Operation::SetWeight, |r, o| r.set_weight(o, 20, &[]))
        .expect("weights");
    let updates = run(&router, &mut objects, Operation::RemoveManagedRoutes, |r, o| {
        r.remove_managed_routes(o)
    })
    .expect("removal");
    assert_eq!(updates.len(), 1);
    assert_eq!(object(&objects, "VirtualService", "default", "app"), before);
    let again = router.remove_managed_routes(&objects).expect("removal");
    assert!(again.is_empty(), "nothing left to remove");
}

#[test]
fn virtual_services_in_other_namespaces_and_missing_objects() {
    let router = IstioRouter::new(&rollout(json!({
        "stableService": "app-stable", "canaryService": "app-canary",
        "trafficRouting": {"istio": {"virtualServices": [
            {"name": "app", "routes": ["primary"]},
            {"name": "app.edge", "routes": ["primary"]}
        ]}},
    })))
    .expect("istio rollout")
    .with_api_version("networking.istio.io/v1beta1");
    let keys = router.reads(Operation::SetWeight);
    let where_: Vec<(&str, &str, &str)> = keys
        .iter()
        .map(|k| (k.api_version.as_str(), k.namespace.as_str(), k.name.as_str()))
        .collect();
    assert_eq!(
        where_,
        [
            ("networking.istio.io/v1beta1", "default", "app"),
            ("networking.istio.io/v1beta1", "edge", "app")
        ]
    );

    let mut objects = ObjectSnapshot::new();
    let mut vs = host_level_vs();
    vs["apiVersion"] = json!("networking.istio.io/v1beta1");
    objects.insert(vs.clone());
    let err = router.set_weight(&objects, 10, &[]).expect_err("edge/app is missing");
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), r#"virtualservices.networking.istio.io "app" not found"#);
    // Removing managed routes skips a VirtualService that is gone.
    assert_eq!(router.remove_managed_routes(&objects), Ok(vec![]));

    vs["metadata"]["namespace"] = json!("edge");
    objects.insert(vs);
    let updates = router.set_weight(&objects, 10, &[]).expect("both exist");
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].key.namespace, "edge");

    objects.record(keys[1].clone(), Lookup::Failed("connection refused".into()));
    let err = router.remove_managed_routes(&objects).expect_err("read failed");
    assert_eq!(
        err.to_string(),
        "[RemoveManagedRoutes] failed to get virtual service: connection refused"
    );
    assert_eq!(
        updates[0].failed("the object has been modified").to_string(),
        "[SetWeight] failed to update virtual service: the object has been modified"
    );
}

#[test]
fn invalid_routes_are_reported_not_panicked_on() {
    let router = host_level_router(json!({}));
    let cases = [
        (json!({"http": "invalid"}), None),
        (json!({"http": [{"name": "primary", "route": "x"}]}), Some("cannot unmarshal")),
        (
            json!({"http": [{"name": "other", "route": []}]}),
            Some("HTTP Route 'primary' is not found"),
        ),
        (
            json!({"http": [{"name": "primary", "route": [{"destination": {"host": "app-stable"}}]}]}),
            Some("Canary Service 'app-canary' not found in route"),
        ),
        (json!({"tls": [{"route": [7]}]}), Some("cannot unmarshal")),
    ];
    for (spec, want) in cases {
        let mut vs = host_level_vs();
        vs["spec"] = spec.clone();
        let mut objects = ObjectSnapshot::new();
        objects.insert(vs);
        let got = router.set_weight(&objects, 10, &[]);
        match want {
            None => assert_eq!(got, Ok(vec![]), "{spec}: nothing Argo would touch"),
            Some(w) => {
                let err = got.expect_err("invalid");
                assert!(err.to_string().contains(w), "{spec}: {err}");
            }
        }
    }
}

mod properties {
    //! Property tests: from any starting VirtualService weights (with a foreign destination,
    //! managed header/mirror routes in front, the route listed twice by a mirror), any weight
    //! sequence keeps every weighted route summing to 100 and a repeated call writes nothing.

    use proptest::prelude::*;

    use super::*;

    /// The host-level VirtualService with arbitrary initial weights and optional extras.
    fn start_vs(stable: i64, canary: i64, foreign: Option<i64>) -> Value {
        let mut vs = host_level_vs();
        let route = vs["spec"]["http"][0]["route"].as_array_mut().expect("route");
        route[0]["weight"] = json!(stable);
        route[1]["weight"] = json!(canary);
        if let Some(w) = foreign {
            route.push(json!({"destination": {"host": "other-svc"}, "weight": w}));
        }
        vs
    }

    fn router_with_managed_routes() -> IstioRouter {
        host_level_router(json!({
            "trafficRouting": {
                "managedRoutes": [{"name": "mirror"}, {"name": "header"}],
                "istio": {"virtualService": {"name": "app", "routes": ["primary"]}}
            },
        }))
    }

    fn check_sums(vs: &Value, experiments: i32, w: i32) -> Result<(), TestCaseError> {
        for (i, route) in vs["spec"]["http"].as_array().expect("http").iter().enumerate() {
            if route.get("match").is_some() && route["name"] == "header" {
                continue; // the header route sends 100 % to the canary by design
            }
            let ws = weights(vs, i);
            if w + experiments <= 100 {
                prop_assert_eq!(ws.iter().sum::<i64>(), 100, "route {}: {:?}", i, ws);
            }
            prop_assert!(ws.iter().all(|x| (0..=100).contains(x)), "route {}: {:?}", i, ws);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_weight_sequence_sums_to_100_and_is_idempotent(
            initial in (0..=100i64, 0..=100i64, prop::option::of(0..=20i64)),
            sequence in prop::collection::vec(0..=100i32, 1..8),
            experiment in prop::option::of(1..=20i32),
            with_routes in any::<bool>(),
        ) {
            let router = router_with_managed_routes();
            let mut objects = ObjectSnapshot::new();
            objects.insert(start_vs(initial.0, initial.1, initial.2));
            if with_routes {
                let header: SetHeaderRoute = serde_json::from_value(json!({"name": "header",
                    "match": [{"headerName": "agent", "headerValue": {"exact": "x"}}]}))
                    .expect("header route");
                let mirror: SetMirrorRoute = serde_json::from_value(json!({"name": "mirror",
                    "percentage": 50, "match": [{"method": {"exact": "GET"}}]}))
                    .expect("mirror route");
                run(&router, &mut objects, Operation::SetHeaderRoute,
                    |r, o| r.set_header_route(o, &header)).expect("header");
                run(&router, &mut objects, Operation::SetMirrorRoute,
                    |r, o| r.set_mirror_route(o, &mirror)).expect("mirror");
            }
            let experiments: Vec<WeightDestination> = experiment
                .map(|weight| WeightDestination {
                    service_name: Some("exp".into()),
                    pod_template_hash: Some("exp-hash".into()),
                    weight,
                })
                .into_iter()
                .collect();
            let total: i32 = experiments.iter().map(|e| e.weight).sum();
            for w in sequence {
                run(&router, &mut objects, Operation::SetWeight, |r, o| {
                    r.set_weight(o, w, &experiments)
                })
                .expect("set weight");
                let vs = object(&objects, "VirtualService", "default", "app");
                check_sums(&vs, total, w)?;
                let again = router.set_weight(&objects, w, &experiments).expect("again");
                prop_assert!(again.is_empty(), "a repeated SetWeight {} writes nothing", w);
                let primary = vs["spec"]["http"].as_array().expect("http").iter()
                    .position(|r| r["name"] == "primary").expect("primary");
                let hosts: Vec<&str> = vs["spec"]["http"][primary]["route"].as_array()
                    .expect("route").iter()
                    .filter_map(|d| d["destination"]["host"].as_str()).collect();
                prop_assert!(!hosts.contains(&"other-svc") || initial.2 == Some(0),
                    "the foreign destination is removed: {:?}", hosts);
            }
            run(&router, &mut objects, Operation::RemoveManagedRoutes,
                |r, o| r.remove_managed_routes(o)).expect("remove");
            let vs = object(&objects, "VirtualService", "default", "app");
            prop_assert_eq!(vs["spec"]["http"].as_array().map(Vec::len), Some(1));
        }
    }
}
