//! Routes the rollout owns inside the user's VirtualService: header routes (`setHeaderRoute`),
//! mirror routes (`setMirrorRoute`), their ordering (managed routes first, in `managedRoutes`
//! order) and their removal at the end of a rollout.

use serde_json::{Map, Value, json};
use weir_model::rollouts::{IstioVirtualService, SetHeaderRoute, SetMirrorRoute};

use super::routes::{RouteKind, parse_http_routes, route_list_mut};
use super::selection::http_route_indexes;
use crate::RouterError;

/// Argo's error when a VirtualService has no `spec.http`.
pub(crate) const SPEC_HTTP_NOT_FOUND: &str = "spec.http not found";

/// Where a managed route points: the canary Service (or the DestinationRule's host) and the
/// canary subset, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct CanaryTarget {
    pub(crate) host: String,
    pub(crate) subset: String,
}

/// `spec.http` for editing: missing → [`SPEC_HTTP_NOT_FOUND`], another type → an error.
fn http_routes_mut(vs: &mut Value) -> Result<&mut Vec<Value>, String> {
    let spec_http = vs.get("spec").and_then(|s| s.get("http"));
    match spec_http {
        None => Err(SPEC_HTTP_NOT_FOUND.into()),
        Some(Value::Array(_)) => {
            route_list_mut(vs, RouteKind::Http).ok_or_else(|| SPEC_HTTP_NOT_FOUND.to_owned())
        }
        Some(_) => Err(".spec.http accessor error: value is not of type []interface {}".into()),
    }
}

fn route_name(route: &Map<String, Value>) -> &str {
    route.get("name").and_then(Value::as_str).unwrap_or("")
}

/// Removes every HTTP route called `name`.
pub(crate) fn remove_route(vs: &mut Value, name: &str) -> Result<(), String> {
    let routes = http_routes_mut(vs)?;
    if routes.iter().any(|r| !r.is_object()) {
        return Err(
            "Could not cast type to map[string]any to find route name in Istio Virtual Service"
                .into(),
        );
    }
    routes.retain(|r| r.as_object().is_none_or(|r| route_name(r) != name));
    Ok(())
}

/// Puts the routes named in `managed_routes` first, in that order, and the others after them
/// in their current order. Nothing to do without `managedRoutes`.
pub(crate) fn order_routes(
    vs: &mut Value,
    managed_routes: Option<&[String]>,
) -> Result<(), String> {
    let routes = http_routes_mut(vs)?;
    let Some(managed) = managed_routes else {
        return Ok(());
    };
    let mut keyed = Vec::with_capacity(routes.len());
    for r in routes.drain(..) {
        let Some(obj) = r.as_object() else {
            return Err("[orderRoutes] could not split routes between managed and non managed: an http route is not an object".into());
        };
        let rank = managed.iter().position(|m| m == route_name(obj)).unwrap_or(managed.len());
        keyed.push((rank, r));
    }
    keyed.sort_by_key(|(rank, _)| *rank);
    routes.extend(keyed.into_iter().map(|(_, r)| r));
    Ok(())
}

/// The port of the first destination of the route `SetWeight` drives (0 when there is none).
fn canary_port(vs: &mut Value, vs_ref: &IstioVirtualService) -> u32 {
    let Ok(routes) = http_routes_mut(vs) else { return 0 };
    let Ok(parsed) = parse_http_routes(routes) else { return 0 };
    let names = vs_ref.routes.as_deref().unwrap_or(&[]);
    http_route_indexes(names, &parsed)
        .ok()
        .and_then(|idx| idx.first().and_then(|&i| parsed.get(i)))
        .and_then(|r| r.route.first())
        .and_then(|d| d.port)
        .unwrap_or(0)
}

/// Argo's `reconcileVirtualServiceHeaderRoutes`: replaces (or, with no match, removes) the
/// header route.
pub(crate) fn reconcile_header_route(
    vs_ref: &IstioVirtualService,
    vs: &mut Value,
    header: &SetHeaderRoute,
    target: &CanaryTarget,
) -> Result<(), RouterError> {
    const CTX: &str = "[reconcileVirtualServiceHeaderRoutes]";
    let name = header.name.as_deref().unwrap_or("");
    remove_route(vs, name).map_err(|e| {
        RouterError::invalid(format!("{CTX} failed to remove http route from virtual service: {e}"))
    })?;
    let Some(matches) = &header.match_ else {
        return Ok(());
    };
    let matches: Vec<Value> = matches
        .iter()
        .map(|m| {
            let mut value = Map::new();
            if let Some(v) = &m.header_value {
                for (key, val) in [("exact", &v.exact), ("regex", &v.regex), ("prefix", &v.prefix)]
                {
                    if let Some(val) = val.as_deref().filter(|s| !s.is_empty()) {
                        value.insert(key.into(), Value::from(val));
                    }
                }
            }
            json!({"headers": {m.header_name.clone(): value}})
        })
        .collect();
    let mut dest = Map::new();
    dest.insert("host".into(), Value::from(target.host.clone()));
    let port = canary_port(vs, vs_ref);
    if port > 0 {
        dest.insert("port".into(), json!({"number": port}));
    }
    if !target.subset.is_empty() {
        dest.insert("subset".into(), Value::from(target.subset.clone()));
    }
    let route = json!({
        "name": name,
        "match": matches,
        "route": [{"destination": dest, "weight": 100}],
    });
    http_routes_mut(vs).map_err(RouterError::Invalid)?.push(route);
    Ok(())
}

