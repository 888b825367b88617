//! `weir install [--namespace NS] [--namespaced] [--image IMAGE] [--dry-run [-o yaml]]`: puts
//! what a cluster needs to run weir's controller into it (see [`crate::install`]), printing
//! what happened to each object: `created`, `configured`, `unchanged`, or `kept` for a CRD that
//! already exists (Argo's own CRDs are never replaced).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use weir_cluster::{Cluster, Error, Object, ResourceType, apply};

use super::registry;
use crate::connect::Backend;
use crate::install::{InstallOptions, Manifest, render, render_yaml};

/// `weir install`.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Namespace of the controller, created if absent (with --namespaced: an existing namespace,
    /// the only one the controller manages).
    #[arg(short, long, default_value = "weir-system")]
    namespace: String,
    /// A Role and RoleBinding instead of cluster-wide RBAC, and `weir controller --namespace`
    /// (Argo's `--namespaced` mode).
    #[arg(long)]
    namespaced: bool,
    /// Leave the CRDs out (a cluster admin installs them once; Argo's namespace-install.yaml
    /// has none either).
    #[arg(long)]
    skip_crds: bool,
    /// The controller image [default: ghcr.io/weir-dev/weir:<this version>].
    #[arg(long)]
    image: Option<String>,
    /// Show what would be installed without touching the cluster.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: print the manifests in this format.
    #[arg(short, long, value_enum, requires = "dry_run")]
    output: Option<InstallOutput>,
}

/// `-o` formats of `weir install --dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InstallOutput {
    Yaml,
}

impl InstallArgs {
    /// Whether nothing is to be written to a cluster.
    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    fn options(&self) -> InstallOptions {
        let defaults = InstallOptions::new(env!("CARGO_PKG_VERSION"));
        InstallOptions {
            namespace: self.namespace.clone(),
            namespaced: self.namespaced,
            crds: !self.skip_crds,
            image: self.image.clone().unwrap_or(defaults.image.clone()),
            ..defaults
        }
    }
}

