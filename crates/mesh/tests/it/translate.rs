//! The translation of the bookinfo demo's own objects (the seed's Services and Istio config),
//! and of broken configs, into the proxy's route table.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use std::time::Duration;
use weir_mesh::{Endpoint, EndpointPort, MeshObjects, Translation, translate};
use weir_model::istio::{DestinationRule, Gateway, VirtualService};
use weir_model::typed::TypedObject;

use weir_proxy::{HeaderMatch, LoadBalancer, OutlierDetection, StringMatch};

struct Objects {
    services: Vec<k8s_openapi::api::core::v1::Service>,
    virtual_services: Vec<VirtualService>,
    destination_rules: Vec<DestinationRule>,
    gateways: Vec<Gateway>,
}

fn bookinfo(extra_istio: &str) -> Objects {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bookinfo");
    let mut objects = Objects {
        services: vec![],
        virtual_services: vec![],
        destination_rules: vec![],
        gateways: vec![],
    };
    let files = [
        std::fs::read_to_string(format!("{root}/application/bookinfo.yaml")).unwrap(),
        std::fs::read_to_string(format!("{root}/istio/conf.yaml")).unwrap(),
        extra_istio.to_owned(),
    ];
    for text in files {
        for (_, typed) in weir_model::parse::read_manifests("test.yaml", &text).unwrap() {
            match typed {
                TypedObject::Service(mut s) => {
                    s.metadata.namespace = Some("bookinfo".into());
                    objects.services.push(*s);
                }
                TypedObject::VirtualService(mut v) => {
                    v.metadata.namespace = Some("bookinfo".into());
                    objects.virtual_services.retain(|o| o.metadata.name != v.metadata.name);
                    objects.virtual_services.push(*v);
                }
                TypedObject::DestinationRule(mut d) => {
                    d.metadata.namespace = Some("bookinfo".into());
                    objects.destination_rules.retain(|o| o.metadata.name != d.metadata.name);
                    objects.destination_rules.push(*d);
                }
                TypedObject::Gateway(mut g) => {
                    g.metadata.namespace = Some("bookinfo".into());
                    objects.gateways.push(*g);
                }
                _ => {}
            }
        }
    }
    objects
}

fn pod(name: &str, labels: &[(&str, &str)], ready: bool, port: u16) -> Endpoint {
    Endpoint {
        namespace: "bookinfo".into(),
        pod: name.into(),
        labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect::<BTreeMap<_, _>>(),
        ready,
        workload: name.rsplit_once('-').map_or(name, |(w, _)| w).into(),
        ports: vec![EndpointPort { name: None, container_port: 9080, address: addr(port) }],
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        pod("reviews-a", &[("app", "reviews"), ("version", "stable")], true, 10001),
        pod("reviews-b", &[("app", "reviews"), ("version", "stable")], true, 10002),
        pod("reviews-c", &[("app", "reviews"), ("version", "canary")], true, 10003),
        pod("reviews-d", &[("app", "reviews"), ("version", "canary")], false, 10004),
        pod("productpage-a", &[("app", "productpage"), ("version", "v1")], true, 10005),
    ]
}

fn run(objects: &Objects, endpoints: &[Endpoint]) -> Translation {
    translate(&MeshObjects {
        services: &objects.services,
        endpoints,
        virtual_services: &objects.virtual_services,
        destination_rules: &objects.destination_rules,
        gateways: &objects.gateways,
    })
}

