//! The errors of argument resolution and template flattening. `Display` is Argo's exact
//! text, since these messages end up on AnalysisRuns and Rollouts.

/// Argument resolution failed (`Display` = Argo's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// An argument reached substitution without a value.
    #[error("argument \"{0}\" was not supplied")]
    NotSupplied(String),
    /// A `{{tag}}` named no argument (the raw, untrimmed tag).
    #[error("failed to resolve {{{{{0}}}}}")]
    Unresolved(String),
    /// A `{{` without its `}}` (both fields already Go-quoted).
    #[error("Cannot find end tag=\"}}}}\" in the template={template} starting from {rest}")]
    UnterminatedTag {
        /// The whole template, quoted.
        template: String,
        /// The text after the `{{`, quoted.
        rest: String,
    },
    /// After merging, an argument has neither `value` nor `valueFrom`.
    #[error("args.{0} was not resolved")]
    NotResolved(String),
    /// `valueFrom.secretKeyRef` names a Secret that does not exist.
    #[error("secrets \"{0}\" not found")]
    SecretNotFound(String),
    /// `valueFrom.secretKeyRef` names a key the Secret does not have.
    #[error("key '{key}' does not exist in secret '{name}'")]
    KeyNotInSecret {
        /// The Secret.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A `fieldRef` path could not be read (Argo's text, e.g. `index 12 out of range`).
    #[error("{0}")]
    FieldPath(String),
    /// A Go duration did not parse (Go's text, e.g. `time: invalid duration "asdf"`).
    #[error("{0}")]
    Duration(String),
    /// The metric no longer parses once substituted (e.g. a value made a number field a word).
    #[error("{0}")]
    InvalidMetric(String),
}

/// Flattening templates or building a run from them failed (`Display` = Argo's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Two templates define a metric with the same name.
    #[error("two metrics have the same name '{0}'")]
    DuplicateMetric(String),
    /// Two templates define a dry-run rule for the same metric name.
    #[error("two Dry-Run metric rules have the same name '{0}'")]
    DuplicateDryRun(String),
    /// Two templates define a retention rule for the same metric name.
    #[error("two Measurement Retention metric rules have the same name '{0}'")]
    DuplicateRetention(String),
    /// Two templates give one argument different values.
    #[error(
        "Argument `{name}` specified multiple times with different values: '{first}', '{second}'"
    )]
    ConflictingArg {
        /// The argument.
        name: String,
        /// The value seen first.
        first: String,
        /// The other value.
        second: String,
    },
    /// A referenced template does not exist.
    #[error("{kind}.argoproj.io \"{name}\" not found")]
    NotFound {
        /// `analysistemplates` or `clusteranalysistemplates`.
        kind: &'static str,
        /// The template's name.
        name: String,
    },
    /// A template includes itself through `templates` (Argo would recurse forever).
    #[error("template \"{0}\" includes itself through spec.templates")]
    Cycle(String),
    /// Merging the arguments failed.
    #[error(transparent)]
    Arg(#[from] ArgError),
}
