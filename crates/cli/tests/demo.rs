//! The demo walk-through of `docs/demo.md`, end to end and non-interactively: `weir up --demo`
//! (its git repository, Applications, bookinfo processes, proxy and controllers), traffic
//! through the gateway with `weir demo traffic`, then commits to the demo repository as a
//! person makes them:
//!
//! 1. the three Applications are Synced and Healthy and every request is answered by v1;
//! 2. a commit of reviews v2 starts the canary: at every pause the VirtualService holds the
//!    step's weight and the observed split is within 5 points of it;
//! 3. `weir rollouts promote` skips a pause, and v2 becomes stable;
//! 4. a commit of v3, which fails 30% of its requests, is aborted by the background analysis
//!    and all traffic goes back to v2;
//! 5. a VirtualService changed by hand is put back by self-heal.
//!
//! Throughout, no request may fail except by v3's own injected failures.
//!
//! The walk-through runs twice: with the controllers inside `weir up`, and with them in
//! `weir controller`, a second process that reaches `weir up --controllers none` only through
//! kube-rs (issue 13's first check).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Backend, WEIR, Weir};

const NS: &str = "bookinfo";
const ROLLOUT: &str = "reviews-rollout";

#[test]
fn the_demo_walk_through() {
    demo_walk_through(Backend::Embedded);
}

#[test]
fn the_demo_walk_through_with_weir_controller_over_kube_rs() {
    demo_walk_through(Backend::Kube);
}

