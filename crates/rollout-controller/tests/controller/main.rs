//! The Rollout controller's integration tests, as one test binary (link time on a 2-core CI):
//! the seed's bookinfo rollout with real processes, the §11 acceptance scenarios against the
//! embedded store with a manual clock, bad input, and crash/restart convergence.

mod bad_input;
mod bookinfo;
mod crash;
mod harness;
mod scenarios;
