//! The API's description of itself: `/version` (a Kubernetes version object) and the discovery
//! routes (`/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`), answered from the live registry
//! (kinds of CRDs applied at runtime included) by the pure builders of [`super::discovery`].

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use weir_cluster::{Cluster, Error, ListParams};

use super::discovery::{self, AGGREGATED_MEDIA_TYPE, Facts};
use super::{ApiState, error_response};

/// The Kubernetes release whose API weir follows (its OpenAPI document is compiled in).
const KUBERNETES_MAJOR: &str = "1";
const KUBERNETES_MINOR: &str = "36";

/// `/version`: a Kubernetes `version.Info`, with weir's own version as build metadata
/// (`v1.36.0+weir.0.1.0`) and, as an extra field, `weir`. Commit and build date come from
/// `WEIR_GIT_COMMIT`/`WEIR_GIT_TREE_STATE`/`WEIR_BUILD_DATE` at build time when set; otherwise
/// they are what a Kubernetes binary built without version stamping reports (empty, and the
/// epoch).
pub(crate) fn version_info() -> Value {
    let weir = env!("CARGO_PKG_VERSION");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0+weir.{weir}"),
        "gitCommit": option_env!("WEIR_GIT_COMMIT").unwrap_or(""),
        "gitTreeState": option_env!("WEIR_GIT_TREE_STATE").unwrap_or(""),
        "buildDate": option_env!("WEIR_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
        "weir": weir,
    })
}

pub(crate) async fn version() -> Json<Value> {
    Json(version_info())
}

/// What the CRDs compiled into weir declare (parsed once).
fn builtin_facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| {
        match serde_json::from_str::<Vec<Value>>(weir_apimachinery::data::BUILTIN_CRDS) {
            Ok(crds) => discovery::facts_from_crds(&crds),
            Err(e) => {
                tracing::error!(error = %e, "the built-in CRDs do not parse");
                Facts::new()
            }
        }
    })
}

/// The facts of the built-in CRDs, overridden by those of the CRDs stored now.
pub(crate) async fn facts<C: Cluster>(state: &ApiState<C>) -> Facts {
    let mut facts = builtin_facts().clone();
    if let Some(crd_type) =
        state.resources.for_name("customresourcedefinitions.apiextensions.k8s.io")
    {
        match state.cluster.list(&crd_type, None, &ListParams::default()).await {
            Ok(list) => {
                let values: Vec<Value> = list.items.iter().map(|crd| crd.to_value()).collect();
                facts.extend(discovery::facts_from_crds(&values));
            }
            Err(e) => tracing::warn!(error = %e, "cannot list CustomResourceDefinitions"),
        }
    }
    facts
}

fn aggregated_response(document: Value) -> Response {
    ([(header::CONTENT_TYPE, AGGREGATED_MEDIA_TYPE)], Json(document)).into_response()
}

fn accepts_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(discovery::wants_aggregated)
}

fn not_found(path: &str) -> Response {
    error_response(&Error::NotFound { kind: "resource".to_owned(), name: path.to_owned() })
}

/// `/api`.
pub(crate) async fn core_versions<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    headers: HeaderMap,
) -> Response {
    if accepts_aggregated(&headers) {
        let registry = state.resources.snapshot();
        return aggregated_response(discovery::aggregated(&registry, &facts(&state).await, true));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    Json(discovery::api_versions(host)).into_response()
}

/// `/apis`.
pub(crate) async fn group_list<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    headers: HeaderMap,
) -> Response {
    let registry = state.resources.snapshot();
    if accepts_aggregated(&headers) {
        return aggregated_response(discovery::aggregated(&registry, &facts(&state).await, false));
    }
    Json(discovery::api_group_list(&registry)).into_response()
}

/// `/apis/{group}`.
pub(crate) async fn group<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    Path(group): Path<String>,
) -> Response {
    match discovery::api_group(&state.resources.snapshot(), &group) {
        Some(document) => Json(document).into_response(),
        None => not_found(&format!("/apis/{group}")),
    }
}

/// `/api/{version}`.
pub(crate) async fn core_resources<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    Path(version): Path<String>,
) -> Response {
    resource_list(&state, "", &version).await
}

/// `/apis/{group}/{version}`.
pub(crate) async fn group_resources<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    resource_list(&state, &group, &version).await
}

async fn resource_list<C: Cluster>(state: &ApiState<C>, group: &str, version: &str) -> Response {
    let registry = state.resources.snapshot();
    match discovery::api_resource_list(&registry, &facts(state).await, group, version) {
        Some(document) => Json(document).into_response(),
        None if group.is_empty() => not_found(&format!("/api/{version}")),
        None => not_found(&format!("/apis/{group}/{version}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_a_kubernetes_version_object() {
        let info = version_info();
        // Fields of k8s.io/apimachinery/pkg/version.Info.
        for field in [
            "major",
            "minor",
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ] {
            assert!(info[field].is_string(), "{field}: {info}");
        }
        assert_eq!(
            info["gitVersion"],
            format!("v1.36.0+weir.{}", env!("CARGO_PKG_VERSION")).as_str()
        );
        assert_eq!((&info["major"], &info["minor"]), (&json!("1"), &json!("36")));
        assert_eq!(info["weir"], env!("CARGO_PKG_VERSION"));
        assert!(info["platform"].as_str().unwrap().starts_with("linux/"));
    }

    #[test]
    fn builtin_crds_declare_the_rollout_scale() {
        let rollout = &builtin_facts()[&("argoproj.io".to_owned(), "Rollout".to_owned())];
        // From ../shared/fixtures/crds/argo-rollouts/rollout-crd.yaml.
        let scale = &rollout.scale["v1alpha1"];
        assert_eq!(scale.spec_replicas, ".spec.replicas");
        assert_eq!(scale.status_replicas, ".status.HPAReplicas");
        assert_eq!(scale.label_selector.as_deref(), Some(".status.selector"));
    }
}
