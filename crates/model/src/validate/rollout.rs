//! Rollout validation: Argo's `pkg/apis/rollouts/validation/validation.go`, function for
//! function, plus the Kubernetes pod-template checks `ValidateRollout` relies on
//! (selector/labels match, containers, names, images, restart policy).
//!
//! Every function returns all problems in Argo's order. Paths follow Argo exactly, including
//! its quirk of validating the canary under `spec.strategy` (so canary problems read
//! `spec.strategy.<field>`), and a missing strategy under `spec.strategy.strategy`.

mod messages;
mod pod_template;
mod steps;

pub use messages::*;
use steps::validate_canary_step;
pub use steps::{
    has_multiple_steps_type, is_valid_downward_api_path, validate_step_route_found_in_managed_route,
};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{child, go_quote, index};
use crate::rollouts::{AntiAffinity, Rollout};
use crate::{Diagnostic, ErrorType};
use pod_template::{Selector, validate_label_selector, validate_pod_template_spec_for_replica_set};

/// Kubernetes' `ValidateNonnegativeField` message.
const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";

/// `ValidateRollout`: the whole spec, under `spec`.
pub fn validate_rollout(rollout: &Rollout) -> Vec<Diagnostic> {
    validate_rollout_spec(rollout, "spec")
}

fn nonnegative(value: i64, path: String) -> Option<Diagnostic> {
    (value < 0).then(|| Diagnostic::invalid(path, value.to_string(), IS_NEGATIVE_ERROR_MSG))
}

/// `ValidateRolloutSpec`.
pub fn validate_rollout_spec(rollout: &Rollout, path: &str) -> Vec<Diagnostic> {
    let spec = &rollout.spec;
    let mut errs = Vec::new();
    let replicas = spec.replicas();
    errs.extend(nonnegative(replicas.into(), child(path, "replicas")));

    let selector_path = child(path, "selector");
    if spec.workload_ref.is_none() {
        match &spec.selector {
            None => errs.push(Diagnostic::required(
                &selector_path,
                missing_field_message(".spec.selector"),
            )),
            Some(sel) => {
                errs.extend(validate_label_selector(sel, &selector_path));
                let n = sel.match_labels.as_ref().map_or(0, BTreeMap::len)
                    + sel.match_expressions.as_ref().map_or(0, Vec::len);
                if n == 0 {
                    errs.push(Diagnostic::invalid(
                        &selector_path,
                        selector_value(sel),
                        "empty selector is invalid for deployment",
                    ));
                }
            }
        }
    }

    if spec.workload_ref.is_some() && !spec.empty_template() {
        errs.push(Diagnostic::new(
            ErrorType::Internal,
            child(path, "template"),
            "template must be empty for workload reference rollout",
        ));
    }

    match Selector::from_label_selector(spec.selector.as_ref()) {
        None => errs.push(Diagnostic::invalid(
            &selector_path,
            spec.selector.as_ref().map_or_else(|| "null".to_owned(), selector_value),
            "invalid label selector",
        )),
        Some(selector) => {
            if spec.workload_ref.is_none() {
                let default_template = PodTemplateSpec::default();
                let template = spec.template.as_ref().unwrap_or(&default_template);
                errs.extend(validate_pod_template_spec_for_replica_set(
                    template,
                    &selector,
                    &child(path, "template"),
                ));
            }
        }
    }

    errs.extend(nonnegative(spec.min_ready_seconds().into(), child(path, "minReadySeconds")));
    errs.extend(nonnegative(
        spec.revision_history_limit().into(),
        child(path, "revisionHistoryLimit"),
    ));
    let progress_deadline = spec.progress_deadline_seconds();
    errs.extend(nonnegative(progress_deadline.into(), child(path, "progressDeadlineSeconds")));
    if progress_deadline <= spec.min_ready_seconds() {
        errs.push(Diagnostic::invalid(
            child(path, "progressDeadlineSeconds"),
            progress_deadline.to_string(),
            "must be greater than minReadySeconds",
        ));
    }
    errs.extend(validate_rollout_strategy(rollout, &child(path, "strategy")));
    errs
}