fn demo_walk_through(backend: Backend) {
    // `weir up --demo` compares Applications with git every 5 s: the controller does the same.
    let weir = Weir::start_backend(backend, &["--demo"], 5);
    let repo = weir.data_dir().join("examples/bookinfo");
    assert!(repo.join(".git").is_dir(), "weir up --demo did not create the demo repository");

    // 1. The Applications sync the repository; bookinfo answers through the gateway.
    wait_for("the three Applications to be Synced and Healthy", 180, || {
        let apps = get_json(&weir, &["applications", "-n", "argocd"]);
        let items = apps["items"].as_array().cloned().unwrap_or_default();
        let healthy = items.iter().filter(|a| app_is(a, "Synced", "Healthy")).count();
        (items.len() == 3 && healthy == 3).then_some(()).ok_or_else(|| summary(&items))
    });
    let list = weir.ok(&["app", "list"]);
    assert!(list.contains("argocd/bookinfo-app") && list.contains("Synced"), "{list}");
    let traffic = Traffic::start(&weir);
    wait_for("v1 to answer through the gateway", 120, || {
        let last = traffic.since(now_ms().saturating_sub(2_000));
        let v1 = last.iter().filter(|o| o.ok() && o.version() == Some("v1")).count();
        (v1 >= 20 && v1 == last.len()).then_some(()).ok_or_else(|| format!("{last:?}"))
    });
    let serving_since = now_ms();
    // When each stage began (ms since serving_since), to place any failed request.
    let mut stages = vec![("v1 serving", 0)];
    let mut stage = |name: &'static str| stages.push((name, now_ms() - serving_since));
    let steps = get_json(&weir, &["ro", ROLLOUT, "-n", NS])["spec"]["strategy"]["canary"]["steps"]
        .as_array()
        .cloned()
        .unwrap();

    // 2 and 3. A new version in git starts the canary; weights and traffic follow the steps.
    stage("v2 committed");
    commit(&repo, "reviews-v1:", "reviews-v2:", "reviews v2");
    let mut checked_weights = Vec::new();
    let mut checked_splits = Vec::new();
    let mut promoted = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "the v2 rollout did not complete: {checked_weights:?}");
        let ro = get_json(&weir, &["ro", ROLLOUT, "-n", NS]);
        let status = &ro["status"];
        let v2_started = status["currentPodHash"] != status["stableRS"];
        if !v2_started && !checked_weights.is_empty() {
            break; // the canary became stable
        }
        let index = status["currentStepIndex"].as_u64().unwrap_or(0) as usize;
        let paused = status["pauseConditions"].as_array().is_some_and(|p| !p.is_empty());
        if !(v2_started && paused) || checked_weights.contains(&index) || index == 0 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        stage("a pause");
        let weight = steps[index - 1]["setWeight"].as_u64().expect("a pause follows setWeight");
        assert_eq!(
            reviews_weights(&weir),
            (100 - weight, weight),
            "VirtualService at step {index}"
        );
        checked_weights.push(index);
        // Requests already in flight when the weights moved finish within the first second.
        let from = now_ms() + 1_000;
        std::thread::sleep(Duration::from_secs(5));
        let still_there = get_json(&weir, &["ro", ROLLOUT, "-n", NS])["status"]["currentStepIndex"]
            .as_u64()
            == Some(index as u64);
        if still_there {
            let window = traffic.between(from, now_ms());
            let answered: Vec<_> = window.iter().filter(|o| o.ok()).collect();
            let v2 = answered.iter().filter(|o| o.version() == Some("v2")).count();
            assert!(answered.len() >= 100, "too few requests at step {index}: {}", answered.len());
            let share = v2 as f64 * 100.0 / answered.len() as f64;
            assert!(
                (share - weight as f64).abs() <= 5.0,
                "step {index}: {share:.1}% of {} requests on v2, the weight is {weight}",
                answered.len()
            );
            checked_splits.push((index, share));
        }
        if !promoted {
            // 3. Skip this pause, as a person who has seen enough would.
            let out = weir.ok(&["rollouts", "promote", ROLLOUT, "-n", NS]);
            assert!(out.contains("promoted"), "{out}");
            wait_for("promote to move past the pause", 10, || {
                let ro = get_json(&weir, &["ro", ROLLOUT, "-n", NS]);
                let now = ro["status"]["currentStepIndex"].as_u64().unwrap_or(0) as usize;
                (now > index).then_some(()).ok_or_else(|| format!("still at step {now}"))
            });
            promoted = true;
            stage("promoted");
        }
    }
    assert!(checked_weights.len() >= 4, "pauses seen: {checked_weights:?}");
    assert!(checked_splits.len() >= 3, "splits measured: {checked_splits:?}");
    wait_for("v2 to be stable, Healthy, with all traffic", 60, || {
        let ro = get_json(&weir, &["ro", ROLLOUT, "-n", NS]);
        let healthy = ro["status"]["phase"] == "Healthy";
        let weights = reviews_weights(&weir);
        (healthy && weights == (100, 0))
            .then_some(())
            .ok_or_else(|| format!("{} {weights:?}", ro["status"]["phase"]))
    });
    stage("v2 stable");
    let settled = now_ms() + 2_000;
    std::thread::sleep(Duration::from_secs(4));
    let after = traffic.between(settled, now_ms());
    assert!(after.iter().all(|o| o.version() == Some("v2")), "not all on v2: {after:?}");

    // 4. A bad version: the background analysis fails and the rollout aborts by itself.
    stage("v3 committed");
    commit(&repo, "reviews-v2:", "reviews-v3:", "reviews v3");
    let aborted = wait_for("the analysis to abort the v3 rollout", 240, || {
        let ro = get_json(&weir, &["ro", ROLLOUT, "-n", NS]);
        let status = &ro["status"];
        (status["abort"] == true && status["phase"] == "Degraded")
            .then(|| status["message"].as_str().unwrap_or_default().to_owned())
            .ok_or_else(|| format!("{} {}", status["phase"], status["message"]))
    });
    assert!(aborted.contains("RolloutAborted") && aborted.contains("analysis"), "{aborted}");
    let tree = weir.ok(&["rollouts", "get", ROLLOUT, "-n", NS]);
    assert!(tree.contains("Degraded") && tree.contains("AnalysisRun"), "{tree}");
    stage("aborted");
    let runs = get_json(&weir, &["ar", "-n", NS]);
    assert!(
        runs["items"].as_array().unwrap().iter().any(|r| r["status"]["phase"] == "Failed"),
        "no failed AnalysisRun: {runs}"
    );
    assert_eq!(reviews_weights(&weir), (100, 0), "the abort must send all traffic to stable");
    wait_for("the rollout's Application to report Degraded", 60, || {
        let app = get_json(&weir, &["applications", "bookinfo-rollout", "-n", "argocd"]);
        app_is(&app, "Synced", "Degraded").then_some(()).ok_or_else(|| summary(&[app]))
    });
    let settled = now_ms() + 2_000;
    std::thread::sleep(Duration::from_secs(4));
    let after = traffic.between(settled, now_ms());
    assert!(after.iter().all(|o| o.ok() && o.version() == Some("v2")), "after abort: {after:?}");

    // No request failed because traffic moved: only v3's own injected failures.
    let all: Vec<_> = traffic.stop().into_iter().filter(|o| o.at_ms() >= serving_since).collect();
    let injected = all.iter().filter(|o| !o.ok() && o.injected()).count();
    let other: Vec<_> = all.iter().filter(|o| !o.ok() && !o.injected()).collect();
    let failed_at: Vec<u64> = other.iter().map(|o| o.at_ms() - serving_since).collect();
    assert!(
        other.is_empty(),
        "{} of {} requests failed, at {failed_at:?} ms (stages: {stages:?}): {other:?}",
        other.len(),
        all.len()
    );
    assert!(injected > 0, "v3 never answered, so the analysis had nothing to judge");

    // 5. Self-heal: a VirtualService changed by hand is put back from git.
    let mut vs = get_json(&weir, &["vs", "details", "-n", NS]);
    vs["spec"]["http"][0]["timeout"] = "7s".into();
    let edited = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(edited.path(), serde_json::to_string(&vs).unwrap()).unwrap();
    weir.ok(&["apply", "-f", edited.path().to_str().unwrap()]);
    wait_for("self-heal to undo the manual change", 60, || {
        let vs = get_json(&weir, &["vs", "details", "-n", NS]);
        vs["spec"]["http"][0].get("timeout").is_none().then_some(()).ok_or_else(|| vs.to_string())
    });

    let status = weir.stop();
    assert!(status.success(), "weir up did not stop cleanly: {status}");
}

