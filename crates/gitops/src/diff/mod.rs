//! Normalized diff (placeholder).
