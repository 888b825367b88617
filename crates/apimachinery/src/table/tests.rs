//! Data-driven tests of the printers. Expected cells come from Kubernetes'
//! `pkg/printers/internalversion/printers_test.go` (`TestPrintPod`, `TestPrintDeployment`,
//! `TestPrintService`, …) where a case is taken from there, and from the printer's code path
//! (named in the case) otherwise.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::*;

/// 2024-01-01T00:10:00Z: ten minutes after the objects below were created.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_800)
}

const CREATED: &str = "2024-01-01T00:00:00Z";

fn cells(group: &str, kind: &str, object: Value) -> Vec<Value> {
    TableConvertor::for_kind(group, "v1", kind, None).cells(&object, now())
}

fn pod(status: Value) -> Value {
    json!({
        "metadata": {"name": "p", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "weir"},
        "status": status
    })
}

#[test]
fn pod_status_is_worked_out_as_kubectl_shows_it() {
    let running = json!({"running": {}});
    // (case, status, expected READY, STATUS, RESTARTS)
    let cases = [
        // TestPrintPod "test1": one ready, one waiting on podReason.
        (
            "waiting reason wins",
            json!({"phase": "podPhase", "containerStatuses": [
                {"ready": true, "restartCount": 3, "state": running},
                {"state": {"waiting": {"reason": "ContainerWaitingReason"}}, "restartCount": 3}]}),
            "1/2",
            "ContainerWaitingReason",
            "6",
        ),
        (
            "ContainerCreating",
            json!({"phase": "Pending", "containerStatuses": [
                {"state": {"waiting": {"reason": "ContainerCreating"}}},
                {"state": {"waiting": {"reason": "ContainerCreating"}}}]}),
            "0/2",
            "ContainerCreating",
            "0",
        ),
        (
            "CrashLoopBackOff with the age of the last restart",
            json!({"phase": "Running", "containerStatuses": [
                {"ready": true, "state": running},
                {"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:08:00Z"}}}]}),
            "1/2",
            "CrashLoopBackOff",
            "4 (2m ago)",
        ),
        (
            "Running",
            json!({"phase": "Running", "containerStatuses": [
                {"ready": true, "state": running}, {"ready": true, "state": running}]}),
            "2/2",
            "Running",
            "0",
        ),
        // TestPrintPod "test4": terminated with a reason.
        (
            "Completed",
            json!({"phase": "Succeeded", "containerStatuses": [
                {"state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
                {"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
            "0/2",
            "Completed",
            "0",
        ),
        // printPod: "Completed" with a container still running and the pod not Ready.
        (
            "NotReady",
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                {"ready": true, "state": running},
                {"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
            "1/2",
            "NotReady",
            "0",
        ),
        (
            "exit code without a reason",
            json!({"phase": "Running", "containerStatuses": [
                {"state": {"terminated": {"exitCode": 2}}}, {"ready": true, "state": running}]}),
            "1/2",
            "ExitCode:2",
            "0",
        ),
        ("Pending with no status yet", json!({"phase": "Pending"}), "0/2", "Pending", "0"),
        // TestPrintPod: an init container still waiting shows Init:i/n.
        (
            "Init:0/1",
            json!({"phase": "Pending", "initContainerStatuses": [{"state": {"running": {}}}]}),
            "0/2",
            "Init:0/1",
            "0",
        ),
        (
            "Init:CrashLoopBackOff",
            json!({"phase": "Pending", "initContainerStatuses": [
                {"restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            "0/2",
            "Init:CrashLoopBackOff",
            "2",
        ),
        (
            "Evicted (status.reason)",
            json!({"phase": "Failed", "reason": "Evicted"}),
            "0/2",
            "Evicted",
            "0",
        ),
    ];
    for (case, status, ready, expected_status, restarts) in cases {
        let mut object = pod(status);
        if case == "Init:0/1" || case == "Init:CrashLoopBackOff" {
            object["spec"]["initContainers"] = json!([{"name": "init"}]);
        }
        let row = cells("", "Pod", object);
        assert_eq!(row[1], ready, "{case}");
        assert_eq!(row[2], expected_status, "{case}");
        assert_eq!(row[3], restarts, "{case}");
        assert_eq!(row[4], "10m", "{case}");
    }
}

#[test]
fn a_pod_being_deleted_is_terminating_unless_it_finished() {
    let mut object = pod(json!({"phase": "Running"}));
    object["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:09:00Z");
    assert_eq!(cells("", "Pod", object.clone())[2], "Terminating");
    object["status"]["phase"] = json!("Succeeded");
    assert_eq!(cells("", "Pod", object)[2], "Succeeded");
}

#[test]
fn pod_wide_columns() {
    let object = json!({
        "metadata": {"name": "p", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "a"}], "nodeName": "weir",
            "readinessGates": [{"conditionType": "x/ok"}, {"conditionType": "x/other"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.5",
            "conditions": [{"type": "x/ok", "status": "True"}]}
    });
    let convertor = TableConvertor::for_kind("", "v1", "Pod", None);
    let names: Vec<(&str, i64)> =
        convertor.columns().iter().map(|c| (c.name.as_str(), c.priority)).collect();
    assert_eq!(
        names,
        [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
    );
    assert_eq!(
        convertor.cells(&object, now())[5..],
        [json!("10.0.0.5"), json!("weir"), json!("<none>"), json!("1/2")]
    );
}

#[test]
fn workload_and_service_printers() {
    // (group, kind, object, expected cells) — TestPrintDeployment, TestPrintReplicaSet,
    // TestPrintService, TestPrintConfigMap/Secret/Namespace (shape of the cases there).
    let template = json!({"spec": {"containers": [
        {"name": "app", "image": "reviews:v2"}, {"name": "proxy", "image": "envoy"}]}});
    let cases = [
        (
            "apps",
            "Deployment",
            json!({"metadata": {"name": "d", "creationTimestamp": CREATED},
                "spec": {"replicas": 5, "template": template,
                    "selector": {"matchLabels": {"app": "d", "tier": "web"},
                        "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}},
                "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}}),
            json!([
                "d",
                "2/5",
                3,
                1,
                "10m",
                "app,proxy",
                "reviews:v2,envoy",
                "app=d,tier=web,env in (a,b)"
            ]),
        ),
        (
            "apps",
            "ReplicaSet",
            json!({"metadata": {"name": "rs", "creationTimestamp": CREATED},
                "spec": {"replicas": 2, "template": template, "selector": {"matchLabels": {"a": "b"}}},
                "status": {"replicas": 2, "readyReplicas": 1}}),
            json!(["rs", 2, 2, 1, "10m", "app,proxy", "reviews:v2,envoy", "a=b"]),
        ),
        (
            "",
            "Service",
            json!({"metadata": {"name": "s", "creationTimestamp": CREATED},
                "spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "selector": {"app": "s"},
                    "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
            json!(["s", "NodePort", "10.0.0.1", "<none>", "80:30080/TCP,53/UDP", "10m", "app=s"]),
        ),
        (
            "",
            "Service",
            json!({"metadata": {"name": "lb", "creationTimestamp": CREATED},
                "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.2", "ports": [{"port": 443}]}}),
            json!(["lb", "LoadBalancer", "10.0.0.2", "<pending>", "443/TCP", "10m", "<none>"]),
        ),
        (
            "",
            "Service",
            json!({"metadata": {"name": "ext", "creationTimestamp": CREATED},
                "spec": {"type": "ExternalName", "externalName": "example.com"}}),
            json!(["ext", "ExternalName", "<none>", "example.com", "<none>", "10m", "<none>"]),
        ),
        (
            "",
            "ConfigMap",
            json!({"metadata": {"name": "c", "creationTimestamp": CREATED},
                "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
            json!(["c", 3, "10m"]),
        ),
        (
            "",
            "Secret",
            json!({"metadata": {"name": "s", "creationTimestamp": CREATED},
                "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
            json!(["s", "kubernetes.io/tls", 2, "10m"]),
        ),
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "n", "creationTimestamp": CREATED}, "status": {"phase": "Terminating"}}),
            json!(["n", "Terminating", "10m"]),
        ),
        (
            "",
            "ServiceAccount",
            json!({"metadata": {"name": "default", "creationTimestamp": CREATED}}),
            json!(["default", 0, "10m"]),
        ),
        (
            "batch",
            "Job",
            json!({"metadata": {"name": "j", "creationTimestamp": CREATED},
                "spec": {"completions": 2, "template": {"spec": {"containers": [{"name": "x", "image": "busybox"}]}},
                    "selector": {"matchLabels": {"job": "j"}}},
                "status": {"succeeded": 2, "startTime": "2024-01-01T00:01:00Z",
                    "completionTime": "2024-01-01T00:01:30Z",
                    "conditions": [{"type": "Complete", "status": "True"}]}}),
            json!(["j", "Complete", "2/2", "30s", "10m", "x", "busybox", "job=j"]),
        ),
        (
            "",
            "Node",
            json!({"metadata": {"name": "weir", "creationTimestamp": CREATED,
                    "labels": {"node-role.kubernetes.io/control-plane": ""}},
                "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "Ready", "status": "True"}],
                    "nodeInfo": {"kubeletVersion": "v1.36.0"},
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}),
            json!([
                "weir",
                "Ready,SchedulingDisabled",
                "control-plane",
                "10m",
                "v1.36.0",
                "127.0.0.1",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
        (
            "",
            "Event",
            json!({"metadata": {"name": "e.1", "creationTimestamp": CREATED},
                "involvedObject": {"kind": "Rollout", "name": "reviews", "fieldPath": ""},
                "reason": "RolloutUpdated", "type": "Normal", "message": " updated \n", "count": 3,
                "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:09:00Z",
                "source": {"component": "rollouts-controller"}}),
            json!([
                "60s",
                "Normal",
                "RolloutUpdated",
                "rollout/reviews",
                "",
                "rollouts-controller",
                "updated",
                "10m",
                3,
                "e.1"
            ]),
        ),
    ];
    for (group, kind, object, expected) in cases {
        assert_eq!(Value::Array(cells(group, kind, object)), expected, "{kind}");
    }
}

#[test]
fn crd_kinds_use_their_printer_columns() {
    let rollout = json!({
        "metadata": {"name": "reviews", "creationTimestamp": CREATED},
        "spec": {"replicas": 5},
        "status": {"replicas": 5, "updatedReplicas": 1, "availableReplicas": 4}
    });
    let convertor = TableConvertor::for_kind("argoproj.io", "v1alpha1", "Rollout", None);
    let names: Vec<&str> = convertor.columns().iter().map(|c| c.name.as_str()).collect();
    // The Rollout CRD's additionalPrinterColumns, after Name.
    assert_eq!(names, ["Name", "Desired", "Current", "Up-to-date", "Available", "Age"]);
    assert_eq!(
        convertor.cells(&rollout, now()),
        [json!("reviews"), json!(5), json!(5), json!(1), json!(4), json!("10m")]
    );

    // VirtualService: hosts print as JSON, as JSONPath prints a list; no Age column is added
    // because the CRD declares columns (it declares its own Age).
    let vs = json!({"metadata": {"name": "r", "creationTimestamp": CREATED},
        "spec": {"gateways": ["bookinfo-gateway"], "hosts": ["reviews"]}});
    let convertor = TableConvertor::for_kind("networking.istio.io", "v1", "VirtualService", None);
    let names: Vec<&str> = convertor.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Name", "Gateways", "Hosts", "Age"]);
    assert_eq!(
        convertor.cells(&vs, now()),
        [json!("r"), json!("[\"bookinfo-gateway\"]"), json!("[\"reviews\"]"), json!("10m")]
    );

    // Application: priority-10 columns are wide; missing status is null.
    let convertor = TableConvertor::for_kind("argoproj.io", "v1alpha1", "Application", None);
    let wide: Vec<(&str, i64)> =
        convertor.columns().iter().map(|c| (c.name.as_str(), c.priority)).collect();
    assert_eq!(
        wide,
        [("Name", 0), ("Sync Status", 0), ("Health Status", 0), ("Revision", 10), ("Project", 10)]
    );
    let app = json!({"metadata": {"name": "bookinfo"}, "spec": {"project": "default"}});
    assert_eq!(
        convertor.cells(&app, now()),
        [json!("bookinfo"), Value::Null, Value::Null, Value::Null, json!("default")]
    );
}

#[test]
fn a_runtime_crd_without_columns_gets_age_and_unknown_kinds_name_and_age() {
    let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Tenant"},
        "versions": [{"name": "v1", "additionalPrinterColumns": []}]}});
    let object = json!({"metadata": {"name": "t", "creationTimestamp": CREATED}});
    for convertor in [
        TableConvertor::for_kind("example.com", "v1", "Tenant", Some(&crd)),
        TableConvertor::for_kind("example.com", "v1", "Unknown", None),
    ] {
        let names: Vec<&str> = convertor.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(convertor.columns()[0].format, "name");
        assert_eq!(convertor.cells(&object, now()), [json!("t"), json!("10m")]);
    }
    let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Tenant"},
        "versions": [{"name": "v1", "additionalPrinterColumns": [
            {"name": "Owner", "type": "string", "jsonPath": ".spec.owner", "priority": 1},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}]}]}});
    let convertor = TableConvertor::for_kind("example.com", "v1", "Tenant", Some(&crd));
    let object = json!({"metadata": {"name": "t"}, "spec": {"owner": "me"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    assert_eq!(convertor.cells(&object, now()), [json!("t"), json!("me"), json!("True")]);
    assert_eq!(
        convertor.columns()[1].description,
        "Custom resource definition column (in JSONPath format): .spec.owner"
    );
}

#[test]
fn a_table_keeps_list_metadata_and_includes_objects_as_asked() {
    let convertor = TableConvertor::for_kind("", "v1", "ConfigMap", None);
    let objects = [json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "7", "creationTimestamp": CREATED}, "data": {"k": "v"}})];
    let metadata = json!({"resourceVersion": "9", "continue": "token"});
    let options = |include| TableOptions {
        api_version: "meta.k8s.io/v1".to_owned(),
        include,
        with_columns: true,
    };
    let table =
        convertor.table(&objects, metadata.clone(), &options(IncludeObject::Metadata), now());
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"], metadata);
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["columnDefinitions"][0]["format"], "name");
    assert_eq!(table["columnDefinitions"][1]["priority"], 0);
    assert_eq!(table["rows"][0]["cells"], json!(["c", 1, "10m"]));
    assert_eq!(
        table["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "c", "resourceVersion": "7", "creationTimestamp": CREATED}})
    );
    let full = convertor.table(&objects, json!({}), &options(IncludeObject::Object), now());
    assert_eq!(full["rows"][0]["object"], objects[0]);
    let none = convertor.table(&objects, json!({}), &options(IncludeObject::None), now());
    assert!(none["rows"][0].get("object").is_none());
    let mut watch = options(IncludeObject::Metadata);
    watch.with_columns = false;
    assert_eq!(convertor.table(&objects, json!({}), &watch, now())["columnDefinitions"], json!([]));
}

#[test]
fn the_accept_header_decides() {
    let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let options = TableOptions::from_accept(kubectl, IncludeObject::Metadata).unwrap();
    assert_eq!(options.api_version, "meta.k8s.io/v1");
    let beta = TableOptions::from_accept(
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
        IncludeObject::None,
    )
    .unwrap();
    assert_eq!(beta.api_version, "meta.k8s.io/v1beta1");
    assert!(TableOptions::from_accept("application/json", IncludeObject::Metadata).is_none());
    assert!(
        TableOptions::from_accept(
            "application/json, application/json;as=Table;v=v1;g=meta.k8s.io",
            IncludeObject::Metadata
        )
        .is_none()
    );
    assert!(
        TableOptions::from_accept(
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            IncludeObject::Metadata
        )
        .is_none()
    );
    assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
    assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
    assert!(IncludeObject::parse(Some("All")).is_err());
}
