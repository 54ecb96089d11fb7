//! `pbx webhooks list|dead|replay|enable`: the CRM webhook subscriptions of
//! this configuration's store — their state, cursor, pending deliveries and
//! dead letters; `replay --since` queues stored webhook events again (a
//! running server sends them within its next round, with their original
//! `webhook-id` and body). Works beside a running server.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use pbx_core::store::{Store, SubscriptionId};

/// `pbx webhooks` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCmd {
    /// Subscriptions with state, cursor, pending deliveries and dead letters.
    List,
    /// Dead letters (deliveries given up), newest first.
    Dead {
        /// Only this subscription (its id from `list`).
        #[arg(long)]
        subscription: Option<i64>,
    },
    /// Queues every webhook event since TIME again (delivered or dead).
    Replay {
        /// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` (local time of
        /// `calls.utc_offset_minutes`) or an age: `30m`, `2h`, `1d`.
        #[arg(long)]
        since: String,
        /// Only this subscription (its id from `list`).
        #[arg(long)]
        subscription: Option<i64>,
    },
    /// Enables a subscription again (after a 410 disabled it).
    Enable {
        /// Its id from `list`.
        id: i64,
    },
}

/// `since` as Unix ms: a local date/time or an age before `now_ms`.
fn parse_since(s: &str, offset_secs: i64, now_ms: u64) -> anyhow::Result<u64> {
    let unit = |c: char| match c {
        's' => Some(1_000),
        'm' => Some(60_000),
        'h' => Some(3_600_000),
        'd' => Some(86_400_000),
        _ => None,
    };
    if let Some(mult) = s.chars().last().and_then(unit) {
        if let Ok(n) = s[..s.len() - 1].parse::<u64>() {
            return Ok(now_ms.saturating_sub(n.saturating_mul(mult)));
        }
    }
    super::cdr::parse_local(s, offset_secs).with_context(|| {
        format!("--since `{s}`: use YYYY-MM-DD[THH:MM] or an age like 30m, 2h, 1d")
    })
}

fn check_subscription(store: &Store, id: Option<i64>) -> anyhow::Result<Option<SubscriptionId>> {
    let Some(id) = id else { return Ok(None) };
    if !store.list_subscriptions()?.iter().any(|s| s.id.0 == id) {
        bail!("no webhook subscription {id} (see `pbx webhooks list`)");
    }
    Ok(Some(SubscriptionId(id)))
}

/// `pbx webhooks ...`.
pub(crate) fn run(path: Option<&Path>, cmd: WebhooksCmd) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let mut store = super::open_store(&config)?;
    let offset = i64::from(config.dialplan.utc_offset_secs);
    let now_ms = pbx_core::server::unix_now() * 1000;
    match cmd {
        WebhooksCmd::List => {
            let subs = store.list_subscriptions()?;
            if subs.is_empty() {
                crate::output::note!("no webhook subscriptions ([[webhooks]] in the config file)");
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(
                    out,
                    "{:<4} {:<16} {:<9} {:<7} {:>7} {:>8} {:>5} {:>9} {:<19} {:<20} url",
                    "id",
                    "name",
                    "state",
                    "masked",
                    "cursor",
                    "pending",
                    "dead",
                    "delivered",
                    "last delivered",
                    "events"
                )?;
                for s in &subs {
                    let state = match &s.state_reason {
                        Some(r) if s.state != "active" => format!("{} ({r})", s.state),
                        _ => s.state.clone(),
                    };
                    writeln!(
                        out,
                        "{:<4} {:<16} {:<9} {:<7} {:>7} {:>8} {:>5} {:>9} {:<19} {:<20} {}",
                        s.id,
                        s.sub.name,
                        state,
                        if s.sub.masked { "yes" } else { "no" },
                        s.cursor,
                        s.pending,
                        s.dead,
                        s.delivered,
                        s.last_delivered_ms.map_or_else(
                            || "-".to_owned(),
                            |ms| super::cdr::format_local(ms, offset)
                        ),
                        s.sub.events.join(","),
                        s.sub.url
                    )?;
                }
                Ok(())
            })?;
        }
        WebhooksCmd::Dead { subscription } => {
            let sub = check_subscription(&store, subscription)?;
            let dead = store.dead_letters(sub)?;
            if dead.is_empty() {
                crate::output::note!("no dead letters");
                return Ok(ExitCode::SUCCESS);
            }
            crate::output::stdout(|out| {
                writeln!(
                    out,
                    "{:<4} {:<19} {:<16} {:<36} {:>8} {:>6} error",
                    "sub", "given up", "type", "webhook-id", "attempts", "status"
                )?;
                for d in &dead {
                    writeln!(
                        out,
                        "{:<4} {:<19} {:<16} {:<36} {:>8} {:>6} {}",
                        d.sub,
                        super::cdr::format_local(d.died_ms, offset),
                        d.event.kind,
                        d.event.event_id,
                        d.attempts,
                        d.last_status
                            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                        d.last_error.as_deref().unwrap_or("-")
                    )?;
                }
                Ok(())
            })?;
        }
        WebhooksCmd::Replay {
            since,
            subscription,
        } => {
            let since_ms = parse_since(&since, offset, now_ms)?;
            let sub = check_subscription(&store, subscription)?;
            let n = store.replay_since(
                since_ms,
                sub,
                |s, kind| pbx_core::webhooks::filters_match(&s.sub.events, kind),
                now_ms,
            )?;
            crate::output::print(&format!(
                "{n} deliveries queued (events since {})\n",
                super::cdr::format_local(since_ms, offset)
            ))?;
        }
        WebhooksCmd::Enable { id } => {
            let sub = check_subscription(&store, Some(id))?.expect("given");
            store.set_subscription_state(sub, "active", None)?;
            store.pause_subscription(sub, 0)?;
            crate::output::print(&format!("subscription {id} enabled\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_as_ages_and_dates() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_since("30m", 0, now).unwrap(), now - 1_800_000);
        assert_eq!(parse_since("1d", 0, now).unwrap(), 9 * 86_400_000);
        assert_eq!(parse_since("1970-01-02", 0, now).unwrap(), 86_400_000);
        assert_eq!(
            parse_since("1970-01-02T01:00", 3600, now).unwrap(),
            86_400_000
        );
        assert!(parse_since("yesterday", 0, now).is_err());
    }
}
