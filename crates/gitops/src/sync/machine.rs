//! The step-by-step sync operation as a pure state machine (gitops-engine's `Sync()`): each
//! controller pass calls [`next`] with the current [`SyncOperation`], the ordered tasks and the
//! observed health of live objects. It first updates running tasks from health, then either
//! decides the operation (wait, fail, succeed) or runs the next (phase, wave): the returned
//! [`Action`]s are executed by the caller, whose outcomes go to [`SyncOperation::record`].
//! Finally [`SyncOperation::finish_wave`] sets the operation's phase and message, and asks for
//! the SyncFail hooks when the wave failed. Hooks are re-created after their old object is
//! deleted (`BeforeHookCreation`); once the operation completes,
//! [`SyncOperation::hooks_to_delete`] names the hooks `HookSucceeded`/`HookFailed` remove.
//! A wave starts only when the objects pruned before it are gone.

use serde_json::Value;

use super::annotations::{self, DeletePolicy, SYNC_OPTIONS};
use super::messages::{Waiting, running_message, sync_fail_message};
use super::order::{SyncPhase, SyncTask, is_multi_step};
use crate::ResourceKey;
use crate::health::{Health, HealthStatus};

/// Operation (and hook) phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationPhase {
    /// In progress.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly.
    Failed,
    /// Could not run.
    Error,
}

/// Per-resource result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// Applied.
    Synced,
    /// Apply or prune failed.
    SyncFailed,
    /// Deleted.
    Pruned,
    /// Prune left out (pruning off or `Prune=false`).
    PruneSkipped,
}

/// The result of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// The resource.
    pub key: ResourceKey,
    /// The phase it ran in.
    pub sync_phase: SyncPhase,
    /// The result code.
    pub status: ResultCode,
    /// Running/Succeeded/Failed for the task itself.
    pub hook_phase: OperationPhase,
    /// Message (apply output, error, health message).
    pub message: String,
    /// True for hooks.
    pub hook: bool,
}

/// Options of a sync operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Prune live objects without a target.
    pub prune: bool,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create or update this object.
    Apply(Value),
    /// Delete this live object (a prune).
    Delete(ResourceKey),
    /// Delete the live object of a hook before creating it again (`BeforeHookCreation`); its
    /// outcome is not recorded: the hook is created in a later pass, once the object is gone.
    Recreate(ResourceKey),
}

/// An operation in progress (Argo CD's `operationState` of a sync).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOperation {
    /// Phase.
    pub phase: OperationPhase,
    /// Message.
    pub message: String,
    /// Per-task results, in execution order.
    pub results: Vec<TaskResult>,
}

impl Default for SyncOperation {
    fn default() -> Self {
        SyncOperation {
            phase: OperationPhase::Running,
            message: String::new(),
            results: Vec::new(),
        }
    }
}

/// What [`next`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to run; the operation's phase and message are set.
    Decided,
    /// Run these tasks (indexes into the task list) by executing `actions` in order; report
    /// each outcome of an `Apply` or `Delete` with [`SyncOperation::record`], then call
    /// [`SyncOperation::finish_wave`] (which may ask to run SyncFail hooks next).
    Run {
        /// Task indexes.
        tasks: Vec<usize>,
        /// One action per task that needs one (PruneSkipped tasks have none).
        actions: Vec<(usize, Action)>,
    },
}

fn key_of(task: &SyncTask) -> ResourceKey {
    ResourceKey::of(task.obj())
}

impl SyncOperation {
    fn result_index(&self, task: &SyncTask) -> Option<usize> {
        let key = key_of(task);
        self.results.iter().position(|r| r.key == key && r.sync_phase == task.phase)
    }

    fn set_result(
        &mut self,
        task: &SyncTask,
        status: ResultCode,
        phase: OperationPhase,
        message: &str,
    ) {
        let result = TaskResult {
            key: key_of(task),
            sync_phase: task.phase,
            status,
            hook_phase: phase,
            message: message.to_string(),
            hook: task.is_hook(),
        };
        match self.result_index(task) {
            Some(i) => self.results[i] = result,
            None => self.results.push(result),
        }
    }