/// `ValidateRolloutStrategy`: exactly one strategy. Note that the strategies themselves are
/// validated under `path`, and the "missing/multiple" problems under `path.strategy`.
pub fn validate_rollout_strategy(rollout: &Rollout, path: &str) -> Vec<Diagnostic> {
    let spec = &rollout.spec;
    let (bg, canary) = (spec.blue_green(), spec.canary());
    match (bg, canary) {
        (None, None) => vec![Diagnostic::required(
            child(path, "strategy"),
            missing_field_message(".spec.strategy.canary or .spec.strategy.blueGreen"),
        )],
        (Some(_), Some(_)) => vec![Diagnostic::invalid(
            child(path, "strategy"),
            go_quote("blueGreen: true canary: true"),
            INVALID_STRATEGY_MESSAGE,
        )],
        (Some(_), None) => validate_rollout_strategy_blue_green(rollout, path),
        (None, Some(_)) => validate_rollout_strategy_canary(rollout, path),
    }
}

/// `ValidateRolloutStrategyBlueGreen`.
pub fn validate_rollout_strategy_blue_green(rollout: &Rollout, path: &str) -> Vec<Diagnostic> {
    let Some(bg) = rollout.spec.blue_green() else { return Vec::new() };
    let mut errs = Vec::new();
    if bg.active_service == bg.preview_service() {
        errs.push(Diagnostic::invalid(
            child(path, "activeService"),
            go_quote(&bg.active_service),
            DUPLICATED_SERVICES_BLUE_GREEN_MESSAGE,
        ));
    }
    if let Some(limit) = bg.scale_down_delay_revision_limit
        && rollout.spec.revision_history_limit() < limit
    {
        errs.push(Diagnostic::invalid(
            child(path, "scaleDownDelayRevisionLimit"),
            limit.to_string(),
            SCALE_DOWN_LIMIT_LARGER_THAN_REVISION_LIMIT,
        ));
    }
    errs.extend(validate_rollout_strategy_anti_affinity(
        bg.anti_affinity.as_ref(),
        &child(path, "antiAffinity"),
    ));
    errs
}

/// `requireCanaryStableServices`: whether the traffic router needs `canaryService` and
/// `stableService`.
fn require_canary_stable_services(rollout: &Rollout) -> bool {
    let Some(canary) = rollout.spec.canary() else { return false };
    let Some(tr) = &canary.traffic_routing else { return false };
    let ping_pong = canary.ping_pong.is_some();
    (tr.alb.is_some() && !ping_pong)
        || tr.istio.as_ref().is_some_and(|i| i.destination_rule.is_none() && !ping_pong)
        || tr.smi.is_some()
        || tr.apisix.is_some()
        || tr.ambassador.is_some()
        || tr.nginx.is_some()
        || tr.app_mesh.is_some()
        || tr.traefik.is_some()
}

