//! The Job controller (`batch/v1`): runs a Job's pods to completion as Kubernetes does, so
//! Argo CD hooks written as Jobs (the usual PreSync migration) and Job manifests in git work in
//! embedded mode. One pod at a time by default (`parallelism`, `completions`), a failed pod
//! replaced until `backoffLimit` (default 6) is exceeded, `activeDeadlineSeconds`, `suspend`,
//! and the `Complete`/`Failed` conditions that health checks read. Finished pods are kept, as
//! Kubernetes keeps them, so their logs stay readable.
//!
//! Pods are read from the backend on every reconcile (not from the cache) so a pod created a
//! moment ago is never created twice; decisions live in [`logic`].

pub(crate) mod logic;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use weir_cluster::{Cluster, DeleteParams, Error, LabelSelector, ListParams, Object, ObjectRef};
use weir_controller::{Action, Context, Controller, Reconciler, Shutdown};

use crate::kube::{controller_ref, is_active, is_controlled_by, jobs, now, pods, typed};

/// The label Kubernetes puts on a Job's pods (and the older `job-name`).
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
const LEGACY_JOB_NAME_LABEL: &str = "job-name";
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// Runs the Job controller until `shutdown`.
pub async fn run_job_controller<C: Cluster>(cluster: Arc<C>, shutdown: Shutdown) {
    let controller = Controller::new(cluster.clone(), jobs()).owns(pods());
    controller.run(Arc::new(JobReconciler { cluster }), 2, shutdown).await;
}

struct JobReconciler<C> {
    cluster: Arc<C>,
}

impl<C: Cluster> Reconciler for JobReconciler<C> {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectRef, ctx: &Context) -> Result<Action, Error> {
        let Some(object) = ctx.primary().get(key) else {
            return Ok(Action::await_change());
        };
        if object.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let job: Job = typed(&object)?;
        let ns = object.namespace();
        let mine = LabelSelector::parse(&format!("{CONTROLLER_UID_LABEL}={}", object.uid()))?;
        let listed = self.cluster.list(&pods(), ns, &ListParams::labels(mine)).await?;
        let mut owned: Vec<Pod> = Vec::new();
        let mut owned_objects: Vec<&Object> = Vec::new();
        for item in &listed.items {
            let pod: Pod = typed(item)?;
            if is_controlled_by(pod.metadata.owner_references.as_ref(), object.uid()) {
                owned.push(pod);
                owned_objects.push(item);
            }
        }
        let plan = logic::plan(&job, &owned, &now());
        if plan.delete_active {
            for (pod, item) in owned.iter().zip(&owned_objects) {
                if !is_active(pod) {
                    continue;
                }
                let params = DeleteParams {
                    precondition_uid: Some(item.uid().to_owned()),
                    ..DeleteParams::default()
                };
                match self.cluster.delete(&pods(), ns, item.name(), &params).await {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        for _ in 0..plan.create {
            self.cluster.create(&pods(), pod_for(&object, &template)?).await?;
        }
        if job.status.as_ref() != Some(&plan.status) {
            let mut updated = (*object).clone();
            let status = serde_json::to_value(&plan.status)
                .map_err(|e| Error::Internal(format!("cannot encode Job status: {e}")))?;
            updated.data.insert("status".into(), status);
            match self.cluster.update_status(&jobs(), updated).await {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(Error::Conflict { .. }) => {
                    return Ok(Action::requeue(Duration::from_millis(50)));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(plan
            .recheck_in
            .map_or(Action::await_change(), |s| Action::requeue(Duration::from_secs_f64(s + 0.05))))
    }
}

/// A pod for `job` from its template: `generateName` `<job>-`, the template's labels plus
/// Kubernetes' job labels, and a controller owner reference (deleting the Job deletes it).
fn pod_for(job: &Object, template: &PodTemplateSpec) -> Result<Object, Error> {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(JOB_NAME_LABEL.to_owned(), job.name().to_owned());
    labels.insert(LEGACY_JOB_NAME_LABEL.to_owned(), job.name().to_owned());
    labels.insert(CONTROLLER_UID_LABEL.to_owned(), job.uid().to_owned());
    let pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", job.name())),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: Some(vec![controller_ref(job)]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    Object::from_typed(&pod)
}
