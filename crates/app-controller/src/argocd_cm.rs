//! Settings read from the `argocd-cm` ConfigMap in weir's control-plane namespace (`argocd`),
//! as Argo CD's settings manager reads them. Today: the health customizations.
//!
//! - `resource.customizations.health.<group_kind>`: a Lua health script; `<group_kind>` is
//!   `<group>_<Kind>` (read as `group/Kind`) or `<Kind>` for the core group, and may hold
//!   wildcards (`*.example.com_*`);
//! - `resource.customizations.useOpenLibs.<group_kind>`: `"true"` opens Lua's standard
//!   libraries to that script;
//! - the older `resource.customizations` key: YAML mapping `group/Kind` to
//!   `{health.lua: ..., health.lua.useOpenLibs: bool}`; the split keys above win over it.
//!
//! [`health_overrides`] parses (pure); [`load_health_overrides`] reads the ConfigMap.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_cluster::{Cluster, Registry};
use weir_gitops::health::lua::{HealthOverrides, HealthScript};

/// The namespace Argo CD reads its settings from (where weir's Applications live too).
pub const CONTROL_PLANE_NAMESPACE: &str = "argocd";
/// The settings ConfigMap.
pub const ARGOCD_CM: &str = "argocd-cm";

const SPLIT_PREFIX: &str = "resource.customizations.";
const LEGACY_KEY: &str = "resource.customizations";

/// The health scripts of an `argocd-cm` `data` map, and a warning for each key it could not
/// read (the others still apply).
pub fn health_overrides(data: &BTreeMap<String, String>) -> (HealthOverrides, Vec<String>) {
    let mut warnings = Vec::new();
    let mut scripts: BTreeMap<String, HealthScript> = BTreeMap::new();
    if let Some(text) = data.get(LEGACY_KEY) {
        match serde_yaml_ng::from_str::<BTreeMap<String, Value>>(text) {
            Ok(map) => {
                for (key, value) in map {
                    let script = value.get("health.lua").and_then(Value::as_str).unwrap_or("");
                    let open = value.get("health.lua.useOpenLibs").and_then(Value::as_bool);
                    let entry = scripts.entry(key).or_default();
                    entry.script = script.to_owned();
                    entry.use_open_libs = open.unwrap_or(false);
                }
            }
            Err(e) => warnings.push(format!("{LEGACY_KEY} in {ARGOCD_CM} is not valid YAML: {e}")),
        }
    }
    for (key, value) in data {
        let Some(rest) = key.strip_prefix(SPLIT_PREFIX) else { continue };
        let Some((kind_of_setting, group_kind)) = rest.split_once('.') else { continue };
        if !matches!(kind_of_setting, "health" | "useOpenLibs") {
            continue;
        }
        let Some(override_key) = override_key(group_kind) else {
            warnings.push(format!(
                "{key} in {ARGOCD_CM}: the group kind should be <group>_<kind> or <kind>, got \
                 '{group_kind}'"
            ));
            continue;
        };
        let entry = scripts.entry(override_key).or_default();
        if kind_of_setting == "health" {
            entry.script = value.clone();
        } else {
            match value.trim().parse::<bool>() {
                Ok(open) => entry.use_open_libs = open,
                Err(_) => {
                    warnings.push(format!("{key} in {ARGOCD_CM} is not a boolean: {value:?}"))
                }
            }
        }
    }
    let mut overrides = HealthOverrides::new();
    for (key, script) in scripts.into_iter().filter(|(_, s)| !s.script.is_empty()) {
        overrides.insert(key, script);
    }
    (overrides, warnings)
}

/// `group_Kind` → `group/Kind`; `Kind` stays (Argo CD's `convertToOverrideKey`).
fn override_key(group_kind: &str) -> Option<String> {
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [group, kind] => Some(format!("{group}/{kind}")),
        [kind] if !kind.is_empty() => Some((*kind).to_owned()),
        _ => None,
    }
}

