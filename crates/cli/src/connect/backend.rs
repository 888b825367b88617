//! What client commands need beyond the [`Cluster`] trait, as one small trait so that every
//! command works against weir's own API ([`Client`]) and a Kubernetes cluster alike.

use std::future::Future;

use futures::stream::BoxStream;
use weir_client::Client;
use weir_cluster::{Cluster, Registry, Result};

/// A backend the CLI talks to: the cluster API plus the resource registry and pod logs.
pub(crate) trait Backend: Cluster + Clone {
    /// Where this backend is, for messages (`weir at http://127.0.0.1:7171`).
    fn describe(&self) -> String;

    /// The resource types the server serves (kubectl's discovery).
    fn resources(&self) -> impl Future<Output = Result<Registry>> + Send;

    /// A pod container's log: everything or the last `tail` lines, then with `follow` new
    /// output until the stream is dropped.
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        follow: bool,
        tail: Option<usize>,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Vec<u8>>>>> + Send;
}

impl Backend for Client {
    fn describe(&self) -> String {
        format!("weir at {}", self.base())
    }

    fn resources(&self) -> impl Future<Output = Result<Registry>> + Send {
        Client::resources(self)
    }

    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        follow: bool,
        tail: Option<usize>,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Vec<u8>>>>> + Send {
        Client::pod_log(self, namespace, pod, container, follow, tail)
    }
}

impl Backend for weir_kube::KubeCluster {
    fn describe(&self) -> String {
        format!("the cluster at {}", self.server())
    }

    fn resources(&self) -> impl Future<Output = Result<Registry>> + Send {
        self.registry()
    }

    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        follow: bool,
        tail: Option<usize>,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Vec<u8>>>>> + Send {
        weir_kube::KubeCluster::pod_log(self, namespace, pod, container, follow, tail)
    }
}