/// `--dry-run`: the manifests (`-o yaml`) or the list of what would be applied.
pub(crate) fn print(args: InstallArgs) -> Result<ExitCode> {
    let options = args.options();
    match args.output {
        Some(InstallOutput::Yaml) => print!("{}", render_yaml(&options)?),
        None => {
            for manifest in render(&options)? {
                println!("{} (dry run)", noun(&manifest));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies every manifest through the backend; a failure is reported and the rest still tried,
/// unless the backend cannot be reached or refuses the credentials.
pub(crate) async fn run<B: Backend>(backend: &B, args: InstallArgs) -> Result<ExitCode> {
    // Say where: without --kubeconfig/KUBECONFIG this is the local weir, not a cluster.
    eprintln!("installing into {}", backend.describe());
    let registry = registry(backend).await?;
    let mut failed = false;
    for manifest in render(&args.options())? {
        let noun = noun(&manifest);
        let object = Object::from_value(manifest.object.clone())?;
        let Some(rt) = registry.for_object(&object.api_version, &object.kind) else {
            eprintln!(
                "error: {noun}: the cluster does not serve {} {}",
                object.api_version, object.kind
            );
            failed = true;
            continue;
        };
        match install_one(backend, &rt, &manifest, &object).await {
            Ok(outcome) => println!("{noun} {outcome}"),
            Err(Failure { verb, error }) => {
                eprintln!("error: cannot {verb} {noun}: {error}");
                if matches!(error, Error::Unavailable(_) | Error::Unauthorized) {
                    bail!("stopped: {} is not usable", backend.describe());
                }
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// A failed call and the verb it used, so that an RBAC refusal names what was refused.
#[derive(Debug)]
struct Failure {
    verb: &'static str,
    error: Error,
}

/// Creates or updates one object; a CRD that exists is kept as it is.
async fn install_one<C: Cluster>(
    cluster: &C,
    rt: &ResourceType,
    manifest: &Manifest,
    object: &Object,
) -> Result<&'static str, Failure> {
    let namespace = if rt.namespaced() { object.namespace() } else { None };
    match cluster.get(rt, namespace, object.name()).await {
        Ok(_) if manifest.is_crd() => Ok("kept"),
        Ok(_) => match apply(cluster, rt, object).await {
            Ok((outcome, _)) => Ok(outcome.as_str()),
            Err(error) => Err(Failure { verb: "update", error }),
        },
        Err(Error::NotFound { .. }) => match apply(cluster, rt, object).await {
            Ok((outcome, _)) => Ok(outcome.as_str()),
            // Created by someone else in between: a CRD is then kept, anything else retried
            // by the next `weir install`.
            Err(Error::AlreadyExists { .. }) if manifest.is_crd() => Ok("kept"),
            Err(error) => Err(Failure { verb: "create", error }),
        },
        Err(error) => Err(Failure { verb: "get", error }),
    }
}

/// `kind/name` as kubectl prints it (`customresourcedefinition.apiextensions.k8s.io/…`
/// shortened to the kind).
fn noun(manifest: &Manifest) -> String {
    let text =
        |pointer: &str| manifest.object.pointer(pointer).and_then(|v| v.as_str()).unwrap_or("");
    format!("{}/{}", text("/kind").to_ascii_lowercase(), text("/metadata/name"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use weir_cluster::{
        DeleteOutcome, DeleteParams, ListParams, ObjectList, Patch, Registry, Subresource,
        WatchParams, WatchStream,
    };
    use weir_store::Store;

    use super::*;
    use crate::install::InstallOptions;

    /// The embedded store behind an API server that refuses one verb on one resource, with
    /// the message a Kubernetes API server gives for a 403.
    #[derive(Clone)]
    struct Refusing {
        store: Arc<Store>,
        verb: &'static str,
        plural: &'static str,
    }

    impl Refusing {
        fn check(&self, rt: &ResourceType, verb: &str) -> weir_cluster::Result<()> {
            if verb == self.verb && rt.plural == self.plural {
                return Err(Error::BadRequest(format!(
                    "{}.{} is forbidden: User \"dev\" cannot {verb} resource \"{}\" in API \
                     group \"{}\" at the cluster scope",
                    rt.plural, rt.group, rt.plural, rt.group
                )));
            }
            Ok(())
        }
    }

    impl Cluster for Refusing {
        async fn get(
            &self,
            rt: &ResourceType,
            ns: Option<&str>,
            name: &str,
        ) -> weir_cluster::Result<Object> {
            self.check(rt, "get")?;
            self.store.get(rt, ns, name).await
        }
        async fn list(
            &self,
            rt: &ResourceType,
            ns: Option<&str>,
            p: &ListParams,
        ) -> weir_cluster::Result<ObjectList> {
            self.check(rt, "list")?;
            self.store.list(rt, ns, p).await
        }
        async fn create(&self, rt: &ResourceType, object: Object) -> weir_cluster::Result<Object> {
            self.check(rt, "create")?;
            self.store.create(rt, object).await
        }
        async fn update(&self, rt: &ResourceType, object: Object) -> weir_cluster::Result<Object> {
            self.check(rt, "update")?;
            self.store.update(rt, object).await
        }
        async fn update_status(
            &self,
            rt: &ResourceType,
            object: Object,
        ) -> weir_cluster::Result<Object> {
            self.check(rt, "update")?;
            self.store.update_status(rt, object).await
        }
        async fn patch(
            &self,
            rt: &ResourceType,
            ns: Option<&str>,
            name: &str,
            patch: &Patch,
            sub: Subresource,
        ) -> weir_cluster::Result<Object> {
            self.check(rt, "patch")?;
            self.store.patch(rt, ns, name, patch, sub).await
        }
        async fn delete(
            &self,
            rt: &ResourceType,
            ns: Option<&str>,
            name: &str,
            p: &DeleteParams,
        ) -> weir_cluster::Result<DeleteOutcome> {
            self.check(rt, "delete")?;
            self.store.delete(rt, ns, name, p).await
        }
        async fn watch(
            &self,
            rt: &ResourceType,
            ns: Option<&str>,
            p: &WatchParams,
        ) -> weir_cluster::Result<WatchStream> {
            self.check(rt, "watch")?;
            self.store.watch(rt, ns, p).await
        }
    }

    /// Installs every manifest once through `cluster`: each object's outcome or failure line.
    async fn install_all<C: Cluster>(cluster: &C) -> Vec<String> {
        let registry = Registry::builtin();
        let mut lines = Vec::new();
        for manifest in render(&InstallOptions::new("0.1.0")).unwrap() {
            let object = Object::from_value(manifest.object.clone()).unwrap();
            let rt = registry.for_object(&object.api_version, &object.kind).unwrap();
            lines.push(match install_one(cluster, &rt, &manifest, &object).await {
                Ok(outcome) => format!("{} {outcome}", noun(&manifest)),
                Err(Failure { verb, error }) => {
                    format!("cannot {verb} {}: {error}", noun(&manifest))
                }
            });
        }
        lines
    }

    /// An RBAC refusal names the object and the verb refused; the other objects are still
    /// installed. Expected texts: kubectl's `kind/name` nouns and the API server's 403 message.
    #[tokio::test]
    async fn a_refused_verb_names_the_object_and_the_verb() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let refusing = Refusing { store: store.clone(), verb: "create", plural: "clusterroles" };
        let lines = install_all(&refusing).await;
        let refused: Vec<&String> = lines.iter().filter(|l| l.starts_with("cannot")).collect();
        assert_eq!(refused.len(), 1, "{lines:#?}");
        assert!(
            refused[0].starts_with("cannot create clusterrole/weir-controller: "),
            "{}",
            refused[0]
        );
        assert!(refused[0].contains("cannot create resource \"clusterroles\""), "{}", refused[0]);
        assert!(lines.contains(&"deployment/weir-controller created".to_owned()), "{lines:#?}");

        // Existing objects are read first: a refused get is reported as such.
        let refusing = Refusing { store, verb: "get", plural: "deployments" };
        let lines = install_all(&refusing).await;
        assert!(
            lines.iter().any(|l| l.starts_with("cannot get deployment/weir-controller: ")),
            "{lines:#?}"
        );
        // The rest was installed by the first pass: nothing changes, CRDs are kept.
        assert!(
            lines.contains(&"clusterrolebinding/weir-controller unchanged".to_owned()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"customresourcedefinition/rollouts.argoproj.io kept".to_owned()),
            "{lines:#?}"
        );
    }
}
