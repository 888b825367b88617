//! Which kinds are typed, and the conversion between a dynamic [`Object`] and its type.
//!
//! | group | versions | typed kinds |
//! |---|---|---|
//! | `argoproj.io` | `v1alpha1` | Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun, Experiment, Application, AppProject |
//! | `networking.istio.io` | `v1`, `v1beta1`, `v1alpha3` | VirtualService, DestinationRule, Gateway |
//! | core | `v1` | Namespace, Service, ConfigMap, Secret, Pod (k8s-openapi types) |
//! | `apps` | `v1` | Deployment, ReplicaSet (k8s-openapi types) |
//!
//! Every other object stays [`TypedObject::Generic`]. In the two custom groups, a kind or
//! version nobody registered (`argoproj.io/v1alpha1` kind `Rolout`, `networking.istio.io/v2`)
//! is an error worded as kubectl words it, because it is almost always a typo; the other kinds
//! of those groups that weir keeps as generic objects (ApplicationSet, Argo Workflows and
//! Events kinds, Istio's ServiceEntry, Sidecar, …) are listed in [`GENERIC_ARGO_KINDS`] and
//! [`GENERIC_ISTIO_KINDS`].

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use serde::de::DeserializeOwned;
use weir_cluster::Object;

use crate::argocd::{AppProject, Application};
use crate::istio::{DestinationRule, Gateway, VirtualService};
use crate::rollouts::{
    AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Experiment, Rollout,
};
use crate::{Diagnostic, ErrorType};

pub use crate::parse::{CheckReport, check_manifests};

/// Kinds of `argoproj.io` that weir keeps as generic objects (not an error, not typed).
pub const GENERIC_ARGO_KINDS: &[&str] = &[
    "ApplicationSet",
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "WorkflowEventBinding",
    "WorkflowTaskSet",
    "WorkflowTaskResult",
    "WorkflowArtifactGCTask",
    "EventSource",
    "EventBus",
    "Sensor",
    "RolloutManager",
    "NotificationsConfiguration",
];

/// Kinds of `networking.istio.io` that weir keeps as generic objects.
pub const GENERIC_ISTIO_KINDS: &[&str] =
    &["ServiceEntry", "Sidecar", "EnvoyFilter", "WorkloadEntry", "WorkloadGroup", "ProxyConfig"];

const TYPED_ARGO_KINDS: &[&str] = &[
    "Rollout",
    "AnalysisTemplate",
    "ClusterAnalysisTemplate",
    "AnalysisRun",
    "Experiment",
    "Application",
    "AppProject",
];
const TYPED_ISTIO_KINDS: &[&str] = &["VirtualService", "DestinationRule", "Gateway"];

/// An object converted into its model type, or kept dynamic.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // Generic is the common case; typed variants are boxed.
pub enum TypedObject {
    /// `argoproj.io/v1alpha1` Rollout.
    Rollout(Box<Rollout>),
    /// `argoproj.io/v1alpha1` AnalysisTemplate.
    AnalysisTemplate(Box<AnalysisTemplate>),
    /// `argoproj.io/v1alpha1` ClusterAnalysisTemplate.
    ClusterAnalysisTemplate(Box<ClusterAnalysisTemplate>),
    /// `argoproj.io/v1alpha1` AnalysisRun.
    AnalysisRun(Box<AnalysisRun>),
    /// `argoproj.io/v1alpha1` Experiment.
    Experiment(Box<Experiment>),
    /// `argoproj.io/v1alpha1` Application (Argo CD).
    Application(Box<Application>),
    /// `argoproj.io/v1alpha1` AppProject (Argo CD).
    AppProject(Box<AppProject>),
    /// `networking.istio.io` VirtualService (any served version).
    VirtualService(Box<VirtualService>),
    /// `networking.istio.io` DestinationRule (any served version).
    DestinationRule(Box<DestinationRule>),
    /// `networking.istio.io` Gateway (any served version).
    Gateway(Box<Gateway>),
    /// `v1` Namespace.
    Namespace(Box<Namespace>),
    /// `v1` Service.
    Service(Box<Service>),
    /// `v1` ConfigMap.
    ConfigMap(Box<ConfigMap>),
    /// `v1` Secret.
    Secret(Box<Secret>),
    /// `apps/v1` Deployment.
    Deployment(Box<Deployment>),
    /// `apps/v1` ReplicaSet.
    ReplicaSet(Box<ReplicaSet>),
    /// `v1` Pod.
    Pod(Box<Pod>),
    /// Any other kind, kept as written.
    Generic(Object),
}

