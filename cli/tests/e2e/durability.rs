//! Bindings acknowledged more than a second before a kill -9 survive the restart.

use std::time::Duration;

use crate::harness::{free_port, users_toml, Pbx, RawUa};
use crate::proxy::TRUSTED;
use crate::require_sipp;

const N: usize = 50;

#[test]
fn bindings_survive_kill_9() {
    require_sipp!();
    let names: Vec<String> = (0..N).map(|i| format!("u{i:02}")).collect();
    let mut pbx = Pbx::start(&format!("{TRUSTED}{}", users_toml(&names)));
    let uas_port = free_port();
    let ua = RawUa::new();
    let contacts: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            // u00 is reachable (a sipp UAS will listen there); the others never get called.
            let port = if i == 0 { uas_port } else { 20000 + i as u16 };
            format!("sip:{n}@127.0.0.1:{port}")
        })
        .collect();
    for (n, c) in names.iter().zip(&contacts) {
        ua.register_ok(pbx.addr(), n, c);
    }
    std::thread::sleep(Duration::from_millis(1500));
    pbx.kill9();
    pbx.restart();

    let out = pbx.registrations();
    for (n, c) in names.iter().zip(&contacts) {
        let found = out
            .lines()
            .filter(|l| l.starts_with(&format!("{n}@127.0.0.1\t")) && l.contains(&format!("{c}\t")))
            .count();
        assert_eq!(
            found, 1,
            "binding {n} -> {c} after kill -9 and restart:\n{out}"
        );
    }
    assert_eq!(out.lines().count(), N, "{out}");
    assert!(
        pbx.log_text().contains(&format!("bindings={N}")),
        "restarted server loaded {N} bindings"
    );

    let uas = pbx.sipp("uas").server().local_port(uas_port).spawn();
    let uac = pbx.sipp("uac").service("u00").run();
    let uas = uas.wait();
    uac.assert_both(
        "call to a binding restored from the store",
        &uas,
        "callee restored from the store",
    );
}

#[test]
fn sigterm_flushes_fresh_bindings() {
    let names: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
    let mut pbx = Pbx::start(&format!("{TRUSTED}{}", users_toml(&names)));
    let ua = RawUa::new();
    for (i, n) in names.iter().enumerate() {
        ua.register_ok(pbx.addr(), n, &format!("sip:{n}@127.0.0.1:{}", 21000 + i));
    }
    // No wait for the write-behind: a graceful stop must flush what is queued.
    assert!(
        pbx.terminate(),
        "pbx exits 0 on SIGTERM:\n{}",
        pbx.log_text()
    );
    let out = pbx.registrations();
    for n in &names {
        assert!(
            out.contains(&format!("{n}@127.0.0.1\t")),
            "{n} flushed at shutdown:\n{out}"
        );
    }
}
