//! typed (being written).
