//! Keeping an Application's status small enough to be stored (issue 16 item 5).
//!
//! An app of ~25k manifests has a `status.resources` list of several MiB: over the object
//! limit of an API server, so the status was never written and the app showed `Unknown` with
//! no condition. [`fit`] cuts the list to what fits in [`OBJECT_BUDGET`] (resources that are
//! out of sync or not healthy first, as they are the ones a person looks for; then in the
//! list's key order) and says so in a [`RESOURCES_TRUNCATED`] condition with the counts of the
//! whole list by sync status and by health. Argo CD likewise keeps the full resource tree out
//! of the Application (in its cache) and summarizes it. Pure: sizes in, status out.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use weir_model::argocd::{Application, ApplicationCondition, ApplicationStatus, ResourceStatus};

/// The condition type of a status whose resource list was cut to fit. A `…Warning` type, so
/// Argo CD's clients show it as a warning, not an error.
pub const RESOURCES_TRUNCATED: &str = "ResourcesTruncatedWarning";

/// The largest Application (JSON bytes) the controller writes: 1.5 MiB, etcd's default
/// request limit (`--max-request-bytes`), the smallest limit an API server puts on an object
/// (weir's store allows 3 MiB), less room for the metadata the server adds.
pub const OBJECT_BUDGET: usize = 3 * 512 * 1024 - 16 * 1024;

/// Room kept for the truncation condition itself.
const CONDITION_ROOM: usize = 1024;

fn json_len<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

/// The JSON size of `app` without its status.
fn size_without_status(app: &Application) -> usize {
    json_len(&app.metadata)
        + json_len(&app.spec)
        + app.operation.as_ref().map_or(0, json_len)
        + app.api_version.len()
        + app.kind.len()
        + 64
}

/// Whether a resource entry is worth listing first: out of sync, or not healthy.
fn needs_attention(r: &ResourceStatus) -> bool {
    let health = r.health.as_ref().and_then(|h| h.status.as_deref());
    r.status.as_deref() != Some("Synced") || health.is_some_and(|h| h != "Healthy")
}

/// Cuts `status.resources` so that `app` with `status` fits in `budget` bytes, and adds (or
/// removes) the [`RESOURCES_TRUNCATED`] condition. `now` stamps a new condition.
pub(crate) fn fit(
    app: &Application,
    status: &mut ApplicationStatus,
    budget: usize,
    now: Timestamp,
) {
    let previous_since = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.r#type == RESOURCES_TRUNCATED))
        .and_then(|c| c.last_transition_time.clone());
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.r#type != RESOURCES_TRUNCATED);
    }
    if status.conditions.as_ref().is_some_and(Vec::is_empty) {
        status.conditions = None;
    }
    let rest = size_without_status(app);
    let full = json_len(status);
    if rest + full <= budget {
        return;
    }
    let resources = status.resources.take().unwrap_or_default();
    let fixed = rest + json_len(status) + CONDITION_ROOM + "\"resources\":[],".len();
    let mut room = budget.saturating_sub(fixed);
    let sizes: Vec<usize> = resources.iter().map(|r| json_len(r) + 1).collect();
    let mut order: Vec<usize> = (0..resources.len()).collect();
    order.sort_by_key(|&i| !needs_attention(&resources[i]));
    let mut keep = vec![false; resources.len()];
    for i in order {
        if sizes[i] <= room {
            room -= sizes[i];
            keep[i] = true;
        }
    }
    let message = message(&resources, keep.iter().filter(|k| **k).count(), rest + full, budget);
    let kept: Vec<ResourceStatus> =
        resources.into_iter().zip(keep).filter(|(_, k)| *k).map(|(r, _)| r).collect();
    status.resources = Some(kept);
    status.conditions.get_or_insert_with(Vec::new).push(ApplicationCondition {
        last_transition_time: Some(previous_since.unwrap_or(Time(now))),
        message,
        r#type: RESOURCES_TRUNCATED.to_string(),
    });
}

