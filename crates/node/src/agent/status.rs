//! Pod status from the agent's view of its containers: phase, conditions and container
//! statuses as the kubelet writes them. Pure: takes the previous status and `now`.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A container's state as the agent knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated {
        exit_code: i32,
        reason: String,
        message: Option<String>,
        started_at: Option<Timestamp>,
        finished_at: Timestamp,
    },
}

/// One container of a supervised pod.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContainerRuntime {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) state: RunState,
    pub(crate) last_state: Option<RunState>,
    pub(crate) ready: bool,
    pub(crate) started: bool,
    pub(crate) restart_count: i32,
    pub(crate) pid: Option<u32>,
}

impl ContainerRuntime {
    pub(crate) fn new(name: &str, image: &str, restart_count: i32) -> Self {
        ContainerRuntime {
            name: name.to_owned(),
            image: image.to_owned(),
            state: RunState::Waiting { reason: "ContainerCreating".into(), message: None },
            last_state: None,
            ready: false,
            started: false,
            restart_count,
            pid: None,
        }
    }
}

fn k8s_state(state: &RunState) -> ContainerState {
    match state {
        RunState::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..ContainerState::default()
        },
        RunState::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning { started_at: Some(Time(*started_at)) }),
            ..ContainerState::default()
        },
        RunState::Terminated { exit_code, reason, message, started_at, finished_at } => {
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: *exit_code,
                    reason: Some(reason.clone()),
                    message: message.clone(),
                    started_at: started_at.map(Time),
                    finished_at: Some(Time(*finished_at)),
                    container_id: None,
                    signal: None,
                }),
                ..ContainerState::default()
            }
        }
    }
}

/// The kubelet's `getPhase`: Pending while a container waits without having run, Running while
/// any runs or will be restarted, Succeeded/Failed once all stopped for good.
pub(crate) fn phase(containers: &[ContainerRuntime], restart_policy: &str) -> &'static str {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in containers {
        match &c.state {
            RunState::Running { .. } => running += 1,
            RunState::Terminated { exit_code, .. } => {
                stopped += 1;
                if *exit_code == 0 {
                    succeeded += 1;
                }
            }
            RunState::Waiting { .. } if c.last_state.is_some() => stopped += 1,
            RunState::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match restart_policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        }
    } else {
        "Pending"
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let since = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        last_transition_time: Some(since),
        last_probe_time: None,
        message,
        reason,
        observed_generation: None,
    }
}

fn completed(c: &ContainerRuntime) -> bool {
    matches!(c.state, RunState::Terminated { exit_code: 0, .. })
}

