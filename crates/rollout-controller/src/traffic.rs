//! Traffic: the Istio objects a Rollout routes through (via [`IstioRouter`]) and the
//! canary/stable (or blue-green) Service selectors, kept level-triggered: every pass drives
//! them to the weights and hashes of the engine's status, so a VirtualService edited behind
//! the controller's back, or a write lost in a crash, is put right on the next pass.

use weir_cluster::{Cluster, Object, Patch, Registry, ResourceType, Subresource};
use weir_model::rollouts::{Rollout, WeightDestination};
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;
use weir_rollout::{Command, ReplicaSetView};
use weir_traffic::{IstioRouter, Lookup, ObjectSnapshot, ObjectUpdate, Operation, TrafficRouter};

use crate::observe::availability;

/// Drives the rollout's traffic to `ro`'s status (`ro` carries the status just computed)
/// and carries out the engine's route commands.
pub(crate) async fn reconcile<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    rss: &[ReplicaSetView],
    commands: &[Command],
) -> Result<(), String> {
    services(cluster, ro, commands).await?;
    let uses_istio = ro
        .spec
        .canary()
        .and_then(|c| c.traffic_routing.as_ref())
        .is_some_and(|t| t.istio.is_some());
    if !uses_istio {
        return Ok(());
    }
    let router = IstioRouter::new(ro).map_err(|e| e.to_string())?;
    let weights =
        ro.status.as_ref().and_then(|s| s.canary.as_ref()).and_then(|c| c.weights.clone());
    if let Some(w) = &weights {
        let additional: Vec<WeightDestination> = w.additional.clone().unwrap_or_default();
        let canary_hash = w.canary.pod_template_hash.clone().unwrap_or_default();
        let stable_hash = w.stable.pod_template_hash.clone().unwrap_or_default();
        let snap = snapshot(cluster, &router, Operation::UpdateHash, rss).await;
        let updates = router
            .update_hash(&snap, &canary_hash, &stable_hash, &additional)
            .map_err(|e| e.to_string())?;
        write(cluster, &updates).await?;
        let snap = snapshot(cluster, &router, Operation::SetWeight, rss).await;
        let updates =
            router.set_weight(&snap, w.canary.weight, &additional).map_err(|e| e.to_string())?;
        write(cluster, &updates).await?;
    }
    for command in commands {
        let (op, result) = match command {
            Command::SetHeaderRoute(route) => {
                let snap = snapshot(cluster, &router, Operation::SetHeaderRoute, rss).await;
                (Operation::SetHeaderRoute, router.set_header_route(&snap, route))
            }
            Command::SetMirrorRoute(route) => {
                let snap = snapshot(cluster, &router, Operation::SetMirrorRoute, rss).await;
                (Operation::SetMirrorRoute, router.set_mirror_route(&snap, route))
            }
            Command::RemoveManagedRoutes => {
                let snap = snapshot(cluster, &router, Operation::RemoveManagedRoutes, rss).await;
                (Operation::RemoveManagedRoutes, router.remove_managed_routes(&snap))
            }
            _ => continue,
        };
        let updates = result.map_err(|e| format!("{}: {e}", op.name()))?;
        write(cluster, &updates).await?;
    }
    Ok(())
}

fn resource_type(api_version: &str, kind: &str) -> ResourceType {
    Registry::builtin()
        .for_object(api_version, kind)
        .unwrap_or_else(|| ResourceType::guess(api_version, kind))
}

/// Reads what `operation` needs (and the rollout's ReplicaSets) into a snapshot.
async fn snapshot<C: Cluster>(
    cluster: &C,
    router: &IstioRouter,
    operation: Operation,
    rss: &[ReplicaSetView],
) -> ObjectSnapshot {
    let mut snap = ObjectSnapshot::new();
    snap.replica_sets = rss.iter().map(availability).collect();
    for key in router.reads(operation) {
        let rt = resource_type(&key.api_version, &key.kind);
        let lookup = match cluster.get(&rt, Some(&key.namespace), &key.name).await {
            Ok(object) => Lookup::Found(object.to_value()),
            Err(weir_cluster::Error::NotFound { .. }) => Lookup::Missing,
            Err(e) => Lookup::Failed(e.to_string()),
        };
        snap.record(key, lookup);
    }
    snap
}

