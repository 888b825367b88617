//! The ReplicaSet controller: keeps `spec.replicas` active pods from the template, owned by the
//! replica set, and writes its status as Kubernetes does.
//!
//! Pods are read from the backend on every reconcile (not from the cache) so a pod created a
//! moment ago is never created twice; decisions live in [`logic`].

pub(crate) mod logic;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use weir_cluster::{Cluster, DeleteParams, Error, LabelSelector, ListParams, Object, ObjectRef};
use weir_controller::{Action, Context, Controller, Reconciler, Shutdown};

use crate::kube::{controller_ref, is_active, is_controlled_by, now, pods, replicasets, typed};

/// The most pods one reconcile creates (Kubernetes' `BurstReplicas`).
const BURST: usize = 500;

/// Runs the ReplicaSet controller until `shutdown`.
pub async fn run_replicaset_controller<C: Cluster>(cluster: Arc<C>, shutdown: Shutdown) {
    let controller = Controller::new(cluster.clone(), replicasets()).owns(pods());
    controller.run(Arc::new(ReplicaSetReconciler { cluster }), 2, shutdown).await;
}

struct ReplicaSetReconciler<C> {
    cluster: Arc<C>,
}

impl<C: Cluster> Reconciler for ReplicaSetReconciler<C> {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectRef, ctx: &Context) -> Result<Action, Error> {
        let Some(object) = ctx.primary().get(key) else {
            return Ok(Action::await_change());
        };
        if object.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let rs: ReplicaSet = typed(&object)?;
        let spec = rs.spec.clone();
        let selector = LabelSelector::from_k8s(&spec.selector)?;
        let ns = object.namespace();
        let listed = self.cluster.list(&pods(), ns, &ListParams::labels(selector)).await?;
        let mut active: Vec<Pod> = Vec::new();
        let mut active_objects: Vec<&Object> = Vec::new();
        for item in &listed.items {
            let pod: Pod = typed(item)?;
            if is_controlled_by(pod.metadata.owner_references.as_ref(), object.uid())
                && is_active(&pod)
            {
                active.push(pod);
                active_objects.push(item);
            }
        }
        let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
        if active.len() < want {
            let template = spec.template.clone().unwrap_or_default();
            for _ in 0..(want - active.len()).min(BURST) {
                let pod = pod_from_template(&object, &template)?;
                self.cluster.create(&pods(), pod).await?;
            }
        } else if active.len() > want {
            for i in logic::pods_to_delete(&active, active.len() - want) {
                let victim = active_objects[i];
                let params = DeleteParams {
                    precondition_uid: Some(victim.uid().to_owned()),
                    ..DeleteParams::default()
                };
                match self.cluster.delete(&pods(), ns, victim.name(), &params).await {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let now = now();
        let (status, next) = logic::replica_set_status(&rs, &active, &now);
        if rs.status.as_ref() != Some(&status) {
            let mut updated = (*object).clone();
            updated.data.insert("status".into(), serde_json::to_value(&status).unwrap_or_default());
            self.cluster.update_status(&replicasets(), updated).await?;
        }
        Ok(next
            .map_or(Action::await_change(), |s| Action::requeue(Duration::from_secs_f64(s + 0.05))))
    }
}

/// A pod for `rs` from its template: `generateName` `<rs>-`, the template's labels (including
/// `pod-template-hash` / `rollouts-pod-template-hash`) and a controller owner reference.
fn pod_from_template(
    rs: &Object,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
) -> Result<Object, Error> {
    let meta = template.metadata.clone().unwrap_or_default();
    let pod = Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            generate_name: Some(format!("{}-", rs.name())),
            namespace: rs.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            owner_references: Some(vec![controller_ref(rs)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    Object::from_typed(&pod)
}
