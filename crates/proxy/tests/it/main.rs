//! Integration tests: real upstream servers and real HTTP through the proxy, all on 127.0.0.1.

mod load;
mod metrics;
mod outlier;
mod pool;
mod resilience;
mod routing;
mod support;
