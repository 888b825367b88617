//! The operation messages of a running or failing sync, worded as gitops-engine words them
//! (`setRunningPhase`, `executeSyncFailPhase`).

use crate::ResourceKey;

/// A task the operation waits for.
#[derive(Debug, Clone, Copy)]
pub struct Waiting<'a> {
    /// The task's resource.
    pub key: &'a ResourceKey,
    /// True for hooks.
    pub hook: bool,
}

/// `waiting for <reason> <group>/<kind>/<name>[ and N more hooks|resources]`; a hook, if any,
/// is named first; "hooks" only when every task is a hook. Empty for no tasks.
pub fn running_message(tasks: &[Waiting<'_>], pending_deletion: bool) -> String {
    let Some(first) = tasks.iter().find(|t| t.hook).or(tasks.first()) else {
        return String::new();
    };
    let reason = match (pending_deletion, first.hook) {
        (true, true) => "deletion of hook",
        (true, false) => "deletion of",
        (false, true) => "completion of hook",
        (false, false) => "healthy state of",
    };
    let k = first.key;
    let mut message = format!("waiting for {reason} {}/{}/{}", k.group, k.kind, k.name);
    if tasks.len() > 1 {
        let noun = if tasks.iter().all(|t| t.hook) { "hooks" } else { "resources" };
        message.push_str(&format!(" and {} more {noun}", tasks.len() - 1));
    }
    message
}

/// The message of a failed operation: `message, reason: a,b` (distinct task messages), then
/// `\none or more SyncFail hooks failed, reason: …` when SyncFail hooks failed.
pub fn sync_fail_message(
    message: &str,
    failed: &[&str],
    failed_sync_fail_hooks: &[&str],
) -> String {
    let mut out = message.to_string();
    let distinct = |items: &[&str]| {
        let mut seen: Vec<&str> = Vec::new();
        for m in items {
            if !seen.contains(m) {
                seen.push(m);
            }
        }
        seen.join(",")
    };
    if !failed.is_empty() {
        out.push_str(&format!(", reason: {}", distinct(failed)));
    }
    if !failed_sync_fail_hooks.is_empty() {
        out.push_str(&format!(
            "\none or more SyncFail hooks failed, reason: {}",
            distinct(failed_sync_fail_hooks)
        ));
    }
    out
}
