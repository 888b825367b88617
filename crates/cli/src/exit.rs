//! How a command's output and failure reach the user: standard output that may be a closed
//! pipe (`weir get … -o json | head` ends quietly, as `weir demo traffic` does), and one error
//! line that says each cause once.

use std::io::Write;

/// Writes `text` to standard output and flushes it. A closed pipe comes back as an
/// [`std::io::ErrorKind::BrokenPipe`] error, which [`is_closed_pipe`] recognises, instead of
/// `println!`'s panic.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Whether `error` (or any of its causes) is a write to a closed pipe: the reader (`head`) has
/// what it wanted, so the command ends quietly.
pub(crate) fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Makes a `println!` to a closed pipe (the commands that do not use [`print`]) end the
/// process quietly with success instead of panicking with a backtrace; every other panic is
/// reported as before.
pub(crate) fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The error line for `error`: its message followed by each cause that the messages before it
/// do not already include (libraries often put their cause in their own message too, and
/// `{:#}` would repeat it), with an address already in use said in words.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let own = cause.to_string();
        if own.is_empty() || text.contains(&own) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&own);
    }
    for cause in error.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && let Some(words) = io_words(io.kind())
        {
            text = text.replace(&io.to_string(), words);
        }
    }
    text
}

/// Plain words for the I/O errors a user meets when starting weir.
fn io_words(kind: std::io::ErrorKind) -> Option<&'static str> {
    match kind {
        std::io::ErrorKind::AddrInUse => Some("address in use"),
        std::io::ErrorKind::AddrNotAvailable => Some("address not available"),
        std::io::ErrorKind::PermissionDenied => Some("permission denied"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:7171: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start the proxy: {0}")]
    struct Wraps(#[source] Repeats);

    fn in_use() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::AddrInUse)
    }

    fn os_in_use() -> std::io::Error {
        // EADDRINUSE (98 on Linux): displayed "Address already in use (os error 98)".
        std::io::Error::from_raw_os_error(98)
    }

    /// Each cause once: the shapes `weir up`'s bind errors had (a thiserror message that
    /// includes its source, wrapped by another that includes its own).
    #[test]
    fn each_cause_is_said_once() {
        let cases: [(anyhow::Error, &str); 4] = [
            (
                anyhow::Error::new(Repeats { source: os_in_use() }),
                "cannot listen on 127.0.0.1:7171: address in use",
            ),
            (
                anyhow::Error::new(Wraps(Repeats { source: os_in_use() })),
                "cannot start the proxy: cannot listen on 127.0.0.1:7171: address in use",
            ),
            (anyhow::Error::new(in_use()).context("binding"), "binding: address in use"),
            (
                anyhow::anyhow!("no such application").context("application \"x\""),
                "application \"x\": no such application",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error_text(&error), expected, "{error:?}");
        }
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let closed = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("printing");
        assert!(is_closed_pipe(&closed));
        assert!(!is_closed_pipe(&anyhow::Error::new(in_use())));
    }
}
