//! Leader election with a `coordination.k8s.io/v1` Lease, written through the
//! [`weir_cluster::Cluster`] trait so that it works on every backend.
//!
//! The algorithm is client-go's `leaderelection` package: a candidate reads the Lease and may
//! take it when nobody holds it or when its record has not changed for `leaseDurationSeconds`
//! *as observed by this candidate's own clock* (so clocks of different machines need not
//! agree); the holder renews it every `retry_period` and gives up leadership when no renewal
//! succeeded for `renew_deadline`. Every write carries the resourceVersion it read (optimistic
//! concurrency): of two candidates writing at once, one gets `Conflict` and stays a candidate.
//! Defaults are client-go's (and Argo Rollouts'): 15 s lease, 10 s renew deadline, 2 s retry.
//!
//! [`decide`] and [`next_spec`] are the pure decisions (tested with explicit times);
//! [`LeaderElector`] does the reads and writes; [`LeaderElector::run`] runs work only while
//! leader and stops it when leadership is lost.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use weir_cluster::{Cluster, Error, Object, Registry, ResourceType, Result, wall_clock};

use crate::Shutdown;

/// Where the Lease is and how it is held.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseConfig {
    /// The Lease's name (`--lease-name`).
    pub name: String,
    /// Its namespace (`--lease-namespace`).
    pub namespace: String,
    /// This candidate's identity, unique among candidates (hostname + a random suffix).
    pub identity: String,
    /// How long a Lease whose record does not change stays held by its holder (15 s).
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before giving up leadership (10 s).
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew (2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A Lease with client-go's default timing.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        LeaseConfig {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What a candidate may do with the Lease it just read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or its holder stopped renewing: take it.
    Take,
    /// This candidate holds it: renew it.
    Renew,
    /// Someone else holds it; try again later.
    Wait {
        /// The current holder.
        holder: String,
    },
}

