//! The step-by-step sync operation as a pure state machine (gitops-engine's `Sync()`): each
//! controller pass calls [`next`] with the current [`SyncOperation`], the ordered tasks and the
//! observed health of live objects. It first updates running tasks from health, then either
//! decides the operation (wait, fail, succeed) or runs the next (phase, wave): the returned
//! [`Action`]s are executed by the caller, whose outcomes go to [`SyncOperation::record`].
//! Finally [`SyncOperation::finish_wave`] sets the operation's phase and message.

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
    /// Delete this live object (a prune or a hook deletion).
    Delete(ResourceKey),
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
    /// each outcome with [`SyncOperation::record`], then call [`SyncOperation::finish_wave`].
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

    /// Records the outcome of an action of a [`Step::Run`]: `Ok(message)` or `Err(error)`.
    pub fn record(&mut self, task: &SyncTask, outcome: Result<&str, &str>) {
        match (task.is_prune(), outcome) {
            (true, Ok(_)) => {
                self.set_result(task, ResultCode::Pruned, OperationPhase::Succeeded, "pruned")
            }
            (_, Err(e)) => self.set_result(task, ResultCode::SyncFailed, OperationPhase::Failed, e),
            (false, Ok(m)) => self.set_result(task, ResultCode::Synced, OperationPhase::Running, m),
        }
    }

    /// Sets phase and message after a wave ran.
    pub fn finish_wave(&mut self, tasks: &[SyncTask], ran: &[usize]) {
        let failed: Vec<String> = ran
            .iter()
            .filter_map(|i| self.result_index(&tasks[*i]).map(|r| &self.results[r]))
            .filter(|r| r.status == ResultCode::SyncFailed)
            .map(|r| r.message.clone())
            .collect();
        if !failed.is_empty() {
            let f: Vec<&str> = failed.iter().map(String::as_str).collect();
            self.phase = OperationPhase::Failed;
            self.message = sync_fail_message("one or more objects failed to apply", &f, &[]);
            return;
        }
        let remaining = tasks.iter().enumerate().any(|(i, t)| {
            t.phase != SyncPhase::SyncFail && !ran.contains(&i) && self.result_index(t).is_none()
        });
        if !remaining && !ran.iter().any(|i| tasks[*i].is_hook()) {
            self.phase = OperationPhase::Succeeded;
            self.message = "successfully synced (all tasks run)".into();
        } else {
            self.set_running(tasks, ran);
        }
    }

    fn set_running(&mut self, tasks: &[SyncTask], which: &[usize]) {
        let keys: Vec<(ResourceKey, bool)> =
            which.iter().map(|i| (key_of(&tasks[*i]), tasks[*i].is_hook())).collect();
        let waiting: Vec<Waiting<'_>> =
            keys.iter().map(|(key, hook)| Waiting { key, hook: *hook }).collect();
        self.phase = OperationPhase::Running;
        self.message = running_message(&waiting, false);
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
    // Running tasks take their state from health.
    for &i in &main {
        let task = &tasks[i];
        let Some(r) = op.result_index(task) else { continue };
        if op.results[r].hook_phase != OperationPhase::Running || task.is_prune() {
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
    let running: Vec<usize> = main
        .iter()
        .copied()
        .filter(|i| {
            op.result_index(&tasks[*i])
                .is_some_and(|r| op.results[r].hook_phase == OperationPhase::Running)
        })
        .collect();
    let multi = is_multi_step(&main_tasks);
    if (multi && !running.is_empty()) || running.iter().any(|i| tasks[*i].is_hook()) {
        op.set_running(tasks, &running);
        return Step::Decided;
    }
    let failed: Vec<String> = main
        .iter()
        .filter_map(|i| op.result_index(&tasks[*i]).map(|r| &op.results[r]))
        .filter(|r| r.status == ResultCode::SyncFailed || r.hook_phase == OperationPhase::Failed)
        .map(|r| r.message.clone())
        .collect();
    if !failed.is_empty() {
        op.phase = OperationPhase::Failed;
        op.message = "one or more synchronization tasks completed unsuccessfully".into();
        return Step::Decided;
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
        if !opts.prune || no_prune {
            op.set_result(
                task,
                ResultCode::PruneSkipped,
                OperationPhase::Succeeded,
                "ignored (no prune)",
            );
        } else {
            actions.push((i, Action::Delete(key_of(task))));
        }
    }
    for &i in wave_tasks.iter().filter(|i| !tasks[**i].is_prune()) {
        if let Some(target) = &tasks[i].target {
            actions.push((i, Action::Apply(target.clone())));
        }
    }
    Step::Run { tasks: wave_tasks, actions }
}

/// True when a hook's live object should be deleted because its phase completed this way.
pub fn delete_on_completion(task: &SyncTask, succeeded: bool) -> bool {
    task.live.is_some()
        && task.is_hook()
        && annotations::delete_policies(task.obj()).contains(if succeeded {
            &DeletePolicy::HookSucceeded
        } else {
            &DeletePolicy::HookFailed
        })
}
