//! `pbx agents` and `pbx queues`: the contact center of the running server
//! (its `/acd` and `/agents/NAME/OP` admin routes), and `pbx queues stats`,
//! computed from the stored queue events with the formulas of SPEC §13.3.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

/// `pbx agents` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AgentsCmd {
    /// Agents and their states now (the default).
    List,
    /// Start working: offers from every queue of the agent's skills.
    Login {
        /// The agent (user name).
        name: String,
    },
    /// Stop working.
    Logout {
        /// The agent.
        name: String,
    },
    /// Not ready, with a reason code.
    Break {
        /// The agent.
        name: String,
        /// Reason code (lunch, training, ...).
        #[arg(long, default_value = "break")]
        reason: String,
    },
    /// Ready again (also ends wrap-up early).
    Ready {
        /// The agent.
        name: String,
    },
}

/// `pbx queues` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum QueuesCmd {
    /// Queues now: waiting callers, agents logged in / staffed / available.
    List,
    /// Offered, answered, abandoned, answer rates, service level and
    /// average times of a queue over a period (default: today).
    Stats {
        /// The queue.
        queue: String,
        /// Start, local time `YYYY-MM-DD[THH:MM]` (default: today 00:00).
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive (default: one day after `--from`).
        #[arg(long)]
        to: Option<String>,
    },
}

fn acd_status(path: Option<&Path>) -> anyhow::Result<serde_json::Value> {
    let body = super::cdr::admin_get(path, "queues and agents", "/acd")?;
    serde_json::from_str(&body).context("the server's /acd answer is not JSON")
}

/// `pbx agents ...`.
pub(crate) fn run_agents(path: Option<&Path>, cmd: Option<AgentsCmd>) -> anyhow::Result<ExitCode> {
    let (name, op) = match cmd.unwrap_or(AgentsCmd::List) {
        AgentsCmd::List => {
            let status = acd_status(path)?;
            let agents = status["agents"].as_array().cloned().unwrap_or_default();
            if agents.is_empty() {
                crate::output::note!("no agents configured ([[agents]])");
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(out, "agent\tstate\tskills")?;
                for a in &agents {
                    let skills: Vec<&str> = a["skills"]
                        .as_array()
                        .map(|s| s.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        a["agent"].as_str().unwrap_or(""),
                        a["state"].as_str().unwrap_or(""),
                        skills.join(",")
                    )?;
                }
                Ok(())
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        AgentsCmd::Login { name } => (name, "login".to_owned()),
        AgentsCmd::Logout { name } => (name, "logout".to_owned()),
        AgentsCmd::Ready { name } => (name, "ready".to_owned()),
        AgentsCmd::Break { name, reason } => (name, format!("break:{reason}")),
    };
    if name.is_empty() || name.contains('/') {
        bail!("`{name}` is no agent name");
    }
    let config = super::load_config(path)?;
    let (status, body) = super::admin_http::request(
        &config,
        "agent operations",
        "POST",
        &format!("/agents/{name}/{op}"),
    )?;
    match status {
        200 => {
            crate::output::note!("{name}: {op}");
            Ok(ExitCode::SUCCESS)
        }
        409 => bail!("{name}: {}", super::admin_http::error_of(&body)),
        _ => bail!(
            "server answered {status}: {}",
            super::admin_http::error_of(&body)
        ),
    }
}

/// `pbx queues ...`.
pub(crate) fn run_queues(path: Option<&Path>, cmd: Option<QueuesCmd>) -> anyhow::Result<ExitCode> {
    match cmd.unwrap_or(QueuesCmd::List) {
        QueuesCmd::List => {
            let status = acd_status(path)?;
            let queues = status["queues"].as_array().cloned().unwrap_or_default();
            if queues.is_empty() {
                crate::output::note!("no queues configured ([[queues]])");
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(out, "queue\twaiting\tlogged_in\tstaffed\tavailable\tmean_handle_s")?;
                for q in &queues {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        q["queue"].as_str().unwrap_or(""),
                        q["waiting"],
                        q["logged_in"],
                        q["staffed"],
                        q["available"],
                        q["mean_handle_s"]
                    )?;
                }
                Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        QueuesCmd::Stats { queue, from, to } => stats(path, &queue, from, to),
    }
}

fn stats(
    path: Option<&Path>,
    queue: &str,
    from: Option<String>,
    to: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let Some(q) = config.queues.iter().find(|q| q.name.as_str() == queue) else {
        let names: Vec<String> = config.queues.iter().map(|q| q.name.to_string()).collect();
        bail!("no queue `{queue}` in {} (queues: {})", config.source, names.join(", "));
    };
    let offset = i64::from(config.dialplan.utc_offset_secs);
    let from_ms = match &from {
        Some(f) => super::cdr::parse_local(f, offset)?,
        None => {
            let day = (pbx_core::server::unix_now() as i64 + offset).div_euclid(86_400);
            ((day * 86_400 - offset) * 1000) as u64
        }
    };
    let to_ms = match &to {
        Some(t) => super::cdr::parse_local(t, offset)?,
        None => from_ms + 86_400_000,
    };
    let store = super::open_store(&config)?;
    // Calls that entered in the period are followed to their end.
    let events = store.queue_events(from_ms, to_ms.saturating_add(86_400_000))?;
    let s = acd::stats::queue_stats(
        &events,
        &q.name,
        from_ms,
        to_ms,
        u64::from(q.service_level_s),
    );
    let pct = |r: Option<acd::stats::Ratio>| r.map_or_else(|| "—".to_owned(), |r| r.to_string());
    let secs = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} s"));
    crate::output::stdout(|out| {
        writeln!(out, "queue\t{queue}")?;
        writeln!(out, "offered\t{}", s.offered)?;
        writeln!(out, "answered\t{}", s.answered)?;
        writeln!(out, "abandoned\t{}", s.abandoned)?;
        writeln!(out, "overflowed\t{}", s.overflowed)?;
        writeln!(out, "answer rate\t{}", pct(s.answer_rate()))?;
        for n in [15, 20, 30] {
            writeln!(out, "answered within {n} s\t{}", pct(s.answer_rate_within(n)))?;
        }
        writeln!(out, "service level ({} s)\t{}", s.threshold_s, pct(s.service_level()))?;
        writeln!(out, "abandon rate\t{}", pct(s.abandon_rate()))?;
        writeln!(out, "average answered wait\t{}", secs(s.avg_answered_wait_s()))?;
        writeln!(out, "average abandoned wait\t{}", secs(s.avg_abandoned_wait_s()))?;
        writeln!(out, "average talk\t{}", secs(s.avg_talk_s()))?;
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