/// Reads `argocd-cm` (absent: no overrides). Unreadable keys are logged and skipped; a
/// failing read is logged and gives the built-in checks only, so apps keep reconciling.
pub async fn load_health_overrides<C: Cluster + ?Sized>(
    cluster: &C,
    registry: &Registry,
) -> HealthOverrides {
    let Some(rt) = registry.for_name("configmaps") else { return HealthOverrides::new() };
    let cm = match cluster.get(rt, Some(CONTROL_PLANE_NAMESPACE), ARGOCD_CM).await {
        Ok(cm) => cm.to_value(),
        Err(weir_cluster::Error::NotFound { .. }) => return HealthOverrides::new(),
        Err(error) => {
            tracing::warn!(%error, "reading {ARGOCD_CM} failed: built-in health checks only");
            return HealthOverrides::new();
        }
    };
    let data: BTreeMap<String, String> = cm
        .get("data")
        .and_then(Value::as_object)
        .map(|d| d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let (overrides, warnings) = health_overrides(&data);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    overrides
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn cron_job() -> Value {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}})
    }

    #[test]
    fn split_keys_name_group_kinds_and_open_libs() {
        let (overrides, warnings) = health_overrides(&data(&[
            (
                "resource.customizations.health.batch_CronJob",
                "return {status = string.format('%s', 'Healthy')}",
            ),
            ("resource.customizations.useOpenLibs.batch_CronJob", "true"),
            ("resource.customizations.health.ConfigMap", "return {status = 'Suspended'}"),
            ("resource.customizations.ignoreDifferences.apps_Deployment", "jsonPointers: []"),
        ]));
        assert!(warnings.is_empty(), "{warnings:?}");
        let (key, script) = overrides.script_for("batch", "CronJob").expect("CronJob script");
        assert_eq!((key, script.use_open_libs), ("batch/CronJob", true));
        assert!(overrides.script_for("", "ConfigMap").is_some());
        assert!(overrides.script_for("apps", "Deployment").is_none());
        assert_eq!(overrides.assess(&cron_job()).map(|h| h.status.as_str()), Some("Healthy"));
    }

    #[test]
    fn wildcards_match_as_in_argo() {
        let (overrides, _) = health_overrides(&data(&[(
            "resource.customizations.health.*.example.com_*",
            "return {status = 'Degraded'}",
        )]));
        assert_eq!(
            overrides.script_for("a.example.com", "Thing").map(|(k, _)| k),
            Some("*.example.com/*")
        );
        assert!(overrides.script_for("example.org", "Thing").is_none());
    }

    #[test]
    fn the_legacy_yaml_form_is_read_and_split_keys_win() {
        let legacy = "batch/CronJob:\n  health.lua: return {status = 'Degraded'}\n  \
                      health.lua.useOpenLibs: true\nv1/Whatever:\n  ignoreDifferences: x\n";
        let (overrides, warnings) = health_overrides(&data(&[("resource.customizations", legacy)]));
        assert!(warnings.is_empty(), "{warnings:?}");
        let (_, script) = overrides.script_for("batch", "CronJob").expect("legacy script");
        assert!(script.use_open_libs);
        assert_eq!(overrides.assess(&cron_job()).map(|h| h.status.as_str()), Some("Degraded"));
        let (overrides, _) = health_overrides(&data(&[
            ("resource.customizations", legacy),
            ("resource.customizations.health.batch_CronJob", "return {status = 'Suspended'}"),
        ]));
        assert_eq!(overrides.assess(&cron_job()).map(|h| h.status.as_str()), Some("Suspended"));
    }

    #[test]
    fn bad_keys_are_warnings_and_the_rest_applies() {
        let (overrides, warnings) = health_overrides(&data(&[
            ("resource.customizations.health.a_b_c", "return {status = 'Healthy'}"),
            ("resource.customizations.useOpenLibs.ConfigMap", "maybe"),
            ("resource.customizations.health.ConfigMap", "return {status = 'Healthy'}"),
            ("resource.customizations", "[not: a map"),
        ]));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("is not valid YAML"), "{warnings:?}");
        assert!(overrides.script_for("", "ConfigMap").is_some());
    }
}
