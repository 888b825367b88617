//! Building an AnalysisRun from templates: following nested `templates` references
//! ([`resolve_template_refs`]), de-duplicating (`FilterUniqueTemplates`), flattening several
//! templates into one spec ([`flatten_templates`]), merging arguments and rules
//! ([`new_analysis_run`]), and the names and labels a Rollout gives its runs.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use weir_model::rollouts::{
    API_VERSION, AnalysisRun, AnalysisRunSpec, AnalysisTemplateSpec, Argument, DryRun,
    MeasurementRetention, TemplateRef,
};

use crate::args::merge_args;
use crate::error::TemplateError;

/// Reads templates by name (namespaced ones in the rollout's or run's namespace).
pub trait TemplateSource {
    /// The AnalysisTemplate `name`'s spec.
    fn template(&self, name: &str) -> Option<AnalysisTemplateSpec>;
    /// The ClusterAnalysisTemplate `name`'s spec.
    fn cluster_template(&self, name: &str) -> Option<AnalysisTemplateSpec>;
}

/// Templates read up front, by name: the [`TemplateSource`] of callers that list them once (a
/// Rollout pass, `weir analysis run`), since the resolver is synchronous.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplatesByName {
    /// AnalysisTemplates of the namespace, by name.
    pub namespaced: BTreeMap<String, AnalysisTemplateSpec>,
    /// ClusterAnalysisTemplates, by name.
    pub cluster: BTreeMap<String, AnalysisTemplateSpec>,
}

impl TemplateSource for TemplatesByName {
    fn template(&self, name: &str) -> Option<AnalysisTemplateSpec> {
        self.namespaced.get(name).cloned()
    }

    fn cluster_template(&self, name: &str) -> Option<AnalysisTemplateSpec> {
        self.cluster.get(name).cloned()
    }
}

/// A template's name and spec.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTemplate {
    /// The template's name.
    pub name: String,
    /// Its spec.
    pub spec: AnalysisTemplateSpec,
}

/// The templates a list of references reaches, each once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedTemplates {
    /// AnalysisTemplates, in discovery order.
    pub templates: Vec<NamedTemplate>,
    /// ClusterAnalysisTemplates, in discovery order.
    pub cluster_templates: Vec<NamedTemplate>,
}

impl ResolvedTemplates {
    /// The specs in flattening order: AnalysisTemplates, then ClusterAnalysisTemplates.
    pub fn specs(&self) -> Vec<&AnalysisTemplateSpec> {
        self.templates.iter().chain(&self.cluster_templates).map(|t| &t.spec).collect()
    }
}

/// Argo's `getAnalysisTemplatesFromRefs`: each referenced template, then (recursively) the
/// templates its `spec.templates` reference; finally de-duplicated by name
/// ([`filter_unique_templates`]). A reference cycle is an error (Argo would recurse forever).
pub fn resolve_template_refs(
    refs: &[TemplateRef],
    source: &dyn TemplateSource,
) -> Result<ResolvedTemplates, TemplateError> {
    let mut out = ResolvedTemplates::default();
    let mut path = Vec::new();
    collect(refs, source, &mut path, &mut out)?;
    filter_unique_templates(&mut out.templates);
    filter_unique_templates(&mut out.cluster_templates);
    Ok(out)
}

fn collect(
    refs: &[TemplateRef],
    source: &dyn TemplateSource,
    path: &mut Vec<(bool, String)>,
    out: &mut ResolvedTemplates,
) -> Result<(), TemplateError> {
    for r in refs {
        let cluster = r.cluster_scope.unwrap_or(false);
        let name = r.template_name.clone().unwrap_or_default();
        if path.contains(&(cluster, name.clone())) {
            return Err(TemplateError::Cycle(name));
        }
        let spec = if cluster { source.cluster_template(&name) } else { source.template(&name) };
        let Some(spec) = spec else {
            let kind = if cluster { "clusteranalysistemplates" } else { "analysistemplates" };
            return Err(TemplateError::NotFound { kind, name });
        };
        let inner = spec.templates.clone().unwrap_or_default();
        let named = NamedTemplate { name: name.clone(), spec };
        if cluster {
            out.cluster_templates.push(named);
        } else {
            out.templates.push(named);
        }
        if !inner.is_empty() {
            path.push((cluster, name));
            collect(&inner, source, path, out)?;
            path.pop();
        }
    }
    Ok(())
}

/// Argo's `FilterUniqueTemplates`: keeps the first template of each name.
pub fn filter_unique_templates(templates: &mut Vec<NamedTemplate>) {
    let mut seen = std::collections::BTreeSet::new();
    templates.retain(|t| seen.insert(t.name.clone()));
}

