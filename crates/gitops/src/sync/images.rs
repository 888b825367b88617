//! The images of a resource as a sync result reports them (gitops-engine's
//! `kube.GetResourceImages`, Argo CD's `ResourceResult.images`): the `image` of each container
//! of the first pod spec found among `spec.containers` (a Pod), `spec.template.spec.containers`
//! (Deployments, StatefulSets, Jobs, Rollouts, …) and `spec.jobTemplate.spec.template.spec.
//! containers` (CronJobs). Init containers are not listed, as in Argo CD.

use serde_json::Value;

/// Where a pod's containers are, in the order gitops-engine looks.
const CONTAINER_PATHS: [&str; 3] = [
    "/spec/containers",
    "/spec/template/spec/containers",
    "/spec/jobTemplate/spec/template/spec/containers",
];

/// The containers' images of `obj`; `None` when it has no pod spec (Argo leaves the field
/// out then).
pub fn resource_images(obj: &Value) -> Option<Vec<String>> {
    let containers = CONTAINER_PATHS.iter().find_map(|path| obj.pointer(path)?.as_array())?;
    Some(
        containers
            .iter()
            .filter_map(|c| c.get("image").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Expected values follow gitops-engine's `GetResourceImages` (first matching path, main
    /// containers only, images in container order).
    #[test]
    fn images_of_each_workload_shape() {
        let containers =
            json!([{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "envoy"}]);
        let init = json!([{"name": "i", "image": "busybox"}]);
        let cases = [
            (
                json!({"kind": "Pod", "spec": {"containers": containers, "initContainers": init}}),
                Some(vec!["nginx:1", "envoy"]),
            ),
            (
                json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": containers}}}}),
                Some(vec!["nginx:1", "envoy"]),
            ),
            (
                json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec":
                {"containers": [{"name": "c", "image": "cron:2"}]}}}}}}),
                Some(vec!["cron:2"]),
            ),
            (json!({"kind": "Pod", "spec": {"containers": [{"name": "no-image"}]}}), Some(vec![])),
            (json!({"kind": "ConfigMap", "data": {"k": "v"}}), None),
            (json!({"kind": "Pod", "spec": {"containers": "not a list"}}), None),
        ];
        for (obj, expected) in cases {
            let expected = expected.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
            assert_eq!(resource_images(&obj), expected, "{obj}");
        }
    }
}
