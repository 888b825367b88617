//! Defaulting of built-in kinds, as the Kubernetes API server applies it on every create and
//! update: what a client reads back from a cluster carries these fields even when the
//! manifest did not write them (so the GitOps diff meets the objects it meets on a cluster).
//!
//! Sources (Kubernetes 1.36): `pkg/apis/core/v1/defaults.go` (`SetDefaults_Pod`,
//! `SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_ContainerPort`,
//! `SetDefaults_Probe`, `SetDefaults_HTTPGetAction`, `SetDefaults_Volume` and the volume
//! sources' `DefaultMode`s, `SetDefaults_ObjectFieldSelector`, `SetDefaults_Service`,
//! `SetDefaults_Secret`, `SetDefaults_NamespaceStatus`, `SetDefaults_PersistentVolumeClaimSpec`,
//! `SetDefaults_EndpointPort`), `pkg/apis/apps/v1/defaults.go` (Deployment, ReplicaSet,
//! StatefulSet, DaemonSet), `pkg/apis/batch/v1/defaults.go` (Job, CronJob); the namespace
//! strategy (`spec.finalizers: [kubernetes]`) and the Service registry (`ipFamilyPolicy`,
//! `ipFamilies` on a single-stack IPv4 cluster).
//!
//! Deliberate differences: no cluster IP or node port is allocated; admission plugins' fields
//! (`serviceAccountName`, `priority`, default tolerations) are not added; a Job's pod template
//! gets no `restartPolicy` (the API server would default it to `Always` and then refuse the
//! Job, asking for `OnFailure` or `Never`; weir leaves it to validation elsewhere).
//!
//! Every function only fills what is absent (or `null`), so defaulting twice changes nothing,
//! and never replaces a value of the wrong type (validation reports those).

use serde_json::{Map, Value, json};

/// Applies the API server's defaults for `group`/`kind` to an object's fields beside
/// `apiVersion`, `kind` and `metadata` (`spec`, `status`, `type`, …). Kinds without defaults
/// are left as they are.
pub fn apply(group: &str, kind: &str, fields: &mut Map<String, Value>) {
    match (group, kind) {
        ("", "Pod") => pod(fields),
        ("", "Service") => service(fields),
        ("", "Secret") => set(fields, "type", json!("Opaque")),
        ("", "Namespace") => namespace(fields),
        ("", "Endpoints") => endpoints(fields),
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = child(fields, "spec") {
                set(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("", "ReplicationController") => replication_controller(fields),
        ("apps", "Deployment") => deployment(fields),
        ("apps", "ReplicaSet") => replica_set(fields),
        ("apps", "StatefulSet") => stateful_set(fields),
        ("apps", "DaemonSet") => daemon_set(fields),
        ("batch", "Job") => {
            if let Some(spec) = child(fields, "spec") {
                job_spec(spec);
            }
        }
        ("batch", "CronJob") => cron_job(fields),
        _ => {}
    }
}

/// Sets `key` when it is absent or `null`.
fn set(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        None | Some(Value::Null) => {
            map.insert(key.to_owned(), value);
        }
        Some(_) => {}
    }
}

/// The object under `key`, created empty when absent; `None` when it is not an object.
fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    set(map, key, json!({}));
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object under `key` when present (never created).
fn existing<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// Every object of the list under `key`, if any.
fn items<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Which pod spec defaults apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodSpecOf {
    /// A Pod, or the template of a controller whose pods restart (`restartPolicy: Always`).
    Pod,
    /// A Job's template: no `restartPolicy` default (see the module docs).
    Job,
}

fn pod(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    pod_spec(spec, PodSpecOf::Pod);
    // `SetDefaults_Pod`: only Pods, not templates.
    set(spec, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        items(spec, list).for_each(requests_from_limits);
    }
}

/// `SetDefaults_Pod`: a container with limits and no requests for a resource requests its limit.
fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = existing(container, "resources") else { return };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if let Some(requests) = child(resources, "requests") {
        for (name, quantity) in limits {
            set(requests, &name, quantity);
        }
    }
}

fn pod_template(parent: &mut Map<String, Value>, of: PodSpecOf) {
    if let Some(spec) = existing(parent, "template").and_then(|t| child(t, "spec")) {
        pod_spec(spec, of);
    }
}

fn pod_spec(spec: &mut Map<String, Value>, of: PodSpecOf) {
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    if of == PodSpecOf::Pod {
        set(spec, "restartPolicy", json!("Always"));
    }
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    set(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        items(spec, list).for_each(container_defaults);
    }
    for volume in items(spec, "volumes") {
        volume_defaults(volume);
    }
}