/// Argo's `FlattenTemplates`: the metrics, dry-run rules, retention rules and arguments of
/// `specs` (AnalysisTemplates first, then ClusterAnalysisTemplates) in one spec. Duplicate
/// metric or rule names are errors; an argument given twice must not have two different
/// values (a value wins over none).
pub fn flatten_templates(
    specs: &[&AnalysisTemplateSpec],
) -> Result<AnalysisTemplateSpec, TemplateError> {
    let mut metrics: Option<Vec<_>> = None;
    let mut dry_run: Option<Vec<DryRun>> = None;
    let mut retention: Option<Vec<MeasurementRetention>> = None;
    let mut args: Option<Vec<Argument>> = None;
    for spec in specs {
        for m in spec.metrics() {
            let list = metrics.get_or_insert_with(Vec::new);
            if list.iter().any(|x: &weir_model::rollouts::Metric| x.name == m.name) {
                return Err(TemplateError::DuplicateMetric(m.name.clone()));
            }
            list.push(m.clone());
        }
        for d in spec.dry_run.iter().flatten() {
            let list = dry_run.get_or_insert_with(Vec::new);
            if list.iter().any(|x| x.metric_name == d.metric_name) {
                return Err(TemplateError::DuplicateDryRun(d.metric_name.clone()));
            }
            list.push(d.clone());
        }
        for r in spec.measurement_retention.iter().flatten() {
            let list = retention.get_or_insert_with(Vec::new);
            if list.iter().any(|x| x.metric_name == r.metric_name) {
                return Err(TemplateError::DuplicateRetention(r.metric_name.clone()));
            }
            list.push(r.clone());
        }
        for a in spec.args.iter().flatten() {
            let list = args.get_or_insert_with(Vec::new);
            match list.iter_mut().find(|x| x.name == a.name) {
                Some(prev) => {
                    if let (Some(p), Some(n)) = (&prev.value, &a.value)
                        && p != n
                    {
                        return Err(TemplateError::ConflictingArg {
                            name: a.name.clone(),
                            first: p.clone(),
                            second: n.clone(),
                        });
                    }
                    if prev.value.is_none() {
                        *prev = a.clone();
                    }
                }
                None => list.push(a.clone()),
            }
        }
    }
    Ok(AnalysisTemplateSpec {
        args,
        dry_run,
        measurement_retention: retention,
        metrics,
        templates: None,
    })
}

/// Metadata of a new run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunMeta {
    /// `metadata.name` (may be empty when `generate_name` is set).
    pub name: String,
    /// `metadata.generateName`.
    pub generate_name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Argo's `NewAnalysisRunFromTemplates`: flattens `specs`, merges `args` into the templates'
/// arguments ([`merge_args`]) and the incoming dry-run / retention rules before the
/// templates' (a repeated metric name is an error). The run has no status.
pub fn new_analysis_run(
    specs: &[&AnalysisTemplateSpec],
    args: Option<&[Argument]>,
    dry_run: Option<&[DryRun]>,
    retention: Option<&[MeasurementRetention]>,
    meta: RunMeta,
) -> Result<AnalysisRun, TemplateError> {
    let template = flatten_templates(specs)?;
    let args = merge_args(args, template.args.as_deref())?;
    let dry_run = merge_rules(dry_run, template.dry_run, |d| &d.metric_name)
        .map_err(TemplateError::DuplicateDryRun)?;
    let retention = merge_rules(retention, template.measurement_retention, |r| &r.metric_name)
        .map_err(TemplateError::DuplicateRetention)?;
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let map = |m: BTreeMap<String, String>| (!m.is_empty()).then_some(m);
    Ok(AnalysisRun {
        api_version: API_VERSION.to_owned(),
        kind: "AnalysisRun".to_owned(),
        metadata: ObjectMeta {
            name: non_empty(meta.name),
            generate_name: non_empty(meta.generate_name),
            namespace: non_empty(meta.namespace),
            labels: map(meta.labels),
            annotations: map(meta.annotations),
            ..ObjectMeta::default()
        },
        spec: AnalysisRunSpec {
            args,
            dry_run,
            measurement_retention: retention,
            metrics: template.metrics.unwrap_or_default(),
            terminate: None,
            ttl_strategy: None,
        },
        status: None,
    })
}

