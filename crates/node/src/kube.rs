//! Small helpers over Kubernetes types shared by the controllers: resource types, clock,
//! owner references, pod readiness and availability.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use weir_cluster::{Error, Object, Registry, ResourceType};

/// Label every pod and replica set of a Deployment carries (Kubernetes' `pod-template-hash`).
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

pub(crate) fn rt(plural: &str) -> ResourceType {
    Registry::builtin()
        .for_name(plural)
        .cloned()
        .unwrap_or_else(|| ResourceType::guess("v1", plural))
}

pub(crate) fn pods() -> ResourceType {
    rt("pods")
}

pub(crate) fn replicasets() -> ResourceType {
    rt("replicasets")
}

pub(crate) fn deployments() -> ResourceType {
    rt("deployments")
}

pub(crate) fn jobs() -> ResourceType {
    rt("jobs")
}

/// The wall clock. Only loops call this; pure code takes `now`.
pub(crate) use weir_cluster::wall_clock as now;

/// Seconds from `earlier` to `later` (negative if `later` is before).
pub(crate) fn seconds_between(earlier: &Timestamp, later: &Timestamp) -> f64 {
    (later.as_millisecond() - earlier.as_millisecond()) as f64 / 1000.0
}

/// A controller owner reference to `owner`.
pub(crate) fn controller_ref(owner: &Object) -> OwnerReference {
    OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name().to_owned(),
        uid: owner.uid().to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `refs` holds a controller reference with this uid.
pub(crate) fn is_controlled_by(refs: Option<&Vec<OwnerReference>>, uid: &str) -> bool {
    refs.into_iter().flatten().any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Converts a typed object, mapping a decoding failure to a cluster error.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(object: &Object) -> Result<T, Error> {
    object.to_typed()
}

/// Whether the pod is neither finished nor being deleted (Kubernetes' "active").
pub(crate) fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// When the pod's `Ready` condition last became true, if it is true.
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    if ready.status != "True" {
        return None;
    }
    Some(ready.last_transition_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0))
}

/// Whether the pod is ready.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether the pod has been ready for at least `min_ready_seconds` at `now`.
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: &Timestamp) -> bool {
    ready_since(pod).is_some_and(|since| {
        min_ready_seconds <= 0 || seconds_between(&since, now) >= f64::from(min_ready_seconds)
    })
}

/// Seconds until a ready pod becomes available, if it is ready but not available yet.
pub(crate) fn seconds_until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: &Timestamp,
) -> Option<f64> {
    let since = ready_since(pod)?;
    let left = f64::from(min_ready_seconds) - seconds_between(&since, now);
    (min_ready_seconds > 0 && left > 0.0).then_some(left)
}
