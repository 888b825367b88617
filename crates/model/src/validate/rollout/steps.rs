//! Canary step validation: the per-step part of `ValidateRolloutStrategyCanary`, plus
//! `hasMultipleStepsType`, the string-match checks and `ValidateStepRouteFoundInManagedRoute`.

use super::json_value;
use super::messages::*;
use crate::Diagnostic;
use crate::rollouts::{AnalysisRunArgument, CanaryStep, ManagedRoute, Rollout, StringMatch};
use crate::validate::{child, go_quote, index};

pub(super) fn validate_canary_step(
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
            "metadata.annotations" => {
                crate::validate::is_qualified_name(&key.to_lowercase()).is_empty()
            }
            "metadata.labels" => crate::validate::is_qualified_name(key).is_empty(),
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