fn merge_rules<T: Clone>(
    incoming: Option<&[T]>,
    template: Option<Vec<T>>,
    name: impl Fn(&T) -> &String,
) -> Result<Option<Vec<T>>, String> {
    if incoming.is_none() && template.is_none() {
        return Ok(None);
    }
    let mut out: Vec<T> = Vec::new();
    for rule in incoming.unwrap_or_default().iter().cloned().chain(template.unwrap_or_default()) {
        if out.iter().any(|r| name(r) == name(&rule)) {
            return Err(name(&rule).clone());
        }
        out.push(rule);
    }
    Ok(Some(out))
}

/// Label keys and values Argo puts on the runs a Rollout creates.
pub mod labels {
    use std::collections::BTreeMap;

    /// The pod template hash of the ReplicaSet under analysis.
    pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";
    /// `PrePromotion`, `PostPromotion`, `Step` or `Background`.
    pub const ROLLOUT_TYPE: &str = "rollout-type";
    /// The canary step index of a step run.
    pub const STEP_INDEX: &str = "step-index";
    /// The controller instance (only when one is configured).
    pub const INSTANCE_ID: &str = "argo-rollouts.argoproj.io/controller-instance-id";

    fn base(kind: &str, pod_hash: &str, instance_id: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(POD_TEMPLATE_HASH.to_owned(), pod_hash.to_owned());
        m.insert(ROLLOUT_TYPE.to_owned(), kind.to_owned());
        if !instance_id.is_empty() {
            m.insert(INSTANCE_ID.to_owned(), instance_id.to_owned());
        }
        m
    }

    /// Blue-green pre-promotion analysis.
    pub fn pre_promotion(pod_hash: &str, instance_id: &str) -> BTreeMap<String, String> {
        base("PrePromotion", pod_hash, instance_id)
    }

    /// Blue-green post-promotion analysis.
    pub fn post_promotion(pod_hash: &str, instance_id: &str) -> BTreeMap<String, String> {
        base("PostPromotion", pod_hash, instance_id)
    }

    /// A canary `analysis` step.
    pub fn step(index: i32, pod_hash: &str, instance_id: &str) -> BTreeMap<String, String> {
        let mut m = base("Step", pod_hash, instance_id);
        m.insert(STEP_INDEX.to_owned(), index.to_string());
        m
    }

    /// Canary background analysis.
    pub fn background(pod_hash: &str, instance_id: &str) -> BTreeMap<String, String> {
        base("Background", pod_hash, instance_id)
    }
}

/// A Rollout's run name: `<rollout>-<hash>-<revision>[-<infix>]` (infix: the step index,
/// `pre` or `post`; none for background analysis).
pub fn run_name(rollout: &str, pod_hash: &str, revision: &str, infix: Option<&str>) -> String {
    match infix {
        Some(i) => format!("{rollout}-{pod_hash}-{revision}-{i}"),
        None => format!("{rollout}-{pod_hash}-{revision}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Source(BTreeMap<String, AnalysisTemplateSpec>);

    impl TemplateSource for Source {
        fn template(&self, name: &str) -> Option<AnalysisTemplateSpec> {
            self.0.get(name).cloned()
        }
        fn cluster_template(&self, _name: &str) -> Option<AnalysisTemplateSpec> {
            None
        }
    }

    fn refs(names: &[&str]) -> Vec<TemplateRef> {
        names
            .iter()
            .map(|n| TemplateRef { cluster_scope: None, template_name: Some((*n).to_owned()) })
            .collect()
    }

    #[test]
    fn nested_templates_are_followed_once_and_cycles_rejected() {
        let mut m = BTreeMap::new();
        m.insert(
            "a".into(),
            AnalysisTemplateSpec { templates: Some(refs(&["b"])), ..Default::default() },
        );
        m.insert("b".into(), AnalysisTemplateSpec::default());
        let got = resolve_template_refs(&refs(&["a", "b"]), &Source(m.clone())).unwrap();
        let names: Vec<_> = got.templates.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        m.insert(
            "b".into(),
            AnalysisTemplateSpec { templates: Some(refs(&["a"])), ..Default::default() },
        );
        let err = resolve_template_refs(&refs(&["a"]), &Source(m)).unwrap_err();
        assert_eq!(err, TemplateError::Cycle("a".into()));
        let err = resolve_template_refs(&refs(&["x"]), &Source(BTreeMap::new())).unwrap_err();
        assert_eq!(err.to_string(), "analysistemplates.argoproj.io \"x\" not found");
    }

    #[test]
    fn run_names() {
        assert_eq!(run_name("r", "abc", "2", Some("1")), "r-abc-2-1");
        assert_eq!(run_name("r", "abc", "2", None), "r-abc-2");
    }
}
