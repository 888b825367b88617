//! Setting weights on a VirtualService (Argo's `reconcileVirtualService`): per driven route,
//! canary gets the desired weight, stable the rest of 100 (a hard-coded 100, quirk Q8),
//! experiment Services their own weight, additional subsets keep theirs, and any other
//! destination is removed. Changes are computed as patches first, so "nothing to change" is
//! known before anything is written.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use weir_model::rollouts::{IstioVirtualService, WeightDestination};

use super::routes::{
    RouteDestination, RouteKind, parse_http_routes, parse_l4_routes, route_list, route_list_mut,
};
use super::selection::{
    Targets, http_route_indexes, tcp_route_indexes, tls_route_indexes, validate_http_routes,
    validate_tcp_routes, validate_tls_routes,
};
use crate::RouterError;

/// One change to one destination of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WeightPatch {
    pub(crate) kind: RouteKind,
    pub(crate) route_index: usize,
    /// An index past the end appends `{destination: {host}, weight}`.
    pub(crate) destination_index: usize,
    pub(crate) weight: i64,
    pub(crate) host: String,
    pub(crate) delete: bool,
}

/// The patches for one route (Argo's `processRoutes`). A patch is produced only where the
/// weight changes, so a foreign destination that already has weight 0 stays.
pub(crate) fn process_route(
    kind: RouteKind,
    route_index: usize,
    destinations: &[RouteDestination],
    desired_weight: i64,
    targets: &Targets,
    additional: &[WeightDestination],
    patches: &mut Vec<WeightPatch>,
) {
    let additional_subsets = targets.additional_subsets();
    let mut experiments: BTreeMap<&str, i64> = BTreeMap::new();
    let mut stable_weight = 100 - desired_weight;
    for dest in additional {
        experiments.insert(dest.service_name.as_deref().unwrap_or(""), i64::from(dest.weight));
        stable_weight -= i64::from(dest.weight);
    }
    for d in destinations {
        if !d.subset.is_empty() && additional_subsets.contains(&d.subset) {
            stable_weight -= d.weight;
        }
    }
    let stable_weight = stable_weight.max(0);

    let mut push = |index: usize, current: i64, weight: i64, host: &str, delete: bool| {
        if current != weight {
            patches.push(WeightPatch {
                kind,
                route_index,
                destination_index: index,
                weight,
                host: host.to_owned(),
                delete,
            });
        }
    };
    for (i, d) in destinations.iter().enumerate() {
        let host = d.short_host();
        if host.is_empty() {
            continue;
        }
        let subset_is = |s: &str| !d.subset.is_empty() && d.subset == s;
        if host == targets.canary_service || subset_is(targets.canary_subset()) {
            push(i, d.weight, desired_weight, host, false);
        } else if host == targets.stable_service || subset_is(targets.stable_subset()) {
            push(i, d.weight, stable_weight, host, false);
        } else if let Some(weight) = experiments.remove(host) {
            push(i, d.weight, weight, host, false);
        } else if !d.subset.is_empty() && additional_subsets.contains(&d.subset) {
            // Left alone: another DestinationRule's subset the user routes to on purpose.
        } else {
            push(i, d.weight, 0, host, true);
        }
    }
    for (n, (service, weight)) in experiments.into_iter().enumerate() {
        push(destinations.len() + n, 0, weight, service, false);
    }
}

fn invalid_casting(field: &str, ty: &str) -> RouterError {
    RouterError::invalid(format!("Invalid casting: field '{field}' is not of type '{ty}'"))
}

