//! Protobuf bodies kubectl 1.37.1 really sent (captured from `kubectl create …`), each decoded
//! and compared with the JSON kubectl writes for the same command with `--dry-run=client -o json`
//! (Go's JSON encoding of the same typed object: what kubectl would have sent as JSON); and
//! bodies encoded with `protoc` for the special types, compared with JSON written by hand.
//! `tests/protobuf/README.md` says how each file was made.

use std::path::Path;

use serde_json::Value;
use weir_apimachinery::protobuf::{ProtobufError, decode};

const CASES: &[&str] = &[
    "namespace",
    "configmap",
    "secret",
    "deployment",
    "job",
    "cronjob",
    "service-nodeport",
    "pdb",
    "pdb-percent",
    "role",
    "ingress",
    "quota",
    "priorityclass",
    "serviceaccount",
    "hpa-v2",
    "pod-handmade",
    "controllerrevision-handmade",
    "event-handmade",
    "csr-handmade",
];

fn case(name: &str) -> (Vec<u8>, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protobuf");
    let body = std::fs::read(dir.join(format!("{name}.pb"))).unwrap();
    let mut expected =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    drop_nulls(&mut expected);
    (body, expected)
}

#[test]
fn kubectl_generator_bodies_decode_to_the_json_kubectl_would_send() {
    for name in CASES {
        let (body, expected) = case(name);
        let decoded = decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            decoded,
            expected,
            "{name}:\n{}\n---\n{}",
            serde_json::to_string_pretty(&decoded).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
    }
}

/// Go writes a nil slice without `omitempty` as `null`; the decoder leaves it out (see the README).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// A `runtime.Unknown` envelope (as `tests/protobuf/wrap.py` writes it).
fn envelope(api_version: &str, kind: &str, raw: &[u8], encoding: &str) -> Vec<u8> {
    fn field(number: u8, data: &[u8]) -> Vec<u8> {
        assert!(data.len() < 128, "one-byte lengths only");
        let mut out = vec![number << 3 | 2, data.len() as u8];
        out.extend_from_slice(data);
        out
    }
    let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
    let mut body = b"k8s\0".to_vec();
    body.extend(field(1, &type_meta));
    body.extend(field(2, raw));
    body.extend(field(3, encoding.as_bytes()));
    body
}

/// What a refused body's error must be.
type ErrorCheck = fn(&ProtobufError) -> bool;

#[test]
fn bad_bodies_are_refused_with_the_reason() {
    // A Namespace's metadata.name (field 1 of field 1): the envelope builder is right.
    let raw = b"\x0a\x08\x0a\x06team-a";
    assert_eq!(
        decode(&envelope("v1", "Namespace", raw, "")).unwrap(),
        serde_json::json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "team-a"}})
    );
    let (namespace, _) = case("namespace");

    let cases: Vec<(&str, Vec<u8>, ErrorCheck)> = vec![
        ("JSON", br#"{"kind":"Namespace"}"#.to_vec(), |e| *e == ProtobufError::NoMagic),
        ("empty", Vec::new(), |e| *e == ProtobufError::NoMagic),
        ("truncated envelope", namespace[..20].to_vec(), |e| {
            matches!(e, ProtobufError::Malformed(_))
        }),
        (
            "garbage object",
            envelope("apps/v1", "Deployment", b"\x0a\xff\xff", ""),
            |e| matches!(e, ProtobufError::Malformed(m) if m.contains("apps/v1 Deployment")),
        ),
        (
            "custom resource",
            envelope("argoproj.io/v1alpha1", "Rollout", b"", ""),
            |e| matches!(e, ProtobufError::UnknownKind { kind, .. } if kind == "Rollout"),
        ),
        ("no such kind", envelope("v1", "Nonsense", b"", ""), |e| {
            matches!(e, ProtobufError::UnknownKind { .. })
        }),
        (
            "gzip",
            envelope("v1", "Namespace", raw, "gzip"),
            |e| matches!(e, ProtobufError::UnsupportedEncoding { encoding, .. } if encoding == "gzip"),
        ),
        // A ControllerRevision whose RawExtension is not JSON (field 2 `data`, its field 1 `raw`).
        (
            "raw extension",
            envelope("apps/v1", "ControllerRevision", b"\x12\x03\x0a\x01{", ""),
            |e| matches!(e, ProtobufError::Malformed(m) if m.contains("RawExtension")),
        ),
    ];
    for (what, body, expected) in cases {
        let error = decode(&body).expect_err(what);
        assert!(expected(&error), "{what}: {error:?}");
        assert!(!error.to_string().is_empty());
    }
}
