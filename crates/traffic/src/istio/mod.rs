//! Istio traffic routing, exactly as Argo Rollouts does it: weights on the routes of one or
//! more VirtualServices (host-level with canary/stable Services, or subset-level with a
//! DestinationRule), managed header and mirror routes, and the DestinationRule subsets'
//! pod-template hashes. Read [`IstioRouter`] first.
//!
//! Argo's own unit tests (`istio/virtualservice-patches.yaml`, 80 tests) run against this
//! module unchanged. Where Argo's behaviour is accidental and no vector pins it, we choose:
//! - several VirtualServices are computed all-or-nothing (Argo writes each before reading the
//!   next, so an error half-way leaves the first ones written; both converge on retry);
//! - header and mirror routes are written only when the object changes (Argo always writes);
//! - with managed mirror routes and `routes` omitted, the single/unnamed weighted route is still
//!   driven (Argo's route-name list then loses it);
//! - new experiment destinations and subsets are appended in Service-name order (Argo: Go map
//!   order, i.e. random), an experiment subset without a hash is not appended a second time,
//!   and `additionalSubsetNames` subsets stay in the DestinationRule;
//! - routes with the same name are ordered once each (Argo duplicates them).

mod destination_rule;
mod managed;
mod routes;
mod selection;
mod weights;

#[cfg(test)]
mod vectors;

use serde_json::Value;
use weir_model::rollouts::{
    IstioVirtualService, Rollout, SetHeaderRoute, SetMirrorRoute, WeightDestination,
};

use self::managed::{CanaryTarget, Removal, SPEC_HTTP_NOT_FOUND};
use self::selection::Targets;
use crate::{
    Lookup, ObjectKey, ObjectSnapshot, ObjectUpdate, Operation, RouterError, TrafficRouter,
};

/// The Istio router of one rollout (Argo's `istio.Reconciler`), built from the Rollout.
///
/// VirtualServices are named by `trafficRouting.istio.virtualService(s)[].name`, optionally
/// `name.namespace` (default: the rollout's namespace); the DestinationRule lives in the
/// rollout's namespace.
#[derive(Debug, Clone)]
pub struct IstioRouter {
    rollout_name: String,
    namespace: String,
    api_version: String,
    targets: Targets,
    managed_routes: Option<Vec<String>>,
    virtual_services: Vec<IstioVirtualService>,
    step_routes: Vec<String>,
    aborted: bool,
}

/// The Istio API version Argo uses unless told otherwise (`--istio-api-version`).
pub const DEFAULT_ISTIO_API_VERSION: &str = "networking.istio.io/v1alpha3";

/// Whether the rollout lists several VirtualServices (`virtualServices`) rather than one.
pub fn multiple_virtual_services_configured(rollout: &Rollout) -> bool {
    rollout
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.canary.as_ref())
        .and_then(|c| c.traffic_routing.as_ref())
        .and_then(|t| t.istio.as_ref())
        .is_some_and(|i| i.virtual_services.is_some())
}

impl IstioRouter {
    /// The router for `rollout`; an error when it has no canary strategy with Istio routing.
    pub fn new(rollout: &Rollout) -> Result<Self, RouterError> {
        let canary =
            rollout.spec.strategy.as_ref().and_then(|s| s.canary.as_ref()).ok_or_else(|| {
                RouterError::invalid("Istio traffic routing needs a canary strategy")
            })?;
        let routing = canary.traffic_routing.as_ref();
        let istio = routing.and_then(|t| t.istio.as_ref()).ok_or_else(|| {
            RouterError::invalid("spec.strategy.canary.trafficRouting.istio is not set")
        })?;
        let virtual_services = match (&istio.virtual_services, &istio.virtual_service) {
            (Some(list), _) => list.clone(),
            (None, Some(one)) => vec![one.clone()],
            (None, None) => Vec::new(),
        };
        let status = rollout.status.as_ref();
        let (stable_service, canary_service) = match &canary.ping_pong {
            Some(pp) => {
                let stable_is_pong = status
                    .and_then(|s| s.canary.as_ref())
                    .and_then(|c| c.stable_ping_pong.as_deref())
                    == Some("pong");
                if stable_is_pong {
                    (pp.pong_service.clone(), pp.ping_service.clone())
                } else {
                    (pp.ping_service.clone(), pp.pong_service.clone())
                }
            }
            None => (canary.stable_service().to_owned(), canary.canary_service().to_owned()),
        };
        let step_routes = canary
            .steps()
            .iter()
            .flat_map(|s| {
                let header = s.set_header_route.as_ref().and_then(|h| h.name.clone());
                let mirror = s.set_mirror_route.as_ref().map(|m| m.name.clone());
                header.into_iter().chain(mirror)
            })
            .collect();
        Ok(IstioRouter {
            rollout_name: rollout.metadata.name.clone().unwrap_or_default(),
            namespace: rollout.metadata.namespace.clone().unwrap_or_default(),
            api_version: DEFAULT_ISTIO_API_VERSION.to_owned(),
            targets: Targets {
                stable_service,
                canary_service,
                destination_rule: istio.destination_rule.clone(),
            },
            managed_routes: routing
                .and_then(|t| t.managed_routes.as_ref())
                .map(|m| m.iter().map(|r| r.name.clone()).collect()),
            virtual_services,
            step_routes,
            aborted: status.and_then(|s| s.abort).unwrap_or(false),
        })
    }

