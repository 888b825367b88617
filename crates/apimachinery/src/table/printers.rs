//! Kubernetes' own printers for built-in kinds (`pkg/printers/internalversion/printers.go`):
//! the same columns, in the same order, with the same priorities, and the same cells — a pod's
//! STATUS is worked out from its phase, reason and container states exactly as `printPod` does.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::time::{age, human_duration, parse_rfc3339, unix_seconds};
use super::{AGE_DESCRIPTION, ColumnDefinition, name_column, name_of};

/// A built-in kind with a printer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Printer {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    Namespace,
    ServiceAccount,
    Event,
    Node,
    PersistentVolumeClaim,
    Ingress,
    CustomResourceDefinition,
}

type Column = (&'static str, &'static str, i64, &'static str);

const NAME: Column = ("Name", "string", 0, "");
const AGE: Column = ("Age", "string", 0, AGE_DESCRIPTION);
const CONTAINERS: Column = ("Containers", "string", 1, "Names of each container in the template.");
const IMAGES: Column =
    ("Images", "string", 1, "Images referenced by each container in the template.");
const SELECTOR: Column = (
    "Selector",
    "string",
    1,
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
);

impl Printer {
    pub(crate) fn for_kind(group: &str, kind: &str) -> Option<Printer> {
        Some(match (group, kind) {
            ("", "Pod") => Printer::Pod,
            ("apps", "Deployment") => Printer::Deployment,
            ("apps", "ReplicaSet") => Printer::ReplicaSet,
            ("apps", "StatefulSet") => Printer::StatefulSet,
            ("apps", "DaemonSet") => Printer::DaemonSet,
            ("batch", "Job") => Printer::Job,
            ("batch", "CronJob") => Printer::CronJob,
            ("", "Service") => Printer::Service,
            ("", "Endpoints") => Printer::Endpoints,
            ("", "ConfigMap") => Printer::ConfigMap,
            ("", "Secret") => Printer::Secret,
            ("", "Namespace") => Printer::Namespace,
            ("", "ServiceAccount") => Printer::ServiceAccount,
            ("", "Event") => Printer::Event,
            ("", "Node") => Printer::Node,
            ("", "PersistentVolumeClaim") => Printer::PersistentVolumeClaim,
            ("networking.k8s.io", "Ingress") => Printer::Ingress,
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                Printer::CustomResourceDefinition
            }
            _ => return None,
        })
    }

    fn column_table(self) -> &'static [Column] {
        match self {
            Printer::Pod => &[
                NAME,
                (
                    "Ready",
                    "string",
                    0,
                    "The aggregate readiness state of this pod for accepting traffic.",
                ),
                ("Status", "string", 0, "The aggregate status of the containers in this pod."),
                (
                    "Restarts",
                    "string",
                    0,
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                AGE,
                (
                    "IP",
                    "string",
                    1,
                    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                ),
                ("Node", "string", 1, "NodeName indicates in which node this pod is scheduled."),
                (
                    "Nominated Node",
                    "string",
                    1,
                    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
                ),
                (
                    "Readiness Gates",
                    "string",
                    1,
                    "If specified, all readiness gates will be evaluated for pod readiness.",
                ),
            ],
            Printer::Deployment => &[
                NAME,
                ("Ready", "string", 0, "Number of the pod with ready state"),
                (
                    "Up-to-date",
                    "string",
                    0,
                    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                ),
                (
                    "Available",
                    "string",
                    0,
                    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::ReplicaSet => &[
                NAME,
                ("Desired", "integer", 0, "Replicas is the number of desired pods."),
                (
                    "Current",
                    "integer",
                    0,
                    "Replicas is the most recently observed number of replicas.",
                ),
                ("Ready", "integer", 0, "The number of ready replicas for this replica set."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::StatefulSet => &[
                NAME,
                ("Ready", "string", 0, "Number of the pod with ready state"),
                AGE,
                CONTAINERS,
                IMAGES,
            ],
            Printer::DaemonSet => &[
                NAME,
                (
                    "Desired",
                    "integer",
                    0,
                    "The total number of nodes that should be running the daemon pod.",
                ),
                (
                    "Current",
                    "integer",
                    0,
                    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                ),
                (
                    "Ready",
                    "integer",
                    0,
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                ),
                (
                    "Up-to-date",
                    "integer",
                    0,
                    "The total number of nodes that are running updated daemon pod",
                ),
                (
                    "Available",
                    "integer",
                    0,
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
                ),
                (
                    "Node Selector",
                    "string",
                    0,
                    "NodeSelector is a selector which must be true for the pod to fit on a node.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::Job => &[
                NAME,
                ("Status", "string", 0, "Status of the job."),
                ("Completions", "string", 0, "The completion status of the job."),
                ("Duration", "string", 0, "Time required to complete the job."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::CronJob => &[
                NAME,
                (
                    "Schedule",
                    "string",
                    0,
                    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                ),
                ("Timezone", "string", 0, "The timezone name for the given schedule."),
                (
                    "Suspend",
                    "boolean",
                    0,
                    "This flag tells the controller to suspend subsequent executions.",
                ),
                ("Active", "integer", 0, "A list of pointers to currently running jobs."),
                (
                    "Last Schedule",
                    "string",
                    0,
                    "Information when was the last time the job was successfully scheduled.",
                ),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::Service => &[
                NAME,
                ("Type", "string", 0, "type determines how the Service is exposed."),
                (
                    "Cluster-IP",
                    "string",
                    0,
                    "clusterIP is the IP address of the service and is usually assigned randomly by the master.",
                ),
                (
                    "External-IP",
                    "string",
                    0,
                    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                ),
                ("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
                AGE,
                (
                    "Selector",
                    "string",
                    1,
                    "Route service traffic to pods with label keys and values matching this selector.",
                ),
            ],
            Printer::Endpoints => {
                &[NAME, ("Endpoints", "string", 0, "Endpoints is the list of endpoints."), AGE]
            }
            Printer::ConfigMap => {
                &[NAME, ("Data", "string", 0, "Data contains the configuration data."), AGE]
            }
            Printer::Secret => &[
                NAME,
                ("Type", "string", 0, "Used to facilitate programmatic handling of secret data."),
                ("Data", "string", 0, "Data contains the secret data."),
                AGE,
            ],
            Printer::Namespace => {
                &[NAME, ("Status", "string", 0, "The status of the namespace"), AGE]
            }
            Printer::ServiceAccount => &[
                NAME,
                (
                    "Secrets",
                    "string",
                    0,
                    "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount.",
                ),
                AGE,
            ],
            Printer::Event => &[
                (
                    "Last Seen",
                    "string",
                    0,
                    "The time at which the most recent occurrence of this event was recorded.",
                ),
                (
                    "Type",
                    "string",
                    0,
                    "Type of this event (Normal, Warning), new types could be added in the future.",
                ),
                (
                    "Reason",
                    "string",
                    0,
                    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                ),
                ("Object", "string", 0, "The object that this event is about."),
                ("Subobject", "string", 1, "The field of the object this event is about."),
                ("Source", "string", 1, "The component reporting this event."),
                (
                    "Message",
                    "string",
                    0,
                    "A human-readable description of the status of this operation.",
                ),
                ("First Seen", "string", 1, "The time at which the event was first recorded."),
                ("Count", "string", 1, "The number of times this event has occurred."),
                ("Name", "string", 1, ""),
            ],
            Printer::Node => &[
                NAME,
                ("Status", "string", 0, "The status of the node"),
                ("Roles", "string", 0, "The roles of the node"),
                AGE,
                ("Version", "string", 0, "Kubelet Version reported by the node."),
                (
                    "Internal-IP",
                    "string",
                    1,
                    "List of addresses reachable to the node. Queried from cloud provider, if available.",
                ),
                (
                    "External-IP",
                    "string",
                    1,
                    "List of addresses reachable to the node. Queried from cloud provider, if available.",
                ),
                (
                    "OS-Image",
                    "string",
                    1,
                    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                ),
                (
                    "Kernel-Version",
                    "string",
                    1,
                    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                ),
                (
                    "Container-Runtime",
                    "string",
                    1,
                    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                ),
            ],
            Printer::PersistentVolumeClaim => &[
                NAME,
                (
                    "Status",
                    "string",
                    0,
                    "Phase represents the current phase of PersistentVolumeClaim.",
                ),
                (
                    "Volume",
                    "string",
                    0,
                    "VolumeName is the binding reference to the PersistentVolume backing this claim.",
                ),
                (
                    "Capacity",
                    "string",
                    0,
                    "Capacity represents the actual resources of the underlying volume.",
                ),
                (
                    "Access Modes",
                    "string",
                    0,
                    "AccessModes contains the actual access modes the volume backing the PVC has.",
                ),
                (
                    "StorageClass",
                    "string",
                    0,
                    "StorageClassName is the name of the StorageClass required by the claim.",
                ),
                (
                    "VolumeAttributesClass",
                    "string",
                    0,
                    "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.",
                ),
                AGE,
                (
                    "VolumeMode",
                    "string",
                    1,
                    "volumeMode defines what type of volume is required by the claim.",
                ),
            ],
            Printer::Ingress => &[
                NAME,
                (
                    "Class",
                    "string",
                    0,
                    "The name of the IngressClass resource that should be used for the ingress.",
                ),
                (
                    "Hosts",
                    "string",
                    0,
                    "Hosts that incoming requests are matched against before the ingress rule",
                ),
                (
                    "Address",
                    "string",
                    0,
                    "Address is a list containing ingress points for the load-balancer",
                ),
                ("Ports", "string", 0, "Ports of TLS configurations that open"),
                AGE,
            ],
            Printer::CustomResourceDefinition => {
                &[NAME, ("Created At", "date", 0, AGE_DESCRIPTION)]
            }
        }
    }

    pub(crate) fn columns(self) -> Vec<ColumnDefinition> {
        self.column_table()
            .iter()
            .map(|(name, kind, priority, description)| {
                if *name == "Name" && *priority == 0 {
                    return name_column();
                }
                ColumnDefinition {
                    name: (*name).to_owned(),
                    kind: (*kind).to_owned(),
                    format: String::new(),
                    description: (*description).to_owned(),
                    priority: *priority,
                }
            })
            .collect()
    }

    pub(crate) fn cells(self, o: &Value, now: SystemTime) -> Vec<Value> {
        let name = json!(name_of(o));
        let created = json!(age(str_at(o, "/metadata/creationTimestamp"), now));
        match self {
            Printer::Pod => pod_cells(o, now),
            Printer::Deployment => {
                let template = o.pointer("/spec/template/spec");
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
                    )),
                    json!(int_at(o, "/status/updatedReplicas")),
                    json!(int_at(o, "/status/availableReplicas")),
                    created,
                    json!(containers(template, "name")),
                    json!(containers(template, "image")),
                    json!(label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Printer::ReplicaSet => {
                let template = o.pointer("/spec/template/spec");
                vec![
                    name,
                    json!(o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)),
                    json!(int_at(o, "/status/replicas")),
                    json!(int_at(o, "/status/readyReplicas")),
                    created,
                    json!(containers(template, "name")),
                    json!(containers(template, "image")),
                    json!(label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Printer::StatefulSet => {
                let template = o.pointer("/spec/template/spec");
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
                    )),
                    created,
                    json!(containers(template, "name")),
                    json!(containers(template, "image")),
                ]
            }
            Printer::DaemonSet => {
                let template = o.pointer("/spec/template/spec");
                vec![
                    name,
                    json!(int_at(o, "/status/desiredNumberScheduled")),
                    json!(int_at(o, "/status/currentNumberScheduled")),
                    json!(int_at(o, "/status/numberReady")),
                    json!(int_at(o, "/status/updatedNumberScheduled")),
                    json!(int_at(o, "/status/numberAvailable")),
                    json!(labels(o.pointer("/spec/template/spec/nodeSelector"))),
                    created,
                    json!(containers(template, "name")),
                    json!(containers(template, "image")),
                    json!(label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Printer::Job => job_cells(o, now),
            Printer::CronJob => {
                let template = o.pointer("/spec/jobTemplate/spec/template/spec");
                let last = str_at(o, "/status/lastScheduleTime")
                    .map(|t| age(Some(t), now))
                    .unwrap_or_else(|| "<none>".to_owned());
                vec![
                    name,
                    json!(str_at(o, "/spec/schedule").unwrap_or("")),
                    json!(str_at(o, "/spec/timeZone").unwrap_or("<none>")),
                    json!(o.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false)),
                    json!(len_at(o, "/status/active")),
                    json!(last),
                    created,
                    json!(containers(template, "name")),
                    json!(containers(template, "image")),
                    json!(label_selector(o.pointer("/spec/jobTemplate/spec/selector"))),
                ]
            }
            Printer::Service => service_cells(o, name, created),
            Printer::Endpoints => vec![name, json!(endpoints(o)), created],
            Printer::ConfigMap => {
                json_row(name, len_at(o, "/data") + len_at(o, "/binaryData"), created)
            }
            Printer::Secret => vec![
                name,
                json!(str_at(o, "/type").unwrap_or("Opaque")),
                json!(len_at(o, "/data")),
                created,
            ],
            Printer::Namespace => {
                vec![name, json!(str_at(o, "/status/phase").unwrap_or("Active")), created]
            }
            Printer::ServiceAccount => json_row(name, len_at(o, "/secrets"), created),
            Printer::Event => event_cells(o, now),
            Printer::Node => node_cells(o, name, created),
            Printer::PersistentVolumeClaim => {
                let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
                    "Terminating"
                } else {
                    str_at(o, "/status/phase").unwrap_or("Pending")
                };
                let bound = str_at(o, "/spec/volumeName").filter(|v| !v.is_empty());
                let capacity = if bound.is_some() {
                    str_at(o, "/status/capacity/storage").unwrap_or("")
                } else {
                    ""
                };
                let modes: Vec<&str> = if bound.is_some() {
                    strings(o.pointer("/status/accessModes"))
                        .into_iter()
                        .map(|m| match m {
                            "ReadWriteOnce" => "RWO",
                            "ReadOnlyMany" => "ROX",
                            "ReadWriteMany" => "RWX",
                            "ReadWriteOncePod" => "RWOP",
                            other => other,
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                vec![
                    name,
                    json!(phase),
                    json!(bound.unwrap_or("")),
                    json!(capacity),
                    json!(modes.join(",")),
                    json!(str_at(o, "/spec/storageClassName").unwrap_or("")),
                    json!(str_at(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
                    created,
                    json!(str_at(o, "/spec/volumeMode").unwrap_or("<unset>")),
                ]
            }
            Printer::Ingress => {
                let hosts: Vec<&str> = o
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("host").and_then(Value::as_str))
                    .collect();
                let hosts = if hosts.is_empty() { "*".to_owned() } else { hosts.join(",") };
                let ports = if len_at(o, "/spec/tls") > 0 { "80, 443" } else { "80" };
                vec![
                    name,
                    json!(str_at(o, "/spec/ingressClassName").unwrap_or("<none>")),
                    json!(hosts),
                    json!(load_balancer(o.pointer("/status/loadBalancer/ingress"))),
                    json!(ports),
                    created,
                ]
            }
            Printer::CustomResourceDefinition => {
                vec![name, json!(str_at(o, "/metadata/creationTimestamp").unwrap_or(""))]
            }
        }
    }
}

fn json_row(name: Value, count: usize, created: Value) -> Vec<Value> {
    vec![name, json!(count), created]
}

fn str_at<'v>(o: &'v Value, pointer: &str) -> Option<&'v str> {
    o.pointer(pointer).and_then(Value::as_str)
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn len_at(o: &Value, pointer: &str) -> usize {
    match o.pointer(pointer) {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
}

/// The containers' names or images, comma-separated.
fn containers(pod_spec: Option<&Value>, field: &str) -> String {
    pod_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| c.get(field).and_then(Value::as_str).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",")
}

/// `labels.FormatLabels`: `k=v` sorted, `<none>` when empty.
fn labels(map: Option<&Value>) -> String {
    let pairs: BTreeMap<&str, &str> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_owned();
    }
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// `metav1.FormatLabelSelector`: match labels then expressions, `<none>` when empty.
fn label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else { return "<none>".to_owned() };
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for expression in
        selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten()
    {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let values = strings(expression.get("values")).join(",");
        let part = match expression.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({values})"),
        };
        parts.push(part);
    }
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
}

fn pod_cells(pod: &Value, now: SystemTime) -> Vec<Value> {
    let mut restarts = 0;
    let mut last_restart: Option<i64> = None;
    let mut note_restart = |status: &Value, restarts: &mut i64| {
        *restarts += status.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        if let Some(at) = status
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
        {
            last_restart = Some(last_restart.map_or(at, |l| l.max(at)));
        }
    };
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let total = containers.map_or(0, Vec::len);
    let mut ready = 0;
    let mut reason = str_at(pod, "/status/phase").unwrap_or("").to_owned();
    if let Some(r) = str_at(pod, "/status/reason").filter(|r| !r.is_empty()) {
        reason = r.to_owned();
    }
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    let condition = |kind: &str| {
        conditions
            .into_iter()
            .flatten()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    };
    if condition("PodScheduled").and_then(|c| c.get("reason")).and_then(Value::as_str)
        == Some("SchedulingGated")
    {
        reason = "SchedulingGated".to_owned();
    }
    let init_statuses = pod
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let init_count = len_at(pod, "/spec/initContainers");
    let mut initializing = false;
    for (i, status) in init_statuses.iter().enumerate() {
        note_restart(status, &mut restarts);
        let terminated = status.pointer("/state/terminated");
        let waiting_reason = str_at(status, "/state/waiting/reason").unwrap_or("");
        match terminated {
            Some(t) if t.get("exitCode").and_then(Value::as_i64) == Some(0) => continue,
            Some(t) => {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                reason = match t.get("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    Some(r) => format!("Init:{r}"),
                    None if signal != 0 => format!("Init:Signal:{signal}"),
                    None => format!(
                        "Init:ExitCode:{}",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    ),
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{init_count}"),
        }
        initializing = true;
        break;
    }
    let initialized =
        condition("Initialized").and_then(|c| c.get("status")).and_then(Value::as_str)
            == Some("True");
    if !initializing || initialized {
        restarts = 0;
        let mut has_running = false;
        let statuses = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for status in statuses.iter().rev() {
            note_restart(status, &mut restarts);
            let waiting = str_at(status, "/state/waiting/reason").filter(|r| !r.is_empty());
            let terminated = status.pointer("/state/terminated");
            if let Some(w) = waiting {
                reason = w.to_owned();
            } else if let Some(t) = terminated {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                reason = match t.get("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    Some(r) => r.to_owned(),
                    None if signal != 0 => format!("Signal:{signal}"),
                    None => {
                        format!(
                            "ExitCode:{}",
                            t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                        )
                    }
                };
            } else if status.get("ready").and_then(Value::as_bool) == Some(true)
                && status.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready =
                condition("Ready").and_then(|c| c.get("status")).and_then(Value::as_str)
                    == Some("True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_owned();
        }
    }
    let phase = str_at(pod, "/status/phase").unwrap_or("");
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if str_at(pod, "/status/reason") == Some("NodeLost") {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }
    let restarts_cell = match last_restart {
        Some(at) => format!("{restarts} ({} ago)", human_duration(unix_seconds(now) - at)),
        None => restarts.to_string(),
    };
    let ip = pod
        .pointer("/status/podIPs/0/ip")
        .and_then(Value::as_str)
        .or_else(|| str_at(pod, "/status/podIP"))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let node = str_at(pod, "/spec/nodeName").filter(|n| !n.is_empty()).unwrap_or("<none>");
    let nominated =
        str_at(pod, "/status/nominatedNodeName").filter(|n| !n.is_empty()).unwrap_or("<none>");
    let gates = pod.pointer("/spec/readinessGates").and_then(Value::as_array);
    let readiness_gates = match gates.filter(|g| !g.is_empty()) {
        None => "<none>".to_owned(),
        Some(gates) => {
            let true_gates = gates
                .iter()
                .filter(|g| {
                    let kind = g.get("conditionType").and_then(Value::as_str);
                    condition(kind.unwrap_or(""))
                        .and_then(|c| c.get("status"))
                        .and_then(Value::as_str)
                        == Some("True")
                })
                .count();
            format!("{true_gates}/{}", gates.len())
        }
    };
    vec![
        json!(name_of(pod)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        json!(age(str_at(pod, "/metadata/creationTimestamp"), now)),
        json!(ip),
        json!(node),
        json!(nominated),
        json!(readiness_gates),
    ]
}

fn job_cells(job: &Value, now: SystemTime) -> Vec<Value> {
    let has_condition = |kind: &str| {
        job.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().any(|c| {
            c.get("type").and_then(Value::as_str) == Some(kind)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    };
    let status = if has_condition("Complete") {
        "Complete"
    } else if has_condition("Failed") {
        "Failed"
    } else if job.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has_condition("Suspended") {
        "Suspended"
    } else if has_condition("FailureTarget") {
        "FailureTarget"
    } else if has_condition("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = int_at(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match job.pointer("/spec/parallelism").and_then(Value::as_i64).unwrap_or(1) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = str_at(job, "/status/startTime").and_then(parse_rfc3339);
    let end = str_at(job, "/status/completionTime").and_then(parse_rfc3339);
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(unix_seconds(now) - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let template = job.pointer("/spec/template/spec");
    vec![
        json!(name_of(job)),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(str_at(job, "/metadata/creationTimestamp"), now)),
        json!(containers(template, "name")),
        json!(containers(template, "image")),
        json!(label_selector(job.pointer("/spec/selector"))),
    ]
}

fn service_cells(svc: &Value, name: Value, created: Value) -> Vec<Value> {
    let kind = str_at(svc, "/spec/type").unwrap_or("ClusterIP");
    let cluster_ip = str_at(svc, "/spec/clusterIP").filter(|ip| !ip.is_empty()).unwrap_or("<none>");
    let external_ips = strings(svc.pointer("/spec/externalIPs"));
    let external = match kind {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut addresses =
                load_balancer_addresses(svc.pointer("/status/loadBalancer/ingress"));
            addresses.extend(external_ips.iter().map(|ip| (*ip).to_owned()));
            if addresses.is_empty() { "<pending>".to_owned() } else { addresses.join(",") }
        }
        "ExternalName" => str_at(svc, "/spec/externalName").unwrap_or("").to_owned(),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
                Some(node_port) => format!("{port}:{node_port}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") };
    vec![
        name,
        json!(kind),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        created,
        json!(labels(svc.pointer("/spec/selector"))),
    ]
}

fn load_balancer_addresses(ingress: Option<&Value>) -> Vec<String> {
    ingress
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i.get("ip")
                .and_then(Value::as_str)
                .or_else(|| i.get("hostname").and_then(Value::as_str))
        })
        .map(str::to_owned)
        .collect()
}

fn load_balancer(ingress: Option<&Value>) -> String {
    load_balancer_addresses(ingress).join(",")
}

/// `formatEndpoints`: `ip:port` pairs, at most three then `+ N more...`, `<none>` when empty.
fn endpoints(o: &Value) -> String {
    let mut pairs = Vec::new();
    for subset in o.get("subsets").and_then(Value::as_array).into_iter().flatten() {
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("port").and_then(Value::as_i64))
            .collect();
        for address in subset.get("addresses").and_then(Value::as_array).into_iter().flatten() {
            let ip = address.get("ip").and_then(Value::as_str).unwrap_or("");
            if ports.is_empty() {
                pairs.push(ip.to_owned());
            }
            pairs.extend(ports.iter().map(|port| format!("{ip}:{port}")));
        }
    }
    match pairs.len() {
        0 => "<none>".to_owned(),
        n if n > 3 => format!("{} + {} more...", pairs[..3].join(","), n - 3),
        _ => pairs.join(","),
    }
}

fn event_cells(event: &Value, now: SystemTime) -> Vec<Value> {
    let first = match str_at(event, "/firstTimestamp").filter(|t| !t.is_empty()) {
        Some(t) => age(Some(t), now),
        None => age(str_at(event, "/eventTime"), now),
    };
    let mut last = match str_at(event, "/lastTimestamp").filter(|t| !t.is_empty()) {
        Some(t) => age(Some(t), now),
        None => first.clone(),
    };
    let mut count = event.get("count").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = event.get("series").filter(|s| s.is_object()) {
        last = age(series.get("lastObservedTime").and_then(Value::as_str), now);
        count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(event, "/involvedObject/kind").unwrap_or("").to_ascii_lowercase();
    let target = match str_at(event, "/involvedObject/name").filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let component = str_at(event, "/source/component")
        .filter(|c| !c.is_empty())
        .or_else(|| str_at(event, "/reportingComponent").filter(|c| !c.is_empty()));
    let host = str_at(event, "/source/host")
        .filter(|h| !h.is_empty())
        .or_else(|| str_at(event, "/reportingInstance").filter(|h| !h.is_empty()));
    let source = match (component, host) {
        (Some(c), Some(h)) => format!("{c}, {h}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(h)) => format!(", {h}"),
        (None, None) => String::new(),
    };
    vec![
        json!(last),
        json!(str_at(event, "/type").unwrap_or("")),
        json!(str_at(event, "/reason").unwrap_or("")),
        json!(target),
        json!(str_at(event, "/involvedObject/fieldPath").unwrap_or("")),
        json!(source),
        json!(str_at(event, "/message").unwrap_or("").trim()),
        json!(first),
        json!(count),
        json!(name_of(event)),
    ]
}

fn node_cells(node: &Value, name: Value, created: Value) -> Vec<Value> {
    let conditions = node.pointer("/status/conditions").and_then(Value::as_array);
    let mut status: Vec<String> = Vec::new();
    for condition in conditions.into_iter().flatten() {
        if condition.get("type").and_then(Value::as_str) == Some("Ready") {
            let ready = condition.get("status").and_then(Value::as_str) == Some("True");
            status.push(if ready { "Ready" } else { "NotReady" }.to_owned());
        }
    }
    if status.is_empty() {
        status.push("Unknown".to_owned());
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".to_owned());
    }
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then(|| role.to_owned())
            } else if key == "kubernetes.io/role" {
                value.as_str().map(str::to_owned)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() { "<none>".to_owned() } else { roles.join(",") };
    let address = |kind: &str| {
        node.pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    let info = |key: &str| {
        node.pointer(&format!("/status/nodeInfo/{key}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let os_image = match info("osImage") {
        os if os.is_empty() => "<unknown>".to_owned(),
        os => os,
    };
    let kernel = match info("kernelVersion") {
        k if k.is_empty() => "<unknown>".to_owned(),
        k => k,
    };
    let runtime = match info("containerRuntimeVersion") {
        r if r.is_empty() => "<unknown>".to_owned(),
        r => r,
    };
    vec![
        name,
        json!(status.join(",")),
        json!(roles),
        created,
        json!(info("kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(os_image),
        json!(kernel),
        json!(runtime),
    ]
}
