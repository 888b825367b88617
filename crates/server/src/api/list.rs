//! Lists over HTTP: query parameters (`labelSelector`, `fieldSelector`, `resourceVersion`,
//! `resourceVersionMatch`, `limit`, `continue`) and paging with consistent snapshots.
//!
//! Paging design: a list with `limit` smaller than its result keeps the whole (filtered)
//! result in memory as a *snapshot*, named by the `continue` token it answers with. Every
//! later page reads that snapshot, so the pages of one list show the objects as they were at
//! the first page's resourceVersion, whatever is written meanwhile (the API server gets the
//! same from etcd's MVCC). Snapshots live [`SNAPSHOT_TTL`] (etcd's default compaction
//! interval, after which the API server's tokens expire too) and at most
//! [`SNAPSHOT_CAPACITY`] are kept (the oldest goes first).
//!
//! The token is base64 of a small JSON document: the snapshot's id, a fingerprint of the
//! query (path and selectors), the list's resourceVersion and the key (namespace, name) of the
//! last object sent. A token used with another path or selector is 400. A token whose snapshot
//! is gone is 410 `Expired` with the API server's message and, as the API server does, a fresh
//! token in the Status' `metadata.continue` that continues after the same key over the current
//! state (an inconsistent remainder, which the client may choose).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weir_cluster::{
    Cluster, Error, FieldError, FieldSelector, LabelSelector, ListParams, Object, ResourceType,
    Result, VersionMatch,
};

/// How long a paged list's snapshot stays readable.
pub(crate) const SNAPSHOT_TTL: Duration = Duration::from_secs(5 * 60);
/// How many paged lists' snapshots are kept at most.
pub(crate) const SNAPSHOT_CAPACITY: usize = 64;

/// The API server's message for a continue token whose list is gone (etcd3 store,
/// `compactedContinue`).
pub(crate) const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to \
    display a consistent list result. You can start a new list without the continue \
    parameter, or use the continue token in this response to retrieve the remainder of the \
    results. Continuing with the provided token results in an inconsistent list - objects \
    that were created, modified, or deleted between the time the first chunk was returned and \
    now may show up in the list.";

#[derive(Debug)]
struct Snapshot {
    query: u64,
    items: Arc<Vec<Object>>,
    resource_version: String,
    created: Instant,
}

/// The snapshots of recent paged lists (see the module docs).
#[derive(Debug)]
pub(crate) struct Snapshots {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<(u64, BTreeMap<u64, Snapshot>)>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots::new(SNAPSHOT_TTL, SNAPSHOT_CAPACITY)
    }
}

impl Snapshots {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Snapshots { ttl, capacity: capacity.max(1), inner: Mutex::new((0, BTreeMap::new())) }
    }

    fn insert(&self, query: u64, items: Arc<Vec<Object>>, rv: String, now: Instant) -> u64 {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (next, snapshots) = &mut *guard;
        snapshots.retain(|_, s| now.saturating_duration_since(s.created) < self.ttl);
        while snapshots.len() >= self.capacity {
            snapshots.pop_first();
        }
        *next += 1;
        snapshots.insert(*next, Snapshot { query, items, resource_version: rv, created: now });
        *next
    }

    fn get(&self, id: u64, now: Instant) -> Option<(Arc<Vec<Object>>, String)> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .1
            .get(&id)
            .filter(|s| now.saturating_duration_since(s.created) < self.ttl)
            .map(|s| (Arc::clone(&s.items), s.resource_version.clone()))
    }

    fn query_of(&self, id: u64) -> Option<u64> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.get(&id).map(|s| s.query)
    }
}

/// A continue token's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Token {
    /// Format marker.
    v: String,
    /// The snapshot this list reads; `None` for the remainder over the current state that an
    /// expired token is answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<u64>,
    /// Fingerprint of the query (path and selectors).
    query: u64,
    /// The resourceVersion of the list.
    rv: String,
    /// Namespace and name of the last object sent.
    after: (String, String),
}

