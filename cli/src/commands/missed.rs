//! `pbx missed callback ID --agent A` (SPEC §10 quick callback): the
//! running server rings the agent's phone, then dials the missed caller's
//! number for it. When the customer answers, the entry leaves the missed
//! list (`pbx missed`) and a `missed.resolved` event goes to the CRM; a
//! callback that does not connect leaves it there, one attempt more.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

/// What `pbx missed` does besides listing.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MissedCmd {
    /// Call a missed caller back from an agent's phone (quick callback).
    Callback {
        /// The entry's id (first column of `pbx missed`).
        id: u64,
        /// The agent whose phone rings first.
        #[arg(long)]
        agent: String,
        /// How long the agent's phone may ring, in seconds.
        #[arg(long, default_value_t = 30)]
        ring: u64,
    },
}

/// `pbx missed [--queue Q] [--days N] callback ID --agent A`.
pub(crate) fn run(
    path: Option<&Path>,
    action: MissedCmd,
    queue: Option<String>,
    days: u32,
    _all: bool,
) -> anyhow::Result<ExitCode> {
    let MissedCmd::Callback { id, agent, ring } = action;
    if !(1..=31).contains(&days) {
        bail!("--days {days}: choose 1 to 31");
    }
    let config = super::load_config(path)?;
    let store = super::open_store(&config)?;
    let now = pbx_core::server::unix_now() * 1000;
    let from = now.saturating_sub(u64::from(days) * 86_400_000);
    let list = store.missed_calls(from, now + 1)?;
    let Some(entry) = list.iter().find(|m| m.id == id) else {
        bail!("no missed call {id} in the last {days} day(s): see `pbx missed --days {days}`");
    };
    if queue
        .as_deref()
        .is_some_and(|q| entry.skill_group.as_str() != q)
    {
        bail!(
            "missed call {id} went unanswered in {}, not in {}",
            entry.skill_group,
            queue.unwrap_or_default()
        );
    }
    if let Some(by) = entry.resolved_by_call {
        bail!("missed call {id} is resolved already (by call {by})");
    }
    let call = super::calls::place(&config, &agent, &entry.caller, ring, Some(id))?;
    println!("{call}");
    crate::output::note!(
        "ringing {agent}; {} is called back when {agent} answers",
        entry.caller
    );
    Ok(ExitCode::SUCCESS)
}
