//! Rollout validation: Argo's `pkg/apis/rollouts/validation/validation.go`, function for
//! function, plus the Kubernetes pod-template checks `ValidateRollout` relies on
//! (selector/labels match, containers, names, images, restart policy).
//!
//! Every function returns all problems in Argo's order. Paths follow Argo exactly, including
//! its quirk of validating the canary under `spec.strategy` (so canary problems read
//! `spec.strategy.<field>`), and a missing strategy under `spec.strategy.strategy`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{child, go_quote, go_string_map, index};
use crate::rollouts::{
    AnalysisRunArgument, AntiAffinity, CanaryStep, ManagedRoute, Rollout, StringMatch,
};
use crate::{Diagnostic, ErrorType};

/// `MissingFieldMessage`.
pub fn missing_field_message(field: &str) -> String {
    format!("Rollout has missing field '{field}'")
}
/// `InvalidSetWeightMessage` with the traffic weight maximum filled in.
pub fn invalid_set_weight_message(max: i32) -> String {
    format!("SetWeight needs to be between 0 and {max}")
}
/// `InvalidCanaryExperimentTemplateWeightWithoutTrafficRouting`.
pub const INVALID_CANARY_EXPERIMENT_TEMPLATE_WEIGHT_WITHOUT_TRAFFIC_ROUTING: &str =
    "Experiment template weight cannot be set unless TrafficRouting is enabled";
/// Experiment template weight with an unsupported traffic router.
pub const INVALID_CANARY_EXPERIMENT_TEMPLATE_WEIGHT_ROUTER: &str = "Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time";
/// `InvalidSetCanaryScaleTrafficPolicy`.
pub const INVALID_SET_CANARY_SCALE_TRAFFIC_POLICY: &str =
    "SetCanaryScale requires TrafficRouting to be set";
/// `InvalidSetHeaderRouteTrafficPolicy`.
pub const INVALID_SET_HEADER_ROUTE_TRAFFIC_POLICY: &str =
    "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix";
/// `InvalidSetMirrorRouteTrafficPolicy`.
pub const INVALID_SET_MIRROR_ROUTE_TRAFFIC_POLICY: &str =
    "SetMirrorRoute requires TrafficRouting, supports Istio and Plugins";
/// `InvalidStringMatchMultipleValuePolicy`.
pub const INVALID_STRING_MATCH_MULTIPLE_VALUE_POLICY: &str =
    "StringMatch match value must have exactly one of the following: exact, regex, prefix";
/// `InvalidStringMatchMissedValuePolicy`.
pub const INVALID_STRING_MATCH_MISSED_VALUE_POLICY: &str =
    "StringMatch value missed, match value must have one of the following: exact, regex, prefix";
/// `InvalidSetHeaderRouteALBValuePolicy`.
pub const INVALID_SET_HEADER_ROUTE_ALB_VALUE_POLICY: &str =
    "SetHeaderRoute match value invalid. ALB supports 'exact' value only";
/// `InvalidDurationMessage`.
pub const INVALID_DURATION_MESSAGE: &str = "Duration needs to be greater than 0";
/// `InvalidMaxSurgeMaxUnavailable`.
pub const INVALID_MAX_SURGE_MAX_UNAVAILABLE: &str =
    "MaxSurge and MaxUnavailable both can not be zero";
/// `InvalidStepMessage`.
pub const INVALID_STEP_MESSAGE: &str = "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause";
/// `InvalidStrategyMessage`.
pub const INVALID_STRATEGY_MESSAGE: &str = "Multiple Strategies can not be listed";
/// `DuplicatedServicesBlueGreenMessage`.
pub const DUPLICATED_SERVICES_BLUE_GREEN_MESSAGE: &str = "This rollout uses the same service for the active and preview services, but two different services are required.";
/// `DuplicatedServicesCanaryMessage`.
pub const DUPLICATED_SERVICES_CANARY_MESSAGE: &str = "This rollout uses the same service for the stable and canary services, but two different services are required.";
/// `InvalidAntiAffinityStrategyMessage`.
pub const INVALID_ANTI_AFFINITY_STRATEGY_MESSAGE: &str =
    "AntiAffinity must have exactly one strategy listed";
