//! The resource types this weir serves: the built-in registry, kinds declared by applied
//! CustomResourceDefinitions, and kinds first seen in an applied manifest (persisted so that
//! `weir get tenants` still works after a restart).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weir_cluster::{Cluster, ListParams, Object, Registry, ResourceType, Scope};

/// The shared, growable registry of resource types.
#[derive(Debug)]
pub struct Resources {
    registry: RwLock<Registry>,
    learned_path: PathBuf,
    /// The CRD objects learned, by group and kind: their schemas and printer columns feed
    /// OpenAPI, field validation and tables.
    crds: RwLock<BTreeMap<(String, String), LearnedCrd>>,
    /// Bumped on every change of the registry or the CRDs (caches built from them compare it).
    generation: AtomicU64,
}

/// A learned CRD, kept as compact JSON text (a parsed CRD weighs several times its text; the
/// schemas are parsed only when the documents are rebuilt) and its printer columns, which
/// every `as=Table` request reads.
#[derive(Debug)]
struct LearnedCrd {
    json: String,
    /// `{"spec": {"versions": [{"name", "additionalPrinterColumns"}]}}`.
    printer_columns: Value,
}

/// How a learned type is written to `resource-types.json`.
#[derive(Debug, Serialize, Deserialize)]
struct LearnedType {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
}

impl Resources {
    /// The built-in types plus those learned earlier and those declared by stored CRDs.
    pub async fn load<C: Cluster>(learned_path: PathBuf, cluster: &C) -> Self {
        let mut registry = Registry::builtin();
        match std::fs::read_to_string(&learned_path) {
            Ok(text) => match serde_json::from_str::<Vec<LearnedType>>(&text) {
                Ok(learned) => {
                    for t in learned {
                        registry.insert(ResourceType {
                            versions: vec![t.version.clone()],
                            group: t.group,
                            version: t.version,
                            kind: t.kind,
                            plural: t.plural,
                            scope: if t.namespaced { Scope::Namespaced } else { Scope::Cluster },
                            short_names: Vec::new(),
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(path = %learned_path.display(), error = %e, "ignoring unreadable resource types file")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %learned_path.display(), error = %e, "cannot read resource types file")
            }
        }
        let resources = Resources {
            registry: RwLock::new(registry),
            learned_path,
            crds: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
        };
        let crd_type = resources.for_name("customresourcedefinitions").expect("CRDs are built in");
        match cluster.list(&crd_type, None, &ListParams::default()).await {
            Ok(list) => list.items.iter().for_each(|crd| resources.learn_crd(crd)),
            Err(e) => tracing::warn!(error = %e, "cannot list CustomResourceDefinitions"),
        }
        resources
    }

    /// The registry as it is now.
    pub fn snapshot(&self) -> Registry {
        self.read().clone()
    }

    /// A number that changes whenever the registry or the learned CRDs change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The CustomResourceDefinition objects learned (applied or stored), parsed.
    pub fn crds(&self) -> Vec<Value> {
        let crds = self.crds.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        crds.values().filter_map(|crd| serde_json::from_str(&crd.json).ok()).collect()
    }

    /// The printer columns of the learned CRD of `group`/`kind`, as a CRD with only its
    /// versions' names and `additionalPrinterColumns`.
    pub fn crd_printer_columns(&self, group: &str, kind: &str) -> Option<Value> {
        let crds = self.crds.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        crds.get(&(group.to_owned(), kind.to_owned())).map(|crd| crd.printer_columns.clone())
    }

    /// The type behind `group/version/plural`.
    pub fn for_path(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.read().for_path(group, version, plural).cloned()
    }

    /// The type of an object with this `apiVersion` and `kind` (guessed for unknown kinds).
    pub fn for_object(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        self.read().for_object(api_version, kind)
    }

    /// The type a user names on the command line.
    pub fn for_name(&self, name: &str) -> Option<ResourceType> {
        self.read().for_name(name).cloned()
    }

    /// Learns a type from an object written to a path nobody registered, if the object's kind
    /// guesses to that path. Returns the type when learned.
    pub fn learn_from_object(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        object: &Object,
    ) -> Option<ResourceType> {
        let guessed = ResourceType::guess(&object.api_version, &object.kind);
        if guessed.group != group || guessed.version != version || guessed.plural != plural {
            return None;
        }
        let known = self.read().for_object(&object.api_version, &object.kind);
        if known.as_ref().is_some_and(|k| k.plural != plural) {
            return None;
        }
        self.write().insert(guessed.clone());
        self.persist();
        Some(guessed)
    }

    /// Registers a kind found in the store (see `api::discover`), unless the kind is known
    /// under another plural.
    pub fn learn_kind(
        &self,
        api_version: &str,
        kind: &str,
        namespaced: bool,
    ) -> Option<ResourceType> {
        if let Some(known) = self.read().for_object(api_version, kind) {
            return Some(known);
        }
        let mut learned = ResourceType::guess(api_version, kind);
        if !namespaced {
            learned.scope = Scope::Cluster;
        }
        self.write().insert(learned.clone());
        self.persist();
        Some(learned)
    }

    /// Registers the kind a CustomResourceDefinition declares.
    pub fn learn_crd(&self, crd: &Object) {
        let Some(spec) = crd.field("spec") else { return };
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(group), Some(names)) = (text(spec, "group"), spec.get("names")) else { return };
        let (Some(kind), Some(plural)) = (text(names, "kind"), text(names, "plural")) else {
            return;
        };
        let versions: Vec<String> = spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
            .filter_map(|v| text(v, "name"))
            .collect();
        let Some(version) = versions.first().cloned() else { return };
        let printer_columns: Vec<Value> = spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| {
                serde_json::json!({
                    "name": v.get("name").cloned().unwrap_or(Value::Null),
                    "additionalPrinterColumns": v.get("additionalPrinterColumns").cloned().unwrap_or_else(|| serde_json::json!([])),
                })
            })
            .collect();
        let learned = LearnedCrd {
            json: serde_json::to_string(crd).unwrap_or_default(),
            printer_columns: serde_json::json!({ "spec": { "versions": printer_columns } }),
        };
        self.crds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((group.clone(), kind.clone()), learned);
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self
            .read()
            .iter()
            .any(|rt| rt.group == group && rt.kind == kind && rt.versions.len() > versions.len())
        {
            return; // a built-in type already serves more versions
        }
        let short_names = names
            .get("shortNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        let scope = if text(spec, "scope").as_deref() == Some("Cluster") {
            Scope::Cluster
        } else {
            Scope::Namespaced
        };
        self.write().insert(ResourceType {
            group,
            version,
            versions,
            kind,
            plural,
            scope,
            short_names,
        });
    }

    fn persist(&self) {
        let builtin = Registry::builtin();
        let learned: Vec<LearnedType> = self
            .read()
            .iter()
            .filter(|rt| builtin.for_path(&rt.group, &rt.version, &rt.plural).is_none())
            .map(|rt| LearnedType {
                group: rt.group.clone(),
                version: rt.version.clone(),
                kind: rt.kind.clone(),
                plural: rt.plural.clone(),
                namespaced: rt.namespaced(),
            })
            .collect();
        let written = serde_json::to_string_pretty(&learned)
            .map_err(std::io::Error::other)
            .and_then(|text| std::fs::write(&self.learned_path, text));
        if let Err(e) = written {
            tracing::warn!(path = %self.learned_path.display(), error = %e, "cannot save learned resource types");
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.registry.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
