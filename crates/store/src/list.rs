//! Lists: label and field selectors, and which version of the data a list reads
//! (`resourceVersion` with `resourceVersionMatch`), as the Kubernetes API server answers them:
//!
//! | resourceVersion | match          | answer                                                     |
//! |-----------------|----------------|------------------------------------------------------------|
//! | unset           | unset          | the latest state                                           |
//! | unset           | set            | 422: the match needs a resourceVersion                     |
//! | `0`             | unset/NotOlder | the latest state (any is allowed)                          |
//! | `0`             | Exact          | 422, as the API server refuses it                          |
//! | `N`             | unset/NotOlder | the latest state if `N` ≤ the store's revision, else 504 `Too large resource version` |
//! | `N`             | Exact          | the state at `N`, rebuilt from the events table; 410 `Expired` when that history is pruned; 504 if `N` is in the future |

use weir_cluster::{
    Error, FieldError, ListParams, Object, ObjectList, ResourceType, Result, VersionMatch,
};

use crate::store::Inner;
use crate::tx::{self, meta_get};

/// Which state a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Latest,
    /// Exactly at this revision.
    At(u64),
    /// The latest, which must be at least this revision.
    NotOlderThan(u64),
}

fn invalid_options(message: &str) -> Error {
    Error::Invalid {
        kind: "ListOptions.meta.k8s.io".to_owned(),
        name: String::new(),
        causes: vec![FieldError {
            field: "resourceVersionMatch".to_owned(),
            message: message.to_owned(),
        }],
    }
}

fn read_of(params: &ListParams) -> Result<Read> {
    let rv = params.resource_version.as_deref().filter(|rv| !rv.is_empty());
    let parsed = rv
        .map(|rv| {
            rv.parse::<u64>().map_err(|_| {
                Error::BadRequest(format!("invalid resourceVersion {rv:?}: expected a number"))
            })
        })
        .transpose()?;
    Ok(match (parsed, params.version_match) {
        (None, VersionMatch::Unset) => Read::Latest,
        (None, _) => {
            return Err(invalid_options(
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        (Some(0), VersionMatch::Exact) => {
            return Err(invalid_options(
                "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        (Some(0), _) => Read::Latest,
        (Some(n), VersionMatch::Exact) => Read::At(n),
        (Some(n), _) => Read::NotOlderThan(n),
    })
}

fn too_large(requested: u64, current: u64) -> Error {
    Error::Timeout(format!("Too large resource version: {requested}, current: {current}"))
}

/// Lists objects of `rt` as `params` ask (see the module docs).
pub(crate) fn list(
    inner: &Inner,
    rt: &ResourceType,
    namespace: Option<&str>,
    params: &ListParams,
) -> Result<ObjectList> {
    if let Some(fields) = &params.field_selector {
        fields.check(&rt.group, &rt.kind)?;
    }
    let read = read_of(params)?;
    let (items, revision) = inner.read(|conn| {
        let revision = meta_get(conn, "revision")?;
        let items = match read {
            Read::Latest => tx::list(conn, &rt.group, &rt.kind, namespace)?,
            Read::NotOlderThan(n) if n > revision => return Err(too_large(n, revision)),
            Read::NotOlderThan(_) => tx::list(conn, &rt.group, &rt.kind, namespace)?,
            Read::At(n) if n > revision => return Err(too_large(n, revision)),
            Read::At(n) if n == revision => tx::list(conn, &rt.group, &rt.kind, namespace)?,
            Read::At(n) => {
                let compacted = meta_get(conn, "compacted")?;
                let rebuilt = if n >= compacted {
                    tx::list_at(conn, &rt.group, &rt.kind, namespace, n)?
                } else {
                    None
                };
                let Some(items) = rebuilt else {
                    return Err(Error::Expired { requested: n, oldest: compacted });
                };
                return Ok((items, n));
            }
        };
        Ok((items, revision))
    })?;
    let api_version = rt.api_version();
    let items = items
        .into_iter()
        .filter(|o| {
            params.label_selector.as_ref().is_none_or(|s| s.matches(o.metadata.labels.as_ref()))
        })
        .filter(|o| {
            params.field_selector.as_ref().is_none_or(|f| f.matches(&rt.group, &rt.kind, o))
        })
        .map(|mut o: Object| {
            o.api_version.clone_from(&api_version);
            o
        })
        .collect();
    Ok(ObjectList { items, resource_version: revision.to_string() })
}
