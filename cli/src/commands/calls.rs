//! `pbx calls`: the running server's live B2BUA calls, and `pbx calls
//! hangup ID` to end one (its record says `admin.hangup`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

/// What `pbx calls` does besides listing.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CallsCmd {
    /// End a live call now (both sides get a BYE, or the caller a final
    /// response while it rings). ID is the first column of `pbx calls`.
    Hangup {
        /// The call id (`c` and 16 hex digits).
        id: String,
    },
}

/// `pbx calls [hangup ID]`.
pub(crate) fn run(path: Option<&Path>, action: Option<CallsCmd>) -> anyhow::Result<ExitCode> {
    match action {
        None => super::cdr::run_calls(path),
        Some(CallsCmd::Hangup { id }) => hangup(path, &id),
    }
}

fn hangup(path: Option<&Path>, id: &str) -> anyhow::Result<ExitCode> {
    if !id.starts_with('c') || id.len() != 17 || !id[1..].chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("`{id}` is no call id: use the first column of `pbx calls` (c and 16 hex digits)");
    }
    let config = super::load_config(path)?;
    let (status, body) = super::admin_http::request(
        &config,
        "live calls",
        "POST",
        &format!("/calls/{id}/hangup"),
    )?;
    match status {
        200 => {
            crate::output::note!("call {id} ended");
            Ok(ExitCode::SUCCESS)
        }
        404 => bail!("no live call {id} (it may have ended already; see `pbx calls`)"),
        _ => bail!(
            "server answered {status}: {}",
            super::admin_http::error_of(&body)
        ),
    }
}
