//! `pbx trunks`: the SIP trunks of the running server — registration
//! (registered / failed / off, expires in), OPTIONS health (up / down, last
//! probe RTT) and live calls against `max_calls` — from its local HTTP
//! endpoint (GET /trunks on metrics.listen).

use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let body = super::cdr::admin_get(path, "trunks", "/trunks")?;
    if body.trim().is_empty() {
        eprintln!("no trunks (none configured, or calls.engine is not \"b2bua\")");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<16} {:>10} {:<8} {:>7} {:>9}",
        "trunk", "registration", "expires_s", "health", "rtt_ms", "calls"
    );
    for line in body.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, reg, expires, health, rtt, calls, max] = f.as_slice() else {
            continue;
        };
        let calls = if *max == "-" {
            (*calls).to_owned()
        } else {
            format!("{calls}/{max}")
        };
        println!("{name:<16} {reg:<16} {expires:>10} {health:<8} {rtt:>7} {calls:>9}");
    }
    Ok(ExitCode::SUCCESS)
}
