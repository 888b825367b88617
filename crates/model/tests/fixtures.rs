//! weir-model against real manifests and the CRDs' schemas (one test binary: link time).
//!
//! - `fixtures_round_trip`: every manifest under `shared/fixtures` parses, converts into its
//!   type and back without changing a value.
//! - `crd_schema_coverage`: a maximal instance generated from each typed kind's CRD schema
//!   (every property present) round-trips through the model, so a field the model lacks or
//!   misnames fails the test.
//! - `parse_*`: parse errors name file, document, object, field, line and column.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use weir_cluster::Object;
use weir_model::parse::{
    self, MAX_DOCUMENT_BYTES, ParsedDocument, check_manifests, parse_manifests,
};
use weir_model::typed::TypedObject;

fn fixtures() -> PathBuf {
    match std::env::var_os("WEIR_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    }
}

/// Files under the fixture folders that are not Kubernetes manifests.
const NOT_MANIFESTS: &[(&str, &str)] = &[
    ("argo-rollouts-examples/helm-blue-green/templates/", "Helm templates, not plain YAML"),
    ("argo-rollouts-examples/helm-blue-green/Chart.yaml", "Helm chart metadata, not an object"),
    ("argo-rollouts-examples/helm-blue-green/values.yaml", "Helm values, not an object"),
];

fn manifest_files() -> Vec<(String, String)> {
    let root = fixtures();
    let mut files = Vec::new();
    for dir in ["seed-demo", "argo-rollouts-examples", "argo-cd-examples", "crds"] {
        collect(&root, &root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 40, "fixtures not found under {}", root.display());
    files
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if NOT_MANIFESTS.iter().any(|(prefix, _)| rel.starts_with(prefix)) {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else if rel.ends_with(".yaml") || rel.ends_with(".yml") || rel.ends_with(".json") {
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// Paths (and the two values) where `a` and `b` differ.
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(w) => diff(v, w, &p, out),
                    None => out.push(format!("{p}: lost ({v})")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: added ({w})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} became {b}")),
        _ => {}
    }
}

fn round_trip(doc: &ParsedDocument) -> Result<bool, String> {
    let typed = TypedObject::decode(&doc.object).map_err(|e| e.to_string())?;
    let before = doc.object.to_value();
    let after = typed.to_object().to_value();
    let mut diffs = Vec::new();
    diff(&before, &after, "", &mut diffs);
    if diffs.is_empty() {
        Ok(!typed.is_generic())
    } else {
        diffs.truncate(10);
        Err(diffs.join("; "))
    }
}

/// Kinds the fixtures README says must parse into the model, never stay generic.
const MUST_BE_TYPED: &[(&str, &str)] = &[
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("argoproj.io/v1alpha1", "ClusterAnalysisTemplate"),
    ("argoproj.io/v1alpha1", "Experiment"),
    ("argoproj.io/v1alpha1", "Application"),
    ("argoproj.io/v1alpha1", "AppProject"),
    ("networking.istio.io/", "VirtualService"),
    ("networking.istio.io/", "DestinationRule"),
    ("networking.istio.io/", "Gateway"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "Namespace"),
];

/// Fixture documents that are invalid as written, with the reason; each must fail to parse
/// with the given message (so lint reports it) and is otherwise skipped.
const INVALID_FIXTURES: &[(&str, usize, &str, &str)] = &[(
    "argo-rollouts-examples/traffic-management/rollout-linkerd.yaml",
    5,
    "invalid map key",
    "upstream writes `linkerd.io/inject: {{args.linkerd-enabled}}` unquoted: a YAML flow \
     mapping whose key is a mapping, which Kubernetes' YAML-to-JSON conversion rejects too",
)];

#[test]
fn fixtures_round_trip() {
    let mut failures = Vec::new();
    let (mut typed, mut generic) = (0, 0);
    let mut generic_kinds = std::collections::BTreeSet::new();
    for (file, text) in manifest_files() {
        let parsed = parse_manifests(&file, &text);
        for error in &parsed.errors {
            let expected = INVALID_FIXTURES.iter().any(|(f, doc, message, _)| {
                *f == file && error.document == Some(*doc) && error.message.contains(message)
            });
            if !expected {
                failures.push(format!("parse: {error}"));
            }
        }
        for doc in &parsed.documents {
            let what = format!(
                "{file}: document {} ({}/{})",
                doc.document,
                doc.object.kind,
                doc.object.name()
            );
            match round_trip(doc) {
                Ok(true) => typed += 1,
                Ok(false) => {
                    generic += 1;
                    generic_kinds.insert(doc.object.kind.clone());
                    let (api_version, kind) = (&doc.object.api_version, &doc.object.kind);
                    if MUST_BE_TYPED.iter().any(|(a, k)| api_version.starts_with(a) && k == kind) {
                        failures.push(format!("{what}: kept generic"));
                    }
                }
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
    }
    eprintln!(
        "{typed} typed and {generic} generic objects round-tripped; generic kinds: {generic_kinds:?}"
    );
    for failure in &failures {
        eprintln!("FAIL {failure}");
    }
    assert!(failures.is_empty(), "{} fixture documents failed (see stderr)", failures.len());
    assert!(typed > 50, "too few typed objects: {typed}");
}

#[test]
fn fixtures_seed_demo_and_argo_cd_examples_lint_clean() {
    let mut problems = Vec::new();
    for (file, text) in manifest_files() {
        if file.starts_with("seed-demo/") || file.starts_with("argo-cd-examples/") {
            let report = check_manifests(&file, &text);
            assert!(report.documents > 0, "{file}");
            problems.extend(report.problems.iter().map(ToString::to_string));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------------
// CRD schema coverage

/// Generates a maximal instance of an OpenAPI v3 schema: every property present.
fn maximal(schema: &Value) -> Value {
    let s = schema.as_object().expect("schema is an object");
    let ty = s.get("type").and_then(Value::as_str);
    if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        // Quantities (`resources.limits`, …) carry a pattern; k8s-openapi keeps them as
        // strings, so give them a realistic string value.
        return if s.contains_key("pattern") { json!("1") } else { json!(1) };
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        let mut out = Map::new();
        for (name, sub) in props {
            out.insert(name.clone(), realistic(name, sub).unwrap_or_else(|| maximal(sub)));
        }
        return Value::Object(out);
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        return values.first().cloned().unwrap_or(json!("x"));
    }
    match ty {
        Some("string") => match s.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2024-01-01T00:00:00Z"),
            Some("byte") => json!("eA=="),
            _ => json!("x"),
        },
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") => json!([maximal(&s["items"])]),
        _ => match s.get("additionalProperties") {
            Some(sub @ Value::Object(_)) => json!({ "key": maximal(sub) }),
            _ if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) => {
                json!({ "k": "v" })
            }
            _ => json!({}),
        },
    }
}

/// Values for schema nodes that leave a Kubernetes type open (`x-kubernetes-preserve-unknown-
/// fields` without a type) where the model embeds the k8s-openapi type: `{"k": "v"}` would
/// not be a valid value of that type, so a realistic one is generated instead.
fn realistic(name: &str, schema: &Value) -> Option<Value> {
    let untyped = schema.get("type").is_none() && schema.get("properties").is_none();
    match name {
        // Pod volumes (Argo Rollouts prunes their schema): a list of `Volume`.
        "volumes" if untyped => Some(json!([{ "name": "x", "emptyDir": {} }])),
        _ => None,
    }
}

/// `(CRD file, kind)` of every typed custom kind.
const TYPED_CRDS: &[(&str, &str)] = &[
    ("argo-rollouts/rollout-crd.yaml", "Rollout"),
    ("argo-rollouts/analysis-template-crd.yaml", "AnalysisTemplate"),
    ("argo-rollouts/cluster-analysis-template-crd.yaml", "ClusterAnalysisTemplate"),
    ("argo-rollouts/analysis-run-crd.yaml", "AnalysisRun"),
    ("argo-rollouts/experiment-crd.yaml", "Experiment"),
    ("argo-cd/application-crd.yaml", "Application"),
    ("argo-cd/appproject-crd.yaml", "AppProject"),
    ("istio/istio-crds.yaml", "VirtualService"),
    ("istio/istio-crds.yaml", "DestinationRule"),
    ("istio/istio-crds.yaml", "Gateway"),
];

/// Generated values the model deliberately does not keep as generated, with the reason.
/// (None so far: every property of every typed kind round-trips.)
const SCHEMA_EXCLUSIONS: &[(&str, &str, &str)] = &[];

fn crd_versions(file: &str, kind: &str) -> Vec<(String, String, Value)> {
    let path = fixtures().join("crds").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = parse_manifests(file, &text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let crd = parsed
        .documents
        .iter()
        .map(|d| d.object.to_value())
        .find(|crd| crd["spec"]["names"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind} in {file}"));
    let group = crd["spec"]["group"].as_str().unwrap().to_owned();
    let mut versions: Vec<(String, String, Value)> = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["served"] == true)
        .map(|v| {
            let version = v["name"].as_str().unwrap().to_owned();
            (group.clone(), version, v["schema"]["openAPIV3Schema"].clone())
        })
        .collect();
    if group == "networking.istio.io" && !versions.iter().any(|v| v.1 == "v1") {
        // Istio serves v1 with the same schema; the fixture CRD predates it.
        let schema = versions[0].2.clone();
        versions.push((group, "v1".to_owned(), schema));
    }
    versions
}

#[test]
fn crd_schema_coverage() {
    let mut failures = Vec::new();
    for (file, kind) in TYPED_CRDS {
        for (group, version, schema) in crd_versions(file, kind) {
            let mut instance = maximal(&schema);
            instance["apiVersion"] = json!(format!("{group}/{version}"));
            instance["kind"] = json!(kind);
            instance["metadata"] = json!({ "name": "x", "namespace": "x", "labels": { "a": "b" } });
            for (k, path, _) in SCHEMA_EXCLUSIONS {
                if k == kind {
                    remove_path(&mut instance, path);
                }
            }
            let object = Object::from_value(instance).unwrap();
            let what = format!("{kind} {group}/{version}");
            match TypedObject::decode(&object) {
                Err(e) => failures.push(format!("{what}: {e}")),
                Ok(typed) if typed.is_generic() => failures.push(format!("{what}: not typed")),
                Ok(typed) => {
                    let mut diffs = Vec::new();
                    diff(&object.to_value(), &typed.to_object().to_value(), "", &mut diffs);
                    for d in diffs {
                        failures.push(format!("{what}: {d}"));
                    }
                }
            }
        }
    }
    for failure in &failures {
        eprintln!("FAIL {failure}");
    }
    assert!(failures.is_empty(), "{} schema coverage failures (see stderr)", failures.len());
}

fn remove_path(value: &mut Value, path: &str) {
    let segments = parse::parse_path(path);
    let Some((last, parents)) = segments.split_last() else { return };
    let mut cur = value;
    for segment in parents {
        cur = match (segment, cur) {
            (parse::Segment::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (parse::Segment::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    if let (parse::Segment::Key(k), Value::Object(m)) = (last, cur) {
        m.remove(k);
    }
}

// ---------------------------------------------------------------------------------------------
// Parse errors

#[test]
fn parse_malformed_yaml_reports_line_and_column_and_keeps_going() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: [\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
    let parsed = parse_manifests("bad.yaml", text);
    assert_eq!(parsed.documents.len(), 2, "{:?}", parsed.errors);
    assert_eq!(parsed.errors.len(), 1);
    let e = &parsed.errors[0];
    assert_eq!(e.document, Some(2));
    assert_eq!(e.line, Some(8), "{e}");
    assert!(e.to_string().starts_with("bad.yaml: document 2:"), "{e}");
    assert_eq!(parsed.documents[1].document, 3);
}

const BAD_ROLLOUT: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: reviews-rollout
spec:
  selector:
    matchLabels: {app: reviews}
  template:
    metadata:
      labels: {app: reviews}
    spec:
      containers:
      - name: reviews
        image: reviews:v1
  strategy:
    canary:
      steps:
      - setWeight: x
";

#[test]
fn parse_wrong_field_type_names_path_and_line() {
    let errors = check_manifests("bookinfo.yaml", BAD_ROLLOUT).problems;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.document, Some(2));
    assert_eq!(e.kind.as_deref(), Some("Rollout"));
    assert_eq!(e.name.as_deref(), Some("reviews-rollout"));
    assert_eq!(e.field.as_deref(), Some("spec.strategy.canary.steps[0].setWeight"));
    assert_eq!((e.line, e.column), (Some(23), Some(20)), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with("bookinfo.yaml: document 2 (Rollout/reviews-rollout): spec.strategy.canary.steps[0].setWeight: invalid type: string \"x\""),
        "{shown}"
    );
    assert!(shown.ends_with("(line 23, column 20)"), "{shown}");
}

#[test]
fn parse_unknown_field_is_reported_with_its_path() {
    let text = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n      wieght: 10\n";
    let errors = check_manifests("vs.yaml", text).problems;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field.as_deref(), Some("spec.http[0].route[0].wieght"));
    assert_eq!(errors[0].message, "unknown field \"wieght\"");
    assert_eq!(errors[0].line, Some(9));
}

#[test]
fn parse_unknown_kind_or_version_of_a_typed_group_is_an_error() {
    let text = "apiVersion: argoproj.io/v1alpha1\nkind: Rolout\nmetadata: {name: a}\n---\napiVersion: networking.istio.io/v2\nkind: Gateway\nmetadata: {name: g}\n---\napiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\nspec: {}\n";
    let report = check_manifests("k.yaml", text);
    assert_eq!(report.documents, 3);
    let errors = report.problems;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].contains("no kind \"Rolout\" is registered for version \"argoproj.io/v1alpha1\""),
        "{}",
        shown[0]
    );
    assert!(
        shown[1]
            .contains("no kind \"Gateway\" is registered for version \"networking.istio.io/v2\""),
        "{}",
        shown[1]
    );
    assert_eq!(errors[1].document, Some(2));
}

#[test]
fn parse_list_items_become_documents_with_their_index() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- kind: ConfigMap\n  metadata: {name: b}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: c}\n";
    let parsed = parse_manifests("list.yaml", text);
    let names: Vec<(&str, Option<usize>)> =
        parsed.documents.iter().map(|d| (d.object.name(), d.item)).collect();
    assert_eq!(names, vec![("a", Some(0)), ("c", Some(2))]);
    assert_eq!(parsed.errors.len(), 1);
    let e = &parsed.errors[0];
    assert_eq!((e.item, e.field.as_deref(), e.line), (Some(1), Some("apiVersion"), Some(7)), "{e}");
    assert_eq!(
        e.to_string(),
        "list.yaml: document 1 items[1] (ConfigMap/b): apiVersion: missing required field \"apiVersion\" (line 7, column 3)"
    );
}

#[test]
fn parse_json_objects_and_lists() {
    let one = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"n": "1"}}"#;
    let parsed = parse_manifests("a.json", one).into_result().unwrap();
    assert_eq!(parsed[0].object.name(), "a");
    let list = "{\n \"apiVersion\": \"v1\",\n \"kind\": \"ServiceList\",\n \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"}, \"spec\": {\"ports\": [{\"port\": \"x\"}]}}\n ]\n}\n";
    let errors = check_manifests("l.json", list).problems;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field.as_deref(), Some("spec.ports[0].port"));
    assert_eq!(errors[0].item, Some(0));
    assert_eq!(errors[0].line, Some(5));
    let broken = parse_manifests("b.json", "{\"kind\": }");
    assert_eq!(broken.errors[0].line, Some(1), "{}", broken.errors[0]);
}

