//! duration (being written).