/// Applies patches to the route lists: weight updates and appends in order, then deletions
/// in descending index order so earlier indexes stay valid.
pub(crate) fn apply_patches(
    patches: &[WeightPatch],
    http: &mut [Value],
    tls: &mut [Value],
    tcp: &mut [Value],
) -> Result<(), RouterError> {
    let mut deletions: Vec<&WeightPatch> = Vec::new();
    for patch in patches {
        let field = patch.kind.field();
        let route = route_object(patch, http, tls, tcp)?;
        let Some(Value::Array(dests)) = route.get_mut("route") else {
            return Err(invalid_casting(&format!("{field}[].route"), "[]interface"));
        };
        if patch.destination_index < dests.len() {
            let Value::Object(dest) = &mut dests[patch.destination_index] else {
                return Err(invalid_casting(
                    &format!("{field}[].route[].destination"),
                    "map[string]interface",
                ));
            };
            if patch.delete {
                deletions.push(patch);
            } else {
                dest.insert("weight".into(), Value::from(patch.weight));
            }
        } else {
            dests.push(json!({"destination": {"host": patch.host}, "weight": patch.weight}));
        }
    }
    deletions
        .sort_by_key(|p| std::cmp::Reverse((p.kind.field(), p.route_index, p.destination_index)));
    deletions.dedup_by_key(|p| (p.kind, p.route_index, p.destination_index));
    for patch in deletions {
        let route = route_object(patch, http, tls, tcp)?;
        if let Some(Value::Array(dests)) = route.get_mut("route")
            && patch.destination_index < dests.len()
        {
            dests.remove(patch.destination_index);
        }
    }
    Ok(())
}

fn route_object<'a>(
    patch: &WeightPatch,
    http: &'a mut [Value],
    tls: &'a mut [Value],
    tcp: &'a mut [Value],
) -> Result<&'a mut Map<String, Value>, RouterError> {
    let routes = match patch.kind {
        RouteKind::Http => http,
        RouteKind::Tls => tls,
        RouteKind::Tcp => tcp,
    };
    match routes.get_mut(patch.route_index) {
        Some(Value::Object(route)) => Ok(route),
        _ => Err(invalid_casting(&format!("{}[]", patch.kind.field()), "map[string]interface")),
    }
}