/// `InvalidAntiAffinityWeightMessage`.
pub const INVALID_ANTI_AFFINITY_WEIGHT_MESSAGE: &str = "AntiAffinity weight must be between 1-100";
/// `ScaleDownLimitLargerThanRevisionLimit`.
pub const SCALE_DOWN_LIMIT_LARGER_THAN_REVISION_LIMIT: &str =
    "This rollout's revision history limit can not be smaller than the rollout's scale down limit";
/// `InvalidTrafficRoutingMessage`.
pub const INVALID_TRAFFIC_ROUTING_MESSAGE: &str =
    "Canary service and Stable service must to be set to use Traffic Routing";
/// `InvalidAnalysisArgsMessage`.
pub const INVALID_ANALYSIS_ARGS_MESSAGE: &str =
    "Analyses arguments must refer to valid object metadata supported by downwardAPI";
/// `InvalidCanaryScaleDownDelay`.
pub const INVALID_CANARY_SCALE_DOWN_DELAY: &str =
    "Canary scaleDownDelaySeconds can only be used with traffic routing";
/// `InvalidCanaryDynamicStableScale`.
pub const INVALID_CANARY_DYNAMIC_STABLE_SCALE: &str =
    "Canary dynamicStableScale can only be used with traffic routing";
/// `InvalidCanaryDynamicStableScaleWithScaleDownDelay`.
pub const INVALID_CANARY_DYNAMIC_STABLE_SCALE_WITH_SCALE_DOWN_DELAY: &str =
    "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds";
/// `InvalidPingPongProvidedMessage`.
pub const INVALID_PING_PONG_PROVIDED_MESSAGE: &str =
    "Ping service and Pong service must to be set to use Ping-Pong feature";
/// `DuplicatedPingPongServicesMessage`.
pub const DUPLICATED_PING_PONG_SERVICES_MESSAGE: &str = "This rollout uses the same service for the ping and pong services, but two different services are required.";
/// `MissedAlbRootServiceMessage`.
pub const MISSED_ALB_ROOT_SERVICE_MESSAGE: &str =
    "Root service field is required for the configuration with ALB and ping-pong feature enabled";
/// `PingPongWithRouterOnlyMessage`.
pub const PING_PONG_WITH_ROUTER_ONLY_MESSAGE: &str =
    "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only";
/// `InvalideStepRouteNameNotFoundInManagedRoutes`.
pub const STEP_ROUTE_NAME_NOT_FOUND_IN_MANAGED_ROUTES: &str =
    "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes";
/// `InvalidCanaryMaxWeightOnlySupportInNginxAndPlugins`.
pub const INVALID_CANARY_MAX_WEIGHT_ONLY_SUPPORT_IN_NGINX_AND_PLUGINS: &str =
    "Canary maxTrafficWeight in traffic routing only supported in Nginx and Plugins";

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

