//! Argo Rollouts' own analysis test vectors (`../shared/fixtures/argo-test-vectors/analysis/`),
//! run as data: one test per file section, one case per vector, failures name the case.

mod args;
mod assessment;
mod support;
