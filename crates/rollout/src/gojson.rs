//! Go's `encoding/json` bytes for the objects Argo hashes: a `PodTemplateSpec` and the canary
//! steps. Go writes struct fields in declaration order, drops `omitempty` zero values but
//! never a non-pointer struct, writes a nil non-`omitempty` slice as `null`, sorts map keys
//! and escapes `<`, `>`, `&`, U+2028 and U+2029. The tables below give the declaration order
//! and emptiness rules of the Kubernetes types a pod template commonly uses (k8s.io/api
//! v0.34). Fields or types missing from the tables are written in key order, which can give
//! a hash different from Argo's; adoption of existing ReplicaSets then relies on the
//! controller's semantic template comparison.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;
use weir_model::rollouts::CanaryStep;

/// Which Kubernetes JSON form to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonForm {
    /// k8s.io/apimachinery ≥ 0.34: an unset `metadata.creationTimestamp` is omitted.
    Current,
    /// k8s.io/apimachinery ≤ 0.33: an unset `metadata.creationTimestamp` is written as `null`.
    Legacy,
}

/// How a field is written when absent or zero.
#[derive(Debug, Clone, Copy)]
enum Emit {
    /// `omitempty` on a value type: dropped when absent or zero.
    OmitEmpty,
    /// `omitempty` on a pointer: dropped only when absent.
    Pointer,
    /// No `omitempty`: the given JSON literal when absent.
    Always(&'static str),
    /// A non-pointer struct: `{...}` of its (empty) fields when absent.
    Struct,
}

#[derive(Debug)]
struct Field {
    name: &'static str,
    emit: Emit,
    schema: Option<&'static [Field]>,
}

const fn f(name: &'static str, emit: Emit) -> Field {
    Field { name, emit, schema: None }
}

const fn s(name: &'static str, emit: Emit, schema: &'static [Field]) -> Field {
    Field { name, emit, schema: Some(schema) }
}

use Emit::{Always, OmitEmpty as O, Pointer as P, Struct};

const OWNER_REFERENCE: &[Field] = &[
    f("apiVersion", Always("\"\"")),
    f("kind", Always("\"\"")),
    f("name", Always("\"\"")),
    f("uid", Always("\"\"")),
    f("controller", P),
    f("blockOwnerDeletion", P),
];

macro_rules! object_meta {
    ($name:ident, $created:expr) => {
        const $name: &[Field] = &[
            f("name", O),
            f("generateName", O),
            f("namespace", O),
            f("selfLink", O),
            f("uid", O),
            f("resourceVersion", O),
            f("generation", O),
            f("creationTimestamp", $created),
            f("deletionTimestamp", P),
            f("deletionGracePeriodSeconds", P),
            f("labels", O),
            f("annotations", O),
            s("ownerReferences", O, OWNER_REFERENCE),
            f("finalizers", O),
            f("managedFields", O),
        ];
    };
}
object_meta!(OBJECT_META, P);
object_meta!(OBJECT_META_LEGACY, Always("null"));

const LOCAL_OBJECT_REFERENCE: &[Field] = &[f("name", O)];
const KEY_SELECTOR: &[Field] = &[f("name", O), f("key", Always("\"\"")), f("optional", P)];
const OBJECT_FIELD_SELECTOR: &[Field] = &[f("apiVersion", O), f("fieldPath", Always("\"\""))];
const RESOURCE_FIELD_SELECTOR: &[Field] =
    &[f("containerName", O), f("resource", Always("\"\"")), f("divisor", O)];
const ENV_VAR_SOURCE: &[Field] = &[
    s("fieldRef", P, OBJECT_FIELD_SELECTOR),
    s("resourceFieldRef", P, RESOURCE_FIELD_SELECTOR),
    s("configMapKeyRef", P, KEY_SELECTOR),
    s("secretKeyRef", P, KEY_SELECTOR),
    f("fileKeyRef", P),
];
const ENV_VAR: &[Field] =
    &[f("name", Always("\"\"")), f("value", O), s("valueFrom", P, ENV_VAR_SOURCE)];
const ENV_SOURCE_REF: &[Field] = &[f("name", O), f("optional", P)];
const ENV_FROM_SOURCE: &[Field] =
    &[f("prefix", O), s("configMapRef", P, ENV_SOURCE_REF), s("secretRef", P, ENV_SOURCE_REF)];
const CONTAINER_PORT: &[Field] = &[
    f("name", O),
    f("hostPort", O),
    f("containerPort", Always("0")),
    f("protocol", O),
    f("hostIP", O),
];
const RESOURCE_REQUIREMENTS: &[Field] = &[f("limits", O), f("requests", O), f("claims", O)];
const VOLUME_MOUNT: &[Field] = &[
    f("name", Always("\"\"")),
    f("readOnly", O),
    f("recursiveReadOnly", P),
    f("mountPath", Always("\"\"")),
    f("subPath", O),
    f("mountPropagation", P),
    f("subPathExpr", O),
];
const EXEC_ACTION: &[Field] = &[f("command", O)];
const HTTP_HEADER: &[Field] = &[f("name", Always("\"\"")), f("value", Always("\"\""))];
const HTTP_GET_ACTION: &[Field] = &[
    f("path", O),
    f("port", Always("0")),
    f("host", O),
    f("scheme", O),
    s("httpHeaders", O, HTTP_HEADER),
];
const TCP_SOCKET_ACTION: &[Field] = &[f("port", Always("0")), f("host", O)];
const GRPC_ACTION: &[Field] = &[f("port", Always("0")), f("service", P)];
const PROBE: &[Field] = &[
    s("exec", P, EXEC_ACTION),
    s("httpGet", P, HTTP_GET_ACTION),
    s("tcpSocket", P, TCP_SOCKET_ACTION),
    s("grpc", P, GRPC_ACTION),
    f("initialDelaySeconds", O),
    f("timeoutSeconds", O),
    f("periodSeconds", O),
    f("successThreshold", O),
    f("failureThreshold", O),
    f("terminationGracePeriodSeconds", P),
];
const SLEEP_ACTION: &[Field] = &[f("seconds", Always("0"))];
const LIFECYCLE_HANDLER: &[Field] = &[
    s("exec", P, EXEC_ACTION),
    s("httpGet", P, HTTP_GET_ACTION),
    s("tcpSocket", P, TCP_SOCKET_ACTION),
    s("sleep", P, SLEEP_ACTION),
];
const LIFECYCLE: &[Field] =
    &[s("postStart", P, LIFECYCLE_HANDLER), s("preStop", P, LIFECYCLE_HANDLER), f("stopSignal", P)];
const CAPABILITIES: &[Field] = &[f("add", O), f("drop", O)];
const PROFILE: &[Field] = &[f("type", Always("\"\"")), f("localhostProfile", P)];
const SECURITY_CONTEXT: &[Field] = &[
    s("capabilities", P, CAPABILITIES),
    f("privileged", P),
    f("seLinuxOptions", P),
    f("windowsOptions", P),
    f("runAsUser", P),
    f("runAsGroup", P),
    f("runAsNonRoot", P),
    f("readOnlyRootFilesystem", P),
    f("allowPrivilegeEscalation", P),
    f("procMount", P),
    s("seccompProfile", P, PROFILE),
    s("appArmorProfile", P, PROFILE),
];
const CONTAINER: &[Field] = &[
    f("name", Always("\"\"")),
    f("image", O),
    f("command", O),
    f("args", O),
    f("workingDir", O),
    s("ports", O, CONTAINER_PORT),
    s("envFrom", O, ENV_FROM_SOURCE),
    s("env", O, ENV_VAR),
    s("resources", Struct, RESOURCE_REQUIREMENTS),
    f("resizePolicy", O),
    f("restartPolicy", P),
    f("restartPolicyRules", O),
    s("volumeMounts", O, VOLUME_MOUNT),
    f("volumeDevices", O),
    s("livenessProbe", P, PROBE),
    s("readinessProbe", P, PROBE),
    s("startupProbe", P, PROBE),
    s("lifecycle", P, LIFECYCLE),
    f("terminationMessagePath", O),
    f("terminationMessagePolicy", O),
    f("imagePullPolicy", O),
    s("securityContext", P, SECURITY_CONTEXT),
    f("stdin", O),
    f("stdinOnce", O),
    f("tty", O),
];
const POD_SECURITY_CONTEXT: &[Field] = &[
    f("seLinuxOptions", P),
    f("windowsOptions", P),
    f("runAsUser", P),
    f("runAsGroup", P),
    f("runAsNonRoot", P),
    f("supplementalGroups", O),
    f("supplementalGroupsPolicy", P),
    f("fsGroup", P),
    f("sysctls", O),
    f("fsGroupChangePolicy", P),
    s("seccompProfile", P, PROFILE),
    s("appArmorProfile", P, PROFILE),
    f("seLinuxChangePolicy", P),
];
const TOLERATION: &[Field] =
    &[f("key", O), f("operator", O), f("value", O), f("effect", O), f("tolerationSeconds", P)];
const READINESS_GATE: &[Field] = &[f("conditionType", Always("\"\""))];
const KEY_TO_PATH: &[Field] = &[f("key", Always("\"\"")), f("path", Always("\"\"")), f("mode", P)];
const SECRET_VOLUME: &[Field] =
    &[f("secretName", O), s("items", O, KEY_TO_PATH), f("defaultMode", P), f("optional", P)];
const CONFIG_MAP_VOLUME: &[Field] =
    &[f("name", O), s("items", O, KEY_TO_PATH), f("defaultMode", P), f("optional", P)];
const EMPTY_DIR: &[Field] = &[f("medium", O), f("sizeLimit", P)];
const PVC_VOLUME: &[Field] = &[f("claimName", Always("\"\"")), f("readOnly", O)];
const VOLUME: &[Field] = &[
    f("name", Always("\"\"")),
    f("hostPath", P),
    s("emptyDir", P, EMPTY_DIR),
    f("gcePersistentDisk", P),
    f("awsElasticBlockStore", P),
    f("gitRepo", P),
    s("secret", P, SECRET_VOLUME),
    f("nfs", P),
    f("iscsi", P),
    f("glusterfs", P),
    s("persistentVolumeClaim", P, PVC_VOLUME),
    f("rbd", P),
    f("flexVolume", P),
    f("cinder", P),
    f("cephfs", P),
    f("flocker", P),
    f("downwardAPI", P),
    f("fc", P),
    f("azureFile", P),
    s("configMap", P, CONFIG_MAP_VOLUME),
    f("vsphereVolume", P),
    f("quobyte", P),
    f("azureDisk", P),
    f("photonPersistentDisk", P),
    f("projected", P),
    f("portworxVolume", P),
    f("scaleIO", P),
    f("storageos", P),
    f("csi", P),
    f("ephemeral", P),
    f("image", P),
];
const POD_SPEC: &[Field] = &[
    s("volumes", O, VOLUME),
    s("initContainers", O, CONTAINER),
    s("containers", Always("null"), CONTAINER),
    s("ephemeralContainers", O, CONTAINER),
    f("restartPolicy", O),
    f("terminationGracePeriodSeconds", P),
    f("activeDeadlineSeconds", P),
    f("dnsPolicy", O),
    f("nodeSelector", O),
    f("serviceAccountName", O),
    f("serviceAccount", O),
    f("automountServiceAccountToken", P),
    f("nodeName", O),
    f("hostNetwork", O),
    f("hostPID", O),
    f("hostIPC", O),
    f("shareProcessNamespace", P),
    s("securityContext", P, POD_SECURITY_CONTEXT),
    s("imagePullSecrets", O, LOCAL_OBJECT_REFERENCE),
    f("hostname", O),
    f("subdomain", O),
    f("affinity", P),
    f("schedulerName", O),
    s("tolerations", O, TOLERATION),
    f("hostAliases", O),
    f("priorityClassName", O),
    f("priority", P),
    f("dnsConfig", P),
    s("readinessGates", O, READINESS_GATE),
    f("runtimeClassName", P),
    f("enableServiceLinks", P),
    f("preemptionPolicy", P),
    f("overhead", O),
    f("topologySpreadConstraints", O),
    f("setHostnameAsFQDN", P),
    f("os", P),
    f("hostUsers", P),
    f("schedulingGates", O),
    f("resourceClaims", O),
    f("resources", P),
    f("hostnameOverride", P),
];
const POD_TEMPLATE: &[Field] = &[s("metadata", Struct, OBJECT_META), s("spec", Struct, POD_SPEC)];
const POD_TEMPLATE_LEGACY: &[Field] =
    &[s("metadata", Struct, OBJECT_META_LEGACY), s("spec", Struct, POD_SPEC)];

const ROLLOUT_ANALYSIS_TEMPLATE: &[Field] = &[f("templateName", O), f("clusterScope", O)];
const ANALYSIS_ARG: &[Field] = &[f("name", Always("\"\"")), f("value", O), f("valueFrom", P)];
const ROLLOUT_ANALYSIS: &[Field] = &[
    s("templates", O, ROLLOUT_ANALYSIS_TEMPLATE),
    s("args", O, ANALYSIS_ARG),
    f("dryRun", O),
    f("measurementRetention", O),
    f("analysisRunMetadata", O),
];
const PAUSE: &[Field] = &[f("duration", P)];
const SET_CANARY_SCALE: &[Field] = &[f("weight", P), f("replicas", P), f("matchTrafficWeight", O)];
const CANARY_STEP: &[Field] = &[
    f("setWeight", P),
    s("pause", P, PAUSE),
    f("experiment", P),
    s("analysis", P, ROLLOUT_ANALYSIS),
    s("setCanaryScale", P, SET_CANARY_SCALE),
    f("setHeaderRoute", P),
    f("setMirrorRoute", P),
    f("plugin", P),
];

/// Go's `json.Marshal(template)` for a pod template.
pub(crate) fn pod_template_json(template: &PodTemplateSpec, form: JsonForm) -> String {
    let value = serde_json::to_value(template).unwrap_or(Value::Null);
    let schema = match form {
        JsonForm::Current => POD_TEMPLATE,
        JsonForm::Legacy => POD_TEMPLATE_LEGACY,
    };
    let mut out = String::new();
    write_struct(&mut out, value.as_object(), schema);
    out
}

/// Go's `json.Marshal(steps)` for `spec.strategy.canary.steps` (`null` when unset).
pub(crate) fn steps_json(steps: Option<&[CanaryStep]>) -> String {
    let mut out = String::new();
    match steps {
        None => out.push_str("null"),
        Some(steps) => {
            out.push('[');
            for (i, step) in steps.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let value = serde_json::to_value(step).unwrap_or(Value::Null);
                write_struct(&mut out, value.as_object(), CANARY_STEP);
            }
            out.push(']');
        }
    }
    out
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn write_struct(out: &mut String, obj: Option<&serde_json::Map<String, Value>>, schema: &[Field]) {
    out.push('{');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    for field in schema {
        let value = obj.and_then(|o| o.get(field.name)).filter(|v| !v.is_null());
        match (field.emit, value) {
            (Emit::OmitEmpty, Some(v)) if !is_zero(v) => {
                sep(out);
                write_field(out, field, v);
            }
            (Emit::Pointer | Emit::Always(_) | Emit::Struct, Some(v)) => {
                sep(out);
                write_field(out, field, v);
            }
            (Emit::Always(literal), None) => {
                sep(out);
                write_string(out, field.name);
                out.push(':');
                out.push_str(literal);
            }
            (Emit::Struct, None) => {
                sep(out);
                write_string(out, field.name);
                out.push(':');
                write_struct(out, None, field.schema.unwrap_or(&[]));
            }
            _ => {}
        }
    }
    // Keys the tables do not know: written after the known ones, in key order.
    if let Some(obj) = obj {
        let mut extra: Vec<_> = obj
            .iter()
            .filter(|(k, v)| !v.is_null() && !schema.iter().any(|f| f.name == k.as_str()))
            .collect();
        extra.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in extra {
            sep(out);
            write_string(out, k);
            out.push(':');
            write_value(out, v, None);
        }
    }
    out.push('}');
}

fn write_field(out: &mut String, field: &Field, value: &Value) {
    write_string(out, field.name);
    out.push(':');
    write_value(out, value, field.schema);
}

fn write_value(out: &mut String, value: &Value, schema: Option<&[Field]>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, schema);
            }
            out.push(']');
        }
        Value::Object(obj) => match schema {
            Some(schema) => write_struct(out, Some(obj), schema),
            None => {
                // A map (or a struct the tables do not know): keys sorted bytewise.
                let mut keys: Vec<_> = obj.iter().collect();
                keys.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k);
                    out.push(':');
                    write_value(out, v, None);
                }
                out.push('}');
            }
        },
    }
}

/// A JSON string with Go's default escaping (HTML-safe).
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let code = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(HEX[((code >> shift) & 0xf) as usize]));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_template_and_escaping() {
        let t = PodTemplateSpec::default();
        assert_eq!(
            pod_template_json(&t, JsonForm::Current),
            r#"{"metadata":{},"spec":{"containers":null}}"#
        );
        assert_eq!(
            pod_template_json(&t, JsonForm::Legacy),
            r#"{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}"#
        );
        let mut out = String::new();
        write_string(&mut out, "a<b>&\u{1}");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\u0001""#);
        assert_eq!(steps_json(None), "null");
    }
}
