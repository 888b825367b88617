//! Integration tests of the embedded store, one binary (link time matters on small CI boxes).

mod common;
mod concurrency;
mod crash;
mod crud;
mod gc;
mod open;
mod patches;
mod semantics;
mod watch;