fn validate_canary_step(
    rollout: &Rollout,
    step: &CanaryStep,
    step_path: &str,
    path: &str,
    max_weight: i32,
) -> Vec<Diagnostic> {
    let Some(canary) = rollout.spec.canary() else { return Vec::new() };
    let tr = canary.traffic_routing.as_ref();
    let mut errs = has_multiple_steps_type(step, step_path);
    if step.experiment.is_none()
        && step.pause.is_none()
        && step.set_weight.is_none()
        && step.analysis.is_none()
        && step.set_canary_scale.is_none()
        && step.set_header_route.is_none()
        && step.set_mirror_route.is_none()
        && step.plugin.is_none()
    {
        errs.push(Diagnostic::invalid(
            step_path,
            go_quote(
                "step.Experiment: true step.Pause: true step.SetWeight: true step.Analysis: true step.SetCanaryScale: true step.SetHeaderRoute: true step.SetMirrorRoutes: true step.Plugin: true",
            ),
            INVALID_STEP_MESSAGE,
        ));
    }
    if let Some(w) = step.set_weight
        && (w < 0 || w > max_weight)
    {
        errs.push(Diagnostic::invalid(
            child(step_path, "setWeight"),
            w.to_string(),
            invalid_set_weight_message(max_weight),
        ));
    }
    if let Some(pause) = &step.pause {
        let secs = pause.duration_seconds();
        if secs < 0 {
            errs.push(Diagnostic::invalid(
                child(step_path, "pause.duration"),
                secs.to_string(),
                INVALID_DURATION_MESSAGE,
            ));
        }
    }
    if step.set_canary_scale.is_some() && tr.is_none() {
        errs.push(Diagnostic::required(
            child(path, "trafficRouting"),
            INVALID_SET_CANARY_SCALE_TRAFFIC_POLICY,
        ));
    }
    if let Some(header) = &step.set_header_route {
        let hp = child(step_path, "setHeaderRoute");
        match tr {
            Some(t)
                if t.istio.is_some()
                    || t.alb.is_some()
                    || t.apisix.is_some()
                    || t.has_plugins() =>
            {
                for (j, m) in header.match_.iter().flatten().enumerate() {
                    let mp = index(&child(&hp, "match"), j);
                    if t.alb.is_some() {
                        errs.extend(has_alb_invalid_values(m.header_value.as_ref(), &mp));
                    } else {
                        errs.extend(has_multiple_match_values(m.header_value.as_ref(), &mp));
                    }
                }
            }
            _ => errs.push(Diagnostic::invalid(
                hp,
                json_value(header),
                INVALID_SET_HEADER_ROUTE_TRAFFIC_POLICY,
            )),
        }
    }
    if let Some(mirror) = &step.set_mirror_route {
        let mp = child(step_path, "setMirrorRoute");
        if !tr.is_some_and(|t| t.istio.is_some() || t.has_plugins()) {
            errs.push(Diagnostic::invalid(
                &mp,
                json_value(mirror),
                INVALID_SET_MIRROR_ROUTE_TRAFFIC_POLICY,
            ));
        }
        for (j, m) in mirror.match_.iter().flatten().enumerate() {
            let match_path = index(&child(&mp, "match"), j);
            // Argo checks `method` twice (and `headers` not at all); kept as is.
            if m.method.is_some() {
                errs.extend(has_multiple_match_values(m.method.as_ref(), &match_path));
            }
            if m.path.is_some() {
                errs.extend(has_multiple_match_values(m.path.as_ref(), &match_path));
            }
            if m.method.is_some() {
                errs.extend(has_multiple_match_values(m.method.as_ref(), &match_path));
            }
        }
    }
    if let Some(t) = tr {
        let routes_step = step.set_header_route.is_some() || step.set_mirror_route.is_some();
        match &t.managed_routes {
            None if routes_step => errs.push(Diagnostic::required(
                child(path, "trafficRouting.managedRoutes"),
                missing_field_message("spec.strategy.canary.trafficRouting.managedRoutes"),
            )),
            None => {}
            Some(routes) => {
                if let Some(h) = &step.set_header_route {
                    errs.extend(validate_step_route_found_in_managed_route(
                        &child(step_path, "setHeaderRoute"),
                        h.name.as_deref().unwrap_or(""),
                        routes,
                    ));
                }
                if let Some(m) = &step.set_mirror_route {
                    errs.extend(validate_step_route_found_in_managed_route(
                        &child(step_path, "setMirrorRoute"),
                        &m.name,
                        routes,
                    ));
                }
            }
        }
    }

    let mut args: Vec<&AnalysisRunArgument> = Vec::new();
    if let Some(exp) = &step.experiment {
        for (k, template) in exp.templates.iter().enumerate() {
            let Some(weight) = template.weight else { continue };
            let wp = child(&index(&child(step_path, "experiment.templates"), k), "weight");
            match tr {
                None => errs.push(Diagnostic::invalid(
                    wp,
                    weight.to_string(),
                    INVALID_CANARY_EXPERIMENT_TEMPLATE_WEIGHT_WITHOUT_TRAFFIC_ROUTING,
                )),
                Some(t)
                    if t.alb.is_none()
                        && t.smi.is_none()
                        && t.istio.is_none()
                        && !t.has_plugins() =>
                {
                    errs.push(Diagnostic::invalid(
                        wp,
                        weight.to_string(),
                        INVALID_CANARY_EXPERIMENT_TEMPLATE_WEIGHT_ROUTER,
                    ));
                }
                Some(_) => {}
            }
        }
        for analysis in exp.analyses.iter().flatten() {
            args.extend(analysis.args.iter().flatten());
        }
    }
    if let Some(analysis) = &step.analysis {
        args.extend(analysis.args.iter().flatten());
    }
    for arg in &args {
        let Some(field_ref) = arg.value_from.as_ref().and_then(|v| v.field_ref.as_ref()) else {
            continue;
        };
        if field_ref.field_path.starts_with("metadata")
            && !is_valid_downward_api_path(&field_ref.field_path)
        {
            errs.push(Diagnostic::invalid(
                child(step_path, "analyses"),
                json_value(&args),
                INVALID_ANALYSIS_ARGS_MESSAGE,
            ));
        }
    }
    errs
}

