//! Pure request matching: host lookup and Istio `HTTPMatchRequest` evaluation.
//!
//! Everything here is compiled from [`crate::table`] types when a table is installed (regexes
//! included) and evaluated per request without allocating (except when a Host header contains
//! upper-case letters). No I/O.

use std::collections::HashMap;

use http::HeaderMap;
use http::header::HeaderName;
use regex::Regex;

use crate::table::{HeaderMatch, RouteMatch, StringMatch, TableProblem};

/// A compiled [`StringMatch`].
#[derive(Debug)]
pub(crate) enum Matcher {
    Exact(Box<str>),
    Prefix(Box<str>),
    Regex(Regex),
}

impl Matcher {
    pub(crate) fn compile(
        m: &StringMatch,
        path: &str,
        problems: &mut Vec<TableProblem>,
    ) -> Option<Self> {
        Some(match m {
            StringMatch::Exact(s) => Self::Exact(s.as_str().into()),
            StringMatch::Prefix(s) => Self::Prefix(s.as_str().into()),
            StringMatch::Regex(r) => match Regex::new(&format!("^(?:{r})$")) {
                Ok(re) => Self::Regex(re),
                Err(e) => {
                    problems.push(TableProblem {
                        path: path.to_owned(),
                        message: format!("invalid regex {r:?}: {e}"),
                    });
                    return None;
                }
            },
        })
    }

    /// Whether `s` matches; `ignore_case` only affects exact and prefix matches.
    pub(crate) fn matches(&self, s: &str, ignore_case: bool) -> bool {
        match self {
            Self::Exact(e) if ignore_case => s.eq_ignore_ascii_case(e),
            Self::Exact(e) => s == &**e,
            Self::Prefix(p) if ignore_case => {
                s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            Self::Prefix(p) => s.starts_with(&**p),
            Self::Regex(re) => re.is_match(s),
        }
    }
}

/// A compiled [`HeaderMatch`].
#[derive(Debug)]
pub(crate) enum HeaderCondition {
    Present,
    Value(Matcher),
}

impl HeaderCondition {
    fn holds(&self, name: &HeaderName, headers: &HeaderMap) -> bool {
        match (self, headers.get(name)) {
            (_, None) => false,
            (Self::Present, Some(_)) => true,
            (Self::Value(m), Some(v)) => v.to_str().is_ok_and(|v| m.matches(v, false)),
        }
    }
}

/// A compiled [`RouteMatch`].
#[derive(Debug, Default)]
pub(crate) struct MatchBlock {
    uri: Option<Matcher>,
    method: Option<Matcher>,
    authority: Option<Matcher>,
    headers: Vec<(HeaderName, HeaderCondition)>,
    query: Vec<(Box<str>, Matcher)>,
    without_headers: Vec<(HeaderName, HeaderCondition)>,
    ignore_uri_case: bool,
}

/// What a route match looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) authority: &'a str,
    pub(crate) headers: &'a HeaderMap,
}

fn compile_headers(
    list: &[(String, HeaderMatch)],
    path: &str,
    problems: &mut Vec<TableProblem>,
) -> Vec<(HeaderName, HeaderCondition)> {
    let mut out = Vec::with_capacity(list.len());
    for (name, cond) in list {
        let p = format!("{path}[{name}]");
        let Ok(hn) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) else {
            problems.push(TableProblem { path: p, message: "invalid header name".into() });
            continue;
        };
        let c = match cond {
            HeaderMatch::Present => Some(HeaderCondition::Present),
            HeaderMatch::Value(m) => Matcher::compile(m, &p, problems).map(HeaderCondition::Value),
        };
        if let Some(c) = c {
            out.push((hn, c));
        }
    }
    out
}

