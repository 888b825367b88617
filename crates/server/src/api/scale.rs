//! The `/scale` subresource: an `autoscaling/v1` Scale read from, and written to, a Deployment,
//! a ReplicaSet, or a custom resource whose CRD declares `subresources.scale` (Argo's Rollout:
//! `.spec.replicas`, `.status.HPAReplicas`, `.status.selector`). A write changes only the
//! object's replica count, with the object's resourceVersion as the precondition.
//!
//! The conversions are pure ([`ScaleSource::scale_of`], [`ScaleSource::set_replicas`],
//! [`requested_replicas`]); [`handle`] does the reads and writes.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use weir_cluster::{Cluster, Error, FieldError, LabelSelector, Object, Patch, ResourceType};

use super::discovery::{BUILTIN_SCALE, Facts, ScalePaths};

/// How many times a write is retried when the object changed between read and write (only
/// when the client gave no resourceVersion of its own).
const WRITE_ATTEMPTS: usize = 3;

/// Where a type keeps what its Scale shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScaleSource {
    /// Deployments and ReplicaSets: `spec.replicas`, `status.replicas`, and `spec.selector`
    /// (a LabelSelector object) rendered as a selector string.
    Workload,
    /// A custom resource, as its CRD declares.
    Custom(ScalePaths),
}

impl ScaleSource {
    /// The scale source of `rt` served in `version`, if it has one.
    pub(crate) fn of(rt: &ResourceType, version: &str, facts: &Facts) -> Option<ScaleSource> {
        if BUILTIN_SCALE.iter().any(|(g, k)| *g == rt.group && *k == rt.kind) {
            return Some(ScaleSource::Workload);
        }
        let fact = facts.get(&(rt.group.clone(), rt.kind.clone()))?;
        fact.scale_of(version).cloned().map(ScaleSource::Custom)
    }

    fn spec_path(&self) -> Vec<&str> {
        match self {
            ScaleSource::Workload => vec!["spec", "replicas"],
            ScaleSource::Custom(paths) => segments(&paths.spec_replicas),
        }
    }

    /// The Scale of `object` (as Kubernetes builds it: a missing count is 0 for custom
    /// resources, and a Deployment's or ReplicaSet's missing `spec.replicas` is its default 1).
    pub(crate) fn scale_of(&self, object: &Value) -> Value {
        let count = |path: &[&str]| lookup(object, path).and_then(Value::as_i64);
        let (spec, status, selector) = match self {
            ScaleSource::Workload => {
                let selector = object
                    .pointer("/spec/selector")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .and_then(|s| LabelSelector::from_k8s(&s).ok())
                    .map(|s| s.to_string());
                (
                    count(&["spec", "replicas"]).unwrap_or(1),
                    count(&["status", "replicas"]).unwrap_or(0),
                    selector,
                )
            }
            ScaleSource::Custom(paths) => (
                count(&segments(&paths.spec_replicas)).unwrap_or(0),
                count(&segments(&paths.status_replicas)).unwrap_or(0),
                paths
                    .label_selector
                    .as_ref()
                    .and_then(|p| lookup(object, &segments(p)))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
        };
        let mut metadata = Map::new();
        for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let Some(value) = object.pointer(&format!("/metadata/{key}")) {
                metadata.insert(key.to_owned(), value.clone());
            }
        }
        let mut status_object = json!({ "replicas": status });
        if let Some(selector) = selector {
            status_object["selector"] = json!(selector);
        }
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata,
            "spec": { "replicas": spec }, "status": status_object,
        })
    }

    /// Sets the replica count of `object` (creating the path's objects when absent).
    pub(crate) fn set_replicas(&self, object: &mut Value, replicas: i64) {
        let path = self.spec_path();
        let Some((last, parents)) = path.split_last() else { return };
        let mut at = object;
        for key in parents {
            if !at.get(*key).is_some_and(Value::is_object) {
                at[*key] = json!({});
            }
            at = &mut at[*key];
        }
        at[*last] = json!(replicas);
    }
}

