//! `?dryRun=All`: the request runs against the backend's dry view ([`DryRun`]), so it goes
//! through exactly the same handling (body checks, typed validation, the store's rules) and
//! answers with what would have been stored, while nothing is. See `weir_cluster::DryRun`.

use std::collections::HashMap;

use axum::http::Method;
use weir_cluster::{
    Cluster, DeleteOutcome, DeleteParams, DryRun, Error, ListParams, Object, ObjectList, Patch,
    ResourceType, Result, Subresource, WatchParams, WatchStream,
};

/// Whether a request asks for a dry run. Only writes take `dryRun`; its one valid value is
/// `All`. Anything else is refused (the API server's validation message names the field and
/// the supported value).
pub(crate) fn requested(method: &Method, query: &HashMap<String, String>) -> Result<bool> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return Ok(false);
    }
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(Error::BadRequest(format!(
            "Invalid dry run value: dryRun: Unsupported value: [{other:?}]: supported values: \"All\""
        ))),
    }
}

/// The backend a request runs against: the live one, or its dry view.
#[derive(Debug, Clone)]
pub(crate) enum Target<C: DryRun> {
    Live(C),
    Dry(C::Dry),
}

impl<C: Cluster + DryRun + Clone> Target<C> {
    pub(crate) fn of(cluster: &C, dry_run: bool) -> Self {
        if dry_run { Target::Dry(cluster.dry_run()) } else { Target::Live(cluster.clone()) }
    }
}

impl<C: DryRun> Target<C> {
    pub(crate) fn is_dry_run(&self) -> bool {
        matches!(self, Target::Dry(_))
    }
}

impl<C> Cluster for Target<C>
where
    C: Cluster + DryRun + Clone,
    C::Dry: std::fmt::Debug,
{
    async fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Object> {
        match self {
            Target::Live(c) => c.get(rt, namespace, name).await,
            Target::Dry(c) => c.get(rt, namespace, name).await,
        }
    }

    async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList> {
        match self {
            Target::Live(c) => c.list(rt, namespace, params).await,
            Target::Dry(c) => c.list(rt, namespace, params).await,
        }
    }

    async fn create(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        match self {
            Target::Live(c) => c.create(rt, object).await,
            Target::Dry(c) => c.create(rt, object).await,
        }
    }

    async fn update(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        match self {
            Target::Live(c) => c.update(rt, object).await,
            Target::Dry(c) => c.update(rt, object).await,
        }
    }

    async fn update_status(&self, rt: &ResourceType, object: Object) -> Result<Object> {
        match self {
            Target::Live(c) => c.update_status(rt, object).await,
            Target::Dry(c) => c.update_status(rt, object).await,
        }
    }

    async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: Subresource,
    ) -> Result<Object> {
        match self {
            Target::Live(c) => c.patch(rt, namespace, name, patch, subresource).await,
            Target::Dry(c) => c.patch(rt, namespace, name, patch, subresource).await,
        }
    }

    async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome> {
        match self {
            Target::Live(c) => c.delete(rt, namespace, name, params).await,
            Target::Dry(c) => c.delete(rt, namespace, name, params).await,
        }
    }

    async fn watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        match self {
            Target::Live(c) => c.watch(rt, namespace, params).await,
            Target::Dry(c) => c.watch(rt, namespace, params).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_all_is_a_dry_run_and_only_writes_take_it() {
        assert!(requested(&Method::POST, &query(&[("dryRun", "All")])).unwrap());
        assert!(!requested(&Method::PUT, &query(&[])).unwrap());
        assert!(!requested(&Method::GET, &query(&[("dryRun", "bogus")])).unwrap());
        let err = requested(&Method::DELETE, &query(&[("dryRun", "all")])).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().starts_with("Invalid dry run value"), "{err}");
    }
}
