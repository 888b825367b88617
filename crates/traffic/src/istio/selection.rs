//! Which routes of a VirtualService the rollout drives (`routes`, `tlsRoutes`, `tcpRoutes`, or
//! the single/unnamed route when they are omitted), and the checks Argo runs on them before it
//! changes a weight, with Argo's error texts.

use std::collections::BTreeSet;

use weir_model::rollouts::{IstioDestinationRule, TcpRoute, TlsRoute};

use super::routes::{HttpRoute, L4Route, RouteDestination};
use crate::RouterError;

/// The services and subsets that identify canary and stable destinations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    pub(crate) stable_service: String,
    pub(crate) canary_service: String,
    pub(crate) destination_rule: Option<IstioDestinationRule>,
}

impl Targets {
    pub(crate) fn canary_subset(&self) -> &str {
        self.destination_rule.as_ref().map_or("", |d| d.canary_subset_name.as_str())
    }

    pub(crate) fn stable_subset(&self) -> &str {
        self.destination_rule.as_ref().map_or("", |d| d.stable_subset_name.as_str())
    }

    pub(crate) fn additional_subsets(&self) -> &[String] {
        self.destination_rule
            .as_ref()
            .and_then(|d| d.additional_subset_names.as_deref())
            .unwrap_or(&[])
    }
}

fn route_not_found(name: &str) -> RouterError {
    RouterError::invalid(format!(
        "HTTP Route '{name}' is not found in the defined Virtual Service."
    ))
}

/// The HTTP routes `routes` names, in that order. With no names: the only route, else the
/// first unnamed one (none when there is neither).
pub(crate) fn http_route_indexes(
    route_names: &[String],
    routes: &[HttpRoute],
) -> Result<Vec<usize>, RouterError> {
    if route_names.is_empty() {
        if routes.len() == 1 {
            return Ok(vec![0]);
        }
        return Ok(routes.iter().position(|r| r.name.is_empty()).into_iter().collect());
    }
    route_names
        .iter()
        .map(|name| {
            routes.iter().position(|r| &r.name == name).ok_or_else(|| route_not_found(name))
        })
        .collect()
}

/// The single port of a route's match blocks (0 when none is set); `None` when the blocks use
/// several different ports (such a route never matches a selector).
fn single_port(route: &L4Route) -> Option<i64> {
    let ports: BTreeSet<i64> = route.matches.iter().map(|m| m.port).collect();
    match ports.len() {
        0 => Some(0),
        1 => ports.first().copied(),
        _ => None,
    }
}

/// The TLS routes matching each selector (one port, same set of SNI hosts); index 0 when
/// there are no selectors.
pub(crate) fn tls_route_indexes(
    selectors: &[TlsRoute],
    routes: &[L4Route],
) -> Result<Vec<usize>, RouterError> {
    if selectors.is_empty() {
        return Ok(vec![0]);
    }
    let mut out = Vec::new();
    for sel in selectors {
        let want_port = sel.port.unwrap_or(0);
        let want_sni: BTreeSet<&str> = sel.sni_hosts.iter().flatten().map(String::as_str).collect();
        let found: Vec<usize> = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let sni: BTreeSet<&str> =
                    r.matches.iter().flat_map(|m| &m.sni_hosts).map(String::as_str).collect();
                single_port(r) == Some(want_port) && sni == want_sni
            })
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(RouterError::invalid(
                "No matching TLS routes found in the defined Virtual Service.",
            ));
        }
        out.extend(found);
    }
    Ok(out)
}

/// The TCP routes matching each selector's port; index 0 when there are no selectors.
pub(crate) fn tcp_route_indexes(
    selectors: &[TcpRoute],
    routes: &[L4Route],
) -> Result<Vec<usize>, RouterError> {
    if selectors.is_empty() {
        return Ok(vec![0]);
    }
    let mut out = Vec::new();
    for sel in selectors {
        let want_port = sel.port.unwrap_or(0);
        let found: Vec<usize> = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| single_port(r) == Some(want_port))
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(RouterError::invalid(
                "No matching TCP routes found in the defined Virtual Service.",
            ));
        }
        out.extend(found);
    }
    Ok(out)
}