    /// Records the outcome of an action of a [`Step::Run`]: `Ok(message)` or `Err(error)`. A
    /// prune's message is the caller's (`pruned`, or `pruned (dry run)`), `pruned` if empty.
    pub fn record(&mut self, task: &SyncTask, outcome: Result<&str, &str>) {
        match (task.is_prune(), outcome) {
            (true, Ok(m)) => {
                let message = if m.is_empty() { "pruned" } else { m };
                self.set_result(task, ResultCode::Pruned, OperationPhase::Succeeded, message)
            }
            (_, Err(e)) => self.set_result(task, ResultCode::SyncFailed, OperationPhase::Failed, e),
            (false, Ok(m)) => self.set_result(task, ResultCode::Synced, OperationPhase::Running, m),
        }
    }

    /// Sets phase and message after a wave ran. Returns [`Step::Run`] when the wave failed and
    /// SyncFail hooks must run now (execute and record them, then call this again with them),
    /// else [`Step::Decided`].
    pub fn finish_wave(&mut self, tasks: &[SyncTask], ran: &[usize]) -> Step {
        if !ran.is_empty() && ran.iter().all(|i| tasks[*i].phase == SyncPhase::SyncFail) {
            // SyncFail hooks were just started: the operation stays Running until they end.
            self.set_running(tasks, ran);
            return Step::Decided;
        }
        let failed = ran.iter().any(|i| {
            self.result_index(&tasks[*i])
                .is_some_and(|r| self.results[r].status == ResultCode::SyncFailed)
        });
        if failed {
            return self.fail(tasks, "one or more objects failed to apply");
        }
        let remaining = tasks.iter().enumerate().any(|(i, t)| {
            t.phase != SyncPhase::SyncFail && !ran.contains(&i) && self.result_index(t).is_none()
        });
        let recreating = ran.iter().any(|i| self.result_index(&tasks[*i]).is_none());
        if !remaining && !recreating && !ran.iter().any(|i| tasks[*i].is_hook()) {
            self.phase = OperationPhase::Succeeded;
            self.message = "successfully synced (all tasks run)".into();
        } else {
            self.set_running(tasks, ran);
        }
        Step::Decided
    }

    /// `setOperationFailed`: fails the operation with `message` and the failed tasks' reasons,
    /// unless SyncFail hooks have yet to run (then they are returned to run) or are running.
    fn fail(&mut self, tasks: &[SyncTask], message: &str) -> Step {
        let sync_fail: Vec<usize> =
            (0..tasks.len()).filter(|i| tasks[*i].phase == SyncPhase::SyncFail).collect();
        let failed: Vec<String> = tasks
            .iter()
            .filter(|t| t.phase != SyncPhase::SyncFail)
            .filter_map(|t| self.result_index(t).map(|r| &self.results[r]))
            .filter(|r| r.status == ResultCode::SyncFailed)
            .map(|r| r.message.clone())
            .collect();
        let failed: Vec<&str> = failed.iter().map(String::as_str).collect();
        let pending: Vec<usize> =
            sync_fail.iter().copied().filter(|i| self.result_index(&tasks[*i]).is_none()).collect();
        if pending.is_empty() {
            let hooks_failed: Vec<String> = sync_fail
                .iter()
                .filter_map(|i| self.result_index(&tasks[*i]).map(|r| &self.results[r]))
                .filter(|r| r.status == ResultCode::SyncFailed)
                .map(|r| r.message.clone())
                .collect();
            let hooks_failed: Vec<&str> = hooks_failed.iter().map(String::as_str).collect();
            self.phase = OperationPhase::Failed;
            self.message = sync_fail_message(message, &failed, &hooks_failed);
            return Step::Decided;
        }
        let actions =
            pending.iter().filter_map(|&i| apply_or_recreate(&tasks[i]).map(|a| (i, a))).collect();
        Step::Run { tasks: pending, actions }
    }

