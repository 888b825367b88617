//! rollouts (being written).