    /// Uses another Istio API version (`networking.istio.io/v1beta1`, `.../v1`).
    pub fn with_api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    fn key(&self, kind: &str, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            api_version: self.api_version.clone(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `name.namespace` → that namespace; otherwise the rollout's.
    fn vs_key(&self, vs_ref: &IstioVirtualService) -> ObjectKey {
        let mut parts = vs_ref.name.split('.');
        let name = parts.next().unwrap_or("");
        let namespace = parts.next().unwrap_or(&self.namespace);
        self.key("VirtualService", namespace, name)
    }

    fn dr_key(&self) -> Option<ObjectKey> {
        let dr = self.targets.destination_rule.as_ref()?;
        Some(self.key("DestinationRule", &self.namespace, &dr.name))
    }

    fn managed(&self) -> &[String] {
        self.managed_routes.as_deref().unwrap_or(&[])
    }

    fn not_found(key: &ObjectKey) -> RouterError {
        let plural = format!("{}s", key.kind.to_lowercase());
        let group = key.api_version.split('/').next().unwrap_or("");
        RouterError::NotFound { resource: format!("{plural}.{group}"), name: key.name.clone() }
    }

    /// The object at `key`; missing → NotFound, a failed read → `context: cause`.
    fn read(
        objects: &ObjectSnapshot,
        key: &ObjectKey,
        context: &str,
    ) -> Result<Value, RouterError> {
        match objects.get(key) {
            Lookup::Found(v) => Ok(v.clone()),
            Lookup::Missing => Err(Self::not_found(key)),
            Lookup::Failed(cause) => Err(RouterError::Api(format!("{context}: {cause}"))),
        }
    }

    /// Where managed routes point: the DestinationRule's host (if configured) or the canary
    /// Service, and the canary subset.
    fn canary_target(&self, objects: &ObjectSnapshot) -> Result<CanaryTarget, RouterError> {
        let mut target = CanaryTarget {
            host: self.targets.canary_service.clone(),
            subset: self.targets.canary_subset().to_owned(),
        };
        if let Some(key) = self.dr_key() {
            let dr = Self::read(objects, &key, "failed to get destination rule")?;
            let host = dr.pointer("/spec/host").and_then(Value::as_str).unwrap_or("");
            if !host.is_empty() {
                host.clone_into(&mut target.host);
            }
        }
        Ok(target)
    }

    fn update(
        &self,
        key: ObjectKey,
        object: Value,
        operation: Operation,
        message: String,
    ) -> ObjectUpdate {
        let event_reason = if key.kind == "DestinationRule" {
            "UpdatedDestinationRule"
        } else {
            "Updated VirtualService"
        };
        ObjectUpdate { key, object, operation, event_reason, event_message: message }
    }

    fn order(&self, vs: &mut Value, operation: Operation) -> Result<(), RouterError> {
        match managed::order_routes(vs, self.managed_routes.as_deref()) {
            Ok(()) => Ok(()),
            Err(e) if e == SPEC_HTTP_NOT_FOUND => Ok(()),
            Err(e) => Err(RouterError::invalid(format!(
                "[{}] failed to order routes: {e}",
                operation.name()
            ))),
        }
    }

    /// Header and mirror routes: per VirtualService, edit, order, and write when changed.
    fn edit_routes(
        &self,
        objects: &ObjectSnapshot,
        operation: Operation,
        edit: impl Fn(&IstioVirtualService, &mut Value, &CanaryTarget) -> Result<(), RouterError>,
        message: impl Fn(&str) -> String,
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        let (get_ctx, edit_ctx) = match operation {
            Operation::SetHeaderRoute => (
                "[SetHeaderRoute] failed to get istio virtual service",
                "[SetHeaderRoute] failed to reconcile header routes",
            ),
            _ => (
                "[SetMirrorRoute] failed to get virtual service",
                "[SetMirrorRoute] failed reconcile virtual service for mirror routes",
            ),
        };
        let mut updates = Vec::new();
        for vs_ref in &self.virtual_services {
            let key = self.vs_key(vs_ref);
            let current = Self::read(objects, &key, get_ctx)?;
            let target = self.canary_target(objects).map_err(|e| e.context(edit_ctx))?;
            let mut vs = current.clone();
            edit(vs_ref, &mut vs, &target).map_err(|e| e.context(edit_ctx))?;
            self.order(&mut vs, operation)?;
            if vs != current {
                let msg = message(&key.name);
                updates.push(self.update(key, vs, operation, msg));
            }
        }
        Ok(updates)
    }
}

impl TrafficRouter for IstioRouter {
    fn type_name(&self) -> &'static str {
        "Istio"
    }

    fn reads(&self, operation: Operation) -> Vec<ObjectKey> {
        let vss = self.virtual_services.iter().map(|v| self.vs_key(v));
        match operation {
            Operation::SetWeight | Operation::VerifyWeight | Operation::RemoveManagedRoutes => {
                vss.collect()
            }
            Operation::SetHeaderRoute | Operation::SetMirrorRoute => {
                vss.chain(self.dr_key()).collect()
            }
            Operation::UpdateHash => self.dr_key().into_iter().collect(),
        }
    }

    fn set_weight(
        &self,
        objects: &ObjectSnapshot,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        let mut updates = Vec::new();
        for vs_ref in &self.virtual_services {
            let key = self.vs_key(vs_ref);
            let current = Self::read(objects, &key, "failed to get virtual service")?;
            let (mut vs, modified) = weights::reconcile_virtual_service(
                &self.targets,
                self.managed(),
                vs_ref,
                &current,
                desired_weight,
                additional,
            )?;
            if !modified {
                continue;
            }
            self.order(&mut vs, Operation::SetWeight)?;
            let msg =
                format!("VirtualService `{}` set to desiredWeight '{desired_weight}'", key.name);
            updates.push(self.update(key, vs, Operation::SetWeight, msg));
        }
        Ok(updates)
    }

    fn set_header_route(
        &self,
        objects: &ObjectSnapshot,
        route: &SetHeaderRoute,
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        let name = route.name.clone().unwrap_or_default();
        self.edit_routes(
            objects,
            Operation::SetHeaderRoute,
            |vs_ref, vs, target| managed::reconcile_header_route(vs_ref, vs, route, target),
            |vs| format!("VirtualService `{vs}` set headerRoute '{name}'"),
        )
    }

    fn set_mirror_route(
        &self,
        objects: &ObjectSnapshot,
        route: &SetMirrorRoute,
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        self.edit_routes(
            objects,
            Operation::SetMirrorRoute,
            |vs_ref, vs, target| managed::reconcile_mirror_route(vs_ref, vs, route, target),
            |vs| format!("VirtualService `{vs}` set mirrorRoute '{}'", route.name),
        )
    }

    fn remove_managed_routes(
        &self,
        objects: &ObjectSnapshot,
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        let mut updates = Vec::new();
        for vs_ref in &self.virtual_services {
            let key = self.vs_key(vs_ref);
            let mut vs = match objects.get(&key) {
                Lookup::Found(v) => v.clone(),
                Lookup::Missing => continue,
                Lookup::Failed(cause) => {
                    return Err(RouterError::Api(format!(
                        "[RemoveManagedRoutes] failed to get virtual service: {cause}"
                    )));
                }
            };
            match managed::remove_managed_routes(&mut vs, &self.step_routes, self.managed())? {
                Removal::Changed => {
                    let msg = format!("VirtualService `{}` removed all managed routes.", key.name);
                    updates.push(self.update(key, vs, Operation::RemoveManagedRoutes, msg));
                }
                Removal::Unchanged => {}
                // Argo returns here: TLS/TCP-only VirtualServices have no managed routes.
                Removal::NoHttp => break,
            }
        }
        Ok(updates)
    }

    fn update_hash(
        &self,
        objects: &ObjectSnapshot,
        canary_hash: &str,
        stable_hash: &str,
        additional: &[WeightDestination],
    ) -> Result<Vec<ObjectUpdate>, RouterError> {
        let (Some(spec), Some(key)) = (self.targets.destination_rule.as_ref(), self.dr_key())
        else {
            return Ok(Vec::new());
        };
        if self.targets.canary_service.is_empty() && self.targets.stable_service.is_empty() {
            let delaying = destination_rule::delaying_replica_set(
                &objects.replica_sets,
                canary_hash,
                stable_hash,
                self.aborted,
            );
            if let Some(rs) = delaying {
                return Err(RouterError::Delayed { replica_set: rs.name.clone() });
            }
        }
        let current = Self::read(objects, &key, "failed to get destination rule")?;
        let desired = destination_rule::with_hashes(
            &current,
            &self.rollout_name,
            spec,
            canary_hash,
            stable_hash,
            additional,
        );
        if desired == current {
            return Ok(Vec::new());
        }
        let msg = format!(
            "DestinationRule {} subset updated ({}: {canary_hash}, {}: {stable_hash})",
            spec.name, spec.canary_subset_name, spec.stable_subset_name
        );
        Ok(vec![self.update(key, desired, Operation::UpdateHash, msg)])
    }

    fn verify_weight(
        &self,
        _objects: &ObjectSnapshot,
        _desired_weight: i32,
        _additional: &[WeightDestination],
    ) -> Result<Option<bool>, RouterError> {
        Ok(None)
    }
}
