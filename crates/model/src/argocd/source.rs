//! Argo CD `ApplicationSource`: where manifests come from (git/Helm/OCI) and how they are rendered
//! (Helm, Kustomize, plain directory/Jsonnet, config management plugin).
//!
//! Follows `crds/argo-cd/*.yaml` field for field (derived mechanically from the schema; the
//! schema coverage test in `tests/fixtures.rs` fails on any missing or misnamed field).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Info;

/// Source is a reference to the location of the application's manifests or chart
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSource {
    /// Chart is a Helm chart name, and must be specified for applications sourced from a Helm repo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// Directory holds path/directory specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// Helm holds helm specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    /// Kustomize holds kustomize specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    /// Name is used to refer to a source and is displayed in the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Path is a directory path within the Git repository, and is only valid for applications sourced from Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Plugin holds config management plugin specific options
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ApplicationSourcePlugin>,
    /// Ref is reference to another source within sources field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    /// RepoURL is the URL to the repository (Git or Helm) that contains the application manifests
    #[serde(rename = "repoURL", default)]
    pub repo_url: String,
    /// TagPrefix filters git tags to only those with this prefix before evaluating targetRevision as a semver constraint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
    /// TargetRevision defines the revision of the source to sync the application to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
}

/// Directory holds path/directory specific options
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    /// DisableExtensionFilter controls whether the built-in file-extension filter is skipped during manifest generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_extension_filter: Option<bool>,
    /// Exclude contains a glob pattern to match paths against that should be explicitly excluded from being used during manifest generation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// Include contains a glob pattern to match paths against that should be explicitly included during manifest generation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Jsonnet holds options specific to Jsonnet
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<ApplicationSourceJsonnet>,
    /// Recurse specifies whether to scan a directory recursively for manifests
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse: Option<bool>,
}

/// Jsonnet holds options specific to Jsonnet
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourceJsonnet {
    /// ExtVars is a list of Jsonnet External Variables
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_vars: Option<Vec<JsonnetVar>>,
    /// Additional library search dirs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libs: Option<Vec<String>>,
    /// TLAS is a list of Jsonnet Top-level Arguments
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlas: Option<Vec<JsonnetVar>>,
}

/// JsonnetVar represents a variable to be passed to jsonnet during manifest generation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JsonnetVar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<bool>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// Helm holds helm specific options
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    /// APIVersions specifies the Kubernetes resource API versions to pass to Helm when templating manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_versions: Option<Vec<String>>,
    /// FileParameters are file parameters to the helm template
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_parameters: Option<Vec<HelmFileParameter>>,
    /// IgnoreMissingValueFiles prevents helm template from failing when valueFiles do not exist locally by not appending them to helm template --values
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_value_files: Option<bool>,
    /// KubeVersion specifies the Kubernetes API version to pass to Helm when templating manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// Namespace is an optional namespace to template with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Parameters is a list of Helm parameters which are passed to the helm template command upon manifest generation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<HelmParameter>>,
    /// PassCredentials pass credentials to all domains (Helm's --pass-credentials)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_credentials: Option<bool>,
    /// ReleaseName is the Helm release name to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// SkipCrds skips custom resource definition installation step (Helm's --skip-crds)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_crds: Option<bool>,
    /// SkipSchemaValidation skips JSON schema validation (Helm's --skip-schema-validation)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_schema_validation: Option<bool>,
    /// SkipTests skips test manifest installation step (Helm's --skip-tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_tests: Option<bool>,
    /// ValuesFiles is a list of Helm value files to use when generating a template
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_files: Option<Vec<String>>,
    /// Values specifies Helm values to be passed to helm template, typically defined as a block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// ValuesObject specifies Helm values to be passed to helm template, defined as a map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_object: Option<Value>,
    /// Version is the Helm version to use for templating ("3")
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// HelmFileParameter is a file parameter that's passed to helm template during manifest generation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmFileParameter {
    /// Name is the name of the Helm parameter
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Path is the path to the file containing the values for the Helm parameter
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// HelmParameter is a parameter that's passed to helm template during manifest generation
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmParameter {
    /// ForceString determines whether to tell Helm to interpret booleans and numbers as strings
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_string: Option<bool>,
    /// Name is the name of the Helm parameter
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value is the value for the Helm parameter
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Kustomize holds kustomize specific options
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourceKustomize {
    /// APIVersions specifies the Kubernetes resource API versions to pass to Helm when templating manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_versions: Option<Vec<String>>,
    /// CommonAnnotations is a list of additional annotations to add to rendered manifests
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_annotations: Option<BTreeMap<String, String>>,
    /// CommonAnnotationsEnvsubst specifies whether to apply env variables substitution for annotation values
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_annotations_envsubst: Option<bool>,
    /// CommonLabels is a list of additional labels to add to rendered manifests
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_labels: Option<BTreeMap<String, String>>,
    /// Components specifies a list of kustomize components to add to the kustomization before building
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// ForceCommonAnnotations specifies whether to force applying common annotations to resources for Kustomize apps
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_common_annotations: Option<bool>,
    /// ForceCommonLabels specifies whether to force applying common labels to resources for Kustomize apps
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_common_labels: Option<bool>,
    /// IgnoreMissingComponents prevents kustomize from failing when components do not exist locally by not appending them to kustomization file
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_components: Option<bool>,
    /// Images is a list of Kustomize image override specifications
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// KubeVersion specifies the Kubernetes API version to pass to Helm when templating manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// LabelIncludeTemplates specifies whether to apply common labels to resource templates or not
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_include_templates: Option<bool>,
    /// LabelWithoutSelector specifies whether to apply common labels to resource selectors or not
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_without_selector: Option<bool>,
    /// NamePrefix overrides the namePrefix in the kustomization.yaml for Kustomize apps
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// NameSuffix overrides the nameSuffix in the kustomization.yaml for Kustomize apps
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// Namespace sets the namespace that Kustomize adds to all resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Patches is a list of Kustomize patches
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<KustomizePatch>>,
    /// Replicas is a list of Kustomize Replicas override specifications
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Vec<KustomizeReplica>>,
    /// Version controls which version of Kustomize to use for rendering manifests
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `Application.spec.source.kustomize.patches[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
}

/// `Application.spec.source.kustomize.patches[].target`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizeSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `Application.spec.source.kustomize.replicas[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizeReplica {
    /// Number of replicas
    #[serde(default)]
    pub count: IntOrString,
    /// Name of Deployment or StatefulSet
    #[serde(default)]
    pub name: String,
}

/// Plugin holds config management plugin specific options
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourcePlugin {
    /// Env is a list of environment variable entries
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<Info>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<ApplicationSourcePluginParameter>>,
}

/// `Application.spec.source.plugin.parameters[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationSourcePluginParameter {
    /// Array is the value of an array type parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
    /// Map is the value of a map type parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
    /// Name is the name identifying a parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// String_ is the value of a string type parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
}
