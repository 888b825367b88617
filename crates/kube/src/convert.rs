//! weir's vocabulary ↔ kube-rs': objects, resource types and call parameters.

use kube::api::{ApiResource, DynamicObject};
use kube::core::TypeMeta;
use serde_json::{Map, Value};
use weir_cluster::{
    DeleteParams, Error, ListParams, Object, PropagationPolicy, ResourceType, Result, VersionMatch,
    WatchParams,
};

/// The kube-rs `ApiResource` of a weir resource type (no discovery needed for known kinds).
pub(crate) fn api_resource(rt: &ResourceType) -> ApiResource {
    ApiResource {
        group: rt.group.clone(),
        version: rt.version.clone(),
        api_version: rt.api_version(),
        kind: rt.kind.clone(),
        plural: rt.plural.clone(),
    }
}

/// A weir object as kube-rs sends it.
pub(crate) fn to_dynamic(object: Object) -> DynamicObject {
    DynamicObject {
        types: Some(TypeMeta { api_version: object.api_version, kind: object.kind }),
        metadata: object.metadata,
        data: Value::Object(object.data),
    }
}

/// An object kube-rs received, as weir's. List items come without `apiVersion`/`kind` from a
/// real API server: they are taken from the resource type then.
pub(crate) fn from_dynamic(object: DynamicObject, rt: &ResourceType) -> Result<Object> {
    let (api_version, kind) = match object.types {
        Some(types) if !types.kind.is_empty() => (types.api_version, types.kind),
        _ => (rt.api_version(), rt.kind.clone()),
    };
    let data = match object.data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(Error::Internal(format!(
                "the API server sent a {kind} whose body is not an object: {other}"
            )));
        }
    };
    Ok(Object { api_version, kind, metadata: object.metadata, data })
}

/// List parameters.
pub(crate) fn list_params(params: &ListParams) -> kube::api::ListParams {
    let mut lp = kube::api::ListParams::default();
    if let Some(selector) = &params.label_selector {
        lp.label_selector = Some(selector.to_string());
    }
    if let Some(selector) = &params.field_selector {
        lp.field_selector = Some(selector.to_string());
    }
    lp.resource_version = params.resource_version.clone().filter(|v| !v.is_empty());
    lp.version_match = match params.version_match {
        VersionMatch::Unset => None,
        VersionMatch::NotOlderThan => Some(kube::api::VersionMatch::NotOlderThan),
        VersionMatch::Exact => Some(kube::api::VersionMatch::Exact),
    };
    lp
}

/// Watch parameters (the resourceVersion is passed separately in kube-rs).
pub(crate) fn watch_params(params: &WatchParams, timeout_seconds: u32) -> kube::api::WatchParams {
    let mut wp = kube::api::WatchParams::default().timeout(timeout_seconds);
    wp.bookmarks = params.bookmarks;
    if let Some(selector) = &params.label_selector {
        wp.label_selector = Some(selector.to_string());
    }
    if let Some(selector) = &params.field_selector {
        wp.field_selector = Some(selector.to_string());
    }
    wp.send_initial_events = params.send_initial_events;
    wp
}

/// Delete parameters: propagation policy and uid/resourceVersion preconditions.
pub(crate) fn delete_params(params: &DeleteParams) -> kube::api::DeleteParams {
    let propagation = match params.propagation_policy {
        PropagationPolicy::Background => kube::api::PropagationPolicy::Background,
        PropagationPolicy::Foreground => kube::api::PropagationPolicy::Foreground,
        PropagationPolicy::Orphan => kube::api::PropagationPolicy::Orphan,
    };
    let preconditions =
        if params.precondition_uid.is_some() || params.precondition_resource_version.is_some() {
            Some(kube::api::Preconditions {
                uid: params.precondition_uid.clone(),
                resource_version: params.precondition_resource_version.clone(),
            })
        } else {
            None
        };
    kube::api::DeleteParams {
        propagation_policy: Some(propagation),
        preconditions,
        ..kube::api::DeleteParams::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_cluster::Registry;

    use super::*;

    fn rt(name: &str) -> ResourceType {
        Registry::builtin().for_name(name).cloned().expect("built-in type")
    }

    #[test]
    fn resource_types_become_api_resources_without_discovery() {
        let ar = api_resource(&rt("rollouts"));
        assert_eq!(
            (ar.group.as_str(), ar.version.as_str(), ar.api_version.as_str(), ar.plural.as_str()),
            ("argoproj.io", "v1alpha1", "argoproj.io/v1alpha1", "rollouts")
        );
        let core = api_resource(&rt("pods"));
        assert_eq!((core.group.as_str(), core.api_version.as_str()), ("", "v1"));
    }

    #[test]
    fn objects_round_trip_and_list_items_get_their_type() {
        let object = Object::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "7"},
            "data": {"k": "v"}
        }))
        .expect("object");
        let back = from_dynamic(to_dynamic(object.clone()), &rt("configmaps")).expect("back");
        assert_eq!(back, object);

        let mut untyped = to_dynamic(object.clone());
        untyped.types = None;
        assert_eq!(from_dynamic(untyped, &rt("configmaps")).expect("typed"), object);
    }

    #[test]
    fn delete_params_carry_policy_and_preconditions() {
        let params = DeleteParams {
            propagation_policy: PropagationPolicy::Foreground,
            precondition_uid: Some("u".into()),
            precondition_resource_version: None,
        };
        let dp = delete_params(&params);
        assert_eq!(dp.propagation_policy, Some(kube::api::PropagationPolicy::Foreground));
        assert_eq!(dp.preconditions.and_then(|p| p.uid), Some("u".into()));
        assert!(delete_params(&DeleteParams::default()).preconditions.is_none());
    }
}