/// `ValidateRolloutStrategyCanary`.
pub fn validate_rollout_strategy_canary(rollout: &Rollout, path: &str) -> Vec<Diagnostic> {
    let Some(canary) = rollout.spec.canary() else { return Vec::new() };
    let tr = canary.traffic_routing.as_ref();
    let mut errs = invalid_max_surge_max_unavailable(rollout, &child(path, "maxSurge"));
    let (canary_svc, stable_svc) = (canary.canary_service(), canary.stable_service());
    if !canary_svc.is_empty() && !stable_svc.is_empty() && canary_svc == stable_svc {
        errs.push(Diagnostic::invalid(
            child(path, "stableService"),
            go_quote(stable_svc),
            DUPLICATED_SERVICES_CANARY_MESSAGE,
        ));
    }
    if let Some(pp) = &canary.ping_pong {
        if let Some(tr) = tr
            && tr.alb.is_none()
            && tr.istio.is_none()
            && !tr.has_plugins()
        {
            errs.push(Diagnostic::invalid(
                child(&child(path, "trafficRouting"), "alb"),
                "null",
                PING_PONG_WITH_ROUTER_ONLY_MESSAGE,
            ));
        }
        let pp_path = child(path, "pingPong");
        if pp.ping_service.is_empty() {
            errs.push(Diagnostic::invalid(
                child(&pp_path, "pingService"),
                go_quote(&pp.ping_service),
                INVALID_PING_PONG_PROVIDED_MESSAGE,
            ));
        }
        if pp.pong_service.is_empty() {
            errs.push(Diagnostic::invalid(
                child(&pp_path, "pongService"),
                go_quote(&pp.pong_service),
                INVALID_PING_PONG_PROVIDED_MESSAGE,
            ));
        }
        if pp.ping_service == pp.pong_service {
            errs.push(Diagnostic::invalid(
                child(&pp_path, "pingService"),
                go_quote(&pp.ping_service),
                DUPLICATED_PING_PONG_SERVICES_MESSAGE,
            ));
        }
        if let Some(alb) = tr.and_then(|t| t.alb.as_ref())
            && alb.root_service.as_deref().unwrap_or("").is_empty()
        {
            errs.push(Diagnostic::invalid(
                child(path, "trafficRouting.alb.rootService"),
                go_quote(""),
                MISSED_ALB_ROOT_SERVICE_MESSAGE,
            ));
        }
    }
    if require_canary_stable_services(rollout) {
        if stable_svc.is_empty() {
            errs.push(Diagnostic::invalid(
                child(path, "stableService"),
                go_quote(stable_svc),
                INVALID_TRAFFIC_ROUTING_MESSAGE,
            ));
        }
        if canary_svc.is_empty() {
            errs.push(Diagnostic::invalid(
                child(path, "canaryService"),
                go_quote(canary_svc),
                INVALID_TRAFFIC_ROUTING_MESSAGE,
            ));
        }
    }

    match tr {
        None => {
            if let Some(delay) = canary.scale_down_delay_seconds {
                errs.push(Diagnostic::invalid(
                    child(path, "scaleDownDelaySeconds"),
                    delay.to_string(),
                    INVALID_CANARY_SCALE_DOWN_DELAY,
                ));
            }
            if canary.dynamic_stable_scale() {
                errs.push(Diagnostic::invalid(
                    child(path, "dynamicStableScale"),
                    "true",
                    INVALID_CANARY_DYNAMIC_STABLE_SCALE,
                ));
            }
        }
        Some(tr) => {
            if canary.scale_down_delay_seconds.is_some() && canary.dynamic_stable_scale() {
                errs.push(Diagnostic::invalid(
                    child(path, "dynamicStableScale"),
                    "true",
                    INVALID_CANARY_DYNAMIC_STABLE_SCALE_WITH_SCALE_DOWN_DELAY,
                ));
            }
            if let Some(max) = tr.max_traffic_weight
                && tr.nginx.is_none()
                && !tr.has_plugins()
            {
                errs.push(Diagnostic::invalid(
                    child(path, "trafficRouting.maxTrafficWeight"),
                    max.to_string(),
                    INVALID_CANARY_MAX_WEIGHT_ONLY_SUPPORT_IN_NGINX_AND_PLUGINS,
                ));
            }
        }
    }

    let max_weight = canary.max_traffic_weight();
    for (i, step) in canary.steps().iter().enumerate() {
        errs.extend(validate_canary_step(
            rollout,
            step,
            &index(&child(path, "steps"), i),
            path,
            max_weight,
        ));
    }
    errs.extend(validate_rollout_strategy_anti_affinity(
        canary.anti_affinity.as_ref(),
        &child(path, "antiAffinity"),
    ));
    errs
}

