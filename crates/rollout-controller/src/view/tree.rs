//! The revision → ReplicaSet → Pod (and AnalysisRun) tree of `get rollout`.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::Object;
use weir_rollout::SCALE_DOWN_DEADLINE_ANNOTATION;
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;

use super::summary::{render_summary, tags};
use super::{RolloutTree, age, columns, icon, phase};
use crate::observe::controlled_by;

/// One line of the tree before layout.
struct Node {
    prefix: String,
    icon: &'static str,
    name: String,
    kind: &'static str,
    status: String,
    age: String,
    info: String,
}

fn created(o: &Object) -> Option<Timestamp> {
    o.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn int(value: Option<&Value>) -> i64 {
    value.and_then(Value::as_i64).unwrap_or(0)
}

fn run_info(run: &Object) -> String {
    let results = run
        .field("status")
        .and_then(|s| s.get("metricResults"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let count = |k: &str| results.iter().map(|m| int(m.get(k))).sum::<i64>();
    let mut parts = Vec::new();
    for (sym, n) in [
        ("✔", count("successful")),
        ("✖", count("failed")),
        ("?", count("inconclusive")),
        ("⚠", count("error")),
    ] {
        if n > 0 {
            parts.push(format!("{sym} {n}"));
        }
    }
    parts.join(",")
}

/// `get rollout NAME`: the summary, then the tree, at `now`.
pub fn render_get(tree: &RolloutTree, now: Timestamp) -> String {
    let ro = tree.typed();
    let (ph, _) = phase(&ro);
    let mut nodes = vec![Node {
        prefix: String::new(),
        icon: "⟳",
        name: tree.rollout.name().to_owned(),
        kind: "Rollout",
        status: format!("{} {}", icon(ph.as_str()), ph.as_str()),
        age: age(created(&tree.rollout), now),
        info: String::new(),
    }];
    // Revision → its ReplicaSets and AnalysisRuns, newest first.
    let mut revisions: BTreeMap<i64, Vec<&Object>> = BTreeMap::new();
    let revision_of = |o: &Object| {
        o.annotation(weir_rollout::REVISION_ANNOTATION).and_then(|r| r.parse().ok()).unwrap_or(0)
    };
    for o in tree.replica_sets.iter().chain(&tree.analysis_runs) {
        revisions.entry(revision_of(o)).or_default().push(o);
    }
    let count = revisions.len();
    for (i, (revision, objects)) in revisions.iter().rev().enumerate() {
        let last_rev = i + 1 == count;
        let (branch, cont) = if last_rev { ("└──", "   ") } else { ("├──", "│  ") };
        nodes.push(Node {
            prefix: branch.to_owned(),
            icon: "#",
            name: format!("revision:{revision}"),
            kind: "",
            status: String::new(),
            age: String::new(),
            info: String::new(),
        });
        for (j, o) in objects.iter().enumerate() {
            let last_obj = j + 1 == objects.len();
            let (b2, c2) = if last_obj { ("└──", "   ") } else { ("├──", "│  ") };
            let prefix = format!("{cont}{b2}");
            if o.kind == "ReplicaSet" {
                let hash = o.label(POD_TEMPLATE_HASH_LABEL).unwrap_or("");
                let mut info: Vec<String> =
                    tags(&ro, hash).iter().map(|t| (*t).to_owned()).collect();
                if let Some(deadline) = o
                    .annotation(SCALE_DOWN_DEADLINE_ANNOTATION)
                    .and_then(|d| d.parse::<Timestamp>().ok())
                {
                    let left = deadline.as_second() - now.as_second();
                    info.push(if left > 0 {
                        format!("delay:{left}s")
                    } else {
                        "delay:passed".into()
                    });
                }
                let status = super::replica_set_status(o);
                nodes.push(Node {
                    prefix,
                    icon: "⧉",
                    name: o.name().to_owned(),
                    kind: "ReplicaSet",
                    status: format!("{} {status}", icon(status)),
                    age: age(created(o), now),
                    info: info.join(","),
                });
                let pods: Vec<&Object> =
                    tree.pods.iter().filter(|p| controlled_by(p, o.uid())).collect();
                for (k, pod) in pods.iter().enumerate() {
                    let b3 = if k + 1 == pods.len() { "└──" } else { "├──" };
                    let pod_summary = super::pod_summary(pod);
                    let word = pod_summary.word;
                    let mut info =
                        format!("ready:{}/{}", pod_summary.ready, pod_summary.containers);
                    if pod_summary.restarts > 0 {
                        info.push_str(&format!(",restarts:{}", pod_summary.restarts));
                    }
                    nodes.push(Node {
                        prefix: format!("{cont}{c2}{b3}"),
                        icon: "□",
                        name: pod.name().to_owned(),
                        kind: "Pod",
                        status: format!("{} {word}", icon(&word)),
                        age: age(created(pod), now),
                        info,
                    });
                }
            } else {
                let word = o
                    .field("status")
                    .and_then(|s| s.get("phase"))
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .unwrap_or("Pending")
                    .to_owned();
                nodes.push(Node {
                    prefix,
                    icon: "α",
                    name: o.name().to_owned(),
                    kind: "AnalysisRun",
                    status: format!("{} {word}", icon(&word)),
                    age: age(created(o), now),
                    info: run_info(o),
                });
            }
        }
    }
    let mut rows = vec![["NAME", "KIND", "STATUS", "AGE", "INFO"].map(str::to_owned).to_vec()];
    for n in nodes {
        rows.push(vec![
            format!("{}{} {}", n.prefix, n.icon, n.name),
            n.kind.to_owned(),
            n.status,
            n.age,
            n.info,
        ]);
    }
    format!("{}\n{}", render_summary(tree), columns(&rows))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Object {
        Object::from_value(v).expect("object")
    }

    fn owner(uid: &str) -> Value {
        json!([{"apiVersion": "x", "kind": "K", "name": "n", "uid": uid, "controller": true}])
    }

    #[test]
    fn get_rollout_shows_summary_and_tree() {
        let t0 = "2026-01-01T00:00:00Z";
        let rollout = object(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "uid": "ro",
                         "generation": 2, "creationTimestamp": t0},
            "spec": {"replicas": 5, "strategy": {"canary": {"steps": [
                {"setWeight": 10}, {"pause": {}}, {"setWeight": 50}]}}},
            "status": {"observedGeneration": "2", "phase": "Paused",
                "message": "CanaryPauseStep", "currentStepIndex": 1, "stableRS": "h1",
                "currentPodHash": "h2", "replicas": 6, "updatedReplicas": 1,
                "readyReplicas": 6, "availableReplicas": 6,
                "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": t0}],
                "controllerPause": true,
                "canary": {"weights": {"canary": {"podTemplateHash": "h2", "weight": 10},
                                       "stable": {"podTemplateHash": "h1", "weight": 90}}}}
        }));
        let rs = |name: &str, hash: &str, rev: &str, replicas: i64, uid: &str, image: &str| {
            object(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "uid": uid, "creationTimestamp": t0,
                    "labels": {"rollouts-pod-template-hash": hash},
                    "annotations": {"rollout.argoproj.io/revision": rev},
                    "ownerReferences": owner("ro")},
                "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                    {"name": "c", "image": image}]}}},
                "status": {"availableReplicas": replicas}
            }))
        };
        let pod = object(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "reviews-h2-x", "creationTimestamp": t0,
                         "ownerReferences": owner("rs2")},
            "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 0}]}
        }));
        let tree = RolloutTree {
            rollout,
            replica_sets: vec![
                rs("reviews-h1", "h1", "1", 5, "rs1", "r:1"),
                rs("reviews-h2", "h2", "2", 1, "rs2", "r:2"),
            ],
            pods: vec![pod],
            analysis_runs: vec![],
        };
        let now: Timestamp = "2026-01-01T00:05:00Z".parse().expect("now");
        let want = "\
Name:            reviews
Namespace:       bookinfo
Status:          ॥ Paused
Message:         CanaryPauseStep
Strategy:        Canary
  Step:          1/3
  SetWeight:     10
  ActualWeight:  10
Images:          r:1 (stable)
                 r:2 (canary)
Replicas:
  Desired:       5
  Current:       6
  Updated:       1
  Ready:         6
  Available:     6

NAME                     KIND        STATUS     AGE  INFO
⟳ reviews                Rollout     ॥ Paused   5m
├──# revision:2
│  └──⧉ reviews-h2       ReplicaSet  ✔ Healthy  5m   canary
│     └──□ reviews-h2-x  Pod         ✔ Running  5m   ready:1/1
└──# revision:1
   └──⧉ reviews-h1       ReplicaSet  ✔ Healthy  5m   stable
";
        assert_eq!(render_get(&tree, now), want);
        let list = super::super::render_list(std::slice::from_ref(&tree.rollout), false);
        assert_eq!(
            list,
            "NAME     STRATEGY  STATUS  STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n\
             reviews  Canary    Paused  1/3   10          6/6    5        1           6\n"
        );
    }
}