/// Why an object could not be converted into its type: one field and one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Field path, e.g. `spec.strategy.canary.steps[0].setWeight`; `apiVersion` or `kind` for
    /// an unregistered kind or version.
    pub field: String,
    /// What is wrong, e.g. `invalid type: string "x", expected i32`.
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

impl TypedObject {
    /// Converts a dynamic object into its type (see the module table). Errors carry the field
    /// path; an unregistered kind or version of a typed group is an error.
    pub fn from_object(obj: &Object) -> Result<TypedObject, Vec<Diagnostic>> {
        Self::decode(obj).map_err(|e| vec![Diagnostic::new(ErrorType::Invalid, e.field, e.message)])
    }

    /// As [`TypedObject::from_object`], with the error as a [`DecodeError`].
    pub fn decode(obj: &Object) -> Result<TypedObject, DecodeError> {
        let (group, version) = obj.api_version.rsplit_once('/').unwrap_or(("", &obj.api_version));
        let kind = obj.kind.as_str();
        match group {
            crate::argocd::GROUP => {
                let typed = TYPED_ARGO_KINDS.contains(&kind);
                if version != crate::argocd::VERSION {
                    return if typed { Err(not_registered(obj)) } else { Ok(Self::generic(obj)) };
                }
                if !typed && !GENERIC_ARGO_KINDS.contains(&kind) {
                    return Err(not_registered(obj));
                }
            }
            crate::istio::GROUP => {
                let known =
                    TYPED_ISTIO_KINDS.contains(&kind) || GENERIC_ISTIO_KINDS.contains(&kind);
                if !crate::istio::is_served_version(version) || !known {
                    return Err(not_registered(obj));
                }
            }
            _ => {}
        }
        Ok(match (group, version, kind) {
            ("argoproj.io", "v1alpha1", "Rollout") => Self::Rollout(decode(obj)?),
            ("argoproj.io", "v1alpha1", "AnalysisTemplate") => Self::AnalysisTemplate(decode(obj)?),
            ("argoproj.io", "v1alpha1", "ClusterAnalysisTemplate") => {
                Self::ClusterAnalysisTemplate(decode(obj)?)
            }
            ("argoproj.io", "v1alpha1", "AnalysisRun") => Self::AnalysisRun(decode(obj)?),
            ("argoproj.io", "v1alpha1", "Experiment") => Self::Experiment(decode(obj)?),
            ("argoproj.io", "v1alpha1", "Application") => Self::Application(decode(obj)?),
            ("argoproj.io", "v1alpha1", "AppProject") => Self::AppProject(decode(obj)?),
            ("networking.istio.io", _, "VirtualService") => Self::VirtualService(decode(obj)?),
            ("networking.istio.io", _, "DestinationRule") => Self::DestinationRule(decode(obj)?),
            ("networking.istio.io", _, "Gateway") => Self::Gateway(decode(obj)?),
            ("", "v1", "Namespace") => Self::Namespace(decode(obj)?),
            ("", "v1", "Service") => Self::Service(decode(obj)?),
            ("", "v1", "ConfigMap") => Self::ConfigMap(decode(obj)?),
            ("", "v1", "Secret") => Self::Secret(decode(obj)?),
            ("", "v1", "Pod") => Self::Pod(decode(obj)?),
            ("apps", "v1", "Deployment") => Self::Deployment(decode(obj)?),
            ("apps", "v1", "ReplicaSet") => Self::ReplicaSet(decode(obj)?),
            _ => Self::generic(obj),
        })
    }

    fn generic(obj: &Object) -> Self {
        Self::Generic(obj.clone())
    }

