//! weir-server (being written).