/// A driven route must have a canary and a stable destination: by subset with a
/// DestinationRule, else by Service (short host name).
pub(crate) fn validate_route_destinations(
    route: &[RouteDestination],
    stable_service: &str,
    canary_service: &str,
    destination_rule: Option<&IstioDestinationRule>,
) -> Result<(), RouterError> {
    let has_host = |svc: &str| !svc.is_empty() && route.iter().any(|d| d.short_host() == svc);
    let has_subset = |s: &str| !s.is_empty() && route.iter().any(|d| d.subset == s);
    if let Some(dr) = destination_rule {
        if !has_subset(&dr.canary_subset_name) {
            return Err(RouterError::invalid(format!(
                "Canary DestinationRule subset '{}' not found in route",
                dr.canary_subset_name
            )));
        }
        if !has_subset(&dr.stable_subset_name) {
            return Err(RouterError::invalid(format!(
                "Stable DestinationRule subset '{}' not found in route",
                dr.stable_subset_name
            )));
        }
    } else {
        if !has_host(canary_service) {
            return Err(RouterError::invalid(format!(
                "Canary Service '{canary_service}' not found in route"
            )));
        }
        if !has_host(stable_service) {
            return Err(RouterError::invalid(format!(
                "Stable Service '{stable_service}' not found in route"
            )));
        }
    }
    Ok(())
}

fn validate_each<R>(
    indexes: &[usize],
    routes: &[R],
    destinations: impl Fn(&R) -> &[RouteDestination],
    targets: &Targets,
) -> Result<(), RouterError> {
    for &i in indexes {
        if let Some(r) = routes.get(i) {
            validate_route_destinations(
                destinations(r),
                &targets.stable_service,
                &targets.canary_service,
                targets.destination_rule.as_ref(),
            )?;
        }
    }
    Ok(())
}

/// Argo's `ValidateHTTPRoutes`: the named routes exist and have canary and stable
/// destinations; without names, exactly one route is not a managed route.
pub(crate) fn validate_http_routes(
    targets: &Targets,
    managed_routes: &[String],
    route_names: &[String],
    routes: &[HttpRoute],
) -> Result<(), RouterError> {
    let indexes = http_route_indexes(route_names, routes)?;
    validate_each(&indexes, routes, |r| &r.route, targets)?;
    let unmanaged = routes.iter().filter(|r| !managed_routes.contains(&r.name)).count();
    if route_names.is_empty() && unmanaged > 1 {
        return Err(RouterError::invalid(
            "spec.http[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.routes",
        ));
    }
    Ok(())
}

/// Argo's `ValidateTlsRoutes`.
pub(crate) fn validate_tls_routes(
    targets: &Targets,
    selectors: &[TlsRoute],
    routes: &[L4Route],
) -> Result<(), RouterError> {
    let indexes = tls_route_indexes(selectors, routes)?;
    validate_each(&indexes, routes, |r| &r.route, targets)?;
    if selectors.is_empty() && routes.len() > 1 {
        return Err(RouterError::invalid(
            "spec.tls[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.tlsRoutes",
        ));
    }
    Ok(())
}

/// Argo's `ValidateTcpRoutes`.
pub(crate) fn validate_tcp_routes(
    targets: &Targets,
    selectors: &[TcpRoute],
    routes: &[L4Route],
) -> Result<(), RouterError> {
    let indexes = tcp_route_indexes(selectors, routes)?;
    validate_each(&indexes, routes, |r| &r.route, targets)?;
    if selectors.is_empty() && routes.len() > 1 {
        return Err(RouterError::invalid(
            "spec.tcp[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.tcpRoutes",
        ));
    }
    Ok(())
}
