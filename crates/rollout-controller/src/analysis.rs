//! AnalysisRuns a Rollout asks for: built from its AnalysisTemplatesByName and
//! ClusterAnalysisTemplates with `weir_analysis` (nested templates, merged arguments, the
//! Rollout's `podTemplateHashValue`/`fieldRef` arguments), owned by the Rollout. A run that
//! cannot be built (missing template, bad argument) is still created, with phase `Error` and
//! the reason, so the engine aborts the update with that message instead of the controller
//! retrying forever.

use std::collections::BTreeMap;

use serde_json::json;
use weir_analysis::{PodHashes, RunMeta, TemplatesByName, build_rollout_args};
use weir_cluster::{Cluster, Error, ListParams, Object};
use weir_model::rollouts::{AnalysisTemplateSpec, Rollout, RolloutAnalysis, TemplateRef};
use weir_rollout::hash::POD_TEMPLATE_HASH_LABEL;
use weir_rollout::{Command, REVISION_ANNOTATION};

use crate::execute::rt;
use crate::replicaset::owner_reference;

fn specs(objects: Vec<Object>) -> BTreeMap<String, AnalysisTemplateSpec> {
    objects
        .into_iter()
        .filter_map(|o| {
            let spec = serde_json::from_value(o.field("spec")?.clone()).ok()?;
            Some((o.name().to_owned(), spec))
        })
        .collect()
}

async fn read_templates<C: Cluster>(
    cluster: &C,
    ns: Option<&str>,
) -> Result<TemplatesByName, Error> {
    let params = ListParams::default();
    let namespaced = cluster.list(&rt("analysistemplates"), ns, &params).await?.items;
    let cluster_scoped = cluster.list(&rt("clusteranalysistemplates"), None, &params).await?.items;
    Ok(TemplatesByName { namespaced: specs(namespaced), cluster: specs(cluster_scoped) })
}

/// The run `name` for `analysis`, or the reason it cannot be built.
fn build(
    ro: &Rollout,
    templates: &TemplatesByName,
    name: &str,
    analysis: &RolloutAnalysis,
    labels: &BTreeMap<String, String>,
    revision: i64,
) -> (Object, Option<String>) {
    let mut annotations = BTreeMap::from([(REVISION_ANNOTATION.to_owned(), revision.to_string())]);
    if let Some(extra) =
        analysis.analysis_run_metadata.as_ref().and_then(|m| m.annotations.as_ref())
    {
        annotations.extend(extra.clone());
    }
    let meta = RunMeta {
        name: name.to_owned(),
        namespace: ro.metadata.namespace.clone().unwrap_or_default(),
        labels: labels.clone(),
        annotations,
        ..RunMeta::default()
    };
    let refs: Vec<TemplateRef> = analysis
        .templates
        .iter()
        .flatten()
        .map(|t| TemplateRef {
            cluster_scope: t.cluster_scope,
            template_name: t.template_name.clone(),
        })
        .collect();
    let stable = ro.status.as_ref().and_then(|s| s.stable_rs.as_deref());
    let latest = labels.get(POD_TEMPLATE_HASH_LABEL).map(String::as_str);
    let built = weir_analysis::resolve_template_refs(&refs, templates)
        .map_err(|e| e.to_string())
        .and_then(|resolved| {
            let args = build_rollout_args(
                analysis.args.as_deref().unwrap_or_default(),
                PodHashes { stable, latest },
                ro,
            )
            .map_err(|e| e.to_string())?;
            weir_analysis::new_analysis_run(
                &resolved.specs(),
                Some(&args),
                analysis.dry_run.as_deref(),
                analysis.measurement_retention.as_deref(),
                meta.clone(),
            )
            .map_err(|e| e.to_string())
        })
        .and_then(|run| Object::from_typed(&run).map_err(|e| e.to_string()));
    let (mut object, problem) = match built {
        Ok(object) => (object, None),
        Err(problem) => {
            let mut object = Object::new("argoproj.io/v1alpha1", "AnalysisRun", None, name);
            object.metadata.namespace = Some(meta.namespace.clone());
            object.metadata.labels = Some(meta.labels.clone());
            let mut annotations = meta.annotations.clone();
            annotations.insert(weir_analysis::BUILD_ERROR_ANNOTATION.to_owned(), problem.clone());
            object.metadata.annotations = Some(annotations);
            object.data.insert("spec".into(), json!({"metrics": []}));
            (object, Some(problem))
        }
    };
    object.metadata.owner_references = serde_json::from_value(json!([owner_reference(ro)])).ok();
    (object, problem)
}

