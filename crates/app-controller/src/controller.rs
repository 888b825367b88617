//! The Application controller: configuration, the controller runtime wiring (Applications plus
//! the common managed kinds, mapped back to their app by the tracking label), and one
//! reconcile: refresh (git when due), compare, auto-sync, operation, status.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use weir_cluster::{Cluster, Object, ObjectRef, Patch, Registry, ResourceType, Subresource};
use weir_controller::refusal::FORBIDDEN_REASON;
use weir_controller::{Action, Context, Controller, Mapper, Reconciler, Refusals, Shutdown};
use weir_gitops::project::{DEFAULT_PROJECT, check_app, default_project};
use weir_model::argocd::{AppProject, AppProjectSpec, Application};

use crate::argocd_cm::load_health_overrides;
use crate::autosync::{self, Decision};
use crate::compare::{Comparison, compare_with, ignore_rules};
use crate::deletion::{Deletion, DeletionRetries};
use crate::git::Repos;
use crate::operation::{Progress, SyncTarget, advance, current_state};
use crate::refresh::RefreshHandle;
use crate::render::INSTANCE_LABEL;
use crate::status;
use crate::targets::{Targets, load_live, load_targets_with, previous_types, source_of};

/// The annotation users set to ask for a refresh (`normal` or `hard`).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// `"true"` leaves an Application alone (Argo CD's `skip-reconcile`).
pub const SKIP_RECONCILE_ANNOTATION: &str = "argocd.argoproj.io/skip-reconcile";
/// The finalizer that makes deleting an Application delete its resources (cascade).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// How the Application controller runs. `Debug` hides the webhook secret.
#[derive(Clone)]
pub struct AppControllerConfig {
    /// weir's data directory; clones live in `<data_dir>/repos/`.
    pub data_dir: PathBuf,
    /// Period of git refreshes (`--app-resync`, Argo CD's `timeout.reconciliation`).
    pub resync: Duration,
    /// Up to this much random delay is added to each period (capped at half of `resync`).
    pub jitter: Duration,
    /// Self-heal waits this long after the last sync to the same revision.
    pub self_heal_timeout: Duration,
    /// Concurrent reconciles.
    pub workers: usize,
    /// Refresh requests from webhooks and users.
    pub refresh: RefreshHandle,
    /// Shared secret of `POST /api/webhook` (`WEIR_WEBHOOK_SECRET` by default); `None`
    /// accepts unsigned pushes.
    pub webhook_secret: Option<String>,
    /// Config management plugins (e.g. `kustomize build`, `helm template`); none by default.
    pub plugins: Vec<crate::plugin::ConfigManagementPlugin>,
    /// Sync operations running longer are terminated (Argo CD's `--sync-timeout`, default
    /// none; `WEIR_SYNC_TIMEOUT` seconds by default, `0` or unset: none).
    pub sync_timeout: Option<Duration>,
}

impl std::fmt::Debug for AppControllerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppControllerConfig")
            .field("data_dir", &self.data_dir)
            .field("resync", &self.resync)
            .field("jitter", &self.jitter)
            .field("self_heal_timeout", &self.self_heal_timeout)
            .field("workers", &self.workers)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .field("plugins", &self.plugins)
            .field("sync_timeout", &self.sync_timeout)
            .finish_non_exhaustive()
    }
}

impl AppControllerConfig {
    /// Argo CD's defaults: 120 s + up to 60 s jitter, 5 s self-heal timeout.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AppControllerConfig {
            data_dir: data_dir.into(),
            resync: Duration::from_secs(120),
            jitter: Duration::from_secs(60),
            self_heal_timeout: Duration::from_secs(5),
            workers: 2,
            refresh: RefreshHandle::new(),
            webhook_secret: std::env::var("WEIR_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()),
            plugins: Vec::new(),
            sync_timeout: std::env::var("WEIR_SYNC_TIMEOUT")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
        }
    }
}

/// Kinds whose changes trigger a reconcile of their app right away (others at the next
/// refresh).
const WATCHED: &[&str] = &[
    "pods",
    "jobs",
    "secrets",
    "deployments",
    "services",
    "configmaps",
    "rollouts",
    "virtualservices",
    "destinationrules",
    "gateways",
    "serviceaccounts",
];