#[test]
fn the_seed_demo_translates_without_problems() {
    let objects = bookinfo("");
    let endpoints = endpoints();
    let t = run(&objects, &endpoints);
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    t.table.validate().unwrap();

    // The gateway serves bookinfo.tetrate.com with the seed's productpage matches.
    let [gateway] = t.table.gateway.as_slice() else { panic!("{:?}", t.table.gateway) };
    assert_eq!(gateway.hosts, ["bookinfo.tetrate.com"]);
    let route = &gateway.routes[0];
    assert_eq!(route.matches.len(), 5);
    assert_eq!(route.matches[0].uri, Some(StringMatch::Exact("/productpage".into())));
    assert_eq!(route.matches[4].uri, Some(StringMatch::Prefix("/api/v1/products".into())));
    assert_eq!(route.destinations[0].backend, "bookinfo/productpage:9080");
    assert_eq!(t.table.backends["bookinfo/productpage:9080"].endpoints, [addr(10005)]);

    // reviews: the seed's 100/0 split over the DestinationRule's subsets, ready pods only.
    let reviews = t.table.mesh.iter().find(|v| v.name == "bookinfo/reviews:9080").unwrap();
    assert!(reviews.hosts.contains(&"reviews.bookinfo.svc.cluster.local".to_owned()));
    let split: Vec<(&str, u32)> =
        reviews.routes[0].destinations.iter().map(|d| (d.backend.as_str(), d.weight)).collect();
    assert_eq!(split, [("bookinfo/reviews:9080/stable", 100), ("bookinfo/reviews:9080/canary", 0)]);
    assert_eq!(
        t.table.backends["bookinfo/reviews:9080/stable"].endpoints,
        [addr(10001), addr(10002)]
    );
    assert_eq!(t.table.backends["bookinfo/reviews:9080/canary"].endpoints, [addr(10003)]);
    let labels = &t.table.backends["bookinfo/reviews:9080/canary"].labels;
    assert_eq!(
        (labels.version.as_str(), labels.service.as_str()),
        ("canary", "reviews.bookinfo.svc.cluster.local")
    );

    // A Service without a VirtualService load-balances over its ready endpoints.
    assert!(t.table.mesh.iter().any(|v| v.name == "bookinfo/details:9080"));
}

#[test]
fn header_routes_and_timeouts_are_translated() {
    let objects = bookinfo(
        r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: canary-header
    match: [{headers: {x-canary: {exact: "yes"}, x-debug: {}}}]
    route: [{destination: {host: reviews, subset: canary}}]
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,connect-failure"}
  - route: [{destination: {host: reviews, subset: stable}}]
"#,
    );
    let t = run(&objects, &endpoints());
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    let reviews = t.table.mesh.iter().find(|v| v.name == "bookinfo/reviews:9080").unwrap();
    let first = &reviews.routes[0];
    assert_eq!(
        first.matches[0].headers[0],
        ("x-canary".into(), HeaderMatch::Value(StringMatch::Exact("yes".into())))
    );
    assert_eq!(first.matches[0].headers[1], ("x-debug".into(), HeaderMatch::Present));
    assert_eq!(first.timeout, Some(std::time::Duration::from_secs(2)));
    let retries = first.retries.as_ref().unwrap();
    assert_eq!((retries.attempts, retries.retry_on.five_xx), (3, true));
    assert_eq!(first.destinations[0].weight, 100);
}

#[test]
fn broken_virtual_services_are_reported_and_left_out() {
    let objects = bookinfo(
        r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: nosuch}, weight: 50}
    - {destination: {host: reviews, subset: stable}, weight: 50}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  gateways: [missing-gateway]
  http:
  - route:
    - {destination: {host: ratings, subset: v1}, weight: 0}
    - {destination: {host: ratings, subset: v1}, weight: 0}
    timeout: soon
"#,
    );
    let t = run(&objects, &endpoints());
    let reviews = &t.problems["VirtualService/bookinfo/reviews"];
    assert!(reviews.iter().any(|p| p.contains("subset \"nosuch\"")), "{reviews:?}");
    let ratings = &t.problems["VirtualService/bookinfo/ratings"];
    for needle in [
        "gateway \"missing-gateway\" not found",
        "all destination weights are 0",
        "invalid duration \"soon\"",
    ] {
        assert!(ratings.iter().any(|p| p.contains(needle)), "{needle}: {ratings:?}");
    }
    // The broken VirtualService's routes are not installed: reviews keeps its default route.
    let vhost = t.table.mesh.iter().find(|v| v.name == "bookinfo/reviews:9080").unwrap();
    assert_eq!(vhost.routes[0].destinations[0].backend, "bookinfo/reviews:9080");
    t.table.validate().unwrap();
}

