//! `pbx trunks`: the SIP trunks of the running server — registration
//! (registered / failed / off, expires in), OPTIONS health (up / down, last
//! probe RTT), live calls against `max_calls`, and where calls go: the
//! addresses (a host-named trunk's as last resolved, how many seconds ago,
//! and its DNS state, e.g. `dns failed: no records for sip.carrier.example`)
//! — from its local HTTP endpoint (GET /trunks on metrics.listen).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let body = super::cdr::admin_get(path, "trunks", "/trunks")?;
    if body.trim().is_empty() {
        crate::output::note!("no trunks (none configured, or calls.engine is not \"b2bua\")");
        return Ok(ExitCode::SUCCESS);
    }
    crate::output::stdout(|out| {
        writeln!(
            out,
            "{:<16} {:<16} {:>10} {:<8} {:>7} {:>9} {:>10} {:<24} dns",
            "trunk",
            "registration",
            "expires_s",
            "health",
            "rtt_ms",
            "calls",
            "resolved_s",
            "addresses"
        )?;
        body.lines().try_for_each(|line| print_row(out, line))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One `GET /trunks` line (tab-separated) as a table row; odd lines are skipped.
fn print_row(out: &mut impl Write, line: &str) -> std::io::Result<()> {
    let f: Vec<&str> = line.split('\t').collect();
    // A server without DNS support sends the first seven fields only.
    let [name, reg, expires, health, rtt, calls, max, dns @ ..] = f.as_slice() else {
        return Ok(());
    };
    let calls = if *max == "-" {
        (*calls).to_owned()
    } else {
        format!("{calls}/{max}")
    };
    let (addrs, ago, state) = match dns {
        [a, g, s, ..] => (*a, *g, *s),
        _ => ("-", "-", "-"),
    };
    writeln!(
        out,
        "{name:<16} {reg:<16} {expires:>10} {health:<8} {rtt:>7} {calls:>9} {ago:>10} {addrs:<24} {state}"
    )
}
