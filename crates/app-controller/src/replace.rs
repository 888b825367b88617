//! The sync options `Replace=true` and `Force=true` (and a sync's `--force`,
//! `syncStrategy.apply.force`), as gitops-engine's `applyObject` runs them: with Replace an
//! existing object is replaced (`kubectl replace`: a PUT of the manifest over the live
//! resourceVersion), a missing one created (`kubectl create`), and CRDs and Namespaces are
//! updated instead, never re-created (that would delete what is in them). Force makes a
//! replace delete the object and create it again (`kubectl replace --force`), and an apply
//! the API refuses (an immutable field, an immutable ConfigMap) do the same
//! (`kubectl apply --force`).
//!
//! The options come from the Application (`syncOptions` of the operation and of the app) or
//! from the resource's `argocd.argoproj.io/sync-options` annotation.

use std::time::Duration;

use serde_json::Value;
use weir_cluster::{Cluster, DeleteParams, Error, Object, ResourceType, apply};
use weir_gitops::sync::annotations::{SYNC_OPTIONS, has_annotation_option};

/// How long a forced replace waits for the old object to be gone before creating the new one
/// (finalizers may hold it, as the node agent's holds a Pod until its processes stop).
const DELETION_WAIT: Duration = Duration::from_secs(30);

/// How a task's object is written, from the operation's options and the object's annotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WriteMode {
    /// `Replace=true`: replace or create instead of apply.
    pub(crate) replace: bool,
    /// `Force=true` or the operation's force: delete and re-create when needed.
    pub(crate) force: bool,
}

impl WriteMode {
    /// The operation's mode, overridden (only towards on) by `target`'s annotation.
    pub(crate) fn for_target(self, target: &Value) -> WriteMode {
        WriteMode {
            replace: self.replace || has_annotation_option(target, SYNC_OPTIONS, "Replace=true"),
            force: self.force || has_annotation_option(target, SYNC_OPTIONS, "Force=true"),
        }
    }
}

/// Writes `target` by replace/create; `what` names it as kubectl does (`configmap/x`).
pub(crate) async fn replace<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    target: Value,
    live: Option<&Value>,
    force: bool,
    what: &str,
) -> Result<String, String> {
    let object = Object::from_value(target).map_err(|e| e.to_string())?;
    let Some(live) = live else {
        cluster.create(rt, object).await.map_err(|e| e.to_string())?;
        return Ok(format!("{what} created"));
    };
    let live_version = live.pointer("/metadata/resourceVersion").and_then(Value::as_str);
    let crd_or_namespace = rt.group.is_empty() && rt.kind == "Namespace"
        || rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition";
    if crd_or_namespace || !force {
        // gitops-engine updates CRDs and Namespaces over the live resourceVersion; `kubectl
        // replace` sends the manifest as it is: without a resourceVersion, an unconditional
        // update.
        let mut update = object;
        update.metadata.resource_version =
            live_version.filter(|_| crd_or_namespace).map(str::to_owned);
        cluster.update(rt, update).await.map_err(|e| e.to_string())?;
        return Ok(if crd_or_namespace {
            // gitops-engine's own wording for these (`<Kind>/<name> updated`).
            format!("{}/{} updated", rt.kind, update_name(live))
        } else {
            format!("{what} replaced")
        });
    }
    recreate(cluster, rt, object).await?;
    Ok(format!("{what} replaced"))
}

/// Applies `object`; with `force`, an apply the API refuses as invalid deletes the object and
/// creates it again (`kubectl apply --force`).
pub(crate) async fn apply_forced<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    object: Object,
    force: bool,
) -> Result<&'static str, String> {
    match apply(cluster, rt, &object).await {
        Ok((outcome, _)) => Ok(outcome.as_str()),
        Err(Error::Invalid { .. }) if force => {
            recreate(cluster, rt, object).await?;
            Ok("configured")
        }
        Err(e) => Err(e.to_string()),
    }
}

fn update_name(live: &Value) -> &str {
    live.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

/// Deletes the object, waits (bounded) until it is gone, and creates `object`.
async fn recreate<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    object: Object,
) -> Result<(), String> {
    let ns = if rt.namespaced() { object.namespace().map(str::to_owned) } else { None };
    let name = object.name().to_owned();
    match cluster.delete(rt, ns.as_deref(), &name, &DeleteParams::default()).await {
        Ok(_) | Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    let deadline = tokio::time::Instant::now() + DELETION_WAIT;
    loop {
        match cluster.get(rt, ns.as_deref(), &name).await {
            Err(Error::NotFound { .. }) => break,
            Err(e) => return Err(e.to_string()),
            Ok(_) if tokio::time::Instant::now() >= deadline => {
                return Err(format!(
                    "timed out waiting for the deletion of {} {name} before re-creating it",
                    rt.kind
                ));
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut fresh = object;
    fresh.metadata.resource_version = None;
    fresh.metadata.uid = None;
    cluster.create(rt, fresh).await.map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_annotation_turns_options_on_and_never_off() {
        let annotated = |value: &str| json!({"metadata": {"annotations": {SYNC_OPTIONS: value}}});
        let cases = [
            (WriteMode::default(), json!({}), WriteMode::default()),
            (
                WriteMode::default(),
                annotated("Replace=true"),
                WriteMode { replace: true, force: false },
            ),
            (
                WriteMode::default(),
                annotated("Force=true,Replace=true"),
                WriteMode { replace: true, force: true },
            ),
            (
                WriteMode { replace: true, force: true },
                annotated("Replace=false"),
                WriteMode { replace: true, force: true },
            ),
            (WriteMode::default(), annotated("Prune=false"), WriteMode::default()),
        ];
        for (app, target, expected) in cases {
            assert_eq!(app.for_target(&target), expected, "{target}");
        }
    }
}