/// Runs the Application controller until `shutdown`.
pub async fn run_app_controller<C: Cluster>(
    cluster: Arc<C>,
    config: AppControllerConfig,
    shutdown: Shutdown,
) {
    let registry = Registry::builtin();
    let Some(apps) = registry.for_name("applications").cloned() else {
        tracing::error!("no Application resource type registered");
        return;
    };
    let mut controller = Controller::new(cluster.clone(), apps.clone());
    for name in WATCHED {
        if let Some(rt) = registry.for_name(name) {
            let refresh = config.refresh.clone();
            let mapper: Mapper = Arc::new(move |o: &Object| {
                o.label(INSTANCE_LABEL).map(|app| refresh.app_named(app)).unwrap_or_default()
            });
            controller = controller.watches(rt.clone(), mapper);
        }
    }
    config.refresh.attach(controller.queue());
    let workers = config.workers;
    let reconciler = Arc::new(AppReconciler {
        cluster,
        repos: Repos::new(config.data_dir.join("repos")),
        registry,
        apps,
        config,
        memos: Mutex::new(HashMap::new()),
        refusals: Refusals::new(),
        deletion_retries: DeletionRetries::default(),
    });
    controller.run(reconciler, workers, shutdown).await;
}

/// What the controller remembers of an app between reconciles.
#[derive(Debug, Clone)]
struct Memo {
    source_key: String,
    /// Shared: a memo is cloned on every reconcile, the targets of a large app are not.
    targets: Arc<Result<Targets, String>>,
    at: Instant,
    period: Duration,
    failures: u32,
}

struct AppReconciler<C> {
    cluster: Arc<C>,
    repos: Repos,
    registry: Registry,
    apps: ResourceType,
    config: AppControllerConfig,
    memos: Mutex<HashMap<ObjectRef, Memo>>,
    refusals: Refusals,
    deletion_retries: DeletionRetries,
}

/// How soon a reconcile whose status write lost a race runs again.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

/// A reconcile failure (the runtime retries with backoff).
#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error(transparent)]
    Cluster(#[from] weir_cluster::Error),
}

impl<C: Cluster> Reconciler for AppReconciler<C> {
    type Error = ReconcileError;

    fn is_refusal(&self, error: &ReconcileError) -> bool {
        matches!(error, ReconcileError::Cluster(weir_cluster::Error::Forbidden(_)))
    }

    async fn reconcile(&self, key: &ObjectRef, _ctx: &Context) -> Result<Action, ReconcileError> {
        let obj = match self.cluster.get(&self.apps, key.namespace.as_deref(), &key.name).await {
            Ok(obj) => obj,
            Err(weir_cluster::Error::NotFound { .. }) => {
                self.memos_mut(|m| m.remove(key));
                self.config.refresh.forget(key);
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e.into()),
        };
        let app: Application = match obj.to_typed() {
            Ok(app) => app,
            Err(e) => {
                tracing::warn!(app = %key, error = %e, "invalid Application");
                return Ok(Action::await_change());
            }
        };
        if let Ok(source) = source_of(&app) {
            self.config.refresh.track(key, &source.repo_url);
        }
        if obj.metadata.deletion_timestamp.is_some() {
            return Ok(self.deletion().finalize(&obj, &app, wall_clock()).await?);
        }
        if obj.annotation(SKIP_RECONCILE_ANNOTATION) == Some("true") {
            return Ok(Action::await_change());
        }
        self.reconcile_app(key, &obj, app).await
    }
}