/// `.spec.replicas` → `["spec", "replicas"]`.
fn segments(path: &str) -> Vec<&str> {
    path.split('.').filter(|s| !s.is_empty()).collect()
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |at, key| at.get(*key))
}

/// The replica count a Scale body asks for: `spec.replicas`, a whole number ≥ 0 (422
/// otherwise, with the API server's message).
pub(crate) fn requested_replicas(scale: &Value, name: &str) -> Result<i64, Error> {
    let invalid = |message: &str| Error::Invalid {
        kind: "Scale".to_owned(),
        name: name.to_owned(),
        causes: vec![FieldError { field: "spec.replicas".to_owned(), message: message.to_owned() }],
    };
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(value) => match value.as_i64() {
            Some(n) if n < 0 => Err(invalid("must be greater than or equal to 0")),
            Some(n) if i32::try_from(n).is_err() => Err(invalid("must be a 32-bit integer")),
            Some(n) => Ok(n),
            None => Err(invalid("must be an integer")),
        },
    }
}

/// Serves GET, PUT and PATCH on `…/{name}/scale`. `rt` carries the version the client asked
/// for.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle<C: Cluster>(
    cluster: &C,
    facts: &Facts,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Error> {
    let Some(source) = ScaleSource::of(rt, &rt.version, facts) else {
        return Err(Error::NotFound {
            kind: "resource".to_owned(),
            name: format!("{}/scale", rt.plural),
        });
    };
    let respond = |object: &Object| (StatusCode::OK, Json(source.scale_of(&object.to_value())));
    match *method {
        Method::GET => Ok(respond(&cluster.get(rt, namespace, name).await?).into_response()),
        Method::PUT => {
            let scale: Value = serde_json::from_slice(body)
                .map_err(|e| Error::BadRequest(format!("request body is not valid JSON: {e}")))?;
            check_scale_body(&scale, name)?;
            let replicas = requested_replicas(&scale, name)?;
            let precondition = scale
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|rv| !rv.is_empty());
            let written =
                write(cluster, rt, namespace, name, &source, precondition, |_| Ok(replicas))
                    .await?;
            Ok(respond(&written).into_response())
        }
        Method::PATCH => {
            let content_type =
                headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            // A Scale has no lists: a strategic merge patch of it is a JSON merge patch.
            let patch = Patch::from_body(content_type, body)?;
            let written = write(cluster, rt, namespace, name, &source, None, |live| {
                let mut scale = source.scale_of(live);
                weir_cluster::apply_patch(&mut scale, &patch)?;
                check_scale_body(&scale, name)?;
                requested_replicas(&scale, name)
            })
            .await?;
            Ok(respond(&written).into_response())
        }
        _ => {
            Err(Error::BadRequest(format!("method {method} is not allowed on {}/scale", rt.plural)))
        }
    }
}

/// A Scale body must be one (when it says what it is) and name the object of the path.
fn check_scale_body(scale: &Value, name: &str) -> Result<(), Error> {
    if let Some(kind) = scale.get("kind").and_then(Value::as_str)
        && kind != "Scale"
    {
        return Err(Error::BadRequest(format!("the body is a {kind}, not a Scale")));
    }
    if let Some(body_name) = scale.pointer("/metadata/name").and_then(Value::as_str)
        && body_name != name
    {
        return Err(Error::BadRequest(format!(
            "the name in the body ({body_name:?}) does not match the name in the path ({name:?})"
        )));
    }
    Ok(())
}