/// Argo's `reconcileVirtualServiceMirrorRoutes`: replaces (or, with no match, removes) the
/// mirror route; a new one goes first and copies the weighted route's destinations.
pub(crate) fn reconcile_mirror_route(
    vs_ref: &IstioVirtualService,
    vs: &mut Value,
    mirror: &SetMirrorRoute,
    target: &CanaryTarget,
) -> Result<(), RouterError> {
    const CTX: &str = "[reconcileVirtualServiceMirrorRoutes]";
    remove_route(vs, &mirror.name).map_err(|e| {
        RouterError::invalid(format!("{CTX} failed to remove http route from virtual service: {e}"))
    })?;
    let Some(matches) = &mirror.match_ else {
        return Ok(());
    };
    let routes = http_routes_mut(vs).map_err(RouterError::Invalid)?;
    let parsed = parse_http_routes(routes).map_err(|e| {
        RouterError::invalid(format!("{CTX} failed to get virtual service http routes: {e}"))
    })?;
    let names = vs_ref.routes.as_deref().unwrap_or(&[]);
    let weighted = http_route_indexes(names, &parsed)
        .map_err(|e| {
            RouterError::invalid(format!(
                "{CTX} failed to create mirror route: [createMirrorRoute] failed to get virtual service http route for keeping non-mirror weights set: {e}"
            ))
        })?
        .first()
        .and_then(|&i| parsed.get(i))
        .map(|r| r.route.clone())
        .unwrap_or_default();

    let matches: Vec<Value> = matches
        .iter()
        .map(|m| {
            let mut out = Map::new();
            if let Some(method) = &m.method {
                out.insert("method".into(), serde_json::to_value(method).unwrap_or_default());
            }
            if let Some(path) = &m.path {
                out.insert("uri".into(), serde_json::to_value(path).unwrap_or_default());
            }
            if let Some(headers) = m.headers.as_ref().filter(|h| !h.is_empty()) {
                out.insert("headers".into(), serde_json::to_value(headers).unwrap_or_default());
            }
            Value::Object(out)
        })
        .collect();
    let mut mirror_dest = Map::new();
    if !target.host.is_empty() {
        mirror_dest.insert("host".into(), Value::from(target.host.clone()));
    }
    if !target.subset.is_empty() {
        mirror_dest.insert("subset".into(), Value::from(target.subset.clone()));
    }
    if let Some(port) = weighted.first().and_then(|d| d.port) {
        mirror_dest.insert("port".into(), json!({"number": port}));
    }
    let route = json!({
        "name": mirror.name,
        "match": matches,
        "route": weighted.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
        "mirror": mirror_dest,
        "mirrorPercentage": {"value": mirror.percentage.unwrap_or(100)},
    });
    routes.insert(0, route);
    Ok(())
}

/// What removing the managed routes did to one VirtualService.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Routes were removed; the VirtualService must be written.
    Changed,
    /// Nothing to remove.
    Unchanged,
    /// The VirtualService has no `spec.http` (Argo stops processing further VirtualServices).
    NoHttp,
}

/// Removes the routes of header/mirror steps, then the `managedRoutes`.
pub(crate) fn remove_managed_routes(
    vs: &mut Value,
    step_routes: &[String],
    managed_routes: &[String],
) -> Result<Removal, RouterError> {
    const CTX: &str = "[RemoveManagedRoutes]";
    let routes = match http_routes_mut(vs) {
        Ok(routes) => routes,
        Err(e) if e == SPEC_HTTP_NOT_FOUND => return Ok(Removal::NoHttp),
        Err(e) => {
            return Err(RouterError::invalid(format!(
                "{CTX} failed to get http routes from virtual service: {e}"
            )));
        }
    };
    let before = routes.len();
    // Entries that are not objects cannot carry a step route's name; they are kept.
    routes
        .retain(|r| r.as_object().is_none_or(|r| !step_routes.iter().any(|s| s == route_name(r))));
    if !managed_routes.is_empty() {
        if routes.iter().any(|r| !r.is_object()) {
            return Err(RouterError::invalid(format!(
                "{CTX} failed to split managed and non-managed routes: an http route is not an object"
            )));
        }
        routes.retain(|r| {
            r.as_object().is_none_or(|r| !managed_routes.iter().any(|m| m == route_name(r)))
        });
    }
    Ok(if routes.len() == before { Removal::Unchanged } else { Removal::Changed })
}
