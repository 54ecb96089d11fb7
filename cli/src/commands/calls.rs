//! `pbx calls`: the running server's live B2BUA calls, `pbx calls hangup
//! ID` to end one (its record says `admin.hangup`), and `pbx calls
//! originate AGENT NUMBER` (click-to-call: the agent's phone rings first).

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
    /// Place a call: ring AGENT's phone, and once it answers dial NUMBER
    /// for it (routed as if the agent had dialed it: a phone, a trunk, an
    /// IVR, a queue). Prints the new call's id.
    Originate {
        /// The user whose phone rings first.
        agent: String,
        /// The number dialed once the agent answers.
        number: String,
        /// How long the agent's phone may ring, in seconds.
        #[arg(long, default_value_t = 30)]
        ring: u64,
    },
}

/// `pbx calls [hangup ID]`.
pub(crate) fn run(path: Option<&Path>, action: Option<CallsCmd>) -> anyhow::Result<ExitCode> {
    match action {
        None => super::cdr::run_calls(path),
        Some(CallsCmd::Hangup { id }) => hangup(path, &id),
        Some(CallsCmd::Originate {
            agent,
            number,
            ring,
        }) => originate(path, &agent, &number, ring),
    }
}

fn originate(
    path: Option<&Path>,
    agent: &str,
    number: &str,
    ring: u64,
) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let id = place(&config, agent, number, ring, None)?;
    println!("{id}");
    crate::output::note!("ringing {agent}; {number} is dialed when {agent} answers");
    Ok(ExitCode::SUCCESS)
}

/// Asks the running server to place a call (`POST /calls/originate`):
/// AGENT's phone first, then NUMBER; with `missed`, a quick callback of
/// that missed-call entry. Returns the new call's id.
pub(crate) fn place(
    config: &pbx_core::config::Config,
    agent: &str,
    number: &str,
    ring: u64,
    missed: Option<u64>,
) -> anyhow::Result<String> {
    let ok = |v: &str| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+*#-_.".contains(c))
    };
    if !ok(agent) || !ok(number) {
        bail!("AGENT and NUMBER are a user and a number: digits, letters and + * # - _ . only");
    }
    // `+` would read as a space in a query string.
    let mut path = format!(
        "/calls/originate?agent={}&number={}&ring_s={ring}",
        agent.replace('+', "%2B"),
        number.replace('+', "%2B")
    );
    if let Some(m) = missed {
        path.push_str(&format!("&missed={m}"));
    }
    let (status, body) = super::admin_http::request(config, "live calls", "POST", &path)?;
    if status != 201 {
        bail!(
            "server answered {status}: {}",
            super::admin_http::error_of(&body)
        );
    }
    Ok(serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["call_id"].as_str().map(str::to_owned))
        .unwrap_or_default())
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
