//! Deleting an Application as Argo CD's `finalizeApplicationDeletion` does, one finalizer
//! (one stage) after the other, each pass doing what its stage needs next:
//!
//! 1. `pre-delete-finalizer.argocd.argoproj.io`: the PreDelete hooks of git are created and
//!    must all complete (a failed one blocks the deletion: condition `DeletionError`, the hook
//!    deleted so the next attempt runs it again, attempts spaced by how long it has failed);
//! 2. `resources-finalizer.argocd.argoproj.io` (cascade): the app's live objects are deleted,
//!    the highest sync wave first, each wave once the previous one is gone;
//! 3. `post-delete-finalizer.argocd.argoproj.io`: the PostDelete hooks run to completion;
//! 4. the `…/cleanup` finalizers: hooks whose delete policy says so are deleted.
//!
//! While an app is not being deleted, [`ensure_hook_finalizers`] keeps the pre/post-delete
//! finalizers in line with its manifests (Argo CD adds them on every reconcile, so an app
//! with PreDelete hooks cannot be deleted without running them). The decisions are the pure
//! functions of [`weir_gitops::sync::deletion`]; this module reads and writes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use weir_cluster::{Cluster, DeleteParams, Object, Registry, ResourceType};
use weir_controller::Action;
use weir_gitops::ResourceKey;
use weir_gitops::health::{Health, HealthStatus, assess};
use weir_gitops::sync::deletion::{
    CascadeStep, DeletionHook, HookStage, cascade_step, cleanup_hooks, run_hooks,
};
use weir_model::argocd::{Application, ApplicationCondition};

use crate::controller::RESOURCES_FINALIZER;
use crate::git::Repos;
use crate::plugin::ConfigManagementPlugin;
use crate::sync::resource_type;
use crate::targets::{load_live, load_targets_with, previous_types};

/// The condition type of a deletion that cannot go on.
pub const DELETION_ERROR: &str = "DeletionError";

/// How soon a waiting stage looks again (hook and object changes also wake the app).
const POLL: Duration = Duration::from_secs(1);
/// The first retry of a failed stage; later ones wait as long as the failure has lasted.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between two attempts of a failed stage.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// What a deletion pass needs from the controller.
pub(crate) struct Deletion<'a, C> {
    pub(crate) cluster: &'a C,
    pub(crate) registry: &'a Registry,
    pub(crate) repos: &'a Repos,
    pub(crate) plugins: &'a [ConfigManagementPlugin],
    pub(crate) apps: &'a ResourceType,
    pub(crate) retries: &'a DeletionRetries,
}

/// When each app whose deletion failed may be tried again (in memory, like Argo CD's rate
/// limited queue): events of its hooks and objects do not retry a failing hook sooner.
#[derive(Debug, Default)]
pub(crate) struct DeletionRetries(Mutex<HashMap<(String, String), Instant>>);

