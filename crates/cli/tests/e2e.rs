//! End to end: the real `weir` binary, `weir up --port 0` in a temporary data directory, driven
//! by its own commands as a user would.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{WEIR, Weir, fixtures, raw_http};

#[test]
fn apply_get_delete_the_seed_demo() {
    let weir = Weir::start();
    let seed = fixtures().join("seed-demo");
    let rollout_dir = seed.join("argo/rollout");
    let application_dir = seed.join("application");
    let (rollout_dir, application_dir) =
        (rollout_dir.to_str().unwrap(), application_dir.to_str().unwrap());

    let applied = weir.ok(&["apply", "-f", application_dir, "-f", rollout_dir, "-n", "bookinfo"]);
    for line in [
        "namespace/bookinfo created",
        "deployment/reviews created",
        "service/reviews created",
        "serviceaccount/bookinfo-reviews created",
        "analysistemplate/apdex created",
        "rollout/reviews-rollout created",
    ] {
        assert!(applied.lines().any(|l| l == line), "missing {line:?} in:\n{applied}");
    }
    let again = weir.ok(&["apply", "-f", application_dir, "-f", rollout_dir, "-n", "bookinfo"]);
    assert!(
        again.lines().all(|l| l.ends_with(" unchanged")),
        "second apply changed something:\n{again}"
    );

    // The Rollout comes back with its spec unchanged and server-set metadata filled in.
    let yaml = weir.ok(&["get", "ro", "reviews-rollout", "-n", "bookinfo", "-o", "yaml"]);
    let live: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let source: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(seed.join("argo/rollout/rollout.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(live["spec"], source["spec"]);
    assert_eq!(live["kind"], "Rollout");
    assert_eq!(live["metadata"]["namespace"], "bookinfo");
    assert!(live["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(live["metadata"]["generation"], 1);

    // `-o name` output is input again, as with kubectl.
    let named = weir.ok(&["get", "rollout/reviews-rollout", "-n", "bookinfo", "-o", "name"]);
    assert_eq!(named.trim(), "rollout/reviews-rollout");
    let table = weir.ok(&["get", "deploy", "-n", "bookinfo"]);
    assert!(table.starts_with("NAME "), "{table}");
    assert!(table.contains("productpage-v1"), "{table}");
    let all = weir.ok(&["get", "at", "-A"]);
    assert!(all.starts_with("NAMESPACE ") && all.contains("apdex"), "{all}");

    // `rollouts set image` changes the template the Rollout runs: with `workloadRef`, the
    // Deployment's; a container that does not exist is an error and nothing is written.
    let v2 = "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4";
    let set = ["rollouts", "set", "image", "reviews-rollout", "-n", "bookinfo"];
    let out = weir.ok(&[&set[..], &[&format!("reviews={v2}")]].concat());
    assert!(out.contains("image updated"), "{out}");
    let deployment = weir.ok(&["get", "deploy", "reviews", "-n", "bookinfo", "-o", "json"]);
    let deployment: serde_json::Value = serde_json::from_str(&deployment).unwrap();
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], v2);
    let missing = weir.fails(&[&set[..], &["nosuch=x:1"]].concat());
    assert!(missing.contains("nosuch"), "{missing}");
    let lint = weir.ok(&["rollouts", "lint", "-f", rollout_dir]);
    assert!(lint.contains("no problems"), "{lint}");

    let deleted = weir.ok(&["delete", "rollout", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(deleted.trim(), "rollout/reviews-rollout deleted");
    let missing = weir.fails(&["get", "ro", "reviews-rollout", "-n", "bookinfo"]);
    assert!(missing.contains("not found"), "{missing}");

    // The API refuses requests without the token, or with a wrong one.
    let response = raw_http(&weir.api(), "GET /api/v1/namespaces HTTP/1.1");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let response =
        raw_http(&weir.api(), "GET /api/v1/namespaces HTTP/1.1\r\nAuthorization: Bearer wrong");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let wrong = weir.fails(&["--server", &weir.api(), "--token", "wrong", "get", "ns"]);
    assert!(wrong.contains("unauthorized"), "{wrong}");
    let health = raw_http(&weir.api(), "GET /healthz HTTP/1.1");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let status = weir.stop();
    assert!(status.success(), "weir up did not stop cleanly: {status}");
}

#[test]
fn malformed_manifests_are_refused_whole_and_nothing_is_stored() {
    let weir = Weir::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n",
    )
    .unwrap();
    let error = weir.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(error.contains("bad.yaml"), "{error}");
    assert!(error.contains("nothing was applied"), "{error}");
    let missing = weir.fails(&["get", "cm", "good"]);
    assert!(missing.contains("not found"), "{missing}");
}

#[test]
fn lint_reports_every_problem_offline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rollout.yaml");
    std::fs::write(
        &file,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 150\n  template:\n    metadata:\n      labels: {app: r}\n    spec:\n      containers: [{name: c, image: i}]\n",
    )
    .unwrap();
    let output = Command::new(WEIR).args(["lint", "-f", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("rollout.yaml"), "{stderr}");
    assert!(stderr.contains("spec.selector"), "{stderr}");
    assert!(stderr.contains("SetWeight needs to be between 0 and 100"), "{stderr}");

    let seed = fixtures().join("seed-demo/argo/rollout");
    let output = Command::new(WEIR).args(["lint", "-f", seed.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_bookinfo_demo_serves_requests_through_the_gateway_and_the_mesh() {
    let weir = Weir::start_with(&["--demo"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = weir.ok(&["get", "pods", "-n", "bookinfo"]);
        let rows: Vec<&str> = pods.lines().skip(1).collect();
        let running = rows.iter().filter(|l| l.contains(" 1/1 ") && l.contains("Running")).count();
        // The four bookinfo services, plus the pods of the reviews-rollout.
        if running >= 4 && running == rows.len() {
            break;
        }
        assert!(Instant::now() < deadline, "bookinfo pods did not become ready:\n{pods}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // productpage (through the gateway) calls details and reviews, and reviews calls ratings,
    // both through the mesh listener the pods reach as HTTP_PROXY.
    let gateway = weir.endpoint("gateway");
    let mut response = String::new();
    while Instant::now() < deadline {
        response = raw_http(
            &gateway,
            "GET /api/v1/products/1/reviews HTTP/1.1\r\nHost: bookinfo.tetrate.com",
        );
        if response.starts_with("HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["service"], "productpage");
    assert_eq!(body["calls"][1]["body"]["service"], "reviews");
    assert_eq!(body["calls"][1]["body"]["calls"][0]["body"]["service"], "ratings");

    // Each service's output is in its pod's log.
    let pods = weir.ok(&["get", "pods", "-n", "bookinfo", "-o", "name"]);
    let productpage =
        pods.lines().find(|l| l.contains("productpage")).unwrap().trim_start_matches("pod/");
    let log = weir.ok(&["logs", productpage, "-n", "bookinfo"]);
    assert!(log.contains("GET /api/v1/products/1/reviews 200"), "{log}");
    let missing = weir.fails(&["logs", "nosuchpod", "-n", "bookinfo"]);
    assert!(missing.contains("not found"), "{missing}");

    // The proxy reports it with Istio's metric names and labels.
    let metrics = weir.endpoint("metrics");
    let path = metrics
        .split_once("127.0.0.1")
        .map(|(_, rest)| rest.split_once('/').map_or("/", |(_, p)| p))
        .unwrap();
    let text =
        raw_http(&metrics.replace(&format!("/{path}"), ""), &format!("GET /{path} HTTP/1.1"));
    assert!(text.contains("istio_requests_total{reporter=\"destination\""), "{text}");
    assert!(text.contains("destination_service_name=\"ratings\""), "{text}");

    let status = weir.stop();
    assert!(status.success(), "weir up did not stop cleanly: {status}");
}

/// A Deployment of the sample service behind a Service, at one version.
fn web_manifest(version: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        command: ["{WEIR}", demo, service, --name, web, --version, {version}]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {{selector: {{app: web}}, ports: [{{port: 8080, targetPort: 8080}}]}}
"#
    )
}

#[test]
fn a_rolling_update_under_load_fails_no_request() {
    let weir = Weir::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    let file = file.to_str().unwrap();
    let rolled_out = |version: &str| {
        let yaml = weir.ok(&["get", "deploy", "web", "-o", "yaml"]);
        let deploy: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let status = &deploy["status"];
        deploy["metadata"]["generation"] == status["observedGeneration"]
            && [&status["updatedReplicas"], &status["availableReplicas"], &status["replicas"]]
                .iter()
                .all(|n| **n == 3)
            && yaml.contains(&format!("- {version}"))
    };
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    std::fs::write(file, web_manifest("v1")).unwrap();
    weir.ok(&["apply", "-f", file]);
    wait_for("v1 to be rolled out", &|| rolled_out("v1"));

    // Two clients send requests through the mesh listener, as pods do, during the whole update.
    let mesh = weir.endpoint("mesh");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (mesh, stop) = (mesh.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut statuses, mut versions) = (Vec::new(), std::collections::BTreeSet::new());
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
                {
                    let response = raw_http(
                        &mesh,
                        "GET http://web.default:8080/ HTTP/1.1\r\nHost: web.default:8080",
                    );
                    statuses.push(response.lines().next().unwrap_or("").to_owned());
                    for version in ["\"v1\"", "\"v2\""] {
                        if response.contains(version) {
                            versions.insert(version.to_owned());
                        }
                    }
                }
                (statuses, versions)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(file, web_manifest("v2")).unwrap();
    assert_eq!(weir.ok(&["apply", "-f", file]).lines().next(), Some("deployment/web configured"));
    wait_for("v2 to be rolled out", &|| rolled_out("v2"));
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let (mut statuses, mut versions) = (Vec::new(), std::collections::BTreeSet::new());
    for client in clients {
        let (s, v) = client.join().unwrap();
        statuses.extend(s);
        versions.extend(v);
    }
    let failed: Vec<&String> = statuses.iter().filter(|s| !s.starts_with("HTTP/1.1 200")).collect();
    assert!(statuses.len() > 50, "too few requests: {}", statuses.len());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        statuses.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(versions.len(), 2, "both versions should have answered: {versions:?}");
}
