//! The whole translation: Services → mesh virtual hosts with a default route; VirtualServices
//! bound to `mesh` replace those routes; VirtualServices bound to Gateways become gateway
//! virtual hosts; DestinationRule subsets become backends over the matching ready endpoints.
//! A DestinationRule's `trafficPolicy` (load balancer, outlier detection, connection pool)
//! applies to the Service's backends; a subset's own `trafficPolicy` overrides it field by
//! field.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weir_model::istio::{self, Destination, DestinationRule, Gateway, VirtualService};
use weir_proxy::{
    Backend, ConnectionPool, DestinationLabels, LoadBalancer, OutlierDetection, RetryOn,
    RetryPolicy, Route, RouteTable, VirtualHost,
};

use crate::endpoints::{Endpoint, TargetPort};
use crate::hosts::{resolve_service_host, service_fqdn, service_hosts};
use crate::routes::{RouteReport, translate_route};

/// Everything the translation reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeshObjects<'a> {
    /// Kubernetes Services.
    pub services: &'a [Service],
    /// Pods that may serve traffic.
    pub endpoints: &'a [Endpoint],
    /// Istio VirtualServices.
    pub virtual_services: &'a [VirtualService],
    /// Istio DestinationRules.
    pub destination_rules: &'a [DestinationRule],
    /// Istio Gateways.
    pub gateways: &'a [Gateway],
}

/// Problems per object, keyed `Kind/namespace/name`.
pub type ObjectProblems = BTreeMap<String, Vec<String>>;

/// The result of a translation.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// The table to hand to the proxy.
    pub table: RouteTable,
    /// Objects that could not be translated (their routes are left out of the table: the
    /// controller substitutes the object's last valid version and reports the problems in the
    /// object's status).
    pub problems: ObjectProblems,
    /// Fields that were accepted but are not served by the embedded proxy.
    pub warnings: ObjectProblems,
}

/// A Service, indexed.
struct ServiceInfo<'a> {
    name: String,
    namespace: String,
    selector: BTreeMap<String, String>,
    /// `(port, targetPort)`.
    ports: Vec<(i32, TargetPort)>,
    _service: &'a Service,
}

/// Translates the mesh objects into a route table.
pub fn translate(objects: &MeshObjects<'_>) -> Translation {
    let services = index_services(objects.services);
    let mut translation = Translation::default();
    let subsets = index_subsets(objects.destination_rules, &services, &mut translation);
    let mut builder =
        Builder { objects, services: &services, subsets: &subsets, backends: BTreeMap::new() };

    // Every Service port gets a mesh virtual host with a default route.
    let mut mesh: BTreeMap<(String, String, i32), VirtualHost> = BTreeMap::new();
    for svc in services.values() {
        for (port, _) in &svc.ports {
            let backend = builder.backend(svc, *port, None);
            let mut route = Route::to(&backend);
            route.retries = Some(default_retries());
            mesh.insert(
                (svc.namespace.clone(), svc.name.clone(), *port),
                VirtualHost {
                    name: format!("{}/{}:{port}", svc.namespace, svc.name),
                    hosts: service_hosts(&svc.name, &svc.namespace),
                    port: Some(u16::try_from(*port).unwrap_or(0)),
                    routes: vec![route],
                },
            );
        }
    }

    let mut gateway_hosts = Vec::new();
    for vs in objects.virtual_services {
        let namespace = vs.metadata.namespace.clone().unwrap_or_default();
        let name = vs.metadata.name.clone().unwrap_or_default();
        let key = format!("VirtualService/{namespace}/{name}");
        let mut report = RouteReport::default();
        let routes = builder.routes(vs, &namespace, &mut report);
        for (field, set) in [("tcp", vs.spec.tcp.is_some()), ("tls", vs.spec.tls.is_some())] {
            if set {
                report
                    .warnings
                    .push(format!("spec.{field} routes are not served by weir's embedded proxy"));
            }
        }
        let gateways = vs.spec.gateways.clone().unwrap_or_default();
        let to_mesh = gateways.is_empty() || gateways.iter().any(|g| g == "mesh");
        let hosts = vs.spec.hosts.clone().unwrap_or_default();
        if hosts.is_empty() {
            report.problems.push("spec.hosts: at least one host is required".to_owned());
        }
        let mut gateway_bound = Vec::new();
        for gateway in gateways.iter().filter(|g| *g != "mesh") {
            match find_gateway(objects.gateways, gateway, &namespace) {
                Some(gw) => gateway_bound.push(gw),
                None => {
                    report.problems.push(format!("spec.gateways: gateway {gateway:?} not found"))
                }
            }
        }
        if report.problems.is_empty() {
            if to_mesh {
                for host in &hosts {
                    let Some((svc_name, svc_ns)) = resolve_service_host(host, &namespace) else {
                        continue;
                    };
                    for ((ns, svc, _), vhost) in mesh.iter_mut() {
                        if *ns == svc_ns && *svc == svc_name {
                            vhost.routes = routes.clone();
                        }
                    }
                }
            }
            for gw in gateway_bound {
                let served: Vec<String> =
                    hosts.iter().filter(|h| gateway_serves(gw, h)).cloned().collect();
                if served.is_empty() {
                    report.warnings.push(format!(
                        "no host of spec.hosts is served by gateway {}",
                        gw.metadata.name.as_deref().unwrap_or("")
                    ));
                    continue;
                }
                gateway_hosts.push(VirtualHost {
                    name: format!(
                        "{namespace}/{name}@{}",
                        gw.metadata.name.as_deref().unwrap_or("")
                    ),
                    hosts: served,
                    port: None,
                    routes: routes.clone(),
                });
            }
        }
        if !report.problems.is_empty() {
            translation.problems.insert(key.clone(), report.problems);
        }
        if !report.warnings.is_empty() {
            translation.warnings.insert(key, report.warnings);
        }
    }

    translation.table = RouteTable {
        gateway: gateway_hosts,
        mesh: mesh.into_values().collect(),
        backends: builder.backends,
    };
    translation
}

