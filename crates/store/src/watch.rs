//! Watches: replay from the `events` table, then live changes.
//!
//! Writers never talk to watchers directly. Each commit stores its events in the same
//! transaction and then bumps a `tokio::sync::watch` channel holding the last revision; a
//! watch stream that is behind re-reads the events table from its own position. So a slow
//! watcher never blocks a writer, never lags out of a buffer, and never misses an event.
//!
//! Rules:
//! - `resource_version` `None`, `""` or `"0"`: one `ADDED` per existing matching object (each
//!   with its own resourceVersion), read in one snapshot, then every change after it.
//! - `Some(rv)`: every change with a resourceVersion greater than `rv`. If events after `rv`
//!   were already pruned, `watch()` itself returns [`Error::Expired`] (`oldest` is the oldest
//!   resourceVersion one can still watch from). A watcher that falls that far behind *while*
//!   streaming gets one `Err(Expired)` item and the stream ends; it never skips silently.
//! - A non-numeric `rv` is a `BadRequest`.
//! - Filters: group and kind, namespace (for namespaced types), and the label selector, as
//!   Kubernetes' watch cache applies it: a MODIFIED that makes an object start matching is
//!   sent as ADDED, one that makes it stop matching as DELETED (carrying the new state), and
//!   changes of objects that match neither before nor after are not sent.
//! - Field selectors likewise, with the selectable fields an object had before a change
//!   (stored with the event when the change altered them).
//! - `send_initial_events`: one `ADDED` per existing matching object (whatever
//!   `resource_version` says: the current state is at least as new), then a `BOOKMARK` at the
//!   snapshot's revision annotated `k8s.io/initial-events-end: "true"`, then live changes.
//! - Bookmarks: with `bookmarks`, a stream idle for `StoreOptions::bookmark_interval` yields a
//!   `BOOKMARK` whose object carries only apiVersion, kind and `metadata.resourceVersion`.
//!
//! The stream is `'static + Send` and keeps the store open while it lives.
//!
//! Live watchers are served from [`Recent`], an in-memory window of the latest changes the
//! writer fills after each commit (under the writer lock, so in order and without gaps); only
//! a watcher behind that window reads the events table. With 100 watchers this keeps the
//! database out of the fan-out path.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, params};
use weir_cluster::{
    Error, FieldSelector, INITIAL_EVENTS_END, LabelSelector, Object, ResourceType, Result,
    WatchEvent, WatchParams, WatchStream,
};

use crate::Store;
use crate::error::sql;
use crate::object::{Key, decode};
use crate::tx::{self, Change, EventType, Fields, Labels, Prev, meta_get};

/// Events read per query.
const BATCH: usize = 512;

/// The latest committed changes: exactly those with `start < rv <= start + len`.
#[derive(Debug)]
pub(crate) struct Recent {
    start: u64,
    capacity: usize,
    changes: VecDeque<Arc<Change>>,
}

impl Recent {
    pub(crate) fn new(revision: u64, capacity: usize) -> Recent {
        Recent { start: revision, capacity, changes: VecDeque::new() }
    }

    fn end(&self) -> u64 {
        self.start + self.changes.len() as u64
    }

    /// Appends one transaction's changes (consecutive resourceVersions).
    pub(crate) fn push(&mut self, changes: Vec<Change>) {
        for change in changes {
            if change.rv != self.end() + 1 {
                // Not contiguous (cannot happen with one writer); restart the window.
                self.changes.clear();
                self.start = change.rv.saturating_sub(1);
            }
            self.changes.push_back(Arc::new(change));
        }
        while self.changes.len() > self.capacity {
            self.changes.pop_front();
            self.start += 1;
        }
    }

    /// The matching events after `last`, and the position reached; `None` if `last` is
    /// before the window.
    fn read(&self, f: &Filter, last: u64) -> Option<(u64, Vec<WatchEvent>)> {
        if last < self.start {
            return None;
        }
        let skip = usize::try_from(last - self.start).ok()?;
        let events = self
            .changes
            .iter()
            .skip(skip)
            .filter(|c| {
                c.key.group == f.group
                    && c.key.kind == f.kind
                    && f.namespace.as_ref().is_none_or(|ns| *ns == c.key.namespace)
            })
            .filter_map(|c| f.event(c.kind, c.obj.clone(), &c.prev))
            .collect();
        Some((self.end().max(last), events))
    }
}

#[derive(Debug)]
struct Filter {
    api_version: String,
    group: String,
    kind: String,
    namespace: Option<String>,
    selector: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    fn matches(&self, obj: &Object) -> bool {
        self.selector.as_ref().is_none_or(|s| s.matches(obj.metadata.labels.as_ref()))
            && self.fields.as_ref().is_none_or(|f| f.matches(&self.group, &self.kind, obj))
    }

