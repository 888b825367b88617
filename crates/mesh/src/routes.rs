//! One Istio `HTTPRoute` → one proxy [`Route`]: matches, weighted destinations, timeout,
//! retries, mirror, fault, header operations and rewrite.
//!
//! Destinations are resolved to backend names by the caller (it knows Services and subsets);
//! every problem is collected, and fields the embedded proxy does not serve are reported as
//! warnings rather than dropped silently.

use std::time::Duration;

use serde_json::Number;
use weir_model::istio::{self, Destination, HttpMatchRequest, HttpRoute};
use weir_proxy::{
    Fault, FaultAbort, FaultDelay, HeaderMatch, HeaderOperations, HeaderOps, Mirror, RetryOn,
    RetryPolicy, Rewrite, Route, RouteMatch, StringMatch, WeightedDestination,
};

/// What translating one route found.
#[derive(Debug, Default)]
pub(crate) struct RouteReport {
    pub(crate) problems: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

/// Translates `route` (at `path`, e.g. `spec.http[0]`), resolving destinations with `resolve`.
pub(crate) fn translate_route(
    path: &str,
    route: &HttpRoute,
    report: &mut RouteReport,
    resolve: &mut dyn FnMut(&Destination) -> Result<String, String>,
) -> Route {
    let mut out = Route { name: route.name.clone().unwrap_or_default(), ..Route::default() };
    for (i, m) in route.r#match.iter().flatten().enumerate() {
        out.matches.push(translate_match(&format!("{path}.match[{i}]"), m, report));
    }

    let destinations = route.route.as_deref().unwrap_or_default();
    if destinations.is_empty() {
        report.problems.push(format!("{path}.route: at least one destination is required"));
    }
    let single = destinations.len() == 1;
    for (i, d) in destinations.iter().enumerate() {
        let dest_path = format!("{path}.route[{i}]");
        let Some(destination) = &d.destination else {
            report.problems.push(format!("{dest_path}.destination: required"));
            continue;
        };
        let weight = match d.weight {
            None if single => 100,
            None => 0,
            Some(w) if w < 0 => {
                report.problems.push(format!("{dest_path}.weight: must not be negative ({w})"));
                0
            }
            Some(w) => w.unsigned_abs(),
        };
        match resolve(destination) {
            Ok(backend) => out.destinations.push(WeightedDestination {
                backend,
                weight,
                headers: header_operations(d.headers.as_ref()),
            }),
            Err(problem) => report.problems.push(format!("{dest_path}.destination: {problem}")),
        }
    }
    if !out.destinations.is_empty() && out.destinations.iter().all(|d| d.weight == 0) && !single {
        report.problems.push(format!("{path}.route: all destination weights are 0"));
    }

    out.timeout = duration(&format!("{path}.timeout"), route.timeout.as_deref(), report);
    out.retries = Some(retries(path, route.retries.as_ref(), report));
    if let Some(mirror) = &route.mirror {
        let percentage = route
            .mirror_percentage
            .as_ref()
            .and_then(|p| p.value.as_ref())
            .and_then(Number::as_f64)
            .or(route.mirror_percent.or(route.mirror_percent_snake).map(f64::from))
            .unwrap_or(100.0);
        match resolve(mirror) {
            Ok(backend) => out.mirrors.push(Mirror { backend, percentage }),
            Err(problem) => report.problems.push(format!("{path}.mirror: {problem}")),
        }
    }
    out.fault = route.fault.as_ref().and_then(|f| fault(path, f, report));
    out.headers = header_operations(route.headers.as_ref());
    out.rewrite = route
        .rewrite
        .as_ref()
        .map(|r| Rewrite { uri: r.uri.clone(), authority: r.authority.clone() });

    for (field, set) in [
        ("corsPolicy", route.cors_policy.is_some()),
        ("redirect", route.redirect.is_some()),
        ("directResponse", route.direct_response.is_some()),
        ("delegate", route.delegate.is_some()),
    ] {
        if set {
            report.warnings.push(format!("{path}.{field} is not served by weir's embedded proxy"));
        }
    }
    out
}

fn translate_match(path: &str, m: &HttpMatchRequest, report: &mut RouteReport) -> RouteMatch {
    let mut out = RouteMatch {
        uri: string_match(&format!("{path}.uri"), m.uri.as_ref(), report),
        method: string_match(&format!("{path}.method"), m.method.as_ref(), report),
        authority: string_match(&format!("{path}.authority"), m.authority.as_ref(), report),
        ignore_uri_case: m.ignore_uri_case.unwrap_or(false),
        ..RouteMatch::default()
    };
    for (name, value) in m.headers.iter().flatten() {
        out.headers.push((
            name.to_ascii_lowercase(),
            header_match(&format!("{path}.headers.{name}"), value, report),
        ));
    }
    for (name, value) in m.without_headers.iter().flatten() {
        let field = format!("{path}.withoutHeaders.{name}");
        out.without_headers.push((name.to_ascii_lowercase(), header_match(&field, value, report)));
    }
    for (name, value) in m.query_params.iter().flatten() {
        let field = format!("{path}.queryParams.{name}");
        if let Some(matcher) = string_match(&field, Some(value), report) {
            out.query_params.push((name.clone(), matcher));
        }
    }
    for (field, set) in [
        ("sourceLabels", m.source_labels.is_some()),
        ("sourceNamespace", m.source_namespace.is_some()),
        ("gateways", m.gateways.is_some()),
        ("port", m.port.is_some()),
        ("scheme", m.scheme.is_some()),
    ] {
        if set {
            report.warnings.push(format!("{path}.{field} is not served by weir's embedded proxy"));
        }
    }
    out
}