fn default_retries() -> RetryPolicy {
    RetryPolicy { attempts: 2, per_try_timeout: None, retry_on: RetryOn::istio_default() }
}

fn index_services(services: &[Service]) -> BTreeMap<(String, String), ServiceInfo<'_>> {
    let mut out = BTreeMap::new();
    for service in services {
        let name = service.metadata.name.clone().unwrap_or_default();
        let namespace = service.metadata.namespace.clone().unwrap_or_default();
        let spec = service.spec.as_ref();
        let ports = spec
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
            .map(|p| {
                let target = match &p.target_port {
                    Some(IntOrString::Int(n)) => TargetPort::Number(*n),
                    Some(IntOrString::String(s)) => TargetPort::Name(s.clone()),
                    None => TargetPort::Number(p.port),
                };
                (p.port, target)
            })
            .collect();
        let selector = spec.and_then(|s| s.selector.clone()).unwrap_or_default();
        out.insert(
            (namespace.clone(), name.clone()),
            ServiceInfo { name, namespace, selector, ports, _service: service },
        );
    }
    out
}

/// The parts of a `trafficPolicy` the proxy serves.
#[derive(Debug, Clone, Default)]
struct Policy {
    load_balancer: LoadBalancer,
    outlier: Option<OutlierDetection>,
    connection_pool: ConnectionPool,
}

/// A Service's DestinationRule settings: the rule-level policy and the subsets (labels and
/// effective policy).
#[derive(Debug, Default)]
struct ServiceRules {
    policy: Policy,
    subsets: BTreeMap<String, (BTreeMap<String, String>, Policy)>,
}

/// DestinationRule settings per Service `(namespace, service)`.
type Subsets = BTreeMap<(String, String), ServiceRules>;

fn index_subsets(
    rules: &[DestinationRule],
    services: &BTreeMap<(String, String), ServiceInfo<'_>>,
    translation: &mut Translation,
) -> Subsets {
    let mut out: Subsets = BTreeMap::new();
    for rule in rules {
        let namespace = rule.metadata.namespace.clone().unwrap_or_default();
        let key = format!(
            "DestinationRule/{namespace}/{}",
            rule.metadata.name.as_deref().unwrap_or_default()
        );
        let mut report = RouteReport::default();
        let rule_policy = rule.spec.traffic_policy.as_ref();
        let base = policy("spec.trafficPolicy", rule_policy, &Policy::default(), &mut report);
        let mut subsets = Vec::new();
        for (i, subset) in rule.spec.subsets.iter().flatten().enumerate() {
            let Some(name) = subset.name.clone() else { continue };
            let path = format!("spec.subsets[{i}].trafficPolicy");
            let p = policy(&path, subset.traffic_policy.as_ref(), &base, &mut report);
            subsets.push((name, subset.labels.clone().unwrap_or_default(), p));
        }
        if !report.problems.is_empty() {
            translation.problems.insert(key.clone(), report.problems);
        }
        if !report.warnings.is_empty() {
            translation.warnings.insert(key, report.warnings);
        }
        let Some(host) = rule.spec.host.as_deref() else { continue };
        let Some(svc) = resolve_service_host(host, &namespace) else { continue };
        if !services.contains_key(&(svc.1.clone(), svc.0.clone())) {
            continue;
        }
        let entry = out.entry((svc.1, svc.0)).or_default();
        if rule_policy.is_some() {
            entry.policy = base;
        }
        for (name, labels, p) in subsets {
            entry.subsets.insert(name, (labels, p));
        }
    }
    out
}

