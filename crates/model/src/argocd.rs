//! argocd (being written).
