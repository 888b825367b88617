//! The pure parts of a Kubernetes API server, shared by weir's HTTP API, the embedded store
//! and the Kubernetes backend: the schemas of every kind weir serves (the Kubernetes OpenAPI
//! document and the CRDs compiled in, see [`data`]), and what an API server derives from them.
//!
//! Invariant: no I/O, no clock, no async runtime. Large embedded documents are parsed lazily,
//! once, on first use, so a weir that never serves OpenAPI never pays for them.

pub mod apply;
pub mod data;
pub mod defaults;
pub mod openapi;
pub mod protobuf;
pub mod schema;
pub mod strategic;
pub mod table;
pub mod unknown_fields;
