//! weir-model (being written).
