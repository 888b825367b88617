//! weir-store (being written).
