//! Finding the running weir: `--server`/`WEIR_SERVER` with `--token`/`WEIR_TOKEN`, or else the
//! data directory's `endpoints.json` and the token file it names.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use weir_client::Client;
use weir_server::DataDir;

use crate::args::Connection;

/// The data directory: `--data-dir`/`WEIR_DATA_DIR`, or `<user data dir>/weir`.
pub(crate) fn data_dir(connection: &Connection) -> Result<PathBuf> {
    if let Some(dir) = &connection.data_dir {
        return Ok(dir.clone());
    }
    let base = dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .context("no data directory: set --data-dir or WEIR_DATA_DIR")?;
    Ok(base.join("weir"))
}

/// A client for the weir the user means.
pub(crate) fn client(connection: &Connection) -> Result<Client> {
    if let Some(server) = &connection.server {
        let Some(token) = &connection.token else {
            bail!("--server/WEIR_SERVER is set but no token: set --token or WEIR_TOKEN");
        };
        return Ok(Client::new(server, token));
    }
    let data_dir = DataDir::at(data_dir(connection)?);
    let endpoints = data_dir.read_endpoints().with_context(|| {
        format!(
            "no running weir found ({} is missing or unreadable): start one with `weir up`, \
             or set WEIR_SERVER and WEIR_TOKEN",
            data_dir.endpoints_path().display()
        )
    })?;
    let token = match &connection.token {
        Some(token) => token.clone(),
        None => std::fs::read_to_string(&endpoints.token_file).with_context(|| {
            format!("reading the token file {}", endpoints.token_file.display())
        })?,
    };
    Ok(Client::new(&endpoints.api, &token))
}