fn string_match(
    path: &str,
    m: Option<&istio::StringMatch>,
    report: &mut RouteReport,
) -> Option<StringMatch> {
    let m = m?;
    match (&m.exact, &m.prefix, &m.regex) {
        (Some(e), None, None) => Some(StringMatch::Exact(e.clone())),
        (None, Some(p), None) => Some(StringMatch::Prefix(p.clone())),
        (None, None, Some(r)) => Some(StringMatch::Regex(r.clone())),
        (None, None, None) => None,
        _ => {
            report.problems.push(format!("{path}: only one of exact, prefix and regex may be set"));
            None
        }
    }
}

fn header_match(path: &str, m: &istio::StringMatch, report: &mut RouteReport) -> HeaderMatch {
    match string_match(path, Some(m), report) {
        Some(value) => HeaderMatch::Value(value),
        None => HeaderMatch::Present,
    }
}

fn duration(path: &str, text: Option<&str>, report: &mut RouteReport) -> Option<Duration> {
    let text = text?;
    match weir_model::duration::parse(text) {
        Ok(d) => Some(d),
        Err(e) => {
            report.problems.push(format!("{path}: invalid duration {text:?}: {e}"));
            None
        }
    }
}

/// Istio's retry policy: `attempts` (default 2 when the route sets none), `perTryTimeout`,
/// `retryOn` (default connect-failure and reset). Unsupported `retryOn` tokens are warnings.
fn retries(path: &str, retry: Option<&istio::HttpRetry>, report: &mut RouteReport) -> RetryPolicy {
    let Some(retry) = retry else {
        return RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: RetryOn::istio_default(),
        };
    };
    let retry_on = match retry.retry_on.as_deref() {
        Some(text) => {
            let (retry_on, ignored) = RetryOn::parse(text);
            if !ignored.is_empty() {
                report.warnings.push(format!(
                    "{path}.retries.retryOn: {} not served by weir's embedded proxy",
                    ignored.join(", ")
                ));
            }
            retry_on
        }
        None => RetryOn::istio_default(),
    };
    RetryPolicy {
        attempts: retry.attempts.map_or(2, |a| a.max(0).unsigned_abs()),
        per_try_timeout: duration(
            &format!("{path}.retries.perTryTimeout"),
            retry.per_try_timeout.as_deref(),
            report,
        ),
        retry_on,
    }
}

fn percent(value: Option<&istio::Percent>, legacy: Option<i32>) -> f64 {
    value
        .and_then(|p| p.value.as_ref())
        .and_then(Number::as_f64)
        .or(legacy.map(f64::from))
        .unwrap_or(100.0)
}

fn fault(path: &str, f: &istio::HttpFaultInjection, report: &mut RouteReport) -> Option<Fault> {
    let delay = f.delay.as_ref().and_then(|d| {
        let fixed =
            duration(&format!("{path}.fault.delay.fixedDelay"), d.fixed_delay.as_deref(), report)?;
        Some(FaultDelay {
            fixed_delay: fixed,
            percentage: percent(d.percentage.as_ref(), d.percent),
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let Some(status) = a.http_status else {
            report.warnings.push(format!("{path}.fault.abort: only httpStatus aborts are served"));
            return None;
        };
        match u16::try_from(status) {
            Ok(http_status) => {
                Some(FaultAbort { http_status, percentage: percent(a.percentage.as_ref(), None) })
            }
            Err(_) => {
                report
                    .problems
                    .push(format!("{path}.fault.abort.httpStatus: invalid status {status}"));
                None
            }
        }
    });
    (delay.is_some() || abort.is_some()).then_some(Fault { delay, abort })
}

fn header_operations(headers: Option<&istio::Headers>) -> HeaderOperations {
    let ops = |o: Option<&istio::HeaderOperations>| -> HeaderOps {
        let Some(o) = o else { return HeaderOps::default() };
        let pairs = |m: Option<&std::collections::BTreeMap<String, String>>| {
            m.into_iter().flatten().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect()
        };
        HeaderOps {
            set: pairs(o.set.as_ref()),
            add: pairs(o.add.as_ref()),
            remove: o.remove.iter().flatten().map(|h| h.to_ascii_lowercase()).collect(),
        }
    };
    HeaderOperations {
        request: ops(headers.and_then(|h| h.request.as_ref())),
        response: ops(headers.and_then(|h| h.response.as_ref())),
    }
}
