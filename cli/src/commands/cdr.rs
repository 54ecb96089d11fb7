//! `pbx cdr`: call-detail records from the store (default: today, in the
//! dial plan's UTC offset), with filters and CSV export; `pbx calls`: the
//! live B2BUA calls from the server's local HTTP endpoint.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use pbx_core::server::unix_now;
use pbx_core::store::{CdrFilter, StoredCdr};

/// Filters of `pbx cdr`.
#[derive(Args, Debug)]
pub(crate) struct CdrArgs {
    /// Start of the window: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (local time of
    /// `calls.utc_offset_minutes`). Default: today 00:00.
    #[arg(long)]
    from: Option<String>,
    /// End of the window (exclusive), same forms. Default: `--from` + 1 day.
    #[arg(long)]
    to: Option<String>,
    /// Only calls from this caller (as received, or its E.164 form).
    #[arg(long)]
    caller: Option<String>,
    /// Only calls to this number (as dialed, or its E.164 form).
    #[arg(long)]
    callee: Option<String>,
    /// ANSWERED, NO_ANSWER, BUSY, FAILED or CANCELLED.
    #[arg(long)]
    disposition: Option<String>,
    /// internal, inbound or outbound.
    #[arg(long)]
    direction: Option<String>,
    /// Only calls carried by this trunk.
    #[arg(long)]
    trunk: Option<String>,
    /// At most this many records, newest first (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// CSV with every field (legs and quality included) instead of a table.
    #[arg(long)]
    csv: bool,
    /// `export`: the call records (SPEC §12 fields and filters) to a CSV or
    /// XLSX file.
    #[command(subcommand)]
    command: Option<super::cdr_export::CdrCmd>,
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(y, m, d, hh, mm, ss)` of Unix seconds.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Parses `YYYY-MM-DD[THH:MM]` as local time into Unix ms.
pub(crate) fn parse_local(s: &str, offset_secs: i64) -> anyhow::Result<u64> {
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("bad date `{s}`: use YYYY-MM-DD or YYYY-MM-DDTHH:MM");
    };
    let (y, m, d): (i64, u32, u32) = (y.parse()?, m.parse()?, d.parse()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        bail!("bad date `{s}`");
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let (h, mi) = t
            .split_once(':')
            .with_context(|| format!("bad time in `{s}`: use HH:MM"))?;
        secs += i64::from(h.parse::<u32>()?) * 3600 + i64::from(mi.parse::<u32>()?) * 60;
    }
    Ok(((secs - offset_secs).max(0) * 1000) as u64)
}

pub(crate) fn format_local(ms: u64, offset_secs: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(ms as i64 / 1000 + offset_secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub(crate) fn run(path: Option<&Path>, args: CdrArgs) -> anyhow::Result<ExitCode> {
    if let Some(super::cdr_export::CdrCmd::Export(export)) = args.command {
        return super::cdr_export::run(path, export);
    }
    let config = super::load_config(path)?;
    let offset = i64::from(config.dialplan.utc_offset_secs);
    let from_ms = match &args.from {
        Some(f) => parse_local(f, offset)?,
        None => {
            let local_day = (unix_now() as i64 + offset).div_euclid(86_400);
            ((local_day * 86_400 - offset) * 1000) as u64
        }
    };
    let to_ms = match &args.to {
        Some(t) => parse_local(t, offset)?,
        None => from_ms + 86_400_000,
    };
    let disposition = match &args.disposition {
        Some(d) => Some(
            pbx_core::b2bua::call::Disposition::parse(d)
                .with_context(|| {
                    format!(
                        "unknown disposition `{d}`: ANSWERED, NO_ANSWER, BUSY, FAILED, CANCELLED"
                    )
                })?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    if let Some(d) = &args.direction {
        if !["internal", "inbound", "outbound"].contains(&d.as_str()) {
            bail!("unknown direction `{d}`: internal, inbound or outbound");
        }
    }
    let store = super::open_store(&config)?;
    let rows = store.query_cdrs(&CdrFilter {
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        caller: args.caller.clone(),
        callee: args.callee.clone(),
        disposition,
        direction: args.direction.clone(),
        trunk: args.trunk.clone(),
        limit: args.limit,
    })?;
    crate::output::stdout(|out| {
        if args.csv {
            print_csv(out, &rows, offset)
        } else {
            print_table(out, &rows, offset)
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_table(out: &mut impl Write, rows: &[StoredCdr], offset: i64) -> std::io::Result<()> {
    if rows.is_empty() {
        crate::output::note!("no call records in the window");
        return Ok(());
    }
    writeln!(
        out,
        "{:<17} {:<19} {:<12} {:<12} {:<8} {:<10} {:<10} {:>5} {:>7} {:<16} {:<6} codec",
        "call",
        "start",
        "caller",
        "callee",
        "dir",
        "trunk",
        "result",
        "dur",
        "billsec",
        "cause",
        "side"
    )?;
    for s in rows {
        let r = &s.record;
        let codec = r
            .legs
            .iter()
            .find_map(|l| l.codec.as_deref())
            .unwrap_or("-");
        writeln!(
            out,
            "{:<17} {:<19} {:<12} {:<12} {:<8} {:<10} {:<10} {:>5} {:>7} {:<16} {:<6} {codec}",
            r.call_id,
            format_local(r.start_ms, offset),
            r.caller,
            r.callee,
            r.direction,
            r.trunk.as_deref().unwrap_or("-"),
            r.disposition,
            r.duration_s,
            r.billsec,
            r.hangup_cause,
            r.hangup_side
        )?;
    }
    Ok(())
}

fn print_csv(out: &mut impl Write, rows: &[StoredCdr], offset: i64) -> std::io::Result<()> {
    writeln!(out, "call_id,caller,callee,direction,did,trunk,start,ring,answer,end,duration_s,billsec,disposition,hangup_cause,hangup_side,hold_s,legs,codecs,caller_mos,caller_lost,caller_jitter_ms,callee_mos,callee_lost,callee_jitter_ms,caller_e164,callee_e164,caller_mos_avg,caller_mos_worst,caller_loss_max_pct,caller_jitter_max_ms,callee_mos_avg,callee_mos_worst,callee_loss_max_pct,callee_jitter_max_ms,recording_state,recording_key")?;
    for s in rows {
        let r = &s.record;
        let t = |v: Option<u64>| v.map_or(String::new(), |ms| format_local(ms, offset));
        let legs: Vec<String> = r
            .legs
            .iter()
            .map(|l| format!("{}:{}:{}", l.leg, l.party, l.status))
            .collect();
        let codecs: Vec<&str> = r.legs.iter().filter_map(|l| l.codec.as_deref()).collect();
        let leg_quality = |i: usize| {
            let answered = if i == 0 {
                Some(0)
            } else {
                r.legs.iter().position(|l| l.leg > 0 && l.status == 200)
            };
            answered.and_then(|p| s.quality.get(p).copied().flatten())
        };
        let q = |i: usize| match leg_quality(i) {
            Some(q) => format!("{:.2},{},{:.1}", q.mos, q.lost, q.jitter_ms),
            None => ",,".into(),
        };
        // the 10 s samples' summary (SPEC §21): empty for short calls
        let w = |i: usize| match leg_quality(i).and_then(|q| q.window) {
            Some(w) => format!(
                "{:.2},{:.2},{:.1},{:.1}",
                w.average_mos, w.worst_mos, w.max_loss_pct, w.max_jitter_ms
            ),
            None => ",,,".into(),
        };
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.call_id),
            csv_field(&r.caller),
            csv_field(&r.callee),
            r.direction,
            csv_field(r.did.as_deref().unwrap_or("")),
            csv_field(r.trunk.as_deref().unwrap_or("")),
            t(Some(r.start_ms)),
            t(r.ring_ms),
            t(r.answer_ms),
            t(Some(r.end_ms)),
            r.duration_s,
            r.billsec,
            r.disposition,
            r.hangup_cause,
            r.hangup_side,
            r.hold_s,
            csv_field(&legs.join(" ")),
            csv_field(&codecs.join(" ")),
            q(0),
            q(1),
            csv_field(r.caller_e164.as_deref().unwrap_or("")),
            csv_field(r.callee_e164.as_deref().unwrap_or("")),
            w(0),
            w(1),
            s.recording.as_ref().map_or("", |r| r.state.as_str()),
            csv_field(
                s.recording
                    .as_ref()
                    .and_then(|r| r.key.as_deref())
                    .unwrap_or("")
            )
        )?;
    }
    Ok(())
}

/// GET `path` on the running server's local HTTP endpoint (metrics.listen):
/// the body of a 200 answer.
pub(crate) fn admin_get(
    config_path: Option<&Path>,
    what: &str,
    path: &str,
) -> anyhow::Result<String> {
    let config = super::load_config(config_path)?;
    let (status, body) = super::admin_http::request(&config, what, "GET", path)?;
    if status != 200 {
        bail!(
            "server answered {status}: {}",
            super::admin_http::error_of(&body)
        );
    }
    Ok(body)
}

/// `pbx calls`: GET /calls on the server's metrics listener.
pub(crate) fn run_calls(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let body = admin_get(path, "live calls", "/calls")?;
    if body.trim().is_empty() {
        crate::output::note!("no live calls");
        return Ok(ExitCode::SUCCESS);
    }
    crate::output::stdout(|out| {
        writeln!(out, "call\tcaller\tcallee\tstate\tage_s\tapp\tlegs")?;
        out.write_all(body.as_bytes())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_offsets() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(civil(19_783 * 86_400 + 3661), (2024, 3, 1, 1, 1, 1));
        let ms = parse_local("2024-03-01T10:30", 3600).unwrap();
        assert_eq!(ms, (19_783 * 86_400 + 9 * 3600 + 30 * 60) as u64 * 1000);
        assert_eq!(format_local(ms, 3600), "2024-03-01 10:30:00");
        assert!(parse_local("2024-13-01", 0).is_err());
        assert!(parse_local("yesterday", 0).is_err());
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