    /// The object as a dynamic object again (absent fields stay absent).
    pub fn to_object(&self) -> Object {
        let result = match self {
            Self::Rollout(o) => Object::from_typed(o),
            Self::AnalysisTemplate(o) => Object::from_typed(o),
            Self::ClusterAnalysisTemplate(o) => Object::from_typed(o),
            Self::AnalysisRun(o) => Object::from_typed(o),
            Self::Experiment(o) => Object::from_typed(o),
            Self::Application(o) => Object::from_typed(o),
            Self::AppProject(o) => Object::from_typed(o),
            Self::VirtualService(o) => Object::from_typed(o),
            Self::DestinationRule(o) => Object::from_typed(o),
            Self::Gateway(o) => Object::from_typed(o),
            Self::Namespace(o) => Object::from_typed(o),
            Self::Service(o) => Object::from_typed(o),
            Self::ConfigMap(o) => Object::from_typed(o),
            Self::Secret(o) => Object::from_typed(o),
            Self::Deployment(o) => Object::from_typed(o),
            Self::ReplicaSet(o) => Object::from_typed(o),
            Self::Pod(o) => Object::from_typed(o),
            Self::Generic(o) => return o.clone(),
        };
        // Model types serialize to a JSON object with apiVersion and kind by construction.
        result.expect("a typed object always serializes to a Kubernetes object")
    }

    /// The object's kind (`Rollout`, `VirtualService`, …).
    pub fn kind(&self) -> &str {
        match self {
            Self::Rollout(_) => "Rollout",
            Self::AnalysisTemplate(_) => "AnalysisTemplate",
            Self::ClusterAnalysisTemplate(_) => "ClusterAnalysisTemplate",
            Self::AnalysisRun(_) => "AnalysisRun",
            Self::Experiment(_) => "Experiment",
            Self::Application(_) => "Application",
            Self::AppProject(_) => "AppProject",
            Self::VirtualService(_) => "VirtualService",
            Self::DestinationRule(_) => "DestinationRule",
            Self::Gateway(_) => "Gateway",
            Self::Namespace(_) => "Namespace",
            Self::Service(_) => "Service",
            Self::ConfigMap(_) => "ConfigMap",
            Self::Secret(_) => "Secret",
            Self::Deployment(_) => "Deployment",
            Self::ReplicaSet(_) => "ReplicaSet",
            Self::Pod(_) => "Pod",
            Self::Generic(o) => &o.kind,
        }
    }

    /// Whether the object stayed dynamic.
    pub fn is_generic(&self) -> bool {
        matches!(self, Self::Generic(_))
    }

    /// Every validation problem of the object (Argo's rules and messages); empty for kinds
    /// without rules.
    pub fn validate(&self) -> Vec<Diagnostic> {
        use crate::validate::{analysis, application, rollout};
        match self {
            Self::Rollout(r) => rollout::validate_rollout(r),
            Self::AnalysisTemplate(t) => {
                under_spec(analysis::validate_analysis_template_spec(&t.spec))
            }
            Self::ClusterAnalysisTemplate(t) => {
                under_spec(analysis::validate_analysis_template_spec(&t.spec))
            }
            Self::AnalysisRun(run) => under_spec(analysis::validate_metrics(&run.spec.metrics)),
            Self::Application(app) => application::validate_application(app),
            _ => vec![],
        }
    }
}

/// Analysis diagnostics are relative to the spec (`metrics[0]`, or `""` for "no metrics
/// specified"); object diagnostics name the whole path (`spec.metrics[0]`).
fn under_spec(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|mut d| {
            d.field = if d.field.is_empty() {
                "spec.metrics".to_owned()
            } else {
                format!("spec.{}", d.field)
            };
            d
        })
        .collect()
}

fn not_registered(obj: &Object) -> DecodeError {
    DecodeError {
        field: "kind".to_owned(),
        message: format!(
            "no kind \"{}\" is registered for version \"{}\"",
            obj.kind, obj.api_version
        ),
    }
}

fn decode<T: DeserializeOwned>(obj: &Object) -> Result<Box<T>, DecodeError> {
    let value = obj.to_value();
    serde_path_to_error::deserialize::<_, T>(value).map(Box::new).map_err(|e| {
        let mut field = crate::parse::field_path(e.path());
        let message = e.inner().to_string();
        // "unknown field `stepz`, expected one of …" → field `….stepz`, "unknown field".
        for (prefix, text) in
            [("unknown field `", "unknown field"), ("missing field `", "missing required field")]
        {
            if let Some(rest) = message.strip_prefix(prefix)
                && let Some((name, _)) = rest.split_once('`')
            {
                if !field.ends_with(name) {
                    crate::parse::push_field_key(&mut field, name);
                }
                return DecodeError { field, message: format!("{text} \"{name}\"") };
            }
        }
        DecodeError { field, message }
    })
}