/// `ValidateRolloutStrategyAntiAffinity`.
pub fn validate_rollout_strategy_anti_affinity(
    anti_affinity: Option<&AntiAffinity>,
    path: &str,
) -> Vec<Diagnostic> {
    let Some(aa) = anti_affinity else { return Vec::new() };
    let mut errs = Vec::new();
    let (preferred, required) = (aa.preferred.as_ref(), aa.required.as_ref());
    if preferred.is_some() == required.is_some() {
        errs.push(Diagnostic::invalid(
            path,
            go_quote(&format!(
                "antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: {} antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: {}",
                preferred.is_some(),
                required.is_some()
            )),
            INVALID_ANTI_AFFINITY_STRATEGY_MESSAGE,
        ));
    }
    if let Some(p) = preferred
        && !(1..=100).contains(&p.weight)
    {
        errs.push(Diagnostic::invalid(
            child(path, "weight"),
            p.weight.to_string(),
            INVALID_ANTI_AFFINITY_WEIGHT_MESSAGE,
        ));
    }
    errs
}

/// Argo's `getIntOrPercentValue`: `"N%"` → N; any other string → Go `IntValue()` (its
/// base-10 int, or 0).
fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => (*i).into(),
        IntOrString::String(s) => {
            if let Some(n) = s.strip_suffix('%')
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
            {
                return n.parse().unwrap_or(0);
            }
            s.parse::<i32>().map_or(0, i64::from)
        }
    }
}

/// Go's `%#v` of an `intstr.IntOrString` value.
fn int_or_string_value(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => {
            format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", go_quote(s))
        }
    }
}

/// `invalidMaxSurgeMaxUnavailable`: both resolve to 0 (defaults `"25"`).
pub fn invalid_max_surge_max_unavailable(rollout: &Rollout, path: &str) -> Vec<Diagnostic> {
    let Some(canary) = rollout.spec.canary() else { return Vec::new() };
    let surge = canary.max_surge();
    if int_or_percent_value(&surge) == 0 && int_or_percent_value(&canary.max_unavailable()) == 0 {
        return vec![Diagnostic::invalid(
            path,
            int_or_string_value(&surge),
            INVALID_MAX_SURGE_MAX_UNAVAILABLE,
        )];
    }
    Vec::new()
}

/// Complex bad values are shown as compact JSON (Go would print a struct dump).
pub(crate) fn json_value<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn selector_value(sel: &LabelSelector) -> String {
    json_value(sel)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rollout(template: serde_json::Value) -> Rollout {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "strategy": {"canary": {}}, "template": template}
        }))
        .unwrap()
    }

    fn messages(r: &Rollout) -> Vec<String> {
        validate_rollout(r).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn pod_template_checks() {
        let ok = rollout(json!({"metadata": {"labels": {"app": "a"}},
                                "spec": {"containers": [{"name": "c", "image": "i"}]}}));
        assert_eq!(messages(&ok), Vec::<String>::new());
        let bad = rollout(json!({"metadata": {"labels": {"app": "b"}},
                                 "spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "C"}, {"name": "C", "image": "i"}]}}));
        assert_eq!(
            messages(&bad),
            [
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`"#,
                r#"spec.template.spec.containers[0].name: Invalid value: "C": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                "spec.template.spec.containers[0].image: Required value",
                r#"spec.template.spec.containers[1].name: Invalid value: "C": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                r#"spec.template.spec.containers[1].name: Duplicate value: "C""#,
                r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
            ]
        );
        let none = rollout(json!({"metadata": {"labels": {"app": "a"}}}));
        assert_eq!(messages(&none), ["spec.template.spec.containers: Required value"]);
    }

    #[test]
    fn downward_api_paths() {
        assert!(is_valid_downward_api_path("metadata.labels['app']"));
        assert!(is_valid_downward_api_path("metadata.annotations['example.com/x']"));
        assert!(is_valid_downward_api_path("metadata.name"));
        assert!(!is_valid_downward_api_path("metadata.label['app']"));
        assert!(!is_valid_downward_api_path("metadata.generation"));
    }
}