/// Whether Kubernetes' `fieldpath.ExtractFieldPathAsString` accepts a `metadata…` path:
/// `metadata.name`, `.namespace`, `.uid`, `.labels`, `.annotations`, or
/// `metadata.labels['key']` / `metadata.annotations['key']` with a valid key.
pub fn is_valid_downward_api_path(path: &str) -> bool {
    if let Some(s) = path.strip_suffix("']")
        && let Some((base, key)) = s.split_once("['")
        && !base.is_empty()
    {
        return match base {
            "metadata.annotations" => super::is_qualified_name(&key.to_lowercase()).is_empty(),
            "metadata.labels" => super::is_qualified_name(key).is_empty(),
            _ => false,
        };
    }
    matches!(
        path,
        "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
    )
}

/// `ValidateStepRouteFoundInManagedRoute`.
pub fn validate_step_route_found_in_managed_route(
    step_path: &str,
    route_name: &str,
    managed_routes: &[ManagedRoute],
) -> Vec<Diagnostic> {
    if managed_routes.iter().any(|r| r.name == route_name) {
        return Vec::new();
    }
    vec![Diagnostic::invalid(
        step_path,
        go_quote(route_name),
        STEP_ROUTE_NAME_NOT_FOUND_IN_MANAGED_ROUTES,
    )]
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

/// `hasMultipleStepsType`: only setWeight, pause, experiment and analysis are counted.
pub fn has_multiple_steps_type(step: &CanaryStep, path: &str) -> Vec<Diagnostic> {
    let count = [
        step.set_weight.is_some(),
        step.pause.is_some(),
        step.experiment.is_some(),
        step.analysis.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    if count > 1 {
        return vec![Diagnostic::invalid(
            path,
            go_quote(&format!(
                "step.Experiment: {} step.Pause: {} step.SetWeight: {} step.Analysis: {}",
                step.experiment.is_some(),
                step.pause.is_some(),
                step.set_weight.is_some(),
                step.analysis.is_some()
            )),
            INVALID_STEP_MESSAGE,
        )];
    }
    Vec::new()
}

/// Go's `%#v` of a `v1alpha1.StringMatch` (or `null`).
fn string_match_value(m: Option<&StringMatch>) -> String {
    match m {
        None => "null".to_owned(),
        Some(m) => format!(
            "v1alpha1.StringMatch{{Exact:{}, Prefix:{}, Regex:{}}}",
            go_quote(m.exact.as_deref().unwrap_or("")),
            go_quote(m.prefix.as_deref().unwrap_or("")),
            go_quote(m.regex.as_deref().unwrap_or(""))
        ),
    }
}

fn has_alb_invalid_values(m: Option<&StringMatch>, path: &str) -> Vec<Diagnostic> {
    let Some(sm) = m else {
        return vec![Diagnostic::invalid(path, "null", INVALID_STRING_MATCH_MISSED_VALUE_POLICY)];
    };
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if !set(&sm.exact) || set(&sm.regex) || set(&sm.prefix) {
        return vec![Diagnostic::invalid(
            path,
            string_match_value(m),
            INVALID_SET_HEADER_ROUTE_ALB_VALUE_POLICY,
        )];
    }
    Vec::new()
}

fn has_multiple_match_values(m: Option<&StringMatch>, path: &str) -> Vec<Diagnostic> {
    let Some(sm) = m else {
        return vec![Diagnostic::invalid(path, "null", INVALID_STRING_MATCH_MISSED_VALUE_POLICY)];
    };
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    match [set(&sm.exact), set(&sm.regex), set(&sm.prefix)].into_iter().filter(|b| *b).count() {
        0 => vec![Diagnostic::invalid(
            path,
            string_match_value(m),
            INVALID_STRING_MATCH_MISSED_VALUE_POLICY,
        )],
        1 => Vec::new(),
        _ => vec![Diagnostic::invalid(
            path,
            string_match_value(m),
            INVALID_STRING_MATCH_MULTIPLE_VALUE_POLICY,
        )],
    }
}

/// Complex bad values are shown as compact JSON (Go would print a struct dump).
fn json_value<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn selector_value(sel: &LabelSelector) -> String {
    json_value(sel)
}

// ---------------------------------------------------------------------------------------
// Kubernetes label selectors and pod templates (the part ValidateRollout relies on).

/// A parsed label selector: `Nothing` (nil selector), `Everything` (empty) or requirements.
#[derive(Debug)]
enum Selector {
    Nothing,
    Everything,
    Requirements(Vec<(String, String, Vec<String>)>),
}

impl Selector {
    /// `metav1.LabelSelectorAsSelector`; `None` when the selector is invalid.
    fn from_label_selector(sel: Option<&LabelSelector>) -> Option<Selector> {
        let Some(sel) = sel else { return Some(Selector::Nothing) };
        let labels = sel.match_labels.as_ref();
        let exprs = sel.match_expressions.as_ref();
        if labels.map_or(0, BTreeMap::len) + exprs.map_or(0, Vec::len) == 0 {
            return Some(Selector::Everything);
        }
        let mut reqs = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            if !super::is_qualified_name(k).is_empty() || !super::is_valid_label_value(v).is_empty()
            {
                return None;
            }
            reqs.push((k.clone(), "In".to_owned(), vec![v.clone()]));
        }
        for e in exprs.into_iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let ok = match e.operator.as_str() {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                _ => false,
            };
            if !ok || !super::is_qualified_name(&e.key).is_empty() {
                return None;
            }
            reqs.push((e.key.clone(), e.operator.clone(), values));
        }
        Some(Selector::Requirements(reqs))
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Everything => true,
            Selector::Requirements(reqs) => reqs.iter().all(|(k, op, values)| match op.as_str() {
                "In" => labels.get(k).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(k).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(k),
                _ => !labels.contains_key(k),
            }),
        }
    }
}

