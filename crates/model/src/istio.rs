//! istio (being written).
