//! `GET /api/v1/namespaces/{ns}/pods/{name}/log?container=C&follow=true&tailLines=N`: a pod's
//! container log, read from the file the node agent writes, as Kubernetes serves it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use weir_cluster::{Cluster, Error, Registry};

use super::{ApiState, error_response};

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub(crate) async fn pod_log<C: Cluster + Clone>(
    State(state): State<Arc<ApiState<C>>>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match serve(&state, &namespace, &name, &query).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn serve<C: Cluster + Clone>(
    state: &ApiState<C>,
    namespace: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<Response, Error> {
    let Some(data_dir) = &state.data_dir else {
        return Err(Error::BadRequest("this server keeps no pod logs".to_owned()));
    };
    let pods = Registry::builtin().for_name("pods").cloned().expect("pods are built in");
    let pod: Pod = state.cluster.get(&pods, Some(namespace), name).await?.to_typed()?;
    let containers: Vec<String> =
        pod.spec.iter().flat_map(|s| &s.containers).map(|c| c.name.clone()).collect();
    let container = match query.get("container") {
        Some(c) if containers.contains(c) => c.clone(),
        Some(c) => {
            return Err(Error::BadRequest(format!("container {c} is not valid for pod {name}")));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(Error::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    if container.contains('/') || container.starts_with('.') {
        return Err(Error::BadRequest(format!("container name {container:?} is not valid")));
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let path = weir_node::pod_log_path(data_dir, namespace, name, &uid, &container);
    let text = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::Internal(format!("reading {}: {e}", path.display()))),
    };
    let tail = query.get("tailLines").and_then(|n| n.parse::<usize>().ok());
    let shown = tail_lines(&text, tail);
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if query.get("follow").map(String::as_str) != Some("true") {
        return Ok((plain, shown.to_vec()).into_response());
    }
    let first = Bytes::copy_from_slice(shown);
    let rest = follow(path, text.len() as u64);
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(first) }).chain(rest);
    Ok((plain, Body::from_stream(stream)).into_response())
}

/// The last `n` lines of `text` (all of it without `n`).
fn tail_lines(text: &[u8], n: Option<usize>) -> &[u8] {
    let Some(n) = n else { return text };
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let start = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    if n == 0 { &text[text.len()..] } else { &text[start..] }
}

/// New bytes appended to the file after `offset`, polled until the client goes away.
fn follow(
    path: PathBuf,
    offset: u64,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures::stream::unfold(offset, move |offset| {
        let path = path.clone();
        async move {
            loop {
                tokio::time::sleep(FOLLOW_POLL).await;
                let Ok(mut file) = tokio::fs::File::open(&path).await else { continue };
                let Ok(len) = file.metadata().await.map(|m| m.len()) else { continue };
                // A restarted container truncates its log: start over from the top.
                let from = if len < offset { 0 } else { offset };
                if len == from {
                    continue;
                }
                if file.seek(SeekFrom::Start(from)).await.is_err() {
                    continue;
                }
                let mut chunk = Vec::new();
                if file.read_to_end(&mut chunk).await.is_err() {
                    continue;
                }
                let next = from + chunk.len() as u64;
                return Some((Ok(Bytes::from(chunk)), next));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_lines_counts_from_the_end() {
        let text = b"a\nb\nc\n";
        assert_eq!(tail_lines(text, None), b"a\nb\nc\n");
        assert_eq!(tail_lines(text, Some(2)), b"b\nc\n");
        assert_eq!(tail_lines(text, Some(9)), b"a\nb\nc\n");
        assert_eq!(tail_lines(text, Some(0)), b"");
    }
}