/// `ValidateLabelSelector` (matchExpressions, then matchLabels).
fn validate_label_selector(sel: &LabelSelector, path: &str) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let p = index(&child(path, "matchExpressions"), i);
        let values = e.values.as_deref().unwrap_or(&[]);
        match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(Diagnostic::required(
                child(&p, "values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(Diagnostic::new(
                ErrorType::Forbidden,
                child(&p, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(Diagnostic {
                error_type: ErrorType::NotSupported,
                field: child(&p, "operator"),
                bad_value: Some(go_quote(other)),
                detail: r#"supported values: "In", "NotIn", "Exists", "DoesNotExist""#.to_owned(),
            }),
        }
        errs.extend(validate_label_name(&e.key, &child(&p, "key")));
        for (j, v) in values.iter().enumerate() {
            for msg in super::is_valid_label_value(v) {
                errs.push(Diagnostic::invalid(index(&child(&p, "values"), j), go_quote(v), msg));
            }
        }
    }
    errs.extend(validate_labels(sel.match_labels.as_ref(), &child(path, "matchLabels")));
    errs
}

fn validate_label_name(name: &str, path: &str) -> Vec<Diagnostic> {
    super::is_qualified_name(name)
        .into_iter()
        .map(|m| Diagnostic::invalid(path, go_quote(name), m))
        .collect()
}

/// `ValidateLabels`.
fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &str) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in super::is_valid_label_value(v) {
            errs.push(Diagnostic::invalid(path, go_quote(v), msg));
        }
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet` after Kubernetes' pod defaults, limited to the
/// checks a Rollout template commonly trips: selector/labels, metadata keys, containers
/// (present, named, unique, with an image), `restartPolicy: Always`, no
/// `activeDeadlineSeconds`.
fn validate_pod_template_spec_for_replica_set(
    template: &PodTemplateSpec,
    selector: &Selector,
    path: &str,
) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    let meta = template.metadata.as_ref();
    let labels = meta.and_then(|m| m.labels.as_ref());
    if !matches!(selector, Selector::Everything)
        && !selector.matches(labels.unwrap_or(&BTreeMap::new()))
    {
        errs.push(Diagnostic::invalid(
            child(path, "metadata.labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_labels(labels, &child(path, "metadata.labels")));
    for k in meta.and_then(|m| m.annotations.as_ref()).into_iter().flatten().map(|(k, _)| k) {
        for msg in super::is_qualified_name(&k.to_lowercase()) {
            errs.push(Diagnostic::invalid(child(path, "metadata.annotations"), go_quote(k), msg));
        }
    }

    let spec_path = child(path, "spec");
    let pod = template.spec.clone().unwrap_or_default();
    let mut names = BTreeSet::new();
    for (list, field) in
        [(&pod.init_containers, "initContainers"), (&Some(pod.containers.clone()), "containers")]
    {
        let list_path = child(&spec_path, field);
        let list = list.as_deref().unwrap_or(&[]);
        if field == "containers" && list.is_empty() {
            errs.push(Diagnostic::required(&list_path, ""));
        }
        for (i, c) in list.iter().enumerate() {
            let cp = index(&list_path, i);
            let name_path = child(&cp, "name");
            if c.name.is_empty() {
                errs.push(Diagnostic::required(&name_path, ""));
            } else {
                for msg in super::is_dns1123_label(&c.name) {
                    errs.push(Diagnostic::invalid(&name_path, go_quote(&c.name), msg));
                }
            }
            if !names.insert(c.name.clone()) {
                errs.push(Diagnostic {
                    error_type: ErrorType::Duplicate,
                    field: name_path,
                    bad_value: Some(go_quote(&c.name)),
                    detail: String::new(),
                });
            }
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(Diagnostic::required(child(&cp, "image"), ""));
            } else if image.trim() != image {
                errs.push(Diagnostic::invalid(
                    child(&cp, "image"),
                    go_quote(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let restart = pod.restart_policy.as_deref().unwrap_or("Always");
    if restart != "Always" {
        errs.push(Diagnostic {
            error_type: ErrorType::NotSupported,
            field: child(&spec_path, "restartPolicy"),
            bad_value: Some(go_quote(restart)),
            detail: r#"supported values: "Always""#.to_owned(),
        });
    }
    if let Some(ads) = pod.active_deadline_seconds {
        errs.push(Diagnostic::invalid(
            child(&spec_path, "activeDeadlineSeconds"),
            ads.to_string(),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}
