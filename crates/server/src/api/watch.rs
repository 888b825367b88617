//! Watch query parameters as the API server reads and validates them: `resourceVersion`,
//! `labelSelector`, `fieldSelector`, `allowWatchBookmarks`, `sendInitialEvents` with
//! `resourceVersionMatch=NotOlderThan` (a streaming list), and `timeoutSeconds` (the stream
//! ends cleanly after it).

use std::collections::HashMap;
use std::time::Duration;

use weir_cluster::{Error, FieldError, Result, WatchParams};

use super::list::{field_selector, label_selector};

fn invalid(field: &str, message: &str) -> Error {
    Error::Invalid {
        kind: "ListOptions.meta.k8s.io".to_owned(),
        name: String::new(),
        causes: vec![FieldError { field: field.to_owned(), message: message.to_owned() }],
    }
}

fn flag(query: &HashMap<String, String>, name: &str) -> Result<Option<bool>> {
    match query.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(Error::BadRequest(format!(
            "invalid value {other:?} of {name}: expected true or false"
        ))),
    }
}

/// The watch parameters of a `?watch=true` request, validated as the API server does
/// (`ValidateListOptions`: a streaming list needs `resourceVersionMatch=NotOlderThan` and
/// `allowWatchBookmarks=true`; `resourceVersionMatch` on a watch needs `sendInitialEvents`).
pub(crate) fn params(query: &HashMap<String, String>) -> Result<WatchParams> {
    let send_initial_events = flag(query, "sendInitialEvents")?;
    let bookmarks = flag(query, "allowWatchBookmarks")?.unwrap_or(false);
    let version_match = query.get("resourceVersionMatch").filter(|m| !m.is_empty());
    match (send_initial_events, version_match.map(String::as_str)) {
        (Some(_), Some("NotOlderThan")) => {}
        (Some(_), _) => {
            return Err(invalid(
                "sendInitialEvents",
                "Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch \
                 is set to NotOlderThan",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents \
                 is provided",
            ));
        }
        (None, None) => {}
    }
    if send_initial_events.is_some() && !bookmarks {
        return Err(invalid(
            "allowWatchBookmarks",
            "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
        ));
    }
    Ok(WatchParams {
        resource_version: query.get("resourceVersion").filter(|rv| !rv.is_empty()).cloned(),
        label_selector: label_selector(query)?,
        field_selector: field_selector(query)?,
        bookmarks,
        send_initial_events: send_initial_events == Some(true),
    })
}

/// `timeoutSeconds`: how long the stream lasts (`None`: until the client goes).
pub(crate) fn timeout(query: &HashMap<String, String>) -> Result<Option<Duration>> {
    match query.get("timeoutSeconds").filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
            Err(_) => Err(Error::BadRequest(format!(
                "invalid timeoutSeconds {text:?}: expected a whole number of seconds"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_streaming_list_as_client_go_asks_for_it_is_accepted() {
        // client-go's reflector with WatchListClient: these three parameters together.
        let p = params(&query(&[
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
            ("allowWatchBookmarks", "true"),
            ("fieldSelector", "metadata.name=x"),
        ]))
        .unwrap();
        assert!(p.send_initial_events && p.bookmarks);
        assert_eq!(p.field_selector.unwrap().to_string(), "metadata.name=x");
    }

    #[test]
    fn inconsistent_watch_options_are_refused_as_the_api_server_does() {
        for bad in [
            &[("sendInitialEvents", "true"), ("allowWatchBookmarks", "true")][..],
            &[("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")][..],
            &[("resourceVersionMatch", "NotOlderThan")][..],
        ] {
            let err = params(&query(bad)).unwrap_err();
            assert_eq!(err.status(), 422, "{bad:?}");
        }
        assert_eq!(params(&query(&[("fieldSelector", "nope")])).unwrap_err().status(), 400);
    }

    #[test]
    fn timeouts_are_whole_seconds() {
        assert_eq!(
            timeout(&query(&[("timeoutSeconds", "5")])).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(timeout(&query(&[])).unwrap(), None);
        assert!(timeout(&query(&[("timeoutSeconds", "-1")])).is_err());
    }
}