#[test]
fn outlier_detection_is_translated_and_a_subset_policy_wins() {
    let objects = bookinfo(
        r#"
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 15s}
  subsets:
  - name: stable
    labels: {version: stable}
  - name: canary
    labels: {version: canary}
    trafficPolicy:
      outlierDetection: {consecutiveGatewayErrors: 2, maxEjectionPercent: 100, minHealthPercent: 50}
"#,
    );
    let t = run(&objects, &endpoints());
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    let stable = &t.table.backends["bookinfo/reviews:9080/stable"];
    assert_eq!(stable.load_balancer, LoadBalancer::RoundRobin);
    assert_eq!(
        stable.outlier,
        Some(OutlierDetection {
            consecutive_5xx_errors: 3,
            consecutive_gateway_errors: 0,
            interval: Duration::from_secs(1),
            base_ejection_time: Duration::from_secs(15),
            max_ejection_percent: 10,
        })
    );
    // the subset's outlierDetection replaces the rule's; its load balancer is inherited
    let canary = &t.table.backends["bookinfo/reviews:9080/canary"];
    assert_eq!(canary.load_balancer, LoadBalancer::RoundRobin);
    assert_eq!(
        canary.outlier,
        Some(OutlierDetection {
            consecutive_gateway_errors: 2,
            max_ejection_percent: 100,
            ..OutlierDetection::default()
        })
    );
    let warnings = &t.warnings["DestinationRule/bookinfo/reviews"];
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("spec.subsets[1].trafficPolicy.outlierDetection.minHealthPercent")),
        "{warnings:?}"
    );
    // backends without a DestinationRule keep today's behaviour
    assert_eq!(t.table.backends["bookinfo/productpage:9080"].outlier, None);
    t.table.validate().unwrap();
}

#[test]
fn a_bad_outlier_duration_is_a_problem_of_the_destination_rule() {
    let objects = bookinfo(
        r#"
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {interval: soon, maxEjectionPercent: 150}
  subsets:
  - name: stable
    labels: {version: stable}
  - name: canary
    labels: {version: canary}
    trafficPolicy:
      outlierDetection: {baseEjectionTime: 0s}
"#,
    );
    let t = run(&objects, &endpoints());
    let problems = &t.problems["DestinationRule/bookinfo/reviews"];
    for needle in [
        "spec.trafficPolicy.outlierDetection.interval: invalid duration \"soon\"",
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent: 150 is outside 0..=100",
        "spec.subsets[1].trafficPolicy.outlierDetection.baseEjectionTime: must be at least 1ms",
    ] {
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle}: {problems:?}");
    }
    // the broken settings are left out; the rest of the table serves
    assert_eq!(t.table.backends["bookinfo/reviews:9080/stable"].outlier, None);
    assert_eq!(t.table.backends["bookinfo/reviews:9080/canary"].outlier, None);
    t.table.validate().unwrap();
}

#[test]
fn connection_pool_settings_bound_the_backends_and_a_subset_inherits_them() {
    let objects = bookinfo(
        r#"
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 100}
      http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1, idleTimeout: 30s}
  subsets:
  - name: stable
    labels: {version: stable}
  - name: canary
    labels: {version: canary}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 5}
        http: {http2MaxRequests: -1}
"#,
    );
    let t = run(&objects, &endpoints());
    let rule = weir_proxy::ConnectionPool {
        max_connections: 100,
        max_pending_requests: 10,
        max_requests_per_connection: 1,
        idle_timeout: Duration::from_secs(30),
        ..weir_proxy::ConnectionPool::default()
    };
    assert_eq!(t.table.backends["bookinfo/reviews:9080/stable"].connection_pool, rule);
    // the subset sets maxConnections and inherits the rest; its negative count is a problem
    let canary = t.table.backends["bookinfo/reviews:9080/canary"].connection_pool;
    assert_eq!(canary, weir_proxy::ConnectionPool { max_connections: 5, ..rule });
    let problems = &t.problems["DestinationRule/bookinfo/reviews"];
    assert!(
        problems.iter().any(|p| p
            == "spec.subsets[1].trafficPolicy.connectionPool.http.http2MaxRequests: must not be negative"),
        "{problems:?}"
    );
    // backends without a DestinationRule get Envoy's default bounds
    assert_eq!(
        t.table.backends["bookinfo/productpage:9080"].connection_pool,
        weir_proxy::ConnectionPool::default()
    );
    t.table.validate().unwrap();
}
