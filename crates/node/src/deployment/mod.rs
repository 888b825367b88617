//! The Deployment controller: one new replica set per pod template (`<deploy>-<hash>`), rolled
//! out with RollingUpdate (maxSurge / maxUnavailable) or Recreate, revision history, `paused`,
//! and status conditions as Kubernetes writes them.
//!
//! Each sync reads the deployment, its replica sets (and, for Recreate, their pods) from the
//! backend, asks [`plan`] for one step, applies it, and writes status from [`status`]. Replica
//! sets report back through their status, which triggers the next sync.

mod hash;
pub(crate) mod plan;
pub(crate) mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use hash::pod_template_hash;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use weir_cluster::{
    Cluster, DeleteParams, Error, EventRecord, LabelSelector, ListParams, Object, ObjectRef, Patch,
    Subresource, record_event,
};
use weir_controller::{Action, Context, Controller, Reconciler, Shutdown};

use self::plan::{RecreateStep, RsView, Scale};
use self::status::{Counts, Progress, StatusInput};
use crate::kube::{
    POD_TEMPLATE_HASH_LABEL, controller_ref, deployments, is_controlled_by, now, pods, replicasets,
    typed,
};

/// The revision annotation on deployments and their replica sets.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// Runs the Deployment controller until `shutdown`.
pub async fn run_deployment_controller<C: Cluster>(cluster: Arc<C>, shutdown: Shutdown) {
    let controller = Controller::new(cluster.clone(), deployments()).owns(replicasets());
    controller.run(Arc::new(DeploymentReconciler { cluster }), 2, shutdown).await;
}

struct DeploymentReconciler<C> {
    cluster: Arc<C>,
}

/// The template without the `pod-template-hash` label, for comparing a replica set's template
/// with the deployment's.
fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(meta) = t.metadata.as_mut() {
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
        if *meta == ObjectMeta::default() {
            t.metadata = None;
        }
    }
    t
}