    fn set_running(&mut self, tasks: &[SyncTask], which: &[usize]) {
        // Hooks being deleted before their re-creation are what the operation waits for first.
        let deleting: Vec<usize> = which
            .iter()
            .copied()
            .filter(|i| tasks[*i].is_hook() && self.result_index(&tasks[*i]).is_none())
            .collect();
        let (which, pending_deletion) =
            if deleting.is_empty() { (which, false) } else { (&deleting[..], true) };
        let keys: Vec<(ResourceKey, bool)> =
            which.iter().map(|i| (key_of(&tasks[*i]), tasks[*i].is_hook())).collect();
        let waiting: Vec<Waiting<'_>> =
            keys.iter().map(|(key, hook)| Waiting { key, hook: *hook }).collect();
        self.phase = OperationPhase::Running;
        self.message = running_message(&waiting, pending_deletion);
    }

    /// The hooks to delete now that the operation has completed: those run by this operation
    /// whose delete policy is `HookSucceeded` (operation succeeded) or `HookFailed` (operation
    /// failed), with a live object. Empty while the operation runs.
    pub fn hooks_to_delete(&self, tasks: &[SyncTask]) -> Vec<ResourceKey> {
        let policy = match self.phase {
            OperationPhase::Running => return Vec::new(),
            OperationPhase::Succeeded => DeletePolicy::HookSucceeded,
            OperationPhase::Failed | OperationPhase::Error => DeletePolicy::HookFailed,
        };
        let mut keys: Vec<ResourceKey> = Vec::new();
        for task in tasks.iter().filter(|t| t.is_hook() && t.live.is_some()) {
            let key = key_of(task);
            if self.result_index(task).is_some()
                && annotations::delete_policies(task.obj()).contains(&policy)
                && !keys.contains(&key)
            {
                keys.push(key);
            }
        }
        keys
    }
}

/// The action that starts a task: apply its target, or first delete the live object of a hook
/// whose policy is `BeforeHookCreation` (nothing while that object is already being deleted).
fn apply_or_recreate(task: &SyncTask) -> Option<Action> {
    let target = task.target.as_ref()?;
    match &task.live {
        Some(live)
            if task.is_hook()
                && annotations::delete_policies(target)
                    .contains(&DeletePolicy::BeforeHookCreation) =>
        {
            let deleting =
                live.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
            (!deleting).then(|| Action::Recreate(key_of(task)))
        }
        _ => Some(Action::Apply(target.clone())),
    }
}

/// The result message of a prune task that is skipped, as gitops-engine's `pruneObject`
/// words it (a sync without prune first, then the `Prune=false` annotation); `None` when the
/// task prunes.
pub fn prune_skipped_message(prune: bool, prune_disabled: bool) -> Option<&'static str> {
    if !prune {
        Some("ignored (requires pruning)")
    } else if prune_disabled {
        Some("ignored (no prune)")
    } else {
        None
    }
}