/// The pure decision: may `identity` take the Lease now?
///
/// `observed_at` is when this candidate first saw the Lease's current record (its own clock),
/// `now` is the current time on the same clock. The lease is free when it has no holder, and
/// expired when `observed_at + leaseDurationSeconds <= now` (`default_duration` when the Lease
/// names no duration).
pub fn decide(
    spec: Option<&LeaseSpec>,
    identity: &str,
    observed_at: Timestamp,
    now: Timestamp,
    default_duration: Duration,
) -> Decision {
    let Some(spec) = spec else { return Decision::Take };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() {
        return Decision::Take;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let duration = spec
        .lease_duration_seconds
        .filter(|s| *s > 0)
        .map_or(signed(default_duration), |s| SignedDuration::from_secs(i64::from(s)));
    let expires = observed_at.checked_add(duration).unwrap_or(Timestamp::MAX);
    if expires <= now { Decision::Take } else { Decision::Wait { holder: holder.to_owned() } }
}

/// The record `identity` writes when it takes or renews the Lease at `now`: renewing keeps
/// `acquireTime` and `leaseTransitions`; taking it from another (or from nobody, after a
/// release) sets `acquireTime` and counts one more transition, as client-go does.
pub fn next_spec(
    current: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    lease_duration: Duration,
) -> LeaseSpec {
    let duration_seconds = i32::try_from(lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let mut spec = current.cloned().unwrap_or_default();
    let renewing = spec.holder_identity.as_deref() == Some(identity);
    if !renewing {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(match current {
            Some(current) => current.lease_transitions.unwrap_or(0).saturating_add(1),
            None => 0,
        });
    }
    spec.holder_identity = Some(identity.to_owned());
    spec.lease_duration_seconds = Some(duration_seconds);
    spec.renew_time = Some(MicroTime(now));
    spec
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// What one attempt on the Lease came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// This candidate holds it.
    Held,
    /// Another candidate holds it and its lease has not expired.
    HeldBy(String),
    /// A concurrent write won (create or update conflict): the next read tells who holds it.
    Raced,
}

/// How [`LeaderElector::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was asked for (the Lease was released if held).
    Shutdown,
    /// Leadership was lost (another holder, or no renewal within the renew deadline); the
    /// work was stopped.
    LostLeadership,
}

/// One candidate for one Lease.
#[derive(Debug)]
pub struct LeaderElector<C> {
    cluster: Arc<C>,
    config: LeaseConfig,
    leases: ResourceType,
    /// The resourceVersion of the Lease record last seen and when (wall clock) it was first
    /// seen: the base of the expiry decision.
    observed: Option<(String, Timestamp)>,
}

impl<C: Cluster> LeaderElector<C> {
    /// A candidate for the Lease `config` names.
    pub fn new(cluster: Arc<C>, config: LeaseConfig) -> Self {
        let leases = Registry::builtin()
            .for_object("coordination.k8s.io/v1", "Lease")
            .unwrap_or_else(|| ResourceType::guess("coordination.k8s.io/v1", "Lease"));
        LeaderElector { cluster, config, leases, observed: None }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One attempt to take or renew the Lease at `now`: `Ok(true)` when this candidate holds
    /// it afterwards, `Ok(false)` when another does (or won a concurrent write). Errors are
    /// the backend's (unreachable, forbidden).
    pub async fn try_acquire_or_renew(&mut self, now: Timestamp) -> Result<bool> {
        Ok(self.attempt(now).await? == Attempt::Held)
    }

    async fn attempt(&mut self, now: Timestamp) -> Result<Attempt> {
        let ns = Some(self.config.namespace.as_str());
        let current = match self.cluster.get(&self.leases, ns, &self.config.name).await {
            Ok(object) => Some(object),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let Some(mut object) = current else {
            let spec = next_spec(None, &self.config.identity, now, self.config.lease_duration);
            let mut object = Object::new(
                "coordination.k8s.io/v1",
                "Lease",
                Some(&self.config.namespace),
                &self.config.name,
            );
            object.data.insert("spec".to_owned(), to_value(&spec)?);
            return match self.cluster.create(&self.leases, object).await {
                Ok(_) => Ok(Attempt::Held),
                Err(Error::AlreadyExists { .. } | Error::Conflict { .. }) => Ok(Attempt::Raced),
                Err(e) => Err(e),
            };
        };
        let spec: Option<LeaseSpec> = match object.field("spec") {
            Some(value) => Some(serde_json::from_value(value.clone()).map_err(|e| {
                Error::Internal(format!("Lease {} has an unreadable spec: {e}", self.config.name))
            })?),
            None => None,
        };
        let version = object.resource_version().to_owned();
        let observed_at = match &self.observed {
            Some((seen, at)) if *seen == version => *at,
            _ => {
                self.observed = Some((version, now));
                now
            }
        };
        let decision = decide(
            spec.as_ref(),
            &self.config.identity,
            observed_at,
            now,
            self.config.lease_duration,
        );
        if let Decision::Wait { holder } = decision {
            return Ok(Attempt::HeldBy(holder));
        }
        let next = next_spec(spec.as_ref(), &self.config.identity, now, self.config.lease_duration);
        object.data.insert("spec".to_owned(), to_value(&next)?);
        match self.cluster.update(&self.leases, object).await {
            Ok(written) => {
                self.observed = Some((written.resource_version().to_owned(), now));
                Ok(Attempt::Held)
            }
            Err(Error::Conflict { .. }) => Ok(Attempt::Raced),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (holder cleared, duration 1 s) if this candidate holds it, so a
    /// standby takes over at once instead of after the lease duration.
    pub async fn release(&mut self) -> Result<()> {
        let ns = Some(self.config.namespace.as_str());
        let mut object = match self.cluster.get(&self.leases, ns, &self.config.name).await {
            Ok(object) => object,
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let holder = object
            .field("spec")
            .and_then(|s| s.get("holderIdentity"))
            .and_then(serde_json::Value::as_str);
        if holder != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        if let Some(spec) = object.data.get_mut("spec").and_then(serde_json::Value::as_object_mut) {
            spec.remove("holderIdentity");
            spec.insert("leaseDurationSeconds".to_owned(), 1.into());
            let now = to_value(&MicroTime(wall_clock()))?;
            spec.insert("renewTime".to_owned(), now);
        }
        match self.cluster.update(&self.leases, object).await {
            Ok(_) | Err(Error::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until this candidate holds the Lease (`true`) or shutdown (`false`).
    pub async fn acquire(&mut self, shutdown: &Shutdown) -> bool {
        loop {
            match self.try_acquire_or_renew(wall_clock()).await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(lease = %self.config.name, %error, "cannot acquire the lease")
                }
            }
            if !shutdown.sleep(self.config.retry_period).await {
                return false;
            }
        }
    }

    /// Renews the Lease every retry period; returns when leadership is lost (another holder
    /// seen, or no renewal succeeded within the renew deadline) or at shutdown.
    pub async fn hold(&mut self, shutdown: &Shutdown) -> Ended {
        let mut last_renewal = Instant::now();
        loop {
            if !shutdown.sleep(self.config.retry_period).await {
                return Ended::Shutdown;
            }
            let failure = match self.attempt(wall_clock()).await {
                Ok(Attempt::Held) => {
                    last_renewal = Instant::now();
                    continue;
                }
                Ok(Attempt::HeldBy(holder)) => {
                    tracing::warn!(lease = %self.config.name, %holder, "leadership lost: another holder");
                    return Ended::LostLeadership;
                }
                // Someone wrote the Lease between our read and write: read again next time.
                Ok(Attempt::Raced) => "the lease changed while renewing".to_owned(),
                Err(error) => error.to_string(),
            };
            tracing::warn!(lease = %self.config.name, %failure, "cannot renew the lease");
            if last_renewal.elapsed() >= self.config.renew_deadline {
                tracing::warn!(lease = %self.config.name, "leadership lost: renew deadline passed");
                return Ended::LostLeadership;
            }
        }
    }

    /// Runs `work` only while leader: waits for the Lease, starts `work` with a shutdown signal
    /// of its own, renews; when leadership is lost, signals `work` to stop and waits for it.
    /// At shutdown, stops `work` and releases the Lease.
    pub async fn run<F, Fut>(&mut self, shutdown: &Shutdown, work: F) -> Ended
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if !self.acquire(shutdown).await {
            return Ended::Shutdown;
        }
        let stop_work = shutdown.child();
        let mut running = tokio::spawn(work(stop_work.clone()));
        let ended = tokio::select! {
            ended = self.hold(shutdown) => ended,
            _ = &mut running => {
                // The work ended by itself: nothing left to lead.
                Ended::Shutdown
            }
        };
        stop_work.trigger();
        let _ = running.await;
        if ended == Ended::Shutdown
            && let Err(error) = self.release().await
        {
            tracing::warn!(lease = %self.config.name, %error, "cannot release the lease");
        }
        ended
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("cannot encode a Lease: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("valid time")
    }

    fn held_by(holder: &str, duration: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: duration,
            acquire_time: Some(MicroTime(t(0))),
            renew_time: Some(MicroTime(t(0))),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    /// Expected values follow client-go's `tryAcquireOrRenew`: free or own lease → take/renew;
    /// another holder's lease is taken only once `observedTime + leaseDuration` has passed.
    #[test]
    fn decision_table() {
        let d15 = Duration::from_secs(15);
        let wait_b = Decision::Wait { holder: "b".to_owned() };
        let cases: Vec<(&str, Option<LeaseSpec>, i64, i64, Decision)> = vec![
            ("no lease yet", None, 0, 0, Decision::Take),
            ("released (no holder)", Some(held_by("", Some(15))), 0, 0, Decision::Take),
            ("mine", Some(held_by("a", Some(15))), 0, 100, Decision::Renew),
            ("other, fresh", Some(held_by("b", Some(15))), 0, 1, wait_b.clone()),
            ("other, just before expiry", Some(held_by("b", Some(15))), 0, 14, wait_b.clone()),
            ("other, expired", Some(held_by("b", Some(15))), 0, 15, Decision::Take),
            ("other, its own shorter duration", Some(held_by("b", Some(5))), 0, 5, Decision::Take),
            ("other, default duration", Some(held_by("b", None)), 0, 14, wait_b.clone()),
            ("other, seen late (observed 10)", Some(held_by("b", Some(15))), 10, 20, wait_b),
        ];
        for (what, spec, observed, now, expected) in cases {
            assert_eq!(decide(spec.as_ref(), "a", t(observed), t(now), d15), expected, "{what}");
        }
    }

    #[test]
    fn taking_counts_a_transition_and_renewing_keeps_acquire_time() {
        let d = Duration::from_secs(15);
        let created = next_spec(None, "a", t(0), d);
        assert_eq!(created.holder_identity.as_deref(), Some("a"));
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(created.lease_duration_seconds, Some(15));
        assert_eq!(created.acquire_time, Some(MicroTime(t(0))));

        let renewed = next_spec(Some(&created), "a", t(5), d);
        assert_eq!(renewed.acquire_time, Some(MicroTime(t(0))));
        assert_eq!(renewed.renew_time, Some(MicroTime(t(5))));
        assert_eq!(renewed.lease_transitions, Some(0));

        let taken = next_spec(Some(&renewed), "b", t(30), d);
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time, Some(MicroTime(t(30))));
        assert_eq!(taken.lease_transitions, Some(1));

        let after_release = next_spec(Some(&held_by("", Some(1))), "c", t(40), d);
        assert_eq!(after_release.lease_transitions, Some(4), "3 before, one more");
    }
}

/// Two candidates on one Lease in the embedded store (real writes, real resourceVersions).
#[cfg(test)]
mod store_tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use weir_store::Store;

    use super::*;

    fn fast(identity: &str) -> LeaseConfig {
        LeaseConfig {
            lease_duration: Duration::from_millis(1500),
            renew_deadline: Duration::from_millis(1000),
            retry_period: Duration::from_millis(100),
            ..LeaseConfig::new("weir-controller", "default", identity)
        }
    }

    async fn holder(store: &Store) -> Option<(String, i64)> {
        let rt = Registry::builtin().for_name("leases").cloned()?;
        let lease = store.get(&rt, Some("default"), "weir-controller").await.ok()?;
        let spec = lease.field("spec")?;
        Some((
            spec.get("holderIdentity")?.as_str()?.to_owned(),
            spec.get("leaseTransitions").and_then(serde_json::Value::as_i64).unwrap_or(-1),
        ))
    }

    async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
        for _ in 0..300 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    #[tokio::test]
    async fn the_standby_takes_over_when_the_holder_stops_renewing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let mut a = LeaderElector::new(store.clone(), fast("a"));
        let mut b = LeaderElector::new(store.clone(), fast("b"));
        assert!(a.try_acquire_or_renew(wall_clock()).await.expect("a"), "a creates the lease");
        assert!(!b.try_acquire_or_renew(wall_clock()).await.expect("b"), "b must wait");
        assert_eq!(holder(&store).await, Some(("a".to_owned(), 0)));

        // a "dies" (kill -9: no release); b keeps trying and takes over after the duration.
        let b_leads = Arc::new(AtomicBool::new(false));
        let shutdown = Shutdown::new();
        let standby = tokio::spawn({
            let (b_leads, shutdown) = (b_leads.clone(), shutdown.clone());
            async move {
                b.run(&shutdown, move |stop| async move {
                    b_leads.store(true, Ordering::SeqCst);
                    stop.wait().await;
                })
                .await
            }
        });
        eventually("b leads", || async { b_leads.load(Ordering::SeqCst) }).await;
        assert_eq!(holder(&store).await, Some(("b".to_owned(), 1)), "one transition");
        // a comes back: it must not take the lease b renews.
        assert!(!a.try_acquire_or_renew(wall_clock()).await.expect("a again"));

        shutdown.trigger();
        assert_eq!(standby.await.expect("standby task"), Ended::Shutdown);
        let released = holder(&store).await;
        assert_eq!(released, None, "b released the lease on shutdown");
        assert!(a.try_acquire_or_renew(wall_clock()).await.expect("a after release"));
    }

    #[tokio::test]
    async fn losing_the_lease_stops_the_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let mut a = LeaderElector::new(store.clone(), fast("a"));
        let working = Arc::new(AtomicBool::new(false));
        let shutdown = Shutdown::new();
        let leader = tokio::spawn({
            let (working, shutdown) = (working.clone(), shutdown.clone());
            async move {
                a.run(&shutdown, move |stop| async move {
                    working.store(true, Ordering::SeqCst);
                    stop.wait().await;
                    working.store(false, Ordering::SeqCst);
                })
                .await
            }
        });
        eventually("a works", || async { working.load(Ordering::SeqCst) }).await;
        // Another writer (a human, or a candidate that saw the lease expire) takes it.
        let rt = Registry::builtin().for_name("leases").cloned().expect("leases");
        let mut lease = store.get(&rt, Some("default"), "weir-controller").await.expect("lease");
        let spec = next_spec(None, "intruder", wall_clock(), Duration::from_secs(60));
        lease.data.insert("spec".to_owned(), serde_json::to_value(&spec).expect("spec"));
        store.update(&rt, lease).await.expect("take over");

        assert_eq!(leader.await.expect("leader task"), Ended::LostLeadership);
        assert!(!working.load(Ordering::SeqCst), "the work was stopped before run returned");
        assert_eq!(holder(&store).await.map(|h| h.0), Some("intruder".to_owned()));
    }
}