/// `weir get KIND … -o json`, parsed.
fn get_json(weir: &Weir, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&weir.ok(&full)).unwrap()
}

fn app_is(app: &Value, sync: &str, health: &str) -> bool {
    app["status"]["sync"]["status"] == sync && app["status"]["health"]["status"] == health
}

fn summary(apps: &[Value]) -> String {
    let line = |a: &Value| {
        format!(
            "{} {} {} {} (last operation: {} {})",
            a["metadata"]["name"],
            a["status"]["sync"]["status"],
            a["status"]["health"]["status"],
            a["status"]["conditions"],
            a["status"]["operationState"]["phase"],
            a["status"]["operationState"]["message"]
        )
    };
    apps.iter().map(line).collect::<Vec<_>>().join("; ")
}

/// The `reviews` VirtualService's (stable, canary) weights.
fn reviews_weights(weir: &Weir) -> (u64, u64) {
    let vs = get_json(weir, &["vs", "reviews", "-n", NS]);
    let weight = |subset: &str| {
        vs["spec"]["http"][0]["route"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["destination"]["subset"] == subset)
            .and_then(|r| r["weight"].as_u64())
            .unwrap_or(0)
    };
    (weight("stable"), weight("canary"))
}

/// Replaces `from` with `to` in the reviews Deployment's image and commits, as a person would.
fn commit(repo: &Path, from: &str, to: &str, message: &str) {
    let file = repo.join("application/bookinfo.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{from} is not in {}", file.display());
    std::fs::write(&file, text.replace(from, to)).unwrap();
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=test", "-c", "user.email=test@weir.invalid"])
        .args(["commit", "--quiet", "--all", "--message", message])
        .status()
        .unwrap();
    assert!(status.success(), "git commit failed");
}

/// Polls `check` until it returns `Ok`, failing the test with its last `Err` after `secs`.
fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// One response of `weir demo traffic --output json`.
#[derive(Debug, Clone)]
struct Outcome(Value);

impl Outcome {
    fn at_ms(&self) -> u64 {
        self.0["at_ms"].as_u64().unwrap_or(0)
    }
    fn ok(&self) -> bool {
        self.0["status"].as_u64().is_some_and(|s| (200..300).contains(&s))
    }
    fn version(&self) -> Option<&str> {
        self.0["version"].as_str()
    }
    fn injected(&self) -> bool {
        self.0["injected"] == true
    }
}

/// `weir demo traffic` in the background, its responses collected as they arrive.
struct Traffic {
    child: Child,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(weir: &Weir) -> Traffic {
        let mut child = Command::new(WEIR)
            .arg("--data-dir")
            .arg(weir.data_dir())
            .args(["demo", "traffic", "--rate", "50", "--output", "json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let sink = outcomes.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).unwrap();
                sink.lock().unwrap().push(Outcome(value));
            }
        });
        Traffic { child, outcomes, reader: Some(reader) }
    }

    fn between(&self, from_ms: u64, to_ms: u64) -> Vec<Outcome> {
        let outcomes = self.outcomes.lock().unwrap();
        outcomes.iter().filter(|o| (from_ms..to_ms).contains(&o.at_ms())).cloned().collect()
    }

    fn since(&self, from_ms: u64) -> Vec<Outcome> {
        self.between(from_ms, u64::MAX)
    }

    /// Stops the generator and returns every response it got.
    fn stop(mut self) -> Vec<Outcome> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
