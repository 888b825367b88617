//! Integration tests of weir-mesh: the translation of real manifests, and the controller over
//! a real store and proxy.

mod controller;
mod translate;