fn container_defaults(container: &mut Map<String, Value>) {
    set(container, "terminationMessagePath", json!("/dev/termination-log"));
    set(container, "terminationMessagePolicy", json!("File"));
    if let Some(image) = container.get("image").and_then(Value::as_str) {
        let policy = image_pull_policy(image);
        set(container, "imagePullPolicy", json!(policy));
    }
    set(container, "resources", json!({}));
    for port in items(container, "ports") {
        set(port, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = existing(container, probe) {
            probe_defaults(probe);
        }
    }
    for env in items(container, "env") {
        if let Some(field_ref) = existing(env, "valueFrom").and_then(|v| existing(v, "fieldRef")) {
            set(field_ref, "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_Container`: `Always` when the image's tag is `latest` (no tag and no digest
/// counts as `latest`), else `IfNotPresent`.
pub fn image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.rsplit_once(':').map(|(_, tag)| tag);
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

fn probe_defaults(probe: &mut Map<String, Value>) {
    set(probe, "timeoutSeconds", json!(1));
    set(probe, "periodSeconds", json!(10));
    set(probe, "successThreshold", json!(1));
    set(probe, "failureThreshold", json!(3));
    if let Some(http) = existing(probe, "httpGet") {
        set(http, "path", json!("/"));
        set(http, "scheme", json!("HTTP"));
    }
}

/// The volume sources a volume may name (`SetDefaults_Volume` adds `emptyDir: {}` when none).
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn volume_defaults(volume: &mut Map<String, Value>) {
    if !VOLUME_SOURCES.iter().any(|s| volume.contains_key(*s)) {
        volume.insert("emptyDir".to_owned(), json!({}));
    }
    // 0644, as `SetDefaults_{ConfigMap,Secret,DownwardAPI,Projected}VolumeSource` set it.
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(source) = existing(volume, source) {
            set(source, "defaultMode", json!(420));
        }
    }
    if let Some(host_path) = existing(volume, "hostPath") {
        set(host_path, "type", json!(""));
    }
}

fn service(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        set(spec, "sessionAffinityConfig", json!({"clientIP": {"timeoutSeconds": 10800}}));
    }
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
    for port in items(spec, "ports") {
        set(port, "protocol", json!("TCP"));
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".to_owned(), number);
        }
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if service_type != "ExternalName" {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
        set(spec, "ipFamilyPolicy", json!("SingleStack"));
        set(spec, "ipFamilies", json!(["IPv4"]));
    }
}

fn namespace(fields: &mut Map<String, Value>) {
    if let Some(spec) = child(fields, "spec") {
        set(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = child(fields, "status") {
        set(status, "phase", json!("Active"));
    }
}

fn endpoints(fields: &mut Map<String, Value>) {
    for subset in items(fields, "subsets") {
        for port in items(subset, "ports") {
            set(port, "protocol", json!("TCP"));
        }
    }
}

fn replication_controller(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "replicas", json!(1));
    pod_template(spec, PodSpecOf::Pod);
}

fn deployment(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!("25%"));
            set(rolling, "maxSurge", json!("25%"));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    pod_template(spec, PodSpecOf::Pod);
}

fn replica_set(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "replicas", json!(1));
    pod_template(spec, PodSpecOf::Pod);
}

fn stateful_set(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "replicas", json!(1));
    set(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child(spec, "updateStrategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set(rolling, "partition", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    if let Some(retention) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        set(retention, "whenDeleted", json!("Retain"));
        set(retention, "whenScaled", json!("Retain"));
    }
    pod_template(spec, PodSpecOf::Pod);
}

fn daemon_set(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    if let Some(strategy) = child(spec, "updateStrategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!(1));
            set(rolling, "maxSurge", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    pod_template(spec, PodSpecOf::Pod);
}

fn job_spec(spec: &mut Map<String, Value>) {
    let absent = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if absent(spec, "completions") && absent(spec, "parallelism") {
        set(spec, "completions", json!(1));
    }
    set(spec, "parallelism", json!(1));
    let backoff = if absent(spec, "backoffLimitPerIndex") { json!(6) } else { json!(i32::MAX) };
    set(spec, "backoffLimit", backoff);
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    let replacement =
        if absent(spec, "podFailurePolicy") { "TerminatingOrFailed" } else { "Failed" };
    set(spec, "podReplacementPolicy", json!(replacement));
    pod_template(spec, PodSpecOf::Job);
}

fn cron_job(fields: &mut Map<String, Value>) {
    let Some(spec) = child(fields, "spec") else { return };
    set(spec, "concurrencyPolicy", json!("Allow"));
    set(spec, "suspend", json!(false));
    set(spec, "successfulJobsHistoryLimit", json!(3));
    set(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job) = existing(spec, "jobTemplate").and_then(|t| child(t, "spec")) {
        job_spec(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(group: &str, kind: &str, fields: Value) -> Value {
        let mut map = fields.as_object().cloned().unwrap();
        apply(group, kind, &mut map);
        Value::Object(map)
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        // `SetDefaults_Container` with `parsers.ParseImageName` (no tag and no digest is `latest`).
        for (image, expected) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/team/app", "Always"),
            ("registry:5000/team/app:v2", "IfNotPresent"),
            ("app@sha256:0123", "IfNotPresent"),
            ("app:latest@sha256:0123", "Always"),
        ] {
            assert_eq!(image_pull_policy(image), expected, "{image}");
        }
    }

    #[test]
    fn a_deployment_gets_the_apps_v1_defaults_and_its_template_the_pod_spec_ones() {
        let out = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                 "readinessProbe": {"httpGet": {"port": 80}}}
            ]}}}}),
        );
        let spec = &out["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(
            (spec["revisionHistoryLimit"].clone(), spec["progressDeadlineSeconds"].clone()),
            (json!(10), json!(600))
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["securityContext"], json!({}));
        assert!(pod.get("enableServiceLinks").is_none(), "only Pods get enableServiceLinks");
        let container = &pod["containers"][0];
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(container["terminationMessagePolicy"], "File");
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["ports"][0]["protocol"], "TCP");
        assert_eq!(
            container["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
    }

    #[test]
    fn a_recreate_deployment_gets_no_rolling_update_parameters() {
        let out =
            defaulted("apps", "Deployment", json!({"spec": {"strategy": {"type": "Recreate"}}}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn a_service_gets_type_affinity_protocol_and_target_port() {
        let out = defaulted(
            "",
            "Service",
            json!({"spec": {"selector": {"app": "web"}, "ports": [
                {"port": 9080}, {"port": 80, "targetPort": "http", "protocol": "UDP"}
            ]}}),
        );
        let spec = &out["spec"];
        assert_eq!(
            (spec["type"].clone(), spec["sessionAffinity"].clone()),
            (json!("ClusterIP"), json!("None"))
        );
        assert_eq!(spec["ports"][0], json!({"port": 9080, "protocol": "TCP", "targetPort": 9080}));
        assert_eq!(spec["ports"][1], json!({"port": 80, "targetPort": "http", "protocol": "UDP"}));
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert!(spec.get("externalTrafficPolicy").is_none(), "only NodePort and LoadBalancer");

        let lb = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP"}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(lb["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800);
        let external = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "x.example"}}),
        );
        assert!(external["spec"].get("ipFamilyPolicy").is_none());
    }

    #[test]
    fn pods_get_service_links_requests_and_volume_defaults() {
        let out = defaulted(
            "",
            "Pod",
            json!({"spec": {
                "containers": [{"name": "c", "image": "app", "resources": {"limits": {"cpu": "1"}},
                                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
                "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "cfg"}}]
            }}),
        );
        let spec = &out["spec"];
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["restartPolicy"], "Always");
        let container = &spec["containers"][0];
        assert_eq!(container["imagePullPolicy"], "Always");
        assert_eq!(container["resources"]["requests"], json!({"cpu": "1"}));
        assert_eq!(container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(spec["volumes"][0], json!({"name": "scratch", "emptyDir": {}}));
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn workloads_jobs_and_the_rest() {
        let rs = defaulted("apps", "ReplicaSet", json!({"spec": {}}));
        assert_eq!(rs["spec"]["replicas"], 1);
        let sts = defaulted("apps", "StatefulSet", json!({"spec": {}}));
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        let ds = defaulted("apps", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"]["rollingUpdate"],
            json!({"maxUnavailable": 1, "maxSurge": 0})
        );
        let job =
            defaulted("batch", "Job", json!({"spec": {"template": {"spec": {"containers": []}}}}));
        let spec = &job["spec"];
        assert_eq!(
            (spec["completions"].clone(), spec["parallelism"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert!(spec["template"]["spec"].get("restartPolicy").is_none(), "see the module docs");
        let parallel = defaulted("batch", "Job", json!({"spec": {"parallelism": 3}}));
        assert!(parallel["spec"].get("completions").is_none(), "only when both are unset");
        let cron = defaulted("batch", "CronJob", json!({"spec": {"jobTemplate": {"spec": {}}}}));
        assert_eq!(cron["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cron["spec"]["jobTemplate"]["spec"]["backoffLimit"], 6);
        assert_eq!(defaulted("", "Secret", json!({}))["type"], "Opaque");
        let ns = defaulted("", "Namespace", json!({}));
        assert_eq!(
            ns,
            json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        assert_eq!(defaulted("", "ConfigMap", json!({"data": {}})), json!({"data": {}}));
    }

    #[test]
    fn defaulting_is_idempotent_and_keeps_what_was_written() {
        let input = json!({"spec": {"replicas": 3, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x:1", "imagePullPolicy": "Never"}]}}}});
        let once = defaulted("apps", "Deployment", input);
        assert_eq!(once["spec"]["replicas"], 3);
        assert_eq!(
            once["spec"]["strategy"]["rollingUpdate"],
            json!({"maxSurge": 1, "maxUnavailable": "25%"})
        );
        assert_eq!(once["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
        assert_eq!(once["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Never");
        assert_eq!(defaulted("apps", "Deployment", once.clone()), once);
        // A value of the wrong type is left for validation to report.
        let wrong = defaulted("apps", "Deployment", json!({"spec": "nope"}));
        assert_eq!(wrong, json!({"spec": "nope"}));
    }
}