impl DeletionRetries {
    fn key(obj: &Object) -> (String, String) {
        (obj.namespace().unwrap_or("").to_owned(), obj.name().to_owned())
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(String, String), Instant>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How long `obj`'s next attempt must still wait (`None`: it may run now).
    fn remaining(&self, obj: &Object) -> Option<Duration> {
        let at = self.with(|m| m.get(&Self::key(obj)).copied())?;
        let remaining = at.saturating_duration_since(Instant::now());
        (!remaining.is_zero()).then_some(remaining)
    }

    fn retry_after(&self, obj: &Object, delay: Duration) {
        self.with(|m| m.insert(Self::key(obj), Instant::now() + delay));
    }

    fn forget(&self, obj: &Object) {
        self.with(|m| m.remove(&Self::key(obj)));
    }
}

/// The app's finalizers with the pre/post-delete ones (and their `/cleanup` stages) added or
/// removed to match whether `targets` hold such hooks; `None` when nothing changes.
pub(crate) fn hook_finalizers(current: &[String], targets: &[Value]) -> Option<Vec<String>> {
    let mut wanted = current.to_vec();
    for hook in [DeletionHook::PreDelete, DeletionHook::PostDelete] {
        let has_hooks = targets.iter().any(|t| hook.matches(t));
        for finalizer in [hook.finalizer().to_owned(), hook.cleanup_finalizer()] {
            let present = wanted.contains(&finalizer);
            if has_hooks && !present {
                wanted.push(finalizer);
            } else if !has_hooks && present {
                wanted.retain(|f| *f != finalizer);
            }
        }
    }
    (wanted != current).then_some(wanted)
}

/// What a stage asks for.
enum Outcome {
    /// Look again after this delay; `progressed` when a finalizer was removed in this pass.
    Wait { delay: Duration, progressed: bool },
    /// Every deletion finalizer of weir is gone.
    Finished,
}

impl<C: Cluster> Deletion<'_, C> {
    /// Puts on (or takes off) the pre/post-delete finalizers the app's manifests call for. A
    /// conflicting writer wins; the next pass tries again.
    pub(crate) async fn ensure_hook_finalizers(
        &self,
        obj: &Object,
        targets: &[Value],
    ) -> Result<(), weir_cluster::Error> {
        let current = obj.metadata.finalizers.clone().unwrap_or_default();
        if hook_finalizers(&current, targets).is_none() {
            return Ok(());
        }
        let mut fresh = self.cluster.get(self.apps, obj.namespace(), obj.name()).await?;
        if fresh.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let current = fresh.metadata.finalizers.clone().unwrap_or_default();
        let Some(wanted) = hook_finalizers(&current, targets) else { return Ok(()) };
        fresh.metadata.finalizers = (!wanted.is_empty()).then_some(wanted);
        match self.cluster.update(self.apps, fresh).await {
            Ok(_) | Err(weir_cluster::Error::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One pass of the deletion of `obj` (being deleted): the next step of its first stage;
    /// a failed step is reported as a `DeletionError` condition and tried again later.
    pub(crate) async fn finalize(
        &self,
        obj: &Object,
        app: &Application,
        now: Timestamp,
    ) -> Result<Action, weir_cluster::Error> {
        if let Some(remaining) = self.retries.remaining(obj) {
            return Ok(Action::requeue(remaining));
        }
        let outcome = self.step(obj, app).await;
        let since = deletion_error_since(app);
        match outcome {
            Ok(Outcome::Finished) => {
                self.retries.forget(obj);
                Ok(Action::await_change())
            }
            Ok(Outcome::Wait { delay, progressed }) => {
                // A failed hook run again keeps its error (and its retry spacing) until its
                // stage is over.
                if progressed {
                    self.retries.forget(obj);
                    if since.is_some() {
                        self.set_deletion_error(obj, None, now).await?;
                    }
                }
                Ok(Action::requeue(delay))
            }
            Err(message) => {
                tracing::warn!(app = %obj.name(), %message, "deletion blocked");
                self.set_deletion_error(obj, Some(&message), now).await?;
                let failing_for =
                    since.map(|t| now.duration_since(t).unsigned_abs()).unwrap_or_default();
                let delay = failing_for.clamp(FIRST_RETRY, MAX_RETRY);
                self.retries.retry_after(obj, delay);
                Ok(Action::requeue(delay))
            }
        }
    }

    async fn step(&self, obj: &Object, app: &Application) -> Result<Outcome, String> {
        let has =
            |finalizer: &str| obj.metadata.finalizers.iter().flatten().any(|f| f == finalizer);
        let (pre, post) = (DeletionHook::PreDelete, DeletionHook::PostDelete);
        let mut progressed = false;
        if has(pre.finalizer()) {
            let context = "error executing pre-delete hooks";
            let stage = self.run_stage(app, pre).await.map_err(|e| format!("{context}: {e}"))?;
            if let Some(delay) = stage {
                return Ok(Outcome::Wait { delay, progressed });
            }
            self.remove_finalizer(obj, pre.finalizer()).await?;
            progressed = true;
        }
        if has(RESOURCES_FINALIZER) {
            if let Some(delay) = self.cascade(app).await? {
                return Ok(Outcome::Wait { delay, progressed });
            }
            self.remove_finalizer(obj, RESOURCES_FINALIZER).await?;
            progressed = true;
        }
        if has(post.finalizer()) {
            let context = "error executing post-delete hooks";
            let stage = self.run_stage(app, post).await.map_err(|e| format!("{context}: {e}"))?;
            if let Some(delay) = stage {
                return Ok(Outcome::Wait { delay, progressed });
            }
            self.remove_finalizer(obj, post.finalizer()).await?;
            progressed = true;
        }
        for hook in [pre, post] {
            let finalizer = hook.cleanup_finalizer();
            if has(&finalizer) {
                if let Some(delay) = self.cleanup(app, hook).await? {
                    return Ok(Outcome::Wait { delay, progressed });
                }
                self.remove_finalizer(obj, &finalizer).await?;
                progressed = true;
            }
        }
        Ok(Outcome::Finished)
    }

    /// The app's objects from git at its target revision (`Err`: the ComparisonError message).
    async fn targets(&self, app: &Application) -> Result<Vec<Value>, String> {
        let targets =
            load_targets_with(self.cluster, self.repos, self.registry, app, None, self.plugins)
                .await?;
        Ok(targets.objects)
    }

    /// The app's live objects in the types of `targets` and of its last listed resources.
    async fn lives(&self, app: &Application, targets: &[Value]) -> Result<Vec<Value>, String> {
        // Target keys are only needed for their types: the hooks are found by their labels.
        load_live(self.cluster, self.registry, app.name(), targets, &previous_types(app))
            .await
            .map_err(|e| format!("failed to list the application's objects: {e}"))
    }

    /// One pass of a hook stage; `None` when every hook completed.
    async fn run_stage(
        &self,
        app: &Application,
        hook: DeletionHook,
    ) -> Result<Option<Duration>, String> {
        let targets = self.targets(app).await?;
        let lives = self.lives(app, &targets).await?;
        match run_hooks(hook, &targets, &lives, hook_health) {
            HookStage::Create(hooks) => {
                for target in hooks {
                    self.create(target).await?;
                }
                Ok(Some(POLL))
            }
            HookStage::Running(keys) => {
                tracing::debug!(app = %app.name(), hooks = keys.len(), "waiting for {} hooks", hook.as_str());
                Ok(Some(POLL))
            }
            HookStage::Failed(keys) => {
                for key in &keys {
                    if let Err(e) = self.delete(&lives, key).await {
                        tracing::warn!(hook = %key, error = %e, "deleting a failed hook failed");
                    }
                }
                Err(HookStage::failure_message(hook, &keys))
            }
            HookStage::Done => Ok(None),
        }
    }

    /// One pass of the cascade deletion; `None` when nothing is left to delete.
    async fn cascade(&self, app: &Application) -> Result<Option<Duration>, String> {
        // The hooks' kinds come from git when it answers; the last listed resources' kinds
        // are enough otherwise.
        let targets = self.targets(app).await.unwrap_or_default();
        let lives = self.lives(app, &targets).await?;
        let app_delete_false = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.sync_options.as_ref())
            .is_some_and(|options| options.iter().any(|o| o == "Delete=false"));
        match cascade_step(&lives, app_delete_false) {
            CascadeStep::Waiting(_) => Ok(Some(POLL)),
            CascadeStep::Delete(objects) => {
                for live in objects {
                    self.delete(&lives, &ResourceKey::of(live)).await?;
                }
                Ok(Some(POLL))
            }
            CascadeStep::Done => Ok(None),
        }
    }

    /// One pass of a cleanup stage; `None` when the hooks to delete are gone.
    async fn cleanup(
        &self,
        app: &Application,
        hook: DeletionHook,
    ) -> Result<Option<Duration>, String> {
        let targets = self.targets(app).await.unwrap_or_default();
        let lives = self.lives(app, &targets).await?;
        let cleanup = cleanup_hooks(hook, &lives, hook_health);
        for key in &cleanup.delete {
            self.delete(&lives, key).await?;
        }
        Ok((cleanup.pending > 0).then_some(POLL))
    }

    async fn create(&self, target: Value) -> Result<(), String> {
        let key = ResourceKey::of(&target);
        let object = Object::from_value(target).map_err(|e| format!("{key}: {e}"))?;
        let rt = resource_type(self.registry, &object.api_version, &object.kind);
        match self.cluster.create(&rt, object).await {
            Ok(_) | Err(weir_cluster::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn delete(&self, lives: &[Value], key: &ResourceKey) -> Result<(), String> {
        let Some(live) = lives.iter().find(|l| ResourceKey::of(l) == *key) else { return Ok(()) };
        let api_version = live.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let rt = resource_type(self.registry, api_version, &key.kind);
        let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
        match self.cluster.delete(&rt, ns, &key.name, &DeleteParams::default()).await {
            Ok(_) | Err(weir_cluster::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn remove_finalizer(&self, obj: &Object, finalizer: &str) -> Result<(), String> {
        let fail = |e: weir_cluster::Error| format!("failed to remove finalizer {finalizer}: {e}");
        let mut fresh = match self.cluster.get(self.apps, obj.namespace(), obj.name()).await {
            Ok(fresh) => fresh,
            Err(weir_cluster::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        let kept: Vec<String> = fresh
            .metadata
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect();
        fresh.metadata.finalizers = (!kept.is_empty()).then_some(kept);
        self.cluster.update(self.apps, fresh).await.map(|_| ()).map_err(fail)
    }

    /// Sets (`Some`) or clears (`None`) the app's `DeletionError` condition; its transition
    /// time is kept while the message stays the same.
    async fn set_deletion_error(
        &self,
        obj: &Object,
        message: Option<&str>,
        now: Timestamp,
    ) -> Result<(), weir_cluster::Error> {
        let mut fresh = match self.cluster.get(self.apps, obj.namespace(), obj.name()).await {
            Ok(fresh) => fresh,
            Err(weir_cluster::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Ok(app) = fresh.to_typed::<Application>() else { return Ok(()) };
        let mut status = app.status.unwrap_or_default();
        let previous = status.conditions.take().unwrap_or_default();
        let since = previous
            .iter()
            .find(|c| c.r#type == DELETION_ERROR && Some(c.message.as_str()) == message)
            .and_then(|c| c.last_transition_time.clone());
        let mut conditions: Vec<ApplicationCondition> =
            previous.into_iter().filter(|c| c.r#type != DELETION_ERROR).collect();
        if let Some(message) = message {
            conditions.push(ApplicationCondition {
                last_transition_time: Some(since.unwrap_or(Time(now))),
                message: message.to_owned(),
                r#type: DELETION_ERROR.to_owned(),
            });
        }
        status.conditions = (!conditions.is_empty()).then_some(conditions);
        let value = serde_json::to_value(&status).unwrap_or(Value::Null);
        if fresh.data.get("status") == Some(&value) {
            return Ok(());
        }
        fresh.data.insert("status".into(), value);
        match self.cluster.update_status(self.apps, fresh).await {
            Ok(_) | Err(weir_cluster::Error::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// When the app's current `DeletionError` started, if it has one.
fn deletion_error_since(app: &Application) -> Option<Timestamp> {
    app.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.r#type == DELETION_ERROR)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// A hook's health; a Pod the node agent has not picked up yet (no `status.phase`, which an
/// API server would have set to `Pending`) is Progressing, not a finished hook.
fn hook_health(live: &Value) -> Option<Health> {
    let is_pod = live.get("kind").and_then(Value::as_str) == Some("Pod")
        && live.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if is_pod && live.pointer("/status/phase").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Some(Health { status: HealthStatus::Progressing, message: String::new() });
    }
    assess(live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(kind: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "h", "annotations": {"argocd.argoproj.io/hook": kind}}})
    }

    // Argo CD's reconcile: `SetPreDeleteFinalizer()` and `SetPreDeleteFinalizer("cleanup")`
    // when the manifests hold such hooks, both unset when they no longer do.
    #[test]
    fn the_hook_finalizers_follow_the_manifests() {
        let resources = RESOURCES_FINALIZER.to_owned();
        let with_pre = hook_finalizers(std::slice::from_ref(&resources), &[hook("PreDelete")]);
        assert_eq!(
            with_pre,
            Some(vec![
                resources.clone(),
                "pre-delete-finalizer.argocd.argoproj.io".to_owned(),
                "pre-delete-finalizer.argocd.argoproj.io/cleanup".to_owned(),
            ])
        );
        let all = with_pre.unwrap_or_default();
        assert_eq!(hook_finalizers(&all, &[hook("PreDelete")]), None, "nothing to change");
        assert_eq!(hook_finalizers(&all, &[hook("PreSync")]), Some(vec![resources.clone()]));
        let post = hook_finalizers(&[], &[hook("PostDelete")]).unwrap_or_default();
        assert_eq!(
            post,
            [
                "post-delete-finalizer.argocd.argoproj.io",
                "post-delete-finalizer.argocd.argoproj.io/cleanup"
            ]
        );
    }
}
