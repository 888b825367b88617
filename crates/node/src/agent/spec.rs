//! What a container runs: its command line (from `command`/`args` or the image map), its
//! environment (values, `valueFrom`, `envFrom`, ports, proxy) and `$(VAR)` expansion.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::{Container, Pod};
use weir_cluster::{Cluster, Object};

use crate::kube::rt;

/// Why a container cannot be started yet (a waiting reason and message, as the kubelet says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// The command line of a container: `command` + `args`, where the image's mapped command
/// stands in for the image entrypoint (`args` alone appends to it). `None` when there is no
/// command and no mapping for the image.
pub(crate) fn command_line(
    container: &Container,
    image_map: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let args = container.args.clone().unwrap_or_default();
    if let Some(command) = container.command.as_ref().filter(|c| !c.is_empty()) {
        return Some(command.iter().cloned().chain(args).collect());
    }
    let image = container.image.as_deref()?;
    let mapped = image_map.get(image).or_else(|| image_map.get(image_name(image)))?;
    let mut line = mapped.clone();
    if !args.is_empty() {
        // `args` replaces the image's CMD; the mapping's first word is its ENTRYPOINT.
        line.truncate(1);
        line.extend(args);
    }
    (!line.is_empty()).then_some(line)
}

/// `repo/name:tag@digest` without tag and digest.
fn image_name(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => image,
    }
}