/// Creates the runs the engine asked for (an existing name is left alone).
pub(crate) async fn create_runs<C: Cluster>(
    cluster: &C,
    ro: &Rollout,
    commands: &[Command],
) -> Result<(), String> {
    let mut templates = None;
    for command in commands {
        let Command::CreateAnalysisRun { name, analysis, labels, revision, .. } = command else {
            continue;
        };
        if templates.is_none() {
            let read = read_templates(cluster, ro.metadata.namespace.as_deref()).await;
            templates = Some(read.map_err(|e| format!("reading analysis templates: {e}"))?);
        }
        let Some(templates) = templates.as_ref() else {
            continue;
        };
        let (object, problem) = build(ro, templates, name, analysis, labels, *revision);
        let ar = rt("analysisruns");
        let created = match cluster.create(&ar, object).await {
            Ok(created) => created,
            Err(Error::AlreadyExists { .. }) => continue,
            Err(e) => return Err(format!("creating AnalysisRun {name:?}: {e}")),
        };
        if let Some(problem) = problem {
            tracing::warn!(run = %name, %problem, "AnalysisRun cannot be built");
            let mut failed = created;
            failed.data.insert("status".into(), json!({"phase": "Error", "message": problem}));
            // The AnalysisRun controller may have judged the run first, from its build-error
            // annotation, with the same message.
            match cluster.update_status(&ar, failed).await {
                Ok(_) | Err(Error::Conflict { .. } | Error::NotFound { .. }) => {}
                Err(e) => return Err(format!("marking AnalysisRun {name:?} as Error: {e}")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> Rollout {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "ro", "namespace": "ns", "uid": "u1"},
            "spec": {"strategy": {"canary": {}}},
            "status": {"stableRS": "h1"}
        }))
        .expect("rollout")
    }

    fn analysis() -> RolloutAnalysis {
        serde_json::from_value(json!({
            "templates": [{"templateName": "t"}],
            "args": [{"name": "svc", "value": "reviews"},
                     {"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]
        }))
        .expect("analysis")
    }

    #[test]
    fn runs_are_built_from_templates_with_the_rollouts_args() {
        let spec: AnalysisTemplateSpec = serde_json::from_value(json!({
            "args": [{"name": "svc"}, {"name": "hash"}],
            "metrics": [{"name": "m", "provider": {"job": {"spec": {"template": {"spec": {
                "containers": [], "restartPolicy": "Never"}}}}}}]
        }))
        .expect("spec");
        let templates = TemplatesByName {
            namespaced: BTreeMap::from([("t".into(), spec)]),
            ..TemplatesByName::default()
        };
        let labels = BTreeMap::from([(POD_TEMPLATE_HASH_LABEL.to_owned(), "h2".to_owned())]);
        let (run, problem) = build(&rollout(), &templates, "ro-h2-2", &analysis(), &labels, 2);
        assert_eq!(problem, None);
        let v = run.to_value();
        assert_eq!(v["spec"]["args"][1]["value"], "h2");
        assert_eq!(v["metadata"]["annotations"]["rollout.argoproj.io/revision"], "2");
        assert_eq!(v["metadata"]["ownerReferences"][0]["kind"], "Rollout");
    }

    #[test]
    fn a_missing_template_is_reported_on_the_run() {
        let (run, problem) = build(
            &rollout(),
            &TemplatesByName::default(),
            "ro-h2-2",
            &analysis(),
            &BTreeMap::new(),
            2,
        );
        assert!(problem.expect("problem").contains("not found"));
        assert_eq!(run.to_value()["metadata"]["ownerReferences"][0]["uid"], "u1");
    }
}
