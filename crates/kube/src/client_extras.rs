//! What a command-line client needs from a cluster beyond the [`weir_cluster::Cluster`] trait:
//! the served resource types (API discovery, as kubectl does it) and a pod container's log.

use futures::stream::BoxStream;
use futures::{AsyncReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use weir_cluster::{Error, Registry, Result};

use crate::KubeCluster;
use crate::cluster::resource_type;
use crate::retry::Idempotency;

/// How many bytes one chunk of a log stream carries at most.
const LOG_CHUNK: usize = 8192;

impl KubeCluster {
    /// Every resource type the server serves (`/api` and `/apis` discovery), on top of weir's
    /// built-in registry (whose short names discovery does not carry): a CRD installed in the
    /// cluster is found, a kind the cluster does not serve stays known and answers 404.
    pub async fn registry(&self) -> Result<Registry> {
        let client = self.client();
        let discovery = self
            .call(Idempotency::Read, || {
                let client = client.clone();
                async move { kube::discovery::Discovery::new(client).run().await }
            })
            .await?;
        let mut registry = Registry::builtin();
        for group in discovery.groups() {
            // Preferred version first, as weir's registry lists them.
            let preferred = group.preferred_version_or_latest().to_owned();
            let mut versions: Vec<String> = vec![preferred.clone()];
            versions.extend(group.versions().filter(|v| *v != preferred).map(str::to_owned));
            for (ar, caps) in group.recommended_resources() {
                if registry.for_path(&ar.group, &ar.version, &ar.plural).is_some() {
                    continue;
                }
                let mut rt = resource_type(&ar, &caps);
                rt.versions = versions.clone();
                registry.insert(rt);
            }
        }
        Ok(registry)
    }

    /// A pod container's log (`kubectl logs`): everything or the last `tail` lines, then with
    /// `follow` new output until the stream is dropped, in chunks of bytes.
    pub async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        follow: bool,
        tail: Option<usize>,
    ) -> Result<BoxStream<'static, Result<Vec<u8>>>> {
        let api: Api<Pod> = Api::namespaced(self.client(), namespace);
        let params = LogParams {
            container: container.map(str::to_owned),
            follow,
            tail_lines: tail.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            ..LogParams::default()
        };
        let reader = self
            .call(Idempotency::Read, || {
                let (api, params) = (api.clone(), params.clone());
                async move { api.log_stream(pod, &params).await }
            })
            .await?;
        // The state is `None` after a read error: the error ends the stream.
        let chunks = futures::stream::unfold(Some(Box::pin(reader)), |reader| async move {
            let mut reader = reader?;
            let mut buffer = vec![0; LOG_CHUNK];
            match reader.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok(buffer), Some(reader)))
                }
                Err(e) => Some((Err(Error::Unavailable(format!("reading the log: {e}"))), None)),
            }
        });
        Ok(chunks.boxed())
    }
}