async fn write<C: Cluster>(cluster: &C, updates: &[ObjectUpdate]) -> Result<(), String> {
    for update in updates {
        let rt = resource_type(&update.key.api_version, &update.key.kind);
        let object = Object::from_value(update.object.clone()).map_err(|e| e.to_string())?;
        cluster.update(&rt, object).await.map_err(|e| update.failed(e).to_string())?;
        tracing::info!(
            kind = %update.key.kind, name = %update.key.name,
            reason = update.event_reason, "{}", update.event_message
        );
    }
    Ok(())
}

/// The Service selectors a pass wants, every pass (so a Service re-applied without its hash
/// selector is put right): the engine's blue-green `SetServiceSelector`s and the active and
/// preview Services on the hashes the status records; for a canary the stable/canary Services
/// on the hashes traffic is weighted to, or with `pingPong` the stable one of ping/pong on the
/// stable hash and, mid-update, the other on the new hash.
fn wanted_selectors(ro: &Rollout, commands: &[Command]) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = commands
        .iter()
        .filter_map(|c| match c {
            Command::SetServiceSelector { service, hash } => Some((service.clone(), hash.clone())),
            _ => None,
        })
        .collect();
    if let (Some(bg), Some(status)) = (ro.spec.blue_green(), ro.status.as_ref()) {
        let recorded = status.blue_green.clone().unwrap_or_default();
        let pairs = [
            (bg.active_service.clone(), recorded.active_selector),
            (bg.preview_service().to_owned(), recorded.preview_selector),
        ];
        for (service, hash) in pairs {
            let hash = hash.unwrap_or_default();
            if !service.is_empty() && !hash.is_empty() && !wanted.iter().any(|(s, _)| *s == service)
            {
                wanted.push((service, hash));
            }
        }
        return wanted;
    }
    let (Some(canary), Some(status)) = (ro.spec.canary(), ro.status.as_ref()) else {
        return wanted;
    };
    if let Some((stable_service, canary_service)) = weir_rollout::steps::ping_pong_services(ro) {
        let stable = status.stable_rs.clone().unwrap_or_default();
        let current = status.current_pod_hash.clone().unwrap_or_default();
        if !stable.is_empty() {
            wanted.push((stable_service, stable.clone()));
        }
        if !current.is_empty() && current != stable {
            wanted.push((canary_service, current));
        }
        return wanted;
    }
    let weights = status.canary.as_ref().and_then(|c| c.weights.as_ref());
    let stable = weights
        .and_then(|w| w.stable.pod_template_hash.clone())
        .or_else(|| status.stable_rs.clone())
        .unwrap_or_default();
    let current = weights
        .and_then(|w| w.canary.pod_template_hash.clone())
        .or_else(|| status.current_pod_hash.clone())
        .unwrap_or_default();
    for (service, hash) in [(canary.stable_service(), stable), (canary.canary_service(), current)] {
        if !service.is_empty() && !hash.is_empty() {
            wanted.push((service.to_owned(), hash));
        }
    }
    wanted
}

async fn services<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    commands: &[Command],
) -> Result<(), String> {
    let rt = resource_type("v1", "Service");
    let ns = ro.metadata.namespace.as_deref();
    for (service, hash) in wanted_selectors(ro, commands) {
        let svc = cluster.get(&rt, ns, &service).await.map_err(|e| e.to_string())?;
        let current = svc
            .field("spec")
            .and_then(|s| s.pointer(&format!("/selector/{POD_TEMPLATE_HASH_LABEL}")))
            .and_then(serde_json::Value::as_str);
        if current == Some(hash.as_str()) {
            continue;
        }
        let patch = serde_json::json!({"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: hash}}});
        cluster
            .patch(&rt, ns, &service, &Patch::Merge(patch), Subresource::Main)
            .await
            .map_err(|e| format!("failed to switch Service {service:?} to {hash}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canary_services_follow_the_weighted_hashes() {
        let ro: Rollout = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro"},
            "spec": {"strategy": {"canary": {"stableService": "s", "canaryService": "c"}}},
            "status": {"stableRS": "h1", "currentPodHash": "h2", "canary": {"weights": {
                "canary": {"podTemplateHash": "h1", "weight": 0, "serviceName": "c"},
                "stable": {"podTemplateHash": "h1", "weight": 100, "serviceName": "s"}}}}
        }))
        .expect("rollout");
        let got = wanted_selectors(&ro, &[]);
        assert_eq!(got, [("s".to_owned(), "h1".to_owned()), ("c".to_owned(), "h1".to_owned())]);
    }
}