fn revision(object: &Object) -> i64 {
    object.annotation(REVISION_ANNOTATION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

struct Sets {
    new: Option<(Object, ReplicaSet)>,
    old: Vec<(Object, ReplicaSet)>,
}

fn view(object: &Object, rs: &ReplicaSet) -> RsView {
    let status = rs.status.clone().unwrap_or_default();
    RsView {
        name: object.name().to_owned(),
        replicas: rs.spec.replicas.unwrap_or(1),
        current: status.replicas,
        available: status.available_replicas.unwrap_or(0),
        revision: revision(object),
        created_ms: rs.metadata.creation_timestamp.as_ref().map_or(0, |t| t.0.as_millisecond()),
    }
}

impl<C: Cluster> DeploymentReconciler<C> {
    async fn replica_sets(
        &self,
        d: &Object,
        selector: &LabelSelector,
        template: &PodTemplateSpec,
    ) -> Result<Sets, Error> {
        let listed = self
            .cluster
            .list(&replicasets(), d.namespace(), &ListParams::labels(selector.clone()))
            .await?;
        let wanted = without_hash(template);
        let mut sets = Sets { new: None, old: Vec::new() };
        for item in listed.items {
            let rs: ReplicaSet = typed(&item)?;
            if !is_controlled_by(rs.metadata.owner_references.as_ref(), d.uid())
                || item.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let template = rs.spec.template.clone().unwrap_or_default();
            if sets.new.is_none() && without_hash(&template) == wanted {
                sets.new = Some((item, rs));
            } else {
                sets.old.push((item, rs));
            }
        }
        Ok(sets)
    }

    async fn scale(
        &self,
        d: &Object,
        sets: &Sets,
        scale: &Scale,
        desired: i32,
        max: i32,
    ) -> Result<(), Error> {
        let found = sets.new.iter().chain(sets.old.iter()).find(|(o, _)| o.name() == scale.name);
        let Some((object, rs)) = found else {
            return Ok(());
        };
        let before = rs.spec.replicas.unwrap_or(1);
        // A merge patch: only this controller writes a replica set's size, and a patch does
        // not conflict with the status writes of the ReplicaSet controller.
        let patch = Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {
                DESIRED_REPLICAS_ANNOTATION: desired.to_string(),
                MAX_REPLICAS_ANNOTATION: max.to_string(),
            }},
            "spec": {"replicas": scale.replicas},
        }));
        let ns = object.namespace();
        self.cluster.patch(&replicasets(), ns, object.name(), &patch, Subresource::Main).await?;
        if before != scale.replicas {
            self.scaled_event(d, object.name(), before, scale.replicas).await;
        }
        Ok(())
    }

    /// Records the `ScalingReplicaSet` Event the Kubernetes deployment controller writes on the
    /// Deployment (what `kubectl describe deployment` and `kubectl events` show). A failure to
    /// record it is logged; it never fails the sync.
    async fn scaled_event(&self, d: &Object, set: &str, from: i32, to: i32) {
        let direction = if to > from { "up" } else { "down" };
        let message = format!("Scaled {direction} replica set {set} from {from} to {to}");
        let record = EventRecord {
            reason: "ScalingReplicaSet",
            message: &message,
            warning: false,
            component: "deployment-controller",
        };
        if let Err(e) = record_event(&*self.cluster, d, record, now()).await {
            tracing::warn!(deployment = %d.object_ref(), error = %e, "cannot record an event");
        }
    }

    /// Creates the replica set for the deployment's current template.
    async fn create_new(
        &self,
        d: &Object,
        dep: &Deployment,
        replicas: i32,
        revision: i64,
        max: i32,
    ) -> Result<Object, Error> {
        let spec = dep.spec.clone();
        let collision_count = dep.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_default()
            .labels
            .get_or_insert_default()
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_default()
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        let annotations = BTreeMap::from([
            (REVISION_ANNOTATION.to_owned(), revision.to_string()),
            (DESIRED_REPLICAS_ANNOTATION.to_owned(), spec.replicas.unwrap_or(1).to_string()),
            (MAX_REPLICAS_ANNOTATION.to_owned(), max.to_string()),
        ]);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", d.name())),
                namespace: d.metadata.namespace.clone(),
                labels,
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(d)]),
                ..ObjectMeta::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            },
            status: None,
        };
        match self.cluster.create(&replicasets(), Object::from_typed(&rs)?).await {
            Ok(created) => {
                if replicas > 0 {
                    self.scaled_event(d, created.name(), 0, replicas).await;
                }
                Ok(created)
            }
            Err(Error::AlreadyExists { .. }) => {
                // A set with this name but another template: a hash collision. Bump the count
                // so the next sync picks another name (Kubernetes' collisionCount).
                let mut fresh = self.cluster.get(&deployments(), d.namespace(), d.name()).await?;
                let count = collision_count.unwrap_or(0).saturating_add(1);
                let status = fresh.data.entry("status").or_insert_with(|| serde_json::json!({}));
                status["collisionCount"] = serde_json::json!(count);
                self.cluster.update_status(&deployments(), fresh).await?;
                Err(Error::Conflict {
                    kind: "ReplicaSet".into(),
                    name: format!("{}-{hash}", d.name()),
                    message: "pod template hash collision".into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn old_pods_running(
        &self,
        d: &Object,
        selector: &LabelSelector,
        old: &[(Object, ReplicaSet)],
    ) -> Result<bool, Error> {
        if old.is_empty() {
            return Ok(false);
        }
        let listed = self
            .cluster
            .list(&pods(), d.namespace(), &ListParams::labels(selector.clone()))
            .await?;
        for item in listed.items {
            let pod: Pod = typed(&item)?;
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            let owned = old
                .iter()
                .any(|(o, _)| is_controlled_by(pod.metadata.owner_references.as_ref(), o.uid()));
            if owned && !matches!(phase, Some("Succeeded" | "Failed")) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<C: Cluster> Reconciler for DeploymentReconciler<C> {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectRef, _ctx: &Context) -> Result<Action, Error> {
        let ns = key.namespace.as_deref();
        let mut object = match self.cluster.get(&deployments(), ns, &key.name).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        };
        if object.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let dep: Deployment = typed(&object)?;
        let spec = dep.spec.clone();
        let desired = spec.replicas.unwrap_or(1).max(0);
        let selector = LabelSelector::from_k8s(&spec.selector)?;
        let sets = self.replica_sets(&object, &selector, &spec.template).await?;
        let strategy = spec.strategy.clone().unwrap_or_default();
        let recreate = strategy.type_.as_deref() == Some("Recreate");
        let rolling = strategy.rolling_update.unwrap_or_default();
        let (surge, unavailable) = if recreate {
            (0, 0)
        } else {
            plan::fenceposts(rolling.max_surge.as_ref(), rolling.max_unavailable.as_ref(), desired)
        };
        let max_revision = sets.old.iter().map(|(o, _)| revision(o)).max().unwrap_or(0);
        let old_views: Vec<RsView> = sets.old.iter().map(|(o, rs)| view(o, rs)).collect();
        let mut requeue = None;
        let mut new_name = sets.new.as_ref().map(|(o, _)| o.name().to_owned());
        let mut new_revision = sets.new.as_ref().map(|(o, _)| revision(o));
        let progress = if spec.paused == Some(true) {
            // Paused: no rollout, but a scaling of the only active set still applies.
            let new_view = sets.new.as_ref().map(|(o, rs)| view(o, rs));
            for s in plan::paused_scale(desired, new_view.as_ref(), &old_views) {
                self.scale(&object, &sets, &s, desired, desired + surge).await?;
            }
            Progress::Paused
        } else if recreate {
            let running = self.old_pods_running(&object, &selector, &sets.old).await?;
            let new_view = sets.new.as_ref().map(|(o, rs)| view(o, rs));
            match plan::recreate_step(desired, new_view.as_ref(), &old_views, running) {
                RecreateStep::ScaleDownOld(scales) => {
                    for s in &scales {
                        self.scale(&object, &sets, s, desired, desired).await?;
                    }
                }
                RecreateStep::WaitForOldPods => requeue = Some(Duration::from_millis(500)),
                RecreateStep::ScaleUpNew => {
                    if let Some(name) = &new_name {
                        let s = Scale { name: name.clone(), replicas: desired };
                        self.scale(&object, &sets, &s, desired, desired).await?;
                    } else {
                        let created = self
                            .create_new(&object, &dep, desired, max_revision + 1, desired)
                            .await?;
                        new_name = Some(created.name().to_owned());
                        new_revision = Some(max_revision + 1);
                    }
                }
                RecreateStep::Done => {}
            }
            match (&sets.new, &new_name) {
                (None, Some(name)) => Progress::Created(name.clone()),
                (_, Some(name)) => Progress::Rolling(name.clone()),
                (_, None) => Progress::Rolling(String::new()),
            }
        } else if let Some((new_object, new_rs)) = &sets.new {
            let steps = plan::rolling_step(
                desired,
                surge,
                unavailable,
                &view(new_object, new_rs),
                &old_views,
            );
            for s in &steps {
                self.scale(&object, &sets, s, desired, desired + surge).await?;
            }
            Progress::Rolling(new_object.name().to_owned())
        } else {
            let replicas = plan::new_replicas_rolling(desired, surge, 0, &old_views);
            let created =
                self.create_new(&object, &dep, replicas, max_revision + 1, desired + surge).await?;
            new_name = Some(created.name().to_owned());
            new_revision = Some(max_revision + 1);
            Progress::Created(created.name().to_owned())
        };
        // A new set older than some old one (a rollback to its template) takes the next revision.
        if let (Some((new_object, _)), Some(rev)) = (&sets.new, new_revision)
            && rev <= max_revision
        {
            let mut updated = new_object.clone();
            let next = (max_revision + 1).to_string();
            updated
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(REVISION_ANNOTATION.into(), next);
            self.cluster.update(&replicasets(), updated).await?;
            new_revision = Some(max_revision + 1);
        }
        if let Some(rev) = new_revision
            && object.annotation(REVISION_ANNOTATION) != Some(rev.to_string().as_str())
        {
            object
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(REVISION_ANNOTATION.into(), rev.to_string());
            object = self.cluster.update(&deployments(), object).await?;
        }
        // Status from the replica sets as they report themselves.
        let mut counts = Counts::default();
        for (o, rs) in sets.new.iter().chain(sets.old.iter()) {
            let st = rs.status.clone().unwrap_or_default();
            counts.replicas += st.replicas;
            counts.ready += st.ready_replicas.unwrap_or(0);
            counts.available += st.available_replicas.unwrap_or(0);
            if Some(o.name()) == new_name.as_deref() {
                counts.updated = st.replicas;
            }
        }
        let complete =
            counts.updated == desired && counts.replicas == desired && counts.available == desired;
        if complete && spec.paused != Some(true) {
            let limit = spec.revision_history_limit.unwrap_or(10);
            for name in plan::history_to_delete(&old_views, limit) {
                match self.cluster.delete(&replicasets(), ns, &name, &DeleteParams::default()).await
                {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let (status, deadline_in) = status::deployment_status(&StatusInput {
            previous: dep.status.as_ref(),
            generation: object.metadata.generation,
            desired,
            max_unavailable: unavailable,
            progress_deadline_seconds: Some(spec.progress_deadline_seconds.unwrap_or(600)),
            counts,
            progress,
            now: now(),
        });
        if dep.status.as_ref() != Some(&status) {
            object.data.insert("status".into(), serde_json::to_value(&status).unwrap_or_default());
            self.cluster.update_status(&deployments(), object).await?;
        }
        let deadline = deadline_in.map(|s| Duration::from_secs_f64(s + 0.5));
        let action = match (requeue, deadline) {
            (Some(a), Some(b)) => Action::requeue(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Action::requeue(a),
            (None, None) => Action::await_change(),
        };
        Ok(action)
    }
}
