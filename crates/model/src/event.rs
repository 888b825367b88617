//! An event an engine asks its controller to record on the object it decided about (a
//! Kubernetes `Event` with `type: Normal|Warning`, a reason and a message), as data: engines
//! return them, controllers write them.

/// An event to record on the object a pass was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's reason, e.g. `RolloutStepCompleted` or `MetricFailed`.
    pub reason: String,
    /// The event's message, e.g. `Metric 'm' Completed. Result: Failed`.
    pub message: String,
    /// A `Warning` rather than a `Normal` event.
    pub warning: bool,
}
