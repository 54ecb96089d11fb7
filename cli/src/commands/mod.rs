//! One module per subcommand.

pub(crate) mod admin_http;
pub(crate) mod calls;
pub(crate) mod cdr;
pub(crate) mod cdr_export;
pub(crate) mod check;
pub(crate) mod conference;
pub(crate) mod ivr;
pub(crate) mod missed;
pub(crate) mod phone;
pub(crate) mod queues;
pub(crate) mod recordings;
pub(crate) mod registrations;
pub(crate) mod reload;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod tokens;
pub(crate) mod trunks;
pub(crate) mod users;
pub(crate) mod webhooks;

use std::path::Path;

use anyhow::Context;
use pbx_core::config::Config;
use pbx_core::store::Store;

/// Loads the configuration the same way for every subcommand.
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::from_file(p)?),
        None => Ok(Config::embedded()),
    }
}

/// Opens the store the server of this configuration uses.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.db_path())
        .with_context(|| format!("opening the store of {}", config.source))
}