const TOKEN_VERSION: &str = "weir.dev/v1";

impl Token {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Result<Token> {
        let bad = |why: String| Error::BadRequest(format!("continue key is not valid: {why}"));
        let bytes =
            URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|e| bad(e.to_string()))?;
        let token: Token = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if token.v != TOKEN_VERSION {
            return Err(bad(format!("unknown token version {:?}", token.v)));
        }
        Ok(token)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListPage {
    pub(crate) items: Vec<Object>,
    pub(crate) resource_version: String,
    /// The token of the next page, if there is one.
    pub(crate) continue_token: Option<String>,
    /// How many objects follow this page (set only when no selector filters the list, as the
    /// API server does).
    pub(crate) remaining_item_count: Option<usize>,
}

/// The `labelSelector` of a query.
pub(crate) fn label_selector(query: &HashMap<String, String>) -> Result<Option<LabelSelector>> {
    query
        .get("labelSelector")
        .filter(|s| !s.is_empty())
        .map(|s| LabelSelector::parse(s))
        .transpose()
}

/// The `fieldSelector` of a query.
pub(crate) fn field_selector(query: &HashMap<String, String>) -> Result<Option<FieldSelector>> {
    query
        .get("fieldSelector")
        .filter(|s| !s.is_empty())
        .map(|s| FieldSelector::parse(s))
        .transpose()
}

/// The [`ListParams`] of a list request.
pub(crate) fn params(query: &HashMap<String, String>) -> Result<ListParams> {
    let version_match = match query.get("resourceVersionMatch").map(String::as_str) {
        None | Some("") => VersionMatch::Unset,
        Some("NotOlderThan") => VersionMatch::NotOlderThan,
        Some("Exact") => VersionMatch::Exact,
        Some(other) => {
            return Err(Error::Invalid {
                kind: "ListOptions.meta.k8s.io".to_owned(),
                name: String::new(),
                causes: vec![FieldError {
                    field: "resourceVersionMatch".to_owned(),
                    message: format!(
                        "Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                    ),
                }],
            });
        }
    };
    Ok(ListParams {
        label_selector: label_selector(query)?,
        field_selector: field_selector(query)?,
        resource_version: query.get("resourceVersion").filter(|rv| !rv.is_empty()).cloned(),
        version_match,
    })
}

fn limit(query: &HashMap<String, String>) -> Result<Option<usize>> {
    match query.get("limit").filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n <= 0 => Ok(None),
            Ok(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Err(_) => Err(Error::BadRequest(format!("invalid limit {text:?}: expected a number"))),
        },
    }
}

/// FNV-1a of the parts of a query a token is bound to.
fn fingerprint(rt: &ResourceType, namespace: Option<&str>, params: &ListParams) -> u64 {
    let text = format!(
        "{}/{}/{}\0{}\0{}\0{}",
        rt.group,
        rt.version,
        rt.plural,
        namespace.unwrap_or_default(),
        params.label_selector.as_ref().map(ToString::to_string).unwrap_or_default(),
        params.field_selector.as_ref().map(ToString::to_string).unwrap_or_default(),
    );
    weir_gocompat::fnv::fnv1a64(text.as_bytes())
}

fn key(obj: &Object) -> (String, String) {
    (obj.namespace().unwrap_or_default().to_owned(), obj.name().to_owned())
}

/// The page of `items` after `after` (or from the start), at most `limit` long.
fn page(
    items: &[Object],
    after: Option<&(String, String)>,
    limit: Option<usize>,
    next: impl FnOnce((String, String)) -> String,
    count_remaining: bool,
    resource_version: String,
) -> ListPage {
    let start = after.map_or(0, |after| items.partition_point(|o| key(o) <= *after));
    let rest = items.get(start..).unwrap_or_default();
    let size = limit.unwrap_or(rest.len()).min(rest.len());
    let page = rest[..size].to_vec();
    let remaining = rest.len() - size;
    let continue_token = match (remaining, page.last()) {
        (0, _) | (_, None) => None,
        (_, Some(last)) => Some(next(key(last))),
    };
    ListPage {
        items: page,
        resource_version,
        continue_token,
        remaining_item_count: (count_remaining && remaining > 0).then_some(remaining),
    }
}

/// Serves a list request: one page, or the whole list when no `limit` applies. An error is
/// already rendered (an expired token answers a Status that carries a token of its own).
pub(crate) async fn list<C: Cluster>(
    snapshots: &Snapshots,
    cluster: &C,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
) -> std::result::Result<ListPage, Response> {
    let rendered = |e: Error| super::error_response(&e);
    let params = params(query).map_err(rendered)?;
    let limit = limit(query).map_err(rendered)?;
    let fingerprint = fingerprint(rt, namespace, &params);
    let unfiltered = params.label_selector.as_ref().is_none_or(LabelSelector::is_empty)
        && params.field_selector.as_ref().is_none_or(FieldSelector::is_empty);
    let now = Instant::now();
    let token = |snapshot: Option<u64>, rv: &str| {
        let rv = rv.to_owned();
        move |after| {
            Token { v: TOKEN_VERSION.to_owned(), snapshot, query: fingerprint, rv, after }.encode()
        }
    };

    let Some(text) = query.get("continue").filter(|t| !t.is_empty()) else {
        let list = cluster.list(rt, namespace, &params).await.map_err(rendered)?;
        return Ok(match limit {
            Some(limit) if list.items.len() > limit => {
                let items = Arc::new(list.items);
                let id = snapshots.insert(
                    fingerprint,
                    Arc::clone(&items),
                    list.resource_version.clone(),
                    now,
                );
                let next = token(Some(id), &list.resource_version);
                page(&items, None, Some(limit), next, unfiltered, list.resource_version)
            }
            _ => ListPage {
                items: list.items,
                resource_version: list.resource_version,
                continue_token: None,
                remaining_item_count: None,
            },
        });
    };
    // As the etcd3 store: `resourceVersion=0` is tolerated beside a continue token.
    if params.resource_version.as_deref().is_some_and(|rv| rv != "0") {
        return Err(rendered(Error::BadRequest(
            "specifying resource version is not allowed when using continue".to_owned(),
        )));
    }
    let continued = Token::decode(text).map_err(rendered)?;
    let issued_for_other = continued.query != fingerprint
        || continued
            .snapshot
            .and_then(|id| snapshots.query_of(id))
            .is_some_and(|q| q != fingerprint);
    if issued_for_other {
        return Err(rendered(Error::BadRequest(
            "continue key is not valid: it was issued for another list (another path or selector)"
                .to_owned(),
        )));
    }
    match continued.snapshot.map(|id| (id, snapshots.get(id, now))) {
        Some((id, Some((items, rv)))) => {
            let next = token(Some(id), &rv);
            Ok(page(&items, Some(&continued.after), limit, next, unfiltered, rv))
        }
        Some((_, None)) => {
            let fresh = Token { snapshot: None, rv: String::new(), ..continued };
            let status = json!({
                "kind": "Status", "apiVersion": "v1",
                "metadata": { "continue": fresh.encode() },
                "status": "Failure", "message": EXPIRED_CONTINUE, "reason": "Expired", "code": 410,
            });
            Err((StatusCode::GONE, Json(status)).into_response())
        }
        None => {
            // The inconsistent remainder: the current state after the same key, from now on
            // a consistent snapshot of its own.
            let latest =
                ListParams { resource_version: None, version_match: VersionMatch::Unset, ..params };
            let list = cluster.list(rt, namespace, &latest).await.map_err(rendered)?;
            let items = Arc::new(list.items);
            let id = snapshots.insert(
                fingerprint,
                Arc::clone(&items),
                list.resource_version.clone(),
                now,
            );
            let next = token(Some(id), &list.resource_version);
            Ok(page(&items, Some(&continued.after), limit, next, unfiltered, list.resource_version))
        }
    }
}

/// The JSON of a list page (`{kind}List`).
pub(crate) fn body(rt: &ResourceType, page: &ListPage) -> Value {
    let mut metadata = json!({ "resourceVersion": page.resource_version });
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(count) = page.remaining_item_count {
        metadata["remainingItemCount"] = json!(count);
    }
    json!({
        "apiVersion": rt.api_version(), "kind": format!("{}List", rt.kind),
        "metadata": metadata, "items": page.items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(names: &[&str]) -> Vec<Object> {
        names.iter().map(|n| Object::new("v1", "ConfigMap", Some("ns"), n)).collect()
    }

    fn names(page: &ListPage) -> Vec<&str> {
        page.items.iter().map(Object::name).collect()
    }

    #[test]
    fn pages_follow_the_last_key_and_count_what_remains() {
        let items = objects(&["a", "b", "c", "d", "e"]);
        let first = page(&items, None, Some(2), |k| k.1, true, "7".into());
        assert_eq!((names(&first), first.continue_token.as_deref()), (vec!["a", "b"], Some("b")));
        assert_eq!(first.remaining_item_count, Some(3));
        let after = ("ns".to_owned(), "b".to_owned());
        let second = page(&items, Some(&after), Some(2), |k| k.1, false, "7".into());
        assert_eq!((names(&second), second.remaining_item_count), (vec!["c", "d"], None));
        let after = ("ns".to_owned(), "d".to_owned());
        let last = page(&items, Some(&after), Some(2), |k| k.1, true, "7".into());
        assert_eq!((names(&last), last.continue_token.as_deref()), (vec!["e"], None));
        // A key that vanished meanwhile still finds its place.
        let after = ("ns".to_owned(), "bb".to_owned());
        assert_eq!(
            names(&page(&items, Some(&after), None, |k| k.1, true, "7".into())),
            ["c", "d", "e"]
        );
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_a_bad_request() {
        let token = Token {
            v: TOKEN_VERSION.into(),
            snapshot: Some(3),
            query: 42,
            rv: "9".into(),
            after: ("ns".into(), "a".into()),
        };
        assert_eq!(Token::decode(&token.encode()).unwrap(), token);
        for bad in [
            "%%%",
            "e30",
            &URL_SAFE_NO_PAD.encode(br#"{"v":"other","query":1,"rv":"","after":["",""]}"#),
        ] {
            assert_eq!(Token::decode(bad).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn snapshots_expire_by_age_and_by_capacity() {
        let snapshots = Snapshots::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let items = Arc::new(objects(&["a"]));
        let first = snapshots.insert(1, Arc::clone(&items), "1".into(), t0);
        assert!(snapshots.get(first, t0 + Duration::from_secs(59)).is_some());
        assert!(snapshots.get(first, t0 + Duration::from_secs(60)).is_none(), "too old");
        let second = snapshots.insert(1, Arc::clone(&items), "2".into(), t0);
        snapshots.insert(1, Arc::clone(&items), "3".into(), t0);
        assert!(snapshots.get(first, t0).is_none(), "the oldest went first");
        assert_eq!(snapshots.get(second, t0).map(|s| s.1), Some("2".to_owned()));
    }

    #[test]
    fn list_parameters_are_read_and_checked() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let p = params(&q(&[("resourceVersion", "5"), ("resourceVersionMatch", "Exact")])).unwrap();
        assert_eq!(
            (p.resource_version.as_deref(), p.version_match),
            (Some("5"), VersionMatch::Exact)
        );
        assert_eq!(params(&q(&[("resourceVersionMatch", "Newest")])).unwrap_err().status(), 422);
        assert_eq!(limit(&q(&[("limit", "0")])).unwrap(), None);
        assert_eq!(limit(&q(&[("limit", "x")])).unwrap_err().status(), 400);
    }
}
