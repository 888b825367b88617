//! Raising the soft limit on open files (`RLIMIT_NOFILE`) to the hard limit at start, as Go
//! does for every program since 1.19: weir holds the API's and the proxy's connections, the
//! store and the pods' pipes in one process, and the common soft limit of 1,024 is soon reached.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; logs (and otherwise ignores) a failure.
pub(crate) fn raise_to_hard_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let before = limit.current;
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => tracing::debug!(?before, after = ?limit.maximum, "raised the open-file limit"),
        Err(e) => tracing::warn!(error = %e, ?before, "cannot raise the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        raise_to_hard_limit();
        let limit = getrlimit(Resource::Nofile);
        assert_eq!(limit.current, limit.maximum);
    }
}