impl MatchBlock {
    pub(crate) fn compile(m: &RouteMatch, path: &str, problems: &mut Vec<TableProblem>) -> Self {
        let one = |field: &str, sm: &Option<StringMatch>, problems: &mut Vec<TableProblem>| {
            sm.as_ref().and_then(|sm| Matcher::compile(sm, &format!("{path}.{field}"), problems))
        };
        let uri = one("uri", &m.uri, problems);
        let method = one("method", &m.method, problems);
        let authority = one("authority", &m.authority, problems);
        let headers = compile_headers(&m.headers, &format!("{path}.headers"), problems);
        let without_headers =
            compile_headers(&m.without_headers, &format!("{path}.withoutHeaders"), problems);
        let mut query = Vec::with_capacity(m.query_params.len());
        for (k, sm) in &m.query_params {
            if let Some(mm) = Matcher::compile(sm, &format!("{path}.queryParams[{k}]"), problems) {
                query.push((k.as_str().into(), mm));
            }
        }
        Self {
            uri,
            method,
            authority,
            headers,
            query,
            without_headers,
            ignore_uri_case: m.ignore_uri_case,
        }
    }

    /// The URI prefix this block matched on, for prefix rewrites.
    pub(crate) fn uri_prefix(&self) -> Option<&str> {
        match &self.uri {
            Some(Matcher::Prefix(p)) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, r: &RequestView<'_>) -> bool {
        if let Some(m) = &self.uri
            && !m.matches(r.path, self.ignore_uri_case)
        {
            return false;
        }
        if let Some(m) = &self.method
            && !m.matches(r.method, false)
        {
            return false;
        }
        if let Some(m) = &self.authority
            && !m.matches(r.authority, false)
        {
            return false;
        }
        if !self.headers.iter().all(|(n, c)| c.holds(n, r.headers)) {
            return false;
        }
        if self.without_headers.iter().any(|(n, c)| c.holds(n, r.headers)) {
            return false;
        }
        self.query.iter().all(|(k, m)| query_param(r.query, k).is_some_and(|v| m.matches(v, false)))
    }
}

/// Index of the first matching block; an empty list matches everything (`Some(None)`).
pub(crate) fn match_blocks(blocks: &[MatchBlock], r: &RequestView<'_>) -> Option<Option<usize>> {
    if blocks.is_empty() {
        return Some(None);
    }
    blocks.iter().position(|b| b.matches(r)).map(Some)
}

/// The raw value of the first query parameter named `key` (`""` for a bare `?key`).
pub(crate) fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

/// Splits `host[:port]` (IPv6 literals in brackets) into host and port.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
        return (authority, None);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (authority, None),
    }
}

/// Host name → virtual host lookup for one listener role.
#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: HashMap<Box<str>, Vec<(Option<u16>, usize)>>,
    /// (suffix including the leading dot, port, vhost index), longest suffix first.
    wildcard: Vec<(Box<str>, Option<u16>, usize)>,
    any: Vec<(Option<u16>, usize)>,
}

fn pick_port(cands: &[(Option<u16>, usize)], port: Option<u16>) -> Option<usize> {
    match port {
        None => cands.first().map(|c| c.1),
        Some(p) => cands
            .iter()
            .find(|c| c.0 == Some(p))
            .or_else(|| cands.iter().find(|c| c.0.is_none()))
            .map(|c| c.1),
    }
}

impl HostIndex {
    pub(crate) fn insert(&mut self, host: &str, port: Option<u16>, vhost: usize) {
        let host = host.to_ascii_lowercase();
        if host == "*" {
            self.any.push((port, vhost));
        } else if let Some(suffix) = host.strip_prefix('*') {
            self.wildcard.push((suffix.into(), port, vhost));
            self.wildcard.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        } else {
            self.exact.entry(host.into()).or_default().push((port, vhost));
        }
    }