/// Argo's `reconcileVirtualService`: validates the driven routes of `vs`, then returns the
/// VirtualService with the weights set, and whether anything changed.
pub(crate) fn reconcile_virtual_service(
    targets: &Targets,
    managed_routes: &[String],
    vs_ref: &IstioVirtualService,
    vs: &Value,
    desired_weight: i32,
    additional: &[WeightDestination],
) -> Result<(Value, bool), RouterError> {
    let route_names = vs_ref.routes.as_deref().unwrap_or(&[]);
    let tls_selectors = vs_ref.tls_routes.as_deref().unwrap_or(&[]);
    let tcp_selectors = vs_ref.tcp_routes.as_deref().unwrap_or(&[]);
    let desired = i64::from(desired_weight);
    let mut patches = Vec::new();

    if let Some(raw) = route_list(vs, RouteKind::Http) {
        let routes = parse_http_routes(raw).map_err(RouterError::Invalid)?;
        validate_http_routes(targets, managed_routes, route_names, &routes)?;
        let mut indexes = http_route_indexes(route_names, &routes)?;
        // Managed mirror routes carry a copy of the weighted route; keep them in step.
        for (i, r) in routes.iter().enumerate() {
            if r.has_mirror && managed_routes.contains(&r.name) && !indexes.contains(&i) {
                indexes.push(i);
            }
        }
        for i in indexes {
            if let Some(r) = routes.get(i) {
                process_route(
                    RouteKind::Http,
                    i,
                    &r.route,
                    desired,
                    targets,
                    additional,
                    &mut patches,
                );
            }
        }
    }
    if let Some(raw) = route_list(vs, RouteKind::Tls) {
        let routes = parse_l4_routes(RouteKind::Tls, raw).map_err(RouterError::Invalid)?;
        validate_tls_routes(targets, tls_selectors, &routes)?;
        for i in tls_route_indexes(tls_selectors, &routes)? {
            if let Some(r) = routes.get(i) {
                process_route(
                    RouteKind::Tls,
                    i,
                    &r.route,
                    desired,
                    targets,
                    additional,
                    &mut patches,
                );
            }
        }
    }
    if let Some(raw) = route_list(vs, RouteKind::Tcp) {
        let routes = parse_l4_routes(RouteKind::Tcp, raw).map_err(RouterError::Invalid)?;
        validate_tcp_routes(targets, tcp_selectors, &routes)?;
        for i in tcp_route_indexes(tcp_selectors, &routes)? {
            if let Some(r) = routes.get(i) {
                process_route(
                    RouteKind::Tcp,
                    i,
                    &r.route,
                    desired,
                    targets,
                    additional,
                    &mut patches,
                );
            }
        }
    }
    if patches.is_empty() {
        return Ok((vs.clone(), false));
    }
    let mut out = vs.clone();
    let mut take = |kind| route_list_mut(&mut out, kind).map(std::mem::take).unwrap_or_default();
    let (mut http, mut tls, mut tcp) =
        (take(RouteKind::Http), take(RouteKind::Tls), take(RouteKind::Tcp));
    apply_patches(&patches, &mut http, &mut tls, &mut tcp)?;
    for (kind, routes) in [(RouteKind::Http, http), (RouteKind::Tls, tls), (RouteKind::Tcp, tcp)] {
        if let Some(list) = route_list_mut(&mut out, kind) {
            *list = routes;
        }
    }
    Ok((out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            stable_service: "stable".into(),
            canary_service: "canary".into(),
            destination_rule: None,
        }
    }

    fn dest(host: &str, weight: i64) -> RouteDestination {
        RouteDestination { host: host.into(), weight, ..Default::default() }
    }

    #[test]
    fn stable_gets_the_rest_of_a_hard_coded_100() {
        let mut patches = Vec::new();
        let dests = [dest("stable", 100), dest("canary", 0)];
        process_route(RouteKind::Http, 0, &dests, 30, &targets(), &[], &mut patches);
        let weights: Vec<_> = patches.iter().map(|p| (p.destination_index, p.weight)).collect();
        assert_eq!(weights, [(0, 70), (1, 30)]);
    }

    #[test]
    fn unchanged_weights_give_no_patch_and_zero_weight_foreigners_stay() {
        let mut patches = Vec::new();
        let dests = [dest("stable", 100), dest("canary", 0), dest("foreign", 0)];
        process_route(RouteKind::Http, 0, &dests, 0, &targets(), &[], &mut patches);
        assert!(patches.is_empty());
    }

    #[test]
    fn experiments_are_appended_in_name_order_and_stable_is_floored() {
        let mut patches = Vec::new();
        let exp = |name: &str, weight| WeightDestination {
            service_name: Some(name.into()),
            weight,
            ..Default::default()
        };
        let dests = [dest("stable", 100), dest("canary", 0)];
        let additional = [exp("b", 60), exp("a", 50)];
        process_route(RouteKind::Http, 0, &dests, 10, &targets(), &additional, &mut patches);
        let got: Vec<_> =
            patches.iter().map(|p| (p.destination_index, p.host.as_str(), p.weight)).collect();
        assert_eq!(got, [(0, "stable", 0), (1, "canary", 10), (2, "a", 50), (3, "b", 60)]);
    }

    #[test]
    fn deletions_run_last_from_the_highest_index() {
        let mut http = vec![json!({"route": [
            {"destination": {"host": "x"}, "weight": 10},
            {"destination": {"host": "stable"}, "weight": 80},
            {"destination": {"host": "y"}, "weight": 10}
        ]})];
        let p = |i, weight, delete| WeightPatch {
            kind: RouteKind::Http,
            route_index: 0,
            destination_index: i,
            weight,
            host: String::new(),
            delete,
        };
        apply_patches(
            &[p(0, 0, true), p(1, 100, false), p(2, 0, true)],
            &mut http,
            &mut [],
            &mut [],
        )
        .expect("valid");
        assert_eq!(http[0]["route"], json!([{"destination": {"host": "stable"}, "weight": 100}]));
    }
}
