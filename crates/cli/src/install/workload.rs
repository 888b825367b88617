//! The objects that run weir's controller in a cluster: Namespace, ServiceAccount, the
//! (Cluster)Role binding, the controller Deployment and its Service.

use serde_json::{Value, json};

use super::InstallOptions;

/// The name of the ServiceAccount, Deployment, Service, (Cluster)Role and binding.
pub(crate) const NAME: &str = "weir-controller";
/// The port of `/healthz` and the webhook receiver (`weir controller --port`). No metrics
/// port yet: the controller's own Prometheus metrics are issue 20.
pub(crate) const HTTP_PORT: u16 = 8080;
/// Where the Application controller keeps its git clones (an emptyDir: clones are a cache).
const DATA_DIR: &str = "/var/lib/weir";
/// The image's non-root user (distroless `nonroot`).
const USER_ID: u32 = 65532;

fn labels(options: &InstallOptions) -> Value {
    json!({
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": "weir",
        "app.kubernetes.io/version": options.version,
    })
}

fn selector() -> Value {
    json!({ "app.kubernetes.io/name": NAME })
}

pub(crate) fn namespace(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": options.namespace, "labels": { "app.kubernetes.io/part-of": "weir" } },
    })
}

pub(crate) fn service_account(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": { "name": NAME, "namespace": options.namespace, "labels": labels(options) },
    })
}

/// The (Cluster)Role's metadata, without its rules (rendered with comments elsewhere).
pub(crate) fn role_head(options: &InstallOptions) -> Value {
    let mut metadata = json!({ "name": NAME, "labels": labels(options) });
    if options.namespaced {
        metadata["namespace"] = json!(options.namespace);
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": if options.namespaced { "Role" } else { "ClusterRole" },
        "metadata": metadata,
    })
}

pub(crate) fn role_binding(options: &InstallOptions) -> Value {
    let (kind, role_kind) = if options.namespaced {
        ("RoleBinding", "Role")
    } else {
        ("ClusterRoleBinding", "ClusterRole")
    };
    let mut metadata = json!({ "name": NAME, "labels": labels(options) });
    if options.namespaced {
        metadata["namespace"] = json!(options.namespace);
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": NAME },
        "subjects": [{ "kind": "ServiceAccount", "name": NAME, "namespace": options.namespace }],
    })
}

/// `weir controller`'s arguments in the pod.
pub(crate) fn controller_args(options: &InstallOptions) -> Vec<String> {
    let mut args = vec![
        "controller".to_owned(),
        "--leader-elect".to_owned(),
        "--data-dir".to_owned(),
        DATA_DIR.to_owned(),
        "--port".to_owned(),
        HTTP_PORT.to_string(),
        // Probes and webhooks come from outside the pod.
        "--bind".to_owned(),
        "0.0.0.0".to_owned(),
    ];
    if options.namespaced {
        args.extend(["--namespace".to_owned(), options.namespace.clone()]);
    }
    args
}

pub(crate) fn deployment(options: &InstallOptions) -> Value {
    let probe = |initial_delay: u32| {
        json!({
            "httpGet": { "path": "/healthz", "port": "http" },
            "initialDelaySeconds": initial_delay,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        })
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": NAME, "namespace": options.namespace, "labels": labels(options) },
        "spec": {
            // Two replicas with leader election: the standby takes over within the lease.
            "replicas": 2,
            "selector": { "matchLabels": selector() },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
            "template": {
                "metadata": { "labels": labels(options) },
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": [{
                        "name": NAME,
                        "image": options.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": controller_args(options),
                        "env": [
                            // The lease holder's identity, and the namespace of the lease.
                            { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                            { "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
                            { "name": "HOME", "value": "/tmp" },
                        ],
                        "ports": [
                            { "name": "http", "containerPort": HTTP_PORT, "protocol": "TCP" },
                        ],
                        "livenessProbe": probe(10),
                        "readinessProbe": probe(3),
                        "resources": {
                            "requests": { "cpu": "100m", "memory": "128Mi" },
                            "limits": { "memory": "1Gi" },
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "capabilities": { "drop": ["ALL"] },
                        },
                        "volumeMounts": [
                            { "name": "data", "mountPath": DATA_DIR },
                            { "name": "tmp", "mountPath": "/tmp" },
                        ],
                    }],
                    "volumes": [
                        { "name": "data", "emptyDir": {} },
                        { "name": "tmp", "emptyDir": {} },
                    ],
                },
            },
        },
    })
}

pub(crate) fn service(options: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": NAME, "namespace": options.namespace, "labels": labels(options) },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(),
            "ports": [
                { "name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP" },
            ],
        },
    })
}