    /// The virtual host for a request authority (`host[:port]`).
    pub(crate) fn lookup(&self, authority: &str) -> Option<usize> {
        let (host, port) = split_host_port(authority);
        let host = host.strip_suffix('.').unwrap_or(host);
        let lowered;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host
        };
        if let Some(i) = self.exact.get(host).and_then(|c| pick_port(c, port)) {
            return Some(i);
        }
        for (suffix, p, i) in &self.wildcard {
            if host.len() > suffix.len()
                && host.ends_with(&**suffix)
                && (port.is_none() || p.is_none() || *p == port)
            {
                return Some(*i);
            }
        }
        pick_port(&self.any, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn view<'a>(path: &'a str, query: Option<&'a str>, headers: &'a HeaderMap) -> RequestView<'a> {
        RequestView { method: "GET", path, query, authority: "reviews:9080", headers }
    }

    fn block(m: RouteMatch) -> MatchBlock {
        let mut problems = Vec::new();
        let b = MatchBlock::compile(&m, "t", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        b
    }

    #[test]
    fn string_matchers() {
        let mut p = Vec::new();
        let re = Matcher::compile(&StringMatch::Regex(r"\d+".into()), "x", &mut p).unwrap();
        assert!(re.matches("123", false));
        assert!(!re.matches("a123", false));
        assert!(!re.matches("123a", false));
        let pre = Matcher::compile(&StringMatch::Prefix("/API".into()), "x", &mut p).unwrap();
        assert!(pre.matches("/api/v1", true));
        assert!(!pre.matches("/api/v1", false));
        let ex = Matcher::compile(&StringMatch::Exact("/a".into()), "x", &mut p).unwrap();
        assert!(ex.matches("/A", true) && !ex.matches("/A", false));
        assert!(Matcher::compile(&StringMatch::Regex("(".into()), "x", &mut p).is_none());
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("invalid regex"));
    }

    #[test]
    fn block_conditions_are_anded_and_blocks_ored() {
        let mut headers = HeaderMap::new();
        headers.insert("x-canary", HeaderValue::from_static("always"));
        headers.insert("x-debug", HeaderValue::from_static("1"));
        let b1 = block(RouteMatch {
            uri: Some(StringMatch::Prefix("/api".into())),
            headers: vec![(
                "X-Canary".into(),
                HeaderMatch::Value(StringMatch::Exact("always".into())),
            )],
            ..RouteMatch::default()
        });
        assert!(b1.matches(&view("/api/x", None, &headers)));
        assert!(!b1.matches(&view("/web", None, &headers)));
        let b2 = block(RouteMatch {
            without_headers: vec![("x-debug".into(), HeaderMatch::Present)],
            ..RouteMatch::default()
        });
        assert!(!b2.matches(&view("/api", None, &headers)));
        let b3 = block(RouteMatch {
            query_params: vec![("v".into(), StringMatch::Regex(r"\d+".into()))],
            ..RouteMatch::default()
        });
        assert!(b3.matches(&view("/", Some("a=1&v=22"), &headers)));
        assert!(!b3.matches(&view("/", Some("v=x1"), &headers)));
        assert!(!b3.matches(&view("/", None, &headers)));
        let blocks = vec![b3, b1];
        assert_eq!(match_blocks(&blocks, &view("/api", None, &headers)), Some(Some(1)));
        assert_eq!(match_blocks(&blocks, &view("/web", None, &headers)), None);
        assert_eq!(match_blocks(&[], &view("/web", None, &headers)), Some(None));
    }

    #[test]
    fn query_params_parse_like_istio() {
        assert_eq!(query_param(Some("a&b=1"), "a"), Some(""));
        assert_eq!(query_param(Some("a&b=1"), "b"), Some("1"));
        assert_eq!(query_param(Some("a&b=1"), "c"), None);
    }

    #[test]
    fn hosts_with_ports_and_wildcards() {
        assert_eq!(split_host_port("reviews:9080"), ("reviews", Some(9080)));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host_port("reviews"), ("reviews", None));
        let mut idx = HostIndex::default();
        idx.insert("reviews", None, 0);
        idx.insert("reviews.bookinfo.svc.cluster.local", None, 0);
        idx.insert("*.example.com", None, 1);
        idx.insert("*.b.example.com", None, 2);
        idx.insert("ratings", Some(9080), 3);
        idx.insert("ratings", Some(8080), 4);
        assert_eq!(idx.lookup("Reviews:9080"), Some(0));
        assert_eq!(idx.lookup("reviews.bookinfo.svc.cluster.local"), Some(0));
        assert_eq!(idx.lookup("a.example.com:8443"), Some(1));
        assert_eq!(idx.lookup("a.b.example.com"), Some(2));
        assert_eq!(idx.lookup("example.com"), None);
        assert_eq!(idx.lookup("ratings:8080"), Some(4));
        assert_eq!(idx.lookup("ratings"), Some(3));
        assert_eq!(idx.lookup("ratings:1"), None);
        idx.insert("*", None, 9);
        assert_eq!(idx.lookup("other"), Some(9));
    }
}