    /// Whether the object matched before a change whose earlier labels and fields are `prev`
    /// (each `None` when the change left it as it is now).
    fn matched_before(&self, obj: &Object, prev: &Prev) -> bool {
        let labels = prev.labels.as_ref().or(obj.metadata.labels.as_ref());
        self.selector.as_ref().is_none_or(|s| s.matches(labels))
            && self.fields.as_ref().is_none_or(|f| match &prev.fields {
                Some(fields) => f.matches_fields(
                    obj.metadata.name.as_deref().unwrap_or_default(),
                    obj.metadata.namespace.as_deref().unwrap_or_default(),
                    fields,
                ),
                None => f.matches(&self.group, &self.kind, obj),
            })
    }

    /// The event a change becomes for this watch, if any (see the module docs).
    fn event(&self, kind: EventType, obj: Object, prev: &Prev) -> Option<WatchEvent> {
        let now = self.matches(&obj);
        let filtered = self.selector.is_some() || self.fields.is_some();
        let kind = match kind {
            EventType::Modified if filtered && (prev.labels.is_some() || prev.fields.is_some()) => {
                match (self.matched_before(&obj, prev), now) {
                    (true, true) => EventType::Modified,
                    (false, true) => EventType::Added,
                    (true, false) => EventType::Deleted,
                    (false, false) => return None,
                }
            }
            _ if now => kind,
            _ => return None,
        };
        let mut obj = obj;
        obj.api_version.clone_from(&self.api_version);
        Some(match kind {
            EventType::Added => WatchEvent::Added(obj),
            EventType::Modified => WatchEvent::Modified(obj),
            EventType::Deleted => WatchEvent::Deleted(obj),
        })
    }
}

#[derive(Debug)]
struct State {
    store: Store,
    filter: Arc<Filter>,
    /// Every event up to here has been read (and, if it matched, queued).
    last: u64,
    buf: VecDeque<WatchEvent>,
    rx: tokio::sync::watch::Receiver<u64>,
    bookmarks: Option<Duration>,
    done: bool,
}

pub(crate) async fn watch(
    store: &Store,
    rt: &ResourceType,
    namespace: Option<&str>,
    params: &WatchParams,
) -> Result<WatchStream> {
    let start = match params.resource_version.as_deref() {
        None | Some("" | "0") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            Error::BadRequest(format!("invalid resourceVersion {rv:?}: expected a number"))
        })?),
    };
    let filter = Arc::new(Filter {
        api_version: rt.api_version(),
        group: rt.group.clone(),
        kind: rt.kind.clone(),
        namespace: namespace.filter(|ns| rt.namespaced() && !ns.is_empty()).map(str::to_owned),
        selector: params.label_selector.clone(),
        fields: params.field_selector.clone(),
    });
    if let Some(fields) = &params.field_selector {
        fields.check(&rt.group, &rt.kind)?;
    }
    let initial_events = params.send_initial_events;
    // Subscribe before reading, so no commit between the read and the first wait is missed.
    let rx = store.inner.notify.subscribe();
    let f = Arc::clone(&filter);
    let (last, initial) = store
        .blocking(move |inner| {
            inner.read(|conn| {
                let compacted = meta_get(conn, "compacted")?;
                let revision = meta_get(conn, "revision")?;
                match start {
                    Some(rv) if rv < compacted && !initial_events => {
                        Err(Error::Expired { requested: rv, oldest: compacted })
                    }
                    Some(rv) if !initial_events => Ok((rv, VecDeque::new())),
                    // No version, or a streaming list: the current state is at least as new.
                    _ => {
                        let items = tx::list(conn, &f.group, &f.kind, f.namespace.as_deref())?;
                        let added = items
                            .into_iter()
                            .filter(|o| f.matches(o))
                            .map(|mut o| {
                                o.api_version.clone_from(&f.api_version);
                                WatchEvent::Added(o)
                            })
                            .collect::<VecDeque<_>>();
                        let mut events = added;
                        if initial_events {
                            let mut end = bookmark(&f, revision);
                            if let WatchEvent::Bookmark(obj) = &mut end {
                                obj.metadata.annotations = Some(
                                    [(INITIAL_EVENTS_END.to_owned(), "true".to_owned())].into(),
                                );
                            }
                            events.push_back(end);
                        }
                        Ok((revision, events))
                    }
                }
            })
        })
        .await?;
    let state = State {
        store: store.clone(),
        filter,
        last,
        buf: initial,
        rx,
        bookmarks: params.bookmarks.then_some(store.inner.opts.bookmark_interval),
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(state, next)))
}

