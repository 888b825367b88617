//! A read-only typed view of a VirtualService's `http`, `tls` and `tcp` routes: the fields the
//! Istio router decides on (route names, match ports and SNI hosts, destinations and
//! weights). Writes go to the JSON itself, so every field the view ignores is kept.

use serde_json::{Map, Value};

/// `spec.http`, `spec.tls` or `spec.tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Http,
    Tls,
    Tcp,
}

impl RouteKind {
    /// The field under `spec`.
    pub(crate) fn field(self) -> &'static str {
        match self {
            RouteKind::Http => "http",
            RouteKind::Tls => "tls",
            RouteKind::Tcp => "tcp",
        }
    }
}

/// One weighted destination of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RouteDestination {
    pub(crate) host: String,
    pub(crate) subset: String,
    pub(crate) port: Option<u32>,
    pub(crate) weight: i64,
}

impl RouteDestination {
    /// The Service name a host refers to: the text before the first `.`. A host starting with
    /// `.` has no Service name (Argo's `getHost`).
    pub(crate) fn short_host(&self) -> &str {
        match self.host.find('.') {
            Some(0) => "",
            Some(i) => &self.host[..i],
            None => &self.host,
        }
    }

    /// The destination as Argo's typed route writes it (`host`, `subset`, `port` when set,
    /// and `weight`).
    pub(crate) fn to_json(&self) -> Value {
        let mut dest = Map::new();
        if !self.host.is_empty() {
            dest.insert("host".into(), Value::from(self.host.clone()));
        }
        if !self.subset.is_empty() {
            dest.insert("subset".into(), Value::from(self.subset.clone()));
        }
        if let Some(port) = self.port {
            dest.insert("port".into(), serde_json::json!({ "number": port }));
        }
        let mut route = Map::new();
        route.insert("destination".into(), Value::Object(dest));
        route.insert("weight".into(), Value::from(self.weight));
        Value::Object(route)
    }
}

/// An HTTP route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HttpRoute {
    pub(crate) name: String,
    pub(crate) route: Vec<RouteDestination>,
    pub(crate) has_mirror: bool,
}

/// One match block of a TLS or TCP route (port 0 = not set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct L4Match {
    pub(crate) port: i64,
    pub(crate) sni_hosts: Vec<String>,
}

/// A TLS or TCP route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct L4Route {
    pub(crate) matches: Vec<L4Match>,
    pub(crate) route: Vec<RouteDestination>,
}

/// `spec.<kind>` when it is a list; `None` when absent or of another type (Argo then treats
/// the route kind as not configured).
pub(crate) fn route_list(vs: &Value, kind: RouteKind) -> Option<&Vec<Value>> {
    vs.get("spec")?.get(kind.field())?.as_array()
}

/// Mutable `spec.<kind>` when it is a list.
pub(crate) fn route_list_mut(vs: &mut Value, kind: RouteKind) -> Option<&mut Vec<Value>> {
    vs.get_mut("spec")?.get_mut(kind.field())?.as_array_mut()
}

pub(crate) fn parse_http_routes(routes: &[Value]) -> Result<Vec<HttpRoute>, String> {
    routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("http[{i}]");
            let Some(obj) = object(r, &path)? else {
                return Ok(HttpRoute::default());
            };
            Ok(HttpRoute {
                name: string(obj, "name", &path)?,
                route: destinations(obj, &path)?,
                has_mirror: obj.get("mirror").is_some_and(|m| !m.is_null()),
            })
        })
        .collect()
}

pub(crate) fn parse_l4_routes(kind: RouteKind, routes: &[Value]) -> Result<Vec<L4Route>, String> {
    routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("{}[{i}]", kind.field());
            let Some(obj) = object(r, &path)? else {
                return Ok(L4Route::default());
            };
            let mut matches = Vec::new();
            for (j, m) in list(obj, "match", &path)?.iter().enumerate() {
                let mpath = format!("{path}.match[{j}]");
                let Some(m) = object(m, &mpath)? else {
                    matches.push(L4Match::default());
                    continue;
                };
                let mut sni_hosts = Vec::new();
                for (k, h) in list(m, "sniHosts", &mpath)?.iter().enumerate() {
                    match h {
                        Value::String(s) => sni_hosts.push(s.clone()),
                        Value::Null => sni_hosts.push(String::new()),
                        other => {
                            return Err(mismatch(
                                other,
                                &format!("{mpath}.sniHosts[{k}]"),
                                "string",
                            ));
                        }
                    }
                }
                matches.push(L4Match { port: integer(m, "port", &mpath)?, sni_hosts });
            }
            Ok(L4Route { matches, route: destinations(obj, &path)? })
        })
        .collect()
}