/// What the condition says: how many are listed, why, and the counts of the whole list.
fn message(all: &[ResourceStatus], listed: usize, full_size: usize, budget: usize) -> String {
    let mut sync: BTreeMap<&str, usize> = BTreeMap::new();
    let mut health: BTreeMap<&str, usize> = BTreeMap::new();
    for r in all {
        *sync.entry(r.status.as_deref().unwrap_or("Unknown")).or_default() += 1;
        let h = r.health.as_ref().and_then(|h| h.status.as_deref()).unwrap_or("None");
        *health.entry(h).or_default() += 1;
    }
    let counts = |m: &BTreeMap<&str, usize>| {
        m.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    };
    format!(
        "status.resources lists {listed} of {total} resources: the full list would make the \
         Application {full_kib} KiB, over the {budget_kib} KiB an API server stores. Resources \
         out of sync or not healthy are listed first. All {total}: {sync}; health: {health}",
        total = all.len(),
        full_kib = full_size / 1024,
        budget_kib = budget / 1024,
        sync = counts(&sync),
        health = counts(&health),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_model::argocd::HealthStatus;

    use super::*;

    fn app() -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "big", "namespace": "argocd"},
            "spec": {"project": "default",
                     "destination": {"server": "https://kubernetes.default.svc"}}
        }))
        .expect("an application")
    }

    fn resource(i: usize, sync: &str, health: &str) -> ResourceStatus {
        ResourceStatus {
            kind: Some("ConfigMap".into()),
            name: Some(format!("cm-{i:05}")),
            namespace: Some("apps".into()),
            status: Some(sync.into()),
            version: Some("v1".into()),
            health: Some(HealthStatus {
                last_transition_time: None,
                message: None,
                status: Some(health.into()),
            }),
            ..ResourceStatus::default()
        }
    }

    fn status(resources: Vec<ResourceStatus>) -> ApplicationStatus {
        ApplicationStatus { resources: Some(resources), ..ApplicationStatus::default() }
    }

    fn object_len(app: &Application, status: &ApplicationStatus) -> usize {
        let mut whole = app.clone();
        whole.status = Some(status.clone());
        json_len(&whole)
    }

    #[test]
    fn a_status_that_fits_is_left_alone() {
        let now = Timestamp::UNIX_EPOCH;
        let mut s = status((0..10).map(|i| resource(i, "Synced", "Healthy")).collect());
        let before = s.clone();
        fit(&app(), &mut s, OBJECT_BUDGET, now);
        assert_eq!(s, before);
    }

    #[test]
    fn a_status_too_large_is_cut_problems_first_and_says_so() {
        let now = Timestamp::UNIX_EPOCH;
        // 2,000 resources, every tenth out of sync and missing; a budget for about 300.
        let all: Vec<ResourceStatus> = (0..2000)
            .map(|i| {
                if i % 10 == 0 {
                    resource(i, "OutOfSync", "Missing")
                } else {
                    resource(i, "Synced", "Healthy")
                }
            })
            .collect();
        let one = json_len(&all[0]);
        let budget = size_without_status(&app()) + 300 * one + CONDITION_ROOM;
        let mut s = status(all);
        fit(&app(), &mut s, budget, now);
        assert!(object_len(&app(), &s) <= budget, "{} > {budget}", object_len(&app(), &s));
        let listed = s.resources.as_ref().expect("resources");
        assert!((250..=300).contains(&listed.len()), "{}", listed.len());
        // All 200 out-of-sync resources are listed, the rest are synced ones in key order.
        assert_eq!(listed.iter().filter(|r| needs_attention(r)).count(), 200);
        let names: Vec<&str> = listed.iter().filter_map(|r| r.name.as_deref()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "the list keeps its order");
        let conditions = s.conditions.as_ref().expect("conditions");
        assert_eq!(conditions.len(), 1);
        let c = &conditions[0];
        assert_eq!(c.r#type, RESOURCES_TRUNCATED);
        assert!(c.message.starts_with(&format!("status.resources lists {} of 2000", listed.len())));
        assert!(c.message.contains("All 2000: 200 OutOfSync, 1800 Synced"), "{}", c.message);
        assert!(c.message.contains("health: 1800 Healthy, 200 Missing"), "{}", c.message);

        // The next reconcile keeps the condition's transition time; a fitting status drops it.
        let later = Timestamp::from_second(60).expect("time");
        let mut again = s.clone();
        again.resources = Some((0..2000).map(|i| resource(i, "Synced", "Healthy")).collect());
        fit(&app(), &mut again, budget, later);
        let c = &again.conditions.as_ref().expect("conditions")[0];
        assert_eq!(c.last_transition_time, Some(Time(now)));
        again.resources = Some(vec![resource(1, "Synced", "Healthy")]);
        fit(&app(), &mut again, budget, later);
        assert_eq!(again.conditions, None);
    }
}
