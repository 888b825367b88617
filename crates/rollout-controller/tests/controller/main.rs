//! The Rollout controller's integration tests, as one test binary (link time on a 2-core CI):
//! the seed's bookinfo rollout with real processes, the §11 acceptance scenarios against the
//! embedded store with a manual clock, the Argo e2e behaviours of issue 14, bad input, and
//! crash/restart convergence.

mod argo_e2e;
mod bad_input;
mod bookinfo;
mod crash;
mod harness;
mod scenarios;