/// The effective policy of `policy` (at `path`) over `inherited`: each field it sets wins.
fn policy(
    path: &str,
    policy: Option<&istio::TrafficPolicy>,
    inherited: &Policy,
    report: &mut RouteReport,
) -> Policy {
    let Some(p) = policy else { return inherited.clone() };
    let load_balancer = match p.load_balancer.as_ref() {
        None => inherited.load_balancer,
        Some(lb) => match lb.simple.as_deref() {
            Some("ROUND_ROBIN") => LoadBalancer::RoundRobin,
            _ => LoadBalancer::LeastRequest,
        },
    };
    let outlier = match p.outlier_detection.as_ref() {
        None => inherited.outlier.clone(),
        Some(od) => outlier_detection(&format!("{path}.outlierDetection"), od, report)
            .or_else(|| inherited.outlier.clone()),
    };
    let connection_pool = match p.connection_pool.as_ref() {
        None => inherited.connection_pool,
        Some(cp) => crate::pool::connection_pool(
            &format!("{path}.connectionPool"),
            cp,
            inherited.connection_pool,
            report,
        ),
    };
    Policy { load_balancer, outlier, connection_pool }
}

/// Istio's `OutlierDetection` with Istio's defaults. The deprecated `consecutiveErrors` counts
/// gateway errors only (as Istio maps it). A bad duration or percentage is a problem, and the
/// setting is then left out.
fn outlier_detection(
    path: &str,
    od: &istio::OutlierDetection,
    report: &mut RouteReport,
) -> Option<OutlierDetection> {
    let mut out = OutlierDetection::default();
    let before = report.problems.len();
    if let Some(n) = od.consecutive_errors.filter(|n| *n > 0) {
        out.consecutive_gateway_errors = n.unsigned_abs();
        out.consecutive_5xx_errors = 0;
    }
    if let Some(n) = od.consecutive5xx_errors {
        out.consecutive_5xx_errors = n;
    }
    if let Some(n) = od.consecutive_gateway_errors {
        out.consecutive_gateway_errors = n;
    }
    let mut duration = |field: &str, text: Option<&str>, into: &mut std::time::Duration| {
        let Some(text) = text else { return };
        match weir_model::duration::parse(text) {
            Ok(d) if d >= std::time::Duration::from_millis(1) => *into = d,
            Ok(_) => report.problems.push(format!("{path}.{field}: must be at least 1ms")),
            Err(e) => {
                report.problems.push(format!("{path}.{field}: invalid duration {text:?}: {e}"))
            }
        }
    };
    duration("interval", od.interval.as_deref(), &mut out.interval);
    duration("baseEjectionTime", od.base_ejection_time.as_deref(), &mut out.base_ejection_time);
    match od.max_ejection_percent {
        None => {}
        Some(p @ 0..=100) => out.max_ejection_percent = p.unsigned_abs(),
        Some(p) => {
            report.problems.push(format!("{path}.maxEjectionPercent: {p} is outside 0..=100"))
        }
    }
    for (field, set) in [
        ("minHealthPercent", od.min_health_percent.is_some_and(|p| p > 0)),
        ("splitExternalLocalOriginErrors", od.split_external_local_origin_errors == Some(true)),
        ("consecutiveLocalOriginFailures", od.consecutive_local_origin_failures.is_some()),
    ] {
        if set {
            report.warnings.push(format!("{path}.{field} is not served by weir's embedded proxy"));
        }
    }
    (report.problems.len() == before).then_some(out)
}

fn find_gateway<'a>(
    gateways: &'a [Gateway],
    reference: &str,
    namespace: &str,
) -> Option<&'a Gateway> {
    let (ns, name) = reference.split_once('/').unwrap_or((namespace, reference));
    gateways.iter().find(|g| {
        g.metadata.name.as_deref() == Some(name)
            && g.metadata.namespace.as_deref().unwrap_or("") == ns
    })
}

/// Whether a Gateway has a server for `host` (`*`, `*.suffix`, `ns/host` forms).
fn gateway_serves(gateway: &Gateway, host: &str) -> bool {
    gateway.spec.servers.iter().flatten().flat_map(|s| s.hosts.iter().flatten()).any(|pattern| {
        let pattern = pattern.split_once('/').map_or(pattern.as_str(), |(_, h)| h);
        pattern == "*"
            || pattern.eq_ignore_ascii_case(host)
            || pattern.strip_prefix('*').is_some_and(|suffix| {
                host.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase())
            })
    })
}

struct Builder<'a> {
    objects: &'a MeshObjects<'a>,
    services: &'a BTreeMap<(String, String), ServiceInfo<'a>>,
    subsets: &'a Subsets,
    backends: BTreeMap<String, Backend>,
}