/// The pod's status; `init` are the init containers (run before `containers`).
pub(crate) fn pod_status(
    init: &[ContainerRuntime],
    containers: &[ContainerRuntime],
    restart_policy: &str,
    start_time: Timestamp,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodStatus {
    let incomplete: Vec<&str> =
        init.iter().filter(|c| !completed(c)).map(|c| c.name.as_str()).collect();
    let init_failed = restart_policy == "Never"
        && init
            .iter()
            .any(|c| matches!(c.state, RunState::Terminated { exit_code, .. } if exit_code != 0));
    let phase = if init_failed {
        "Failed"
    } else if !incomplete.is_empty() {
        "Pending"
    } else {
        phase(containers, restart_policy)
    };
    let unready: Vec<&str> =
        containers.iter().filter(|c| !c.ready).map(|c| c.name.as_str()).collect();
    let all_ready = unready.is_empty() && phase == "Running";
    let (reason, message) = if all_ready {
        (None, None)
    } else if phase == "Succeeded" || phase == "Failed" {
        (Some("PodCompleted".to_owned()), None)
    } else {
        (
            Some("ContainersNotReady".to_owned()),
            Some(format!("containers with unready status: [{}]", unready.join(" "))),
        )
    };
    let (init_reason, init_message) = if incomplete.is_empty() {
        (None, None)
    } else {
        (
            Some("ContainersNotInitialized".to_owned()),
            Some(format!("containers with incomplete status: [{}]", incomplete.join(" "))),
        )
    };
    let conditions = vec![
        condition("PodScheduled", true, None, None, previous, now),
        condition("Initialized", incomplete.is_empty(), init_reason, init_message, previous, now),
        condition("ContainersReady", all_ready, reason.clone(), message.clone(), previous, now),
        condition("Ready", all_ready, reason, message, previous, now),
    ];
    let to_status = |c: &ContainerRuntime| ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: String::new(),
        container_id: c.pid.map(|pid| format!("weir://{pid}")),
        ready: c.ready,
        started: Some(c.started),
        restart_count: c.restart_count,
        state: Some(k8s_state(&c.state)),
        last_state: c.last_state.as_ref().map(k8s_state),
        ..ContainerStatus::default()
    };
    let statuses = containers.iter().map(to_status).collect();
    let init_statuses = (!init.is_empty()).then(|| init.iter().map(to_status).collect());
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        container_statuses: Some(statuses),
        init_container_statuses: init_statuses,
        host_ip: Some("127.0.0.1".into()),
        pod_ip: Some("127.0.0.1".into()),
        pod_ips: Some(vec![PodIP { ip: "127.0.0.1".into() }]),
        start_time: Some(Time(start_time)),
        qos_class: Some("BestEffort".into()),
        ..PodStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: RunState, last: bool) -> ContainerRuntime {
        let mut c = ContainerRuntime::new("a", "img", 0);
        c.state = state;
        if last {
            c.last_state = Some(RunState::Waiting { reason: "x".into(), message: None });
        }
        c
    }

    fn term(code: i32) -> RunState {
        RunState::Terminated {
            exit_code: code,
            reason: "Error".into(),
            message: None,
            started_at: None,
            finished_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn phases_follow_the_kubelet() {
        let waiting = RunState::Waiting { reason: "ImageNotMapped".into(), message: None };
        let running = RunState::Running { started_at: Timestamp::UNIX_EPOCH };
        assert_eq!(phase(&[c(waiting.clone(), false)], "Always"), "Pending");
        assert_eq!(phase(&[c(waiting, true)], "Always"), "Running");
        assert_eq!(phase(&[c(running, false)], "Never"), "Running");
        assert_eq!(phase(&[c(term(0), false)], "Never"), "Succeeded");
        assert_eq!(phase(&[c(term(1), false)], "Never"), "Failed");
        assert_eq!(phase(&[c(term(1), false)], "OnFailure"), "Running");
        assert_eq!(phase(&[c(term(0), false)], "Always"), "Running");
    }

    #[test]
    fn init_containers_hold_the_pod_pending() {
        let t = Timestamp::UNIX_EPOCH;
        let app = c(RunState::Waiting { reason: "PodInitializing".into(), message: None }, false);
        let running_init = c(RunState::Running { started_at: t }, false);
        let s = pod_status(
            std::slice::from_ref(&running_init),
            std::slice::from_ref(&app),
            "Always",
            t,
            None,
            t,
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let init = s.conditions.iter().flatten().find(|c| c.type_ == "Initialized");
        let init = init.expect("Initialized");
        assert_eq!(init.status, "False");
        assert_eq!(init.message.as_deref(), Some("containers with incomplete status: [a]"));
        assert_eq!(s.init_container_statuses.map(|v| v.len()), Some(1));
        let failed = pod_status(&[c(term(1), false)], &[app], "Never", t, None, t);
        assert_eq!(failed.phase.as_deref(), Some("Failed"));
    }

    #[test]
    fn ready_condition_keeps_its_transition_time() {
        let mut a = c(RunState::Running { started_at: Timestamp::UNIX_EPOCH }, false);
        a.ready = true;
        let t1 = Timestamp::from_second(100).expect("ts");
        let t2 = Timestamp::from_second(200).expect("ts");
        let first = pod_status(&[], std::slice::from_ref(&a), "Always", t1, None, t1);
        let second = pod_status(&[], &[a], "Always", t1, Some(&first), t2);
        assert_eq!(first, second);
        let ready = second.conditions.iter().flatten().find(|c| c.type_ == "Ready");
        assert_eq!(ready.map(|c| c.status.as_str()), Some("True"));
    }
}
