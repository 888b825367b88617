//! A tiny simulated cluster for scenario tests: it executes the engine's commands, makes
//! pods available on request, and reconciles until nothing changes.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
pub(crate) use serde_json::json;
use weir_model::rollouts::{AnalysisPhase, Rollout, RolloutStatus};

use crate::canary::{AnalysisRunView, Command, Observed, Reconciled, reconcile};
use crate::replicas::ReplicaSetView;
use crate::{REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};

pub(crate) struct World {
    pub(crate) ro: Rollout,
    pub(crate) rss: Vec<ReplicaSetView>,
    pub(crate) runs: Vec<AnalysisRunView>,
    pub(crate) now: Timestamp,
    last: Option<Reconciled>,
}

impl World {
    pub(crate) fn new(ro: Rollout) -> Self {
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        World { ro, rss: Vec::new(), runs: Vec::new(), now, last: None }
    }

    pub(crate) fn pass(&mut self) -> Reconciled {
        let observed = Observed {
            replica_sets: &self.rss,
            analysis_runs: &self.runs,
            invalid_spec: None,
            now: self.now,
        };
        reconcile(&self.ro, &observed)
    }

    /// One reconcile whose commands are executed and whose status is persisted.
    pub(crate) fn step(&mut self) -> Reconciled {
        let out = self.pass();
        for command in &out.commands {
            self.apply(command);
        }
        self.ro.status = Some(out.status.clone());
        self.last = Some(out.clone());
        out
    }

    pub(crate) fn apply(&mut self, command: &Command) {
        match command {
            Command::CreateReplicaSet { name, hash, revision, replicas } => {
                self.rss.push(ReplicaSetView {
                    name: name.clone(),
                    hash: hash.clone(),
                    spec_replicas: Some(*replicas),
                    annotations: BTreeMap::from([(
                        REVISION_ANNOTATION.to_owned(),
                        revision.to_string(),
                    )]),
                    ..ReplicaSetView::default()
                });
            }
            Command::ScaleReplicaSet { name, replicas } => {
                self.rs_mut(name).spec_replicas = Some(*replicas);
            }
            Command::SetRevision { name, revision } => {
                self.rs_mut(name)
                    .annotations
                    .insert(REVISION_ANNOTATION.to_owned(), revision.to_string());
            }
            Command::SetScaleDownDeadline { name, deadline } => {
                let rs = self.rs_mut(name);
                match deadline {
                    Some(d) => rs
                        .annotations
                        .insert(SCALE_DOWN_DEADLINE_ANNOTATION.to_owned(), d.to_string()),
                    None => rs.annotations.remove(SCALE_DOWN_DEADLINE_ANNOTATION),
                };
            }
            Command::DeleteReplicaSet { name } => self.rss.retain(|rs| &rs.name != name),
            Command::CreateAnalysisRun { name, kind, labels, .. } => {
                self.runs.push(AnalysisRunView {
                    name: name.clone(),
                    kind: *kind,
                    pod_hash: labels.get("rollouts-pod-template-hash").cloned().unwrap_or_default(),
                    phase: Some(AnalysisPhase::Running),
                    message: String::new(),
                    terminating: false,
                    created: Some(self.now),
                });
            }
            Command::CancelAnalysisRun { name } => {
                if let Some(run) = self.runs.iter_mut().find(|r| &r.name == name) {
                    run.terminating = true;
                }
            }
            Command::SetWeight { .. }
            | Command::SetHeaderRoute(_)
            | Command::SetMirrorRoute(_)
            | Command::RemoveManagedRoutes
            | Command::SetServiceSelector { .. }
            | Command::RequeueAfter(_) => {}
        }
    }

    pub(crate) fn rs_mut(&mut self, name: &str) -> &mut ReplicaSetView {
        self.rss.iter_mut().find(|rs| rs.name == name).expect("known ReplicaSet")
    }

    /// The kubelet: every pod of every ReplicaSet becomes ready and available.
    pub(crate) fn pods_ready(&mut self) {
        for rs in &mut self.rss {
            rs.status_replicas = rs.replicas();
            rs.ready_replicas = rs.replicas();
            rs.available_replicas = rs.replicas();
        }
    }

    /// Reconciles (with pods turning ready) until nothing changes any more.
    pub(crate) fn settle(&mut self) {
        for _ in 0..60 {
            let before = self.ro.status.clone();
            let before_rss = self.rss.clone();
            let out = self.step();
            self.pods_ready();
            let busy = out.commands.iter().any(|c| !matches!(c, Command::RequeueAfter(_)));
            if !busy && Some(&out.status) == before.as_ref() && before_rss == self.rss {
                return;
            }
        }
        panic!("did not settle: {:#?}", self.ro.status);
    }

    pub(crate) fn advance(&mut self, secs: i64) {
        self.now += SignedDuration::from_secs(secs);
    }

    pub(crate) fn status(&self) -> RolloutStatus {
        self.ro.status.clone().unwrap_or_default()
    }

    pub(crate) fn phase(&self) -> (String, String) {
        let st = self.status();
        (st.phase.unwrap_or_default(), st.message.unwrap_or_default())
    }

    pub(crate) fn replicas_of(&self, hash: &str) -> i32 {
        self.rss.iter().find(|rs| rs.hash == hash).map_or(0, ReplicaSetView::replicas)
    }

    pub(crate) fn weights(&self) -> Option<(i32, i32)> {
        let w = self.status().canary?.weights?;
        Some((w.canary.weight, w.stable.weight))
    }

    pub(crate) fn set_image(&mut self, image: &str) {
        self.ro.spec.template = Some(template(image));
    }

    /// Nothing new: a second pass changes neither the status nor asks for anything.
    pub(crate) fn assert_fixed_point(&mut self) {
        let out = self.pass();
        assert_eq!(Some(&out.status), self.ro.status.as_ref(), "status changed on a second pass");
        let actions: Vec<_> =
            out.commands.iter().filter(|c| !matches!(c, Command::RequeueAfter(_))).collect();
        assert!(actions.is_empty(), "second pass asked for {actions:?}");
    }
}

pub(crate) fn template(image: &str) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    serde_json::from_value(json!({
        "metadata": {"labels": {"app": "reviews"}},
        "spec": {"containers": [{"name": "reviews", "image": image}]}
    }))
    .expect("template")
}

/// The seed demo's `reviews-rollout` (workloadRef resolved into `spec.template`).
pub(crate) fn seed_rollout() -> Rollout {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/seed-demo/argo/rollout/rollout.yaml"
    ))
    .expect("seed rollout");
    let mut ro: Rollout = serde_yaml_ng::from_str(&text).expect("seed rollout yaml");
    ro.metadata.generation = Some(1);
    ro.spec.workload_ref = None;
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

pub(crate) fn basic_rollout(steps: serde_json::Value) -> Rollout {
    let mut ro: Rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "basic", "generation": 1},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "reviews"}},
                 "strategy": {"canary": {"steps": steps}}}
    }))
    .expect("rollout");
    ro.spec.template = Some(template("reviews:v1"));
    ro
}

pub(crate) fn hash_of(image: &str) -> String {
    crate::hash::pod_template_hash(&template(image), None)
}
