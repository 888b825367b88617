//! `weir app delete NAME [--cascade=false]`: with cascade (the default) the controller deletes
//! the Application's resources first (its resources finalizer), as Argo CD does.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use weir_app_controller::RESOURCES_FINALIZER;
use weir_app_controller::ops::applications;
use weir_cluster::{DeleteParams, Patch, Subresource};

use super::out;
use crate::connect::Backend;

/// Deletes the Application `name`.
pub(super) async fn run<B: Backend>(
    client: &B,
    ns: &str,
    name: &str,
    cascade: bool,
) -> Result<ExitCode> {
    let rt = applications();
    if cascade {
        let object = client.get(&rt, Some(ns), name).await?;
        let mut finalizers: Vec<String> = object.metadata.finalizers.clone().unwrap_or_default();
        if !finalizers.iter().any(|f| f == RESOURCES_FINALIZER) {
            finalizers.push(RESOURCES_FINALIZER.to_string());
            let patch = Patch::Merge(json!({"metadata": {"finalizers": finalizers}}));
            client.patch(&rt, Some(ns), name, &patch, Subresource::Main).await?;
        }
    }
    client.delete(&rt, Some(ns), name, &DeleteParams::default()).await?;
    out(&format!("application '{name}' deleted\n"))?;
    Ok(ExitCode::SUCCESS)
}