/// Expands `$(VAR)` references as Kubernetes does: defined names are replaced, undefined ones
/// are kept verbatim, and `$$` escapes a `$`.
pub(crate) fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match vars(name) {
                Some(value) => out.push_str(&value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The environment of a container, in order, with the variables weir adds first
/// (`PORT`, `PORT_<n>`, `HTTP_PROXY`) so that the pod's own `env` can refer to them.
pub(crate) async fn environment<C: Cluster>(
    cluster: &C,
    pod: &Pod,
    container: &Container,
    ports: &BTreeMap<i32, u16>,
    mesh_url: Option<&str>,
) -> Result<Vec<(String, String)>, Blocked> {
    let mut env: Vec<(String, String)> = Vec::new();
    let ns = pod.metadata.namespace.as_deref();
    let first = container.ports.iter().flatten().next().and_then(|p| ports.get(&p.container_port));
    if let Some(port) = first {
        env.push(("PORT".into(), port.to_string()));
    }
    for (container_port, host) in ports {
        env.push((format!("PORT_{container_port}"), host.to_string()));
    }
    if let Some(url) = mesh_url {
        for key in ["HTTP_PROXY", "http_proxy"] {
            env.push((key.into(), url.to_owned()));
        }
        env.push(("NO_PROXY".into(), "127.0.0.1,localhost".into()));
    }
    if let Some(name) = pod.metadata.name.as_deref() {
        env.push(("HOSTNAME".into(), name.to_owned()));
    }
    if pod.spec.as_ref().and_then(|s| s.enable_service_links) != Some(false) {
        env.extend(service_links(cluster, ns).await);
    }
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        let (kind, name, optional) = if let Some(cm) = &source.config_map_ref {
            ("configmaps", cm.name.clone(), cm.optional.unwrap_or(false))
        } else if let Some(secret) = &source.secret_ref {
            ("secrets", secret.name.clone(), secret.optional.unwrap_or(false))
        } else {
            continue;
        };
        match read_data(cluster, kind, ns, &name).await {
            Some(data) => {
                for (k, v) in data {
                    set(&mut env, format!("{prefix}{k}"), v);
                }
            }
            None if optional => {}
            None => return Err(config_error(format!("{kind} \"{name}\" not found"))),
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(source) = &var.value_from {
            if let Some(key) = &source.config_map_key_ref {
                let data = read_data(cluster, "configmaps", ns, &key.name).await;
                match data.and_then(|d| d.get(&key.key).cloned()) {
                    Some(v) => v,
                    None if key.optional == Some(true) => continue,
                    None => {
                        return Err(config_error(format!(
                            "couldn't find key {} in ConfigMap {}/{}",
                            key.key,
                            ns.unwrap_or(""),
                            key.name
                        )));
                    }
                }
            } else if let Some(key) = &source.secret_key_ref {
                let data = read_data(cluster, "secrets", ns, &key.name).await;
                match data.and_then(|d| d.get(&key.key).cloned()) {
                    Some(v) => v,
                    None if key.optional == Some(true) => continue,
                    None => {
                        return Err(config_error(format!(
                            "couldn't find key {} in Secret {}/{}",
                            key.key,
                            ns.unwrap_or(""),
                            key.name
                        )));
                    }
                }
            } else if let Some(field) = &source.field_ref {
                field_value(pod, &field.field_path).unwrap_or_default()
            } else {
                String::new()
            }
        } else {
            let known = env.clone();
            let lookup = move |name: &str| {
                known.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            };
            expand(var.value.as_deref().unwrap_or(""), &lookup)
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

/// Kubernetes' service links for the Services of the pod's namespace:
/// `<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT` (first port) and `<SVC>_SERVICE_PORT_<NAME>`.
/// The host is the Service's cluster-local name, which the mesh proxy (`HTTP_PROXY`) routes.
async fn service_links<C: Cluster>(cluster: &C, ns: Option<&str>) -> Vec<(String, String)> {
    let Ok(list) = cluster.list(&rt("services"), ns, &weir_cluster::ListParams::default()).await
    else {
        return Vec::new();
    };
    let mut env = Vec::new();
    for service in &list.items {
        let prefix = service.name().to_ascii_uppercase().replace('-', "_");
        let host = format!("{}.{}.svc.cluster.local", service.name(), ns.unwrap_or("default"));
        let ports = service
            .field("spec")
            .and_then(|s| s.get("ports"))
            .and_then(|p| p.as_array())
            .cloned()
            .unwrap_or_default();
        let Some(first) = ports.first().and_then(|p| p.get("port")).and_then(|p| p.as_i64()) else {
            continue;
        };
        env.push((format!("{prefix}_SERVICE_HOST"), host));
        env.push((format!("{prefix}_SERVICE_PORT"), first.to_string()));
        for port in &ports {
            if let (Some(name), Some(number)) = (
                port.get("name").and_then(|n| n.as_str()),
                port.get("port").and_then(|p| p.as_i64()),
            ) {
                let name = name.to_ascii_uppercase().replace('-', "_");
                env.push((format!("{prefix}_SERVICE_PORT_{name}"), number.to_string()));
            }
        }
    }
    env
}

fn set(env: &mut Vec<(String, String)>, key: String, value: String) {
    env.retain(|(k, _)| *k != key);
    env.push((key, value));
}

fn config_error(message: String) -> Blocked {
    Blocked { reason: "CreateContainerConfigError", message }
}

/// The downward API fields that make sense for a local process.
pub(crate) fn field_value(pod: &Pod, path: &str) -> Option<String> {
    let meta = &pod.metadata;
    let map_key = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(rest.to_owned())
    };
    match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => pod.spec.as_ref()?.node_name.clone(),
        "spec.serviceAccountName" => pod.spec.as_ref()?.service_account_name.clone(),
        "status.podIP" | "status.hostIP" | "status.podIPs" | "status.hostIPs" => {
            Some("127.0.0.1".into())
        }
        _ => {
            if let Some(key) = map_key("metadata.labels['") {
                meta.labels.as_ref()?.get(&key).cloned()
            } else if let Some(key) = map_key("metadata.annotations['") {
                meta.annotations.as_ref()?.get(&key).cloned()
            } else {
                None
            }
        }
    }
}

/// A ConfigMap's `data` (plus `binaryData` as text) or a Secret's decoded `data` plus
/// `stringData`.
async fn read_data<C: Cluster>(
    cluster: &C,
    plural: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let object: Object = cluster.get(&rt(plural), ns, name).await.ok()?;
    let mut out = BTreeMap::new();
    let strings = |field: &str| -> Vec<(String, String)> {
        object
            .field(field)
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    if plural == "secrets" {
        for (k, v) in strings("data") {
            let bytes = STANDARD.decode(v.trim()).ok()?;
            out.insert(k, String::from_utf8_lossy(&bytes).into_owned());
        }
        out.extend(strings("stringData"));
    } else {
        out.extend(strings("data"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let vars = |name: &str| (name == "A").then(|| "x".to_owned());
        assert_eq!(expand("$(A)-$(B)-$$(A)-$A-$", &vars), "x-$(B)-$(A)-$A-$");
        assert_eq!(expand("$(A", &vars), "$(A");
    }

    #[test]
    fn command_from_container_or_image_map() {
        let map = BTreeMap::from([("reviews".to_owned(), vec!["srv".to_owned(), "-v".to_owned()])]);
        let mut c = Container { image: Some("reviews:v2".into()), ..Container::default() };
        assert_eq!(command_line(&c, &map), Some(vec!["srv".into(), "-v".into()]));
        c.args = Some(vec!["--x".into()]);
        assert_eq!(command_line(&c, &map), Some(vec!["srv".into(), "--x".into()]));
        c.command = Some(vec!["sh".into()]);
        assert_eq!(command_line(&c, &map), Some(vec!["sh".into(), "--x".into()]));
        let unmapped = Container { image: Some("nginx:1".into()), ..Container::default() };
        assert_eq!(command_line(&unmapped, &map), None);
        assert_eq!(image_name("reg:5000/a/b:1@sha256:x"), "reg:5000/a/b");
    }
}