/// Reads the object, asks `replicas_for` the new count, and writes it with the object's
/// resourceVersion as the precondition (the client's, when it gave one).
async fn write<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    source: &ScaleSource,
    precondition: Option<&str>,
    replicas_for: impl Fn(&Value) -> Result<i64, Error>,
) -> Result<Object, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let live = cluster.get(rt, namespace, name).await?;
        if let Some(rv) = precondition
            && live.metadata.resource_version.as_deref() != Some(rv)
        {
            return Err(Error::Conflict {
                kind: rt.kind.clone(),
                name: name.to_owned(),
                message: "the object has been modified; please apply your changes to the latest version and try again".to_owned(),
            });
        }
        let mut value = live.to_value();
        let replicas = replicas_for(&value)?;
        source.set_replicas(&mut value, replicas);
        let updated = Object::from_value(value)?;
        match cluster.update(rt, updated).await {
            Err(Error::Conflict { .. }) if precondition.is_none() && attempt < WRITE_ATTEMPTS => {}
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout_paths() -> ScalePaths {
        // The Rollout CRD's `subresources.scale` (../shared/fixtures/crds/argo-rollouts/).
        ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.HPAReplicas".into(),
            label_selector: Some(".status.selector".into()),
        }
    }

    #[test]
    fn a_deployment_scale_renders_its_selector_as_a_string() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "fe"}}},
            "status": {"replicas": 2},
        });
        let scale = ScaleSource::Workload.scale_of(&deployment);
        // What a Kubernetes API server answers for this Deployment (autoscaling/v1 Scale).
        assert_eq!(
            scale,
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
                "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web,tier=fe"},
            })
        );
        let defaulted = json!({"metadata": {"name": "web"}, "spec": {}});
        assert_eq!(ScaleSource::Workload.scale_of(&defaulted)["spec"]["replicas"], 1);
    }

    #[test]
    fn a_rollout_scale_follows_its_crd_paths() {
        let rollout = json!({
            "metadata": {"name": "r"},
            "spec": {"replicas": 5},
            "status": {"replicas": 6, "HPAReplicas": 5, "selector": "app=r"},
        });
        let source = ScaleSource::Custom(rollout_paths());
        let scale = source.scale_of(&rollout);
        assert_eq!(scale["spec"]["replicas"], 5);
        assert_eq!(scale["status"], json!({"replicas": 5, "selector": "app=r"}));
        let empty = source.scale_of(&json!({"metadata": {"name": "r"}}));
        assert_eq!(
            (&empty["spec"]["replicas"], &empty["status"]["replicas"]),
            (&json!(0), &json!(0))
        );
        assert!(empty["status"].get("selector").is_none());
    }

    #[test]
    fn setting_replicas_changes_only_the_count() {
        let mut object = json!({"metadata": {"name": "r"}, "spec": {"template": {"x": 1}}, "status": {"replicas": 2}});
        let before = object.clone();
        ScaleSource::Custom(rollout_paths()).set_replicas(&mut object, 4);
        let mut expected = before;
        expected["spec"]["replicas"] = json!(4);
        assert_eq!(object, expected);
        let mut bare = json!({"metadata": {"name": "d"}});
        ScaleSource::Workload.set_replicas(&mut bare, 0);
        assert_eq!(bare["spec"], json!({"replicas": 0}));
    }

    #[test]
    fn replica_counts_are_checked() {
        let cases = [
            (json!({"spec": {"replicas": 3}}), Some(3)),
            (json!({"spec": {}}), Some(0)),
            (json!({"spec": {"replicas": -1}}), None),
            (json!({"spec": {"replicas": "3"}}), None),
            (json!({"spec": {"replicas": 1.5}}), None),
            (json!({"spec": {"replicas": 4_294_967_296_i64}}), None),
        ];
        for (scale, expected) in cases {
            let got = requested_replicas(&scale, "x");
            match expected {
                Some(n) => assert_eq!(got.unwrap(), n, "{scale}"),
                None => assert_eq!(got.unwrap_err().status(), 422, "{scale}"),
            }
        }
        assert!(check_scale_body(&json!({"kind": "Deployment"}), "x").is_err());
        assert!(check_scale_body(&json!({"metadata": {"name": "y"}}), "x").is_err());
        assert!(
            check_scale_body(&json!({"kind": "Scale", "metadata": {"name": "x"}}), "x").is_ok()
        );
    }
}
