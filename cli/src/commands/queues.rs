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
                writeln!(
                    out,
                    "queue\twaiting\tlogged_in\tstaffed\tavailable\tmean_handle_s"
                )?;
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
        bail!(
            "no queue `{queue}` in {} (queues: {})",
            config.source,
            names.join(", ")
        );
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
            writeln!(
                out,
                "answered within {n} s\t{}",
                pct(s.answer_rate_within(n))
            )?;
        }
        writeln!(
            out,
            "service level ({} s)\t{}",
            s.threshold_s,
            pct(s.service_level())
        )?;
        writeln!(out, "abandon rate\t{}", pct(s.abandon_rate()))?;
        writeln!(
            out,
            "average answered wait\t{}",
            secs(s.avg_answered_wait_s())
        )?;
        writeln!(
            out,
            "average abandoned wait\t{}",
            secs(s.avg_abandoned_wait_s())
        )?;
        writeln!(out, "average talk\t{}", secs(s.avg_talk_s()))?;
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `pbx missed [--queue Q] [--days N] [--all]`: inbound calls not connected
/// to an agent (SPEC §10), each in the skill group it waited in; an entry
/// leaves the list when a later call from the number connects.
pub(crate) fn run_missed(
    path: Option<&Path>,
    queue: Option<String>,
    days: u32,
    all: bool,
) -> anyhow::Result<ExitCode> {
    if !(1..=31).contains(&days) {
        bail!("--days {days}: choose 1 to 31");
    }
    let config = super::load_config(path)?;
    let store = super::open_store(&config)?;
    let now = pbx_core::server::unix_now() * 1000;
    let from = now.saturating_sub(u64::from(days) * 86_400_000);
    let list = store.missed_calls(from, now + 1)?;
    let group = queue.as_deref().map(acd::QueueId::from);
    let shown: Vec<&acd::missed::MissedCall> = if all {
        list.iter()
            .filter(|m| group.as_ref().is_none_or(|g| &m.skill_group == g))
            .collect()
    } else {
        acd::missed::open_missed(&list, group.as_ref())
    };
    if shown.is_empty() {
        crate::output::note!("no missed calls in the last {days} day(s)");
        return Ok(ExitCode::SUCCESS);
    }
    let offset = i64::from(config.dialplan.utc_offset_secs);
    crate::output::stdout(|out| {
        writeln!(
            out,
            "id\tmissed_at\tcaller\tqueue\tcall\tattempts\tresolved_by"
        )?;
        for m in &shown {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                m.id,
                super::cdr::format_local(m.missed_at_unix_ms, offset),
                m.caller,
                m.skill_group,
                m.call,
                m.callback_attempts,
                m.resolved_by_call
                    .map_or_else(|| "-".to_owned(), |c| c.to_string())
            )?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `pbx repeat-callers --days 1|2|3|7|14 [--number N] [--queue Q] [--min K]
/// [--max M]` (SPEC §11): numbers that called more than once, exact match.
pub(crate) fn run_repeat(
    path: Option<&Path>,
    days: u32,
    number: Option<String>,
    queue: Option<String>,
    min: Option<u32>,
    max: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let window = acd::repeat::Window::try_from(days).map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = super::load_config(path)?;
    let store = super::open_store(&config)?;
    let now = pbx_core::server::unix_now() * 1000;
    let events = store.queue_events(now.saturating_sub(14 * 86_400_000), now + 1)?;
    let calls = acd::repeat::inbound_calls(&events);
    let q = acd::repeat::RepeatQuery {
        window,
        number,
        skill_group: queue.as_deref().map(acd::QueueId::from),
        min,
        max,
    };
    let found = acd::repeat::repeat_callers(&calls, now, acd::repeat::Window::Days14, &q)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if found.is_empty() {
        crate::output::note!("no repeat callers in the last {days} day(s)");
        return Ok(ExitCode::SUCCESS);
    }
    let offset = i64::from(config.dialplan.utc_offset_secs);
    crate::output::stdout(|out| {
        writeln!(
            out,
            "number\tcalls\tanswered\tunanswered\tfirst\tlast\tqueues"
        )?;
        for r in &found {
            let groups: Vec<String> = r.skill_groups.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.number,
                r.count,
                r.answered,
                r.unanswered,
                super::cdr::format_local(r.first_at_unix_ms, offset),
                super::cdr::format_local(r.last_at_unix_ms, offset),
                groups.join(",")
            )?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