impl<C: Cluster> AppReconciler<C> {
    fn memos_mut<T>(&self, f: impl FnOnce(&mut HashMap<ObjectRef, Memo>) -> T) -> T {
        f(&mut self.memos.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn reconcile_app(
        &self,
        key: &ObjectRef,
        obj: &Object,
        mut app: Application,
    ) -> Result<Action, ReconcileError> {
        let now = wall_clock();
        let project = match self.project_of(key, &app).await? {
            Ok(project) => project,
            Err(message) => {
                // Argo CD's InvalidSpecError: nothing is compared, synced or applied.
                tracing::warn!(app = %key, %message, "invalid Application");
                let new_status = status::build_invalid(&app, &message, now);
                if !self.write_status(obj, &new_status).await? {
                    return Ok(Action::requeue(CONFLICT_RETRY));
                }
                return Ok(Action::requeue(self.period()));
            }
        };
        let source_key =
            serde_json::to_string(&(&app.spec.source, &app.spec.sources, &app.spec.destination))
                .unwrap_or_default();
        let annotated = obj.annotation(REFRESH_ANNOTATION).is_some();
        // A sync operation that starts without a revision syncs the target revision as it is
        // now, as Argo CD resolves it when the sync starts (not the last poll's commit).
        let sync_starts = app.operation.as_ref().is_some_and(|operation| {
            let requested = operation.sync.as_ref().and_then(|s| s.revision.as_deref());
            requested.is_none_or(str::is_empty)
                && current_state(&app, operation, now).sync_result.is_none()
        });
        let forced = self.config.refresh.take_forced(key) || annotated || sync_starts;
        let memo = self.memos_mut(|m| m.get(key).cloned());
        let due = memo
            .as_ref()
            .is_none_or(|m| m.source_key != source_key || m.at.elapsed() >= m.period || forced);
        let memo = if due {
            let targets = load_targets_with(
                &*self.cluster,
                &self.repos,
                &self.registry,
                &app,
                None,
                &self.config.plugins,
            )
            .await;
            let failures = match (&targets, &memo) {
                (Err(_), Some(m)) => m.failures + 1,
                (Err(_), None) => 1,
                (Ok(_), _) => 0,
            };
            let period = if failures > 0 { error_backoff(failures) } else { self.period() };
            let targets = Arc::new(targets);
            let memo = Memo { source_key, targets, at: Instant::now(), period, failures };
            self.memos_mut(|m| m.insert(key.clone(), memo.clone()));
            memo
        } else {
            memo.expect("a memo exists when no refresh is due")
        };
        if annotated {
            let patch =
                Patch::Merge(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}}));
            let ns = key.namespace.as_deref();
            self.cluster.patch(&self.apps, ns, &key.name, &patch, Subresource::Main).await?;
        }
        let mut action = Action::requeue(memo.period.saturating_sub(memo.at.elapsed()));
        let extra = previous_types(&app);
        // A live state the role may not read (403) is a ComparisonError, as in Argo CD, not a
        // failure to retry hot.
        let mut refused: Option<String> = None;
        let comparison = match &*memo.targets {
            Ok(targets) => {
                let live =
                    load_live(&*self.cluster, &self.registry, app.name(), &targets.objects, &extra)
                        .await;
                match live {
                    Ok(lives) => {
                        let ignore = ignore_rules(app.spec.ignore_differences.as_deref());
                        let health = load_health_overrides(&*self.cluster, &self.registry).await;
                        let c =
                            compare_with(app.name(), &targets.objects, &lives, &ignore, &health);
                        Some((c, targets))
                    }
                    Err(e @ weir_cluster::Error::Forbidden(_)) => {
                        refused = Some(format!("Failed to load live state: {e}"));
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(_) => None,
        };
        // Auto-sync.
        if let Some((comparison, targets)) = &comparison {
            let decision = autosync::decide(
                &app,
                comparison.sync_status(),
                &targets.revision,
                targets.objects.is_empty(),
                comparison.resources.iter().filter(|r| r.out_of_sync).all(|r| r.requires_pruning()),
                now,
                self.config.self_heal_timeout,
            );
            match decision {
                Decision::Sync(operation) => {
                    tracing::info!(app = %key, revision = %targets.revision, "auto-sync");
                    let patch = Patch::Merge(json!({"operation": operation}));
                    let ns = key.namespace.as_deref();
                    self.cluster
                        .patch(&self.apps, ns, &key.name, &patch, Subresource::Main)
                        .await?;
                    app.operation = Some(*operation);
                }
                Decision::Wait(delay) => action = action.min(Action::requeue(delay)),
                Decision::Skip(reason) if !reason.is_empty() => {
                    tracing::debug!(app = %key, %reason, "auto-sync skipped");
                }
                Decision::Skip(_) => {}
            }
        }
        // The requested operation.
        let mut comparison = comparison.map(|(c, t)| (c, t.clone()));
        if let Some(operation) = app.operation.clone() {
            let mut state = current_state(&app, &operation, now);
            // The revision the operation resolved when it started (recorded in its state)
            // stays its revision for every later pass, even when the branch moves meanwhile.
            let wanted = state
                .sync_result
                .as_ref()
                .map(|r| r.revision.clone())
                .filter(|r| !r.is_empty())
                .or_else(|| operation.sync.as_ref().and_then(|s| s.revision.clone()));
            let at_revision = match (&comparison, wanted) {
                (Some((c, t)), w)
                    if w.as_deref().is_none_or(|w| w.is_empty() || t.revision.starts_with(w)) =>
                {
                    Ok((c.clone(), t.revision.clone()))
                }
                (_, w) => self.compare_at(&app, w.as_deref()).await,
            };
            let progress = match at_revision {
                Ok((c, revision)) => {
                    advance(
                        &*self.cluster,
                        &self.registry,
                        &mut app,
                        &mut state,
                        SyncTarget {
                            comparison: &c,
                            revision: &revision,
                            project: &project,
                            sync_timeout: self.config.sync_timeout,
                        },
                        now,
                    )
                    .await
                }
                Err(message) => {
                    state.phase = "Error".into();
                    state.message = Some(message);
                    state.finished_at =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
                    Progress::Finished { clear: true, requeue: None }
                }
            };
            app.status.get_or_insert_with(Default::default).operation_state = Some(state);
            match progress {
                Progress::Running(delay) => action = action.min(Action::requeue(delay)),
                Progress::Finished { clear, requeue } => {
                    if clear {
                        let patch = Patch::Merge(json!({"operation": null}));
                        let ns = key.namespace.as_deref();
                        self.cluster
                            .patch(&self.apps, ns, &key.name, &patch, Subresource::Main)
                            .await?;
                        app.operation = None;
                    }
                    if let Some(delay) = requeue {
                        action = action.min(Action::requeue(delay));
                    }
                    // Compare again so the status shows the result of the sync.
                    if let Some((c, t)) = &mut comparison {
                        let lives = load_live(
                            &*self.cluster,
                            &self.registry,
                            app.name(),
                            &t.objects,
                            &extra,
                        )
                        .await?;
                        let ignore = ignore_rules(app.spec.ignore_differences.as_deref());
                        let health = load_health_overrides(&*self.cluster, &self.registry).await;
                        *c = compare_with(app.name(), &t.objects, &lives, &ignore, &health);
                    }
                }
            }
        }
        let outcome = match (&comparison, &*memo.targets, &refused) {
            (Some((c, t)), ..) => Ok((c, t.revision.as_str())),
            (None, Err(message), _) | (None, Ok(_), Some(message)) => Err(message.as_str()),
            (None, Ok(_), None) => Err("comparison failed"),
        };
        if let Some((c, _)) = &comparison
            && c.health == weir_gitops::health::HealthStatus::Progressing
        {
            action = action.min(Action::requeue(Duration::from_secs(5)));
        }
        if let Ok(targets) = memo.targets.as_ref() {
            self.deletion().ensure_hook_finalizers(obj, &targets.objects).await?;
        }
        let new_status = status::build(&app, outcome, due, now);
        if !self.write_status(obj, &new_status).await? {
            return Ok(Action::requeue(CONFLICT_RETRY));
        }
        match &refused {
            Some(message) => self.report_refusal(key, obj, message, now).await,
            None => self.refusals.allowed(key),
        }
        Ok(action)
    }

    /// Records a Warning Event for a refused live state the first time this message is seen
    /// (the status already shows it as a ComparisonError); an Event that is itself refused is
    /// logged once.
    async fn report_refusal(&self, key: &ObjectRef, obj: &Object, message: &str, now: Timestamp) {
        if !self.refusals.first_time(key, message) {
            return;
        }
        let record = weir_cluster::EventRecord {
            reason: FORBIDDEN_REASON,
            message,
            warning: true,
            component: "weir-application-controller",
        };
        if let Err(e) = weir_cluster::record_event(&*self.cluster, obj, record, now).await {
            tracing::warn!(app = %key, "{message} (and the Event reporting it: {e})");
        }
    }

    /// The app's AppProject (Argo CD's built-in `default` when none is stored under that
    /// name), or the InvalidSpecError message when the app breaks its rules or names a
    /// project that does not exist.
    async fn project_of(
        &self,
        key: &ObjectRef,
        app: &Application,
    ) -> Result<Result<(String, AppProjectSpec), String>, ReconcileError> {
        let name = match app.spec.project.as_str() {
            "" => DEFAULT_PROJECT,
            name => name,
        };
        let projects = self.registry.for_name("appprojects").cloned();
        let stored = match &projects {
            Some(rt) => match self.cluster.get(rt, key.namespace.as_deref(), name).await {
                Ok(object) => Some(object),
                Err(weir_cluster::Error::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let spec = match stored {
            Some(object) => match object.to_typed::<AppProject>() {
                Ok(project) => project.spec,
                Err(e) => return Ok(Err(format!("AppProject {name} is invalid: {e}"))),
            },
            None if name == DEFAULT_PROJECT => default_project(),
            None => {
                return Ok(Err(format!(
                    "Application referencing project {name} which does not exist"
                )));
            }
        };
        let source = app.spec.source.as_ref();
        let repo = source.map(|s| s.repo_url.as_str()).unwrap_or("");
        let destination = &app.spec.destination;
        let checked = check_app(
            name,
            &spec,
            repo,
            destination.server.as_deref().unwrap_or(""),
            destination.name.as_deref().unwrap_or(""),
            destination.namespace.as_deref().unwrap_or(""),
        );
        Ok(checked.map(|()| (name.to_owned(), spec)))
    }

    /// Renders and compares at another revision (a sync to a given revision).
    async fn compare_at(
        &self,
        app: &Application,
        revision: Option<&str>,
    ) -> Result<(Comparison, String), String> {
        let targets = load_targets_with(
            &*self.cluster,
            &self.repos,
            &self.registry,
            app,
            revision,
            &self.config.plugins,
        )
        .await?;
        let extra = previous_types(app);
        let lives = load_live(&*self.cluster, &self.registry, app.name(), &targets.objects, &extra)
            .await
            .map_err(|e| e.to_string())?;
        let ignore = ignore_rules(app.spec.ignore_differences.as_deref());
        let health = load_health_overrides(&*self.cluster, &self.registry).await;
        let c = compare_with(app.name(), &targets.objects, &lives, &ignore, &health);
        Ok((c, targets.revision))
    }

    /// Writes the status built from `obj` unless unchanged; `false` when another writer
    /// changed the Application since it was read (the write is not made: the caller retries
    /// with what the other writer wrote, as a resourceVersion precondition guarantees).
    async fn write_status(
        &self,
        obj: &Object,
        new_status: &weir_model::argocd::ApplicationStatus,
    ) -> Result<bool, ReconcileError> {
        let value = serde_json::to_value(new_status).unwrap_or(Value::Null);
        if obj.data.get("status") == Some(&value) {
            return Ok(true);
        }
        let mut fresh = self.cluster.get(&self.apps, obj.namespace(), obj.name()).await?;
        // Only this controller writes the status; a change since `obj` was read elsewhere
        // (spec, operation, annotations) is kept by writing on the fresh read, and a write
        // racing this one is a conflict.
        if fresh.data.get("status") != obj.data.get("status") {
            return Ok(false);
        }
        fresh.data.insert("status".into(), value);
        match self.cluster.update_status(&self.apps, fresh).await {
            Ok(_) => Ok(true),
            Err(weir_cluster::Error::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The deletion of an app (its deletion finalizers, one stage per pass): [`Deletion`].
    fn deletion(&self) -> Deletion<'_, C> {
        Deletion {
            cluster: &*self.cluster,
            registry: &self.registry,
            repos: &self.repos,
            plugins: &self.config.plugins,
            apps: &self.apps,
            retries: &self.deletion_retries,
        }
    }

    /// The refresh period: `resync` plus a random jitter of up to `jitter`, itself at most
    /// half of `resync` (Argo CD's 120 s + 60 s by default; a short `--app-resync` used in
    /// tests or small setups keeps a proportionate jitter).
    fn period(&self) -> Duration {
        let jitter = self.config.jitter.min(self.config.resync / 2).as_millis() as u64;
        if jitter == 0 {
            return self.config.resync;
        }
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(jitter);
        self.config.resync + Duration::from_millis(hasher.finish() % jitter)
    }
}

/// The wall clock at second precision (what Kubernetes timestamps hold).
fn wall_clock() -> Timestamp {
    let now = weir_cluster::wall_clock();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Retry delays of an unreachable repository: 5 s doubling to 3 min.
fn error_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs(5 * 2u64.pow(exp)).min(Duration::from_secs(180))
}