/// One controller pass. `health` gives the health of a task's live object (`None` = the
/// object has no health check or is absent).
pub fn next(
    op: &mut SyncOperation,
    tasks: &[SyncTask],
    opts: SyncOptions,
    health: impl Fn(&SyncTask) -> Option<Health>,
) -> Step {
    let main: Vec<usize> =
        (0..tasks.len()).filter(|i| tasks[*i].phase != SyncPhase::SyncFail).collect();
    let main_tasks: Vec<SyncTask> = main.iter().map(|i| tasks[*i].clone()).collect();
    let multi = is_multi_step(&main_tasks);
    // Running tasks (SyncFail hooks too) take their state from health; a resource that
    // vanished while a multi-step sync waits on it has failed (seen as running this pass).
    let mut vanished = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let Some(r) = op.result_index(task) else { continue };
        if op.results[r].hook_phase != OperationPhase::Running || task.is_prune() {
            continue;
        }
        if multi && !task.is_hook() && task.live.is_none() {
            op.results[r].status = ResultCode::SyncFailed;
            op.results[r].hook_phase = OperationPhase::Error;
            op.results[r].message = "the resource was deleted during the sync".into();
            vanished.push(i);
            continue;
        }
        let h = health(task);
        let (phase, message) = match (task.is_hook(), h) {
            (_, None) => (OperationPhase::Succeeded, op.results[r].message.clone()),
            (_, Some(h)) => match h.status {
                HealthStatus::Healthy => (OperationPhase::Succeeded, h.message),
                HealthStatus::Degraded => (OperationPhase::Failed, h.message),
                HealthStatus::Unknown if task.is_hook() => (OperationPhase::Failed, h.message),
                _ => (OperationPhase::Running, h.message),
            },
        };
        op.results[r].hook_phase = phase;
        if phase != OperationPhase::Running {
            op.results[r].message = message;
        }
    }
    // Pruned objects still there: the next wave waits for their deletion.
    let deleting: Vec<usize> = main
        .iter()
        .copied()
        .filter(|i| {
            tasks[*i].is_prune()
                && tasks[*i].live.is_some()
                && op
                    .result_index(&tasks[*i])
                    .is_some_and(|r| op.results[r].status == ResultCode::Pruned)
        })
        .collect();
    if !deleting.is_empty() {
        let keys: Vec<ResourceKey> = deleting.iter().map(|i| key_of(&tasks[*i])).collect();
        let waiting: Vec<Waiting<'_>> =
            keys.iter().map(|key| Waiting { key, hook: false }).collect();
        op.phase = OperationPhase::Running;
        op.message = running_message(&waiting, true);
        return Step::Decided;
    }
    let running: Vec<usize> = (0..tasks.len())
        .filter(|i| {
            vanished.contains(i)
                || op
                    .result_index(&tasks[*i])
                    .is_some_and(|r| op.results[r].hook_phase == OperationPhase::Running)
        })
        .collect();
    if (multi && !running.is_empty()) || running.iter().any(|i| tasks[*i].is_hook()) {
        op.set_running(tasks, &running);
        return Step::Decided;
    }
    let failed = main.iter().any(|i| {
        op.result_index(&tasks[*i]).is_some_and(|r| {
            op.results[r].status == ResultCode::SyncFailed
                || matches!(
                    op.results[r].hook_phase,
                    OperationPhase::Failed | OperationPhase::Error
                )
        })
    });
    if failed {
        return op.fail(tasks, "one or more synchronization tasks completed unsuccessfully");
    }
    let pending: Vec<usize> =
        main.iter().copied().filter(|i| op.result_index(&tasks[*i]).is_none()).collect();
    let Some(&first) = pending.first() else {
        op.phase = OperationPhase::Succeeded;
        op.message = "successfully synced (no more tasks)".into();
        return Step::Decided;
    };
    let (phase, wave) = (tasks[first].phase, tasks[first].wave());
    let wave_tasks: Vec<usize> = pending
        .into_iter()
        .filter(|i| tasks[*i].phase == phase && tasks[*i].wave() == wave)
        .collect();
    let mut actions = Vec::new();
    // Prunes first, then applies, in task order.
    for &i in wave_tasks.iter().filter(|i| tasks[**i].is_prune()) {
        let task = &tasks[i];
        let no_prune = task
            .live
            .as_ref()
            .is_some_and(|l| annotations::has_annotation_option(l, SYNC_OPTIONS, "Prune=false"));
        if let Some(message) = prune_skipped_message(opts.prune, no_prune) {
            op.set_result(task, ResultCode::PruneSkipped, OperationPhase::Succeeded, message);
        } else {
            actions.push((i, Action::Delete(key_of(task))));
        }
    }
    for &i in wave_tasks.iter().filter(|i| !tasks[**i].is_prune()) {
        if let Some(action) = apply_or_recreate(&tasks[i]) {
            actions.push((i, action));
        }
    }
    Step::Run { tasks: wave_tasks, actions }
}