impl Builder<'_> {
    fn routes(
        &mut self,
        vs: &VirtualService,
        namespace: &str,
        report: &mut RouteReport,
    ) -> Vec<Route> {
        let mut routes = Vec::new();
        for (i, route) in vs.spec.http.iter().flatten().enumerate() {
            let mut resolve = |d: &Destination| self.resolve(d, namespace);
            routes.push(translate_route(&format!("spec.http[{i}]"), route, report, &mut resolve));
        }
        routes
    }

    /// A route destination → a backend name, creating the backend.
    fn resolve(&mut self, destination: &Destination, namespace: &str) -> Result<String, String> {
        let host = destination.host.as_deref().unwrap_or("");
        let (name, ns) = resolve_service_host(host, namespace)
            .ok_or_else(|| format!("host {host:?} is not a Service of this mesh"))?;
        let services = self.services;
        let svc = services
            .get(&(ns.clone(), name.clone()))
            .ok_or_else(|| format!("service {ns}/{name} not found"))?;
        let port = match (destination.port.as_ref().and_then(|p| p.number), svc.ports.as_slice()) {
            (Some(number), _) => {
                let number = i32::try_from(number).map_err(|_| format!("invalid port {number}"))?;
                if !svc.ports.iter().any(|(p, _)| *p == number) {
                    return Err(format!("service {ns}/{name} has no port {number}"));
                }
                number
            }
            (None, [(only, _)]) => *only,
            (None, []) => return Err(format!("service {ns}/{name} has no ports")),
            (None, _) => {
                return Err(format!(
                    "service {ns}/{name} has several ports: set destination.port.number"
                ));
            }
        };
        let subset = destination.subset.as_deref();
        if let Some(subset) = subset {
            let known = self
                .subsets
                .get(&(ns.clone(), name.clone()))
                .is_some_and(|s| s.subsets.contains_key(subset));
            if !known {
                return Err(format!(
                    "subset {subset:?} of host {host:?} is not defined by any DestinationRule"
                ));
            }
        }
        Ok(self.backend(svc, port, subset))
    }

    /// The backend of a Service port (and subset), built once: the ready endpoints that match
    /// the Service's selector (and the subset's labels), at the address of the target port.
    fn backend(&mut self, svc: &ServiceInfo<'_>, port: i32, subset: Option<&str>) -> String {
        let key = match subset {
            Some(s) => format!("{}/{}:{port}/{s}", svc.namespace, svc.name),
            None => format!("{}/{}:{port}", svc.namespace, svc.name),
        };
        if self.backends.contains_key(&key) {
            return key;
        }
        let rules = self.subsets.get(&(svc.namespace.clone(), svc.name.clone()));
        let (subset_labels, policy) = match subset {
            Some(s) => rules.and_then(|r| r.subsets.get(s).cloned()).unwrap_or_default(),
            None => (BTreeMap::new(), rules.map(|r| r.policy.clone()).unwrap_or_default()),
        };
        let target = svc.ports.iter().find(|(p, _)| *p == port).map(|(_, t)| t.clone());
        let members: Vec<&Endpoint> = self
            .objects
            .endpoints
            .iter()
            .filter(|e| {
                e.namespace == svc.namespace && !svc.selector.is_empty() && e.matches(&svc.selector)
            })
            .filter(|e| e.matches(&subset_labels))
            .collect();
        let endpoints = members
            .iter()
            .filter(|e| e.ready)
            .filter_map(|e| target.as_ref().and_then(|t| e.address_for(t)))
            .collect();
        let common = |label: &str| -> String {
            if let Some(v) = subset_labels.get(label) {
                return v.clone();
            }
            let values: BTreeSet<&str> =
                members.iter().filter_map(|e| e.labels.get(label).map(String::as_str)).collect();
            if values.len() == 1 {
                values.into_iter().next().unwrap_or_default().to_owned()
            } else {
                String::new()
            }
        };
        let workloads: BTreeSet<&str> = members.iter().map(|e| e.workload.as_str()).collect();
        let labels = DestinationLabels {
            service: service_fqdn(&svc.name, &svc.namespace),
            service_name: svc.name.clone(),
            service_namespace: svc.namespace.clone(),
            workload: if workloads.len() == 1 {
                workloads.into_iter().next().unwrap_or_default().to_owned()
            } else {
                String::new()
            },
            workload_namespace: svc.namespace.clone(),
            app: common("app"),
            version: common("version"),
            pod_template_hash: common("rollouts-pod-template-hash"),
        };
        self.backends.insert(
            key.clone(),
            Backend {
                endpoints,
                load_balancer: policy.load_balancer,
                labels,
                outlier: policy.outlier,
                connection_pool: policy.connection_pool,
            },
        );
        key
    }
}