#[test]
fn parse_size_caps_are_enforced_per_document() {
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  a: \"{}\"\n",
        "x".repeat(MAX_DOCUMENT_BYTES)
    );
    let text = format!("{big}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ok}}\n");
    let parsed = parse_manifests("big.yaml", &text);
    assert_eq!(parsed.documents.len(), 1);
    assert!(parsed.errors[0].message.contains("over the 3 MiB"), "{}", parsed.errors[0]);
}

#[test]
fn parse_empty_documents_are_skipped_but_counted() {
    let text = "---\n# only a comment\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n---\n";
    let parsed = parse_manifests("e.yaml", text).into_result().unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].document, 3);
    assert_eq!(parsed[0].line, 6);
    assert!(parse_manifests("empty.yaml", "").into_result().unwrap().is_empty());
}

#[test]
fn parse_non_mapping_and_missing_fields() {
    let text = "- a\n- b\n---\njust a string\n---\nmetadata: {name: x}\n";
    let errors = parse_manifests("n.yaml", text).errors;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert!(
        shown[0].contains("document 1: document is not a mapping (found a sequence)"),
        "{}",
        shown[0]
    );
    assert!(
        shown[1].contains("document 2: document is not a mapping (found a string)"),
        "{}",
        shown[1]
    );
    assert!(
        shown[2].contains("document 3 (x): apiVersion: missing required field \"apiVersion\""),
        "{}",
        shown[2]
    );
    assert!(shown[3].contains("kind: missing required field \"kind\""), "{}", shown[3]);
}