fn destinations(route: &Map<String, Value>, path: &str) -> Result<Vec<RouteDestination>, String> {
    let mut out = Vec::new();
    for (i, d) in list(route, "route", path)?.iter().enumerate() {
        let dpath = format!("{path}.route[{i}]");
        let Some(d) = object(d, &dpath)? else {
            out.push(RouteDestination::default());
            continue;
        };
        let weight = integer(d, "weight", &dpath)?;
        let dest_path = format!("{dpath}.destination");
        let dest = match d.get("destination") {
            None | Some(Value::Null) => {
                out.push(RouteDestination { weight, ..Default::default() });
                continue;
            }
            Some(v) => object(v, &dest_path)?.cloned().unwrap_or_default(),
        };
        let port = match dest.get("port") {
            None | Some(Value::Null) => None,
            Some(p) => {
                let ppath = format!("{dest_path}.port");
                let number = match object(p, &ppath)? {
                    Some(p) => integer(p, "number", &ppath)?,
                    None => 0,
                };
                Some(u32::try_from(number).map_err(|_| {
                    format!("cannot unmarshal number {number} into {ppath}.number of type uint32")
                })?)
            }
        };
        out.push(RouteDestination {
            host: string(&dest, "host", &dest_path)?,
            subset: string(&dest, "subset", &dest_path)?,
            port,
            weight,
        });
    }
    Ok(out)
}

fn object<'a>(v: &'a Value, path: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match v {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => Ok(None),
        other => Err(mismatch(other, path, "object")),
    }
}

fn list<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a [Value], String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(mismatch(other, &format!("{path}.{key}"), "array")),
    }
}

fn string(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(mismatch(other, &format!("{path}.{key}"), "string")),
    }
}

/// An integer field; integral floats (`10.0`) are accepted, as Kubernetes clients write them.
fn integer(obj: &Map<String, Value>, key: &str, path: &str) -> Result<i64, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
            .ok_or_else(|| format!("cannot unmarshal number {n} into {path}.{key} of type int64")),
        Some(other) => Err(mismatch(other, &format!("{path}.{key}"), "int64")),
    }
}

fn mismatch(v: &Value, path: &str, want: &str) -> String {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("cannot unmarshal {got} into {path} of type {want}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn http_routes_are_read_with_defaults() {
        let routes = json!([
            {"name": "primary", "retries": {"attempts": 3}, "route": [
                {"destination": {"host": "stable.ns.svc", "port": {"number": 8443}}, "weight": 90},
                {"destination": {"host": "canary", "subset": "c"}, "weight": 10.0},
                {"destination": {"host": "x"}}
            ], "mirror": {"host": "canary"}},
            {"route": []}
        ]);
        let parsed = parse_http_routes(routes.as_array().expect("array")).expect("valid");
        assert_eq!(parsed[0].name, "primary");
        assert!(parsed[0].has_mirror);
        assert_eq!(parsed[0].route[0].short_host(), "stable");
        assert_eq!(parsed[0].route[0].port, Some(8443));
        assert_eq!(parsed[0].route[1].weight, 10);
        assert_eq!(parsed[0].route[2].weight, 0);
        assert_eq!(parsed[1].name, "");
        assert!(!parsed[1].has_mirror);
    }

    #[test]
    fn malformed_routes_are_errors() {
        let bad =
            [json!(["invalid"]), json!([{"route": "x"}]), json!([{"route": [{"weight": "1"}]}])];
        for b in bad {
            assert!(parse_http_routes(b.as_array().expect("array")).is_err(), "{b}");
        }
        let tls = json!(["invalid"]);
        assert!(parse_l4_routes(RouteKind::Tls, tls.as_array().expect("array")).is_err());
    }

    #[test]
    fn tls_matches_keep_ports_and_sni_hosts() {
        let tls = json!([{"match": [{"port": 3001, "sniHosts": ["a", "b"]}, {}]}]);
        let parsed = parse_l4_routes(RouteKind::Tls, tls.as_array().expect("array")).expect("ok");
        assert_eq!(parsed[0].matches[0].port, 3001);
        assert_eq!(parsed[0].matches[0].sni_hosts, ["a", "b"]);
        assert_eq!(parsed[0].matches[1], L4Match::default());
    }

    #[test]
    fn short_host_is_the_text_before_the_first_dot() {
        let d = |h: &str| RouteDestination { host: h.into(), ..Default::default() };
        assert_eq!(d("canary.ns.svc.cluster.local").short_host(), "canary");
        assert_eq!(d(".weird").short_host(), "");
        assert_eq!(d("plain").short_host(), "plain");
    }
}
