//! Watch events, serialized as Kubernetes sends them (`{"type":"ADDED","object":{…}}`).

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{Object, Result};

/// One change to one object. `Bookmark` carries only a resourceVersion to resume from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "object", rename_all = "UPPERCASE")]
pub enum WatchEvent {
    /// The object was created (or existed when an initial replay started).
    Added(Object),
    /// The object changed.
    Modified(Object),
    /// The object is gone; this is its last state.
    Deleted(Object),
    /// Nothing changed for this watch up to the object's resourceVersion.
    Bookmark(Object),
}

impl WatchEvent {
    /// The object the event carries.
    pub fn object(&self) -> &Object {
        match self {
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o) => o,
        }
    }

    /// The resourceVersion to resume a watch from after this event.
    pub fn resource_version(&self) -> Option<&str> {
        self.object().metadata.resource_version.as_deref()
    }
}

/// A stream of watch events; an `Err(Error::Expired)` item means "relist and watch again".
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;