async fn next(mut s: State) -> Option<(Result<WatchEvent>, State)> {
    loop {
        if let Some(event) = s.buf.pop_front() {
            return Some((Ok(event), s));
        }
        if s.done {
            return None;
        }
        let committed = *s.rx.borrow_and_update();
        if committed > s.last {
            let cached = {
                let recent = s.store.inner.recent.lock().unwrap_or_else(PoisonError::into_inner);
                recent.read(&s.filter, s.last)
            };
            if let Some((last, events)) = cached {
                s.last = last;
                s.buf.extend(events);
                continue;
            }
            let (filter, last) = (Arc::clone(&s.filter), s.last);
            let batch =
                s.store.blocking(move |inner| inner.read(|c| read_batch(c, &filter, last))).await;
            match batch {
                Ok((last, events)) => {
                    s.last = last;
                    s.buf.extend(events);
                }
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            }
            continue;
        }
        let changed = match s.bookmarks {
            Some(every) => match tokio::time::timeout(every, s.rx.changed()).await {
                Ok(changed) => changed,
                Err(_idle) => {
                    let event = bookmark(&s.filter, s.last);
                    return Some((Ok(event), s));
                }
            },
            None => s.rx.changed().await,
        };
        if changed.is_err() {
            return None;
        }
    }
}

fn bookmark(filter: &Filter, rv: u64) -> WatchEvent {
    let mut obj = Object {
        api_version: filter.api_version.clone(),
        kind: filter.kind.clone(),
        ..Object::default()
    };
    obj.metadata.resource_version = Some(rv.to_string());
    WatchEvent::Bookmark(obj)
}

/// Reads the events after `last` that the filter selects; returns the new position.
fn read_batch(conn: &Connection, f: &Filter, last: u64) -> Result<(u64, Vec<WatchEvent>)> {
    let compacted = meta_get(conn, "compacted")?;
    if last < compacted {
        return Err(Error::Expired { requested: last, oldest: compacted });
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT rv, namespace, name, type, body, prev_labels, prev_fields FROM events
             WHERE grp = ?1 AND kind = ?2 AND rv > ?3 AND (?4 IS NULL OR namespace = ?4)
             ORDER BY rv LIMIT ?5",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(
            params![
                f.group,
                f.kind,
                i64::try_from(last).unwrap_or(i64::MAX),
                f.namespace,
                i64::try_from(BATCH).unwrap_or(512)
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .map_err(sql)?;
    let mut events = Vec::new();
    let mut count = 0;
    let mut position = last;
    for row in rows {
        let (rv, namespace, name, kind, body, prev_labels, prev_fields) = row.map_err(sql)?;
        count += 1;
        position = u64::try_from(rv).unwrap_or(position);
        let key = Key { group: f.group.clone(), kind: f.kind.clone(), namespace, name };
        let Some(kind) = EventType::parse(&kind) else {
            return Err(Error::Internal(format!("stored event {rv} has unknown type {kind:?}")));
        };
        let obj = decode(&body, &key)?;
        let parse = |text: Option<String>| -> Result<Option<Labels>> {
            text.map(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    Error::Internal(format!("stored event {rv} of {key} is damaged: {e}"))
                })
            })
            .transpose()
        };
        let prev: Prev =
            Prev { labels: parse(prev_labels)?, fields: parse(prev_fields)? as Option<Fields> };
        events.extend(f.event(kind, obj, &prev));
    }
    if count < BATCH {
        // Everything up to the snapshot's revision has been seen.
        position = position.max(meta_get(conn, "revision")?);
    }
    Ok((position, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(rv: u64, name: &str) -> Change {
        Change {
            rv,
            key: Key {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: "ns".into(),
                name: name.into(),
            },
            kind: EventType::Added,
            obj: Object::new("v1", "ConfigMap", Some("ns"), name),
            prev: Prev::default(),
        }
    }

    fn filter() -> Filter {
        Filter {
            api_version: "v1".into(),
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: None,
            selector: None,
            fields: None,
        }
    }

    fn names(events: &[WatchEvent]) -> Vec<&str> {
        events.iter().map(|e| e.object().name()).collect()
    }

    #[test]
    fn the_window_keeps_the_latest_changes_and_knows_what_it_lacks() {
        let mut recent = Recent::new(10, 3);
        recent.push(vec![change(11, "a"), change(12, "b")]);
        recent.push(vec![change(13, "c"), change(14, "d")]);
        assert_eq!(recent.start, 11);
        assert!(recent.read(&filter(), 10).is_none(), "rv 11 was evicted");
        let (last, events) = recent.read(&filter(), 11).unwrap();
        assert_eq!((last, names(&events)), (14, vec!["b", "c", "d"]));
        let (last, events) = recent.read(&filter(), 14).unwrap();
        assert_eq!((last, events.len()), (14, 0));
        // A gap restarts the window rather than serving a hole.
        recent.push(vec![change(20, "e")]);
        assert!(recent.read(&filter(), 14).is_none());
        assert_eq!(names(&recent.read(&filter(), 19).unwrap().1), vec!["e"]);
    }
}
