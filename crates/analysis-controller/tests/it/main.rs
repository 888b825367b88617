//! The AnalysisRun controller over a real `weir_store::Store`, with real or stand-in metric
//! servers: a real Prometheus (skipped loudly if the binary is absent), a stand-in SkyWalking
//! OAP, local web servers, the node agent running job pods, and a real proxy.

mod bad_input;
mod builtin;
mod controller;
mod job;
mod lifecycle;
mod prometheus;
mod restart;
mod scenarios_bluegreen;
mod scenarios_metrics;
mod scenarios_rollout;
mod script;
mod skywalking;
mod stack;
mod support;
mod tls;
mod vectors;
mod web;
