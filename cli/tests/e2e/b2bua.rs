//! The B2BUA (`calls.engine = "b2bua"`): sipp UAC -> pbx (answers itself) ->
//! sipp UAS, with media anchored; 486 and CANCEL propagate; every call's
//! record is checked field by field with `pbx cdr --csv`, also after kill -9.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::harness::{free_port, Pbx, SippResult};
use crate::proxy::{register_contact, TRUSTED};
use crate::require_sipp;

fn b2bua_config() -> String {
    // A relay port range of its own per test (tests run in parallel).
    let (base, top) = crate::harness::relay_range();
    format!(
        "{TRUSTED}\n[calls]\nengine = \"b2bua\"\nring_timeout_secs = 20\n\n\
         [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {base}\nport_max = {}\n",
        top,
    )
}

fn call(pbx: &Pbx, uas: &str, uac: &str) -> (SippResult, SippResult, u16) {
    call_over(pbx, uas, uac, false)
}

fn call_over(pbx: &Pbx, uas: &str, uac: &str, tcp: bool) -> (SippResult, SippResult, u16) {
    let port = free_port();
    register_contact(pbx, "bob", port, tcp);
    let (mut server, mut client) = (pbx.sipp(uas).server().local_port(port), pbx.sipp(uac));
    if tcp {
        server = server.tcp();
        client = client.tcp();
    }
    let server = server.spawn();
    let client = client.service("bob").run();
    (server.wait(), client, port)
}

/// `pbx cdr --csv` rows as field maps, waiting up to 5 s for `n` rows.
pub(crate) fn cdr_rows(pbx: &Pbx, n: usize) -> Vec<HashMap<String, String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = pbx.admin(&["cdr", "--csv"]);
        assert!(
            out.status.success(),
            "pbx cdr failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .expect("CSV header")
            .split(',')
            .map(str::to_owned)
            .collect();
        let rows: Vec<HashMap<String, String>> = lines
            .map(|l| {
                header
                    .iter()
                    .cloned()
                    .zip(l.split(',').map(str::to_owned))
                    .collect()
            })
            .collect();
        if rows.len() >= n || Instant::now() > deadline {
            assert_eq!(rows.len(), n, "CDR rows:\n{text}");
            return rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_fields(row: &HashMap<String, String>, expected: &[(&str, &str)]) {
    for (k, v) in expected {
        assert_eq!(
            row.get(*k).map(String::as_str),
            Some(*v),
            "field {k} of {row:?}"
        );
    }
}

#[test]
fn call_through_the_b2bua() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let (uas, uac, uas_port) = call(&pbx, "b2b_uas", "b2b_uac");
    uac.assert_both(
        "caller: INVITE/180/200/ACK/BYE",
        &uas,
        "callee: its own dialog with pbx",
    );
    // The caller talks to pbx: pbx's Contact and To tag, never the callee's.
    let ok = uac
        .messages
        .split("SIP/2.0 200 OK")
        .nth(1)
        .expect("the caller got a 200");
    assert!(
        ok.contains(&format!("Contact: <sip:pbx@127.0.0.1:{}>", pbx.port)),
        "pbx's Contact in the caller's 200:\n{ok}"
    );
    assert!(
        !uac.messages.contains("SIPpTag01"),
        "the callee's To tag leaked to the caller:\n{}",
        uac.messages
    );
    assert!(
        !uac.messages.contains(&format!(":{uas_port}")),
        "the callee's address leaked to the caller:\n{}",
        uac.messages
    );
    // The callee sees the caller's identity on a new Call-ID, from pbx.
    assert!(
        uas.messages.contains("From: <sip:caller@127.0.0.1"),
        "{}",
        uas.messages
    );
    // Media anchored on both legs: the SDP each side gets points at the relay.
    let relay_port = |sdp_side: &str| -> u16 {
        sdp_side
            .lines()
            .find_map(|l| l.trim().strip_prefix("m=audio "))
            .and_then(|r| r.split(' ').next())
            .and_then(|p| p.parse().ok())
            .expect("m=audio line")
    };
    let caller_sees = relay_port(ok);
    let callee_offer = uas.messages.split("INVITE sip:").nth(1).expect("INVITE");
    let callee_sees = relay_port(callee_offer);
    assert_ne!(caller_sees, callee_sees, "two relay ports, one per leg");
    assert!(
        caller_sees >= 20_000 && callee_sees >= 20_000,
        "{caller_sees} {callee_sees}"
    );

    let rows = cdr_rows(&pbx, 1);
    let row = &rows[0];
    assert_fields(
        row,
        &[
            ("caller", "caller"),
            ("callee", "bob"),
            ("direction", "internal"),
            ("disposition", "ANSWERED"),
            ("hangup_cause", "call.normal"),
            ("hangup_side", "caller"),
            ("codecs", "PCMU/8000 PCMU/8000"),
            ("hold_s", "0"),
        ],
    );
    let billsec: u64 = row["billsec"].parse().expect("billsec");
    let duration: u64 = row["duration_s"].parse().expect("duration_s");
    assert!((1..=4).contains(&billsec), "billsec {billsec}");
    assert!(
        duration >= billsec,
        "duration {duration} >= billsec {billsec}"
    );
    assert!(
        !row["answer"].is_empty() && !row["end"].is_empty(),
        "{row:?}"
    );
    let legs = &row["legs"];
    assert!(
        legs.starts_with("0:sip:caller@127.0.0.1")
            && legs.contains(&format!("1:sip:bob@127.0.0.1:{uas_port}:200")),
        "legs: {legs}"
    );
}

#[test]
fn busy_through_the_b2bua_survives_kill9() {
    require_sipp!();
    let mut pbx = Pbx::start(&b2bua_config());
    let (uas, uac, _) = call(&pbx, "uas_busy", "uac_busy");
    uac.assert_both(
        "caller gets 486 from pbx",
        &uas,
        "callee's 486 is ACKed by pbx",
    );
    // The record is committed within a second of the hangup...
    std::thread::sleep(Duration::from_millis(1200));
    pbx.kill9();
    // ...so it is there after kill -9 (the admin command reads the store).
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[
            ("caller", "caller"),
            ("callee", "bob"),
            ("disposition", "BUSY"),
            ("hangup_cause", "call.busy"),
            ("hangup_side", "callee"),
            ("billsec", "0"),
            ("answer", ""),
        ],
    );
    assert!(rows[0]["legs"].contains(":486"), "{:?}", rows[0]);
}

#[test]
fn cancel_through_the_b2bua() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let (uas, uac, _) = call(&pbx, "b2b_uas_cancel", "uac_cancel");
    uac.assert_both(
        "caller: 180, CANCEL -> 200, 487",
        &uas,
        "callee: CANCEL from pbx, 487, ACK",
    );
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[
            ("disposition", "CANCELLED"),
            ("hangup_cause", "call.cancelled"),
            ("hangup_side", "caller"),
            ("billsec", "0"),
        ],
    );
    assert!(
        !rows[0]["ring"].is_empty(),
        "ring time recorded: {:?}",
        rows[0]
    );
}

#[test]
fn live_call_is_listed_by_pbx_calls() {
    require_sipp!();
    let metrics = format!("127.0.0.1:{}", free_port());
    let pbx = Pbx::start_with_metrics(&b2bua_config(), &metrics);
    let port = free_port();
    register_contact(&pbx, "bob", port, false);
    let server = pbx.sipp("b2b_uas").server().local_port(port).spawn();
    // The caller waits 1.2 s between ACK and BYE: the call is live meanwhile.
    let client = pbx.sipp("b2b_uac").service("bob").spawn();
    let deadline = Instant::now() + Duration::from_secs(3);
    let listed = loop {
        let out = pbx.admin(&["calls"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("\tcaller\tbob\tanswered\t") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "pbx calls never listed the answered call: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(listed.contains("\tbridge\t2"), "app and legs: {listed}");
    let (client, server) = (client.wait(), server.wait());
    client.assert_both("caller", &server, "callee");
    let after = pbx.admin(&["calls"]);
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("no live calls"),
        "{}",
        String::from_utf8_lossy(&after.stdout)
    );
}

#[test]
fn forked_call_first_answer_wins() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let (winner_port, loser_port) = (free_port(), free_port());
    register_contact(&pbx, "bob", winner_port, false);
    register_contact(&pbx, "bob", loser_port, false);
    let winner = pbx.sipp("b2b_uas").server().local_port(winner_port).spawn();
    let loser = pbx
        .sipp("b2b_uas_cancel")
        .server()
        .local_port(loser_port)
        .spawn();
    let uac = pbx.sipp("b2b_uac").service("bob").run();
    let (winner, loser) = (winner.wait(), loser.wait());
    uac.assert_both("caller: one dialog with pbx", &winner, "answering leg");
    loser.assert_both("other leg rings and is cancelled by pbx", &uac, "caller");
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[("disposition", "ANSWERED"), ("hangup_side", "caller")],
    );
    let legs = &rows[0]["legs"];
    assert!(
        legs.contains(&format!(":{winner_port}:200"))
            && legs.contains(&format!(":{loser_port}:487")),
        "three legs, the loser cancelled: {legs}"
    );
}

/// A hold offered by the caller (`uac`: re-INVITE or UPDATE) reaches the
/// callee as pbx's re-INVITE with a=sendonly; the record counts the hold.
fn assert_hold_relayed(uac: &str, caller_sees: &str) {
    let pbx = Pbx::start(&b2bua_config());
    let (uas, uac, _) = call(&pbx, "b2b_uas_hold", uac);
    uac.assert_both(caller_sees, &uas, "callee: pbx's re-INVITE with a=sendonly");
    let reinvite = uas
        .messages
        .split("INVITE sip:")
        .nth(2)
        .expect("a second INVITE (the relayed offer) reached the callee");
    assert!(reinvite.contains("a=sendonly"), "{reinvite}");
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[
            ("disposition", "ANSWERED"),
            ("hold_s", "1"),
            ("hangup_side", "caller"),
        ],
    );
}

#[test]
fn hold_passes_through_the_b2bua() {
    require_sipp!();
    assert_hold_relayed(
        "b2b_uac_hold",
        "caller: re-INVITE sendonly answered recvonly by the callee, via pbx",
    );
}

/// RFC 3311: the caller puts the call on hold with an UPDATE carrying the
/// offer once the call is up; pbx relays it to the callee as a re-INVITE
/// and answers the UPDATE with 200 and the callee's answer.
#[test]
fn update_with_a_hold_offer_through_the_b2bua() {
    require_sipp!();
    assert_hold_relayed(
        "b2b_uac_update_hold",
        "caller: UPDATE sendonly answered 200 recvonly by the callee, via pbx",
    );
}

/// Music on hold, and a resume that arrives before the held party answered
/// the music offer (the callee's phone takes 400 ms): the caller's resume
/// waits for it and gets its 200 (no 500, no retry needed), and the callee
/// is re-INVITEd back to the caller right after.
#[test]
fn resume_before_the_music_offer_is_answered() {
    require_sipp!();
    let music = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/prompts/closed.wav"
    );
    let config = b2bua_config().replace(
        "[calls]\n",
        &format!("[calls]\nmusic_on_hold = \"{music}\"\n"),
    );
    let pbx = Pbx::start(&config);
    let (uas, uac, _) = call(&pbx, "b2b_uas_moh_late", "b2b_uac_hold_resume");
    uac.assert_both(
        "caller: hold answered by pbx, the resume answered 200",
        &uas,
        "callee: music offer answered late, then the caller's resume",
    );
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[("disposition", "ANSWERED"), ("hangup_side", "caller")],
    );
}

#[test]
fn call_over_tcp_through_the_b2bua() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let (uas, uac, _) = call_over(&pbx, "b2b_uas", "b2b_uac", true);
    uac.assert_both("caller over TCP", &uas, "callee over TCP, called by pbx");
    assert!(
        uas.messages.contains("Via: SIP/2.0/TCP"),
        "pbx's leg to the callee runs over TCP:\n{}",
        uas.messages
    );
    let rows = cdr_rows(&pbx, 1);
    assert_fields(
        &rows[0],
        &[("disposition", "ANSWERED"), ("hangup_side", "caller")],
    );
}

/// Session timers (RFC 4028): the caller asks for 90 s with itself as the
/// refresher, pbx grants it in the 200, and when no refresh comes pbx hangs
/// up both legs with BYE before the interval ends (at 90 - 30 s).
#[test]
fn unrefreshed_session_is_ended_by_pbx() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let port = free_port();
    register_contact(&pbx, "bob", port, false);
    let limit = Duration::from_secs(90);
    let uas = pbx
        .sipp("b2b_uas")
        .server()
        .local_port(port)
        .limit(limit)
        .spawn();
    let started = Instant::now();
    let uac = pbx
        .sipp("b2b_uac_session_timer")
        .service("bob")
        .limit(limit)
        .run();
    let took = started.elapsed();
    uac.assert_both(
        "caller: 200 with Session-Expires, then pbx's BYE",
        &uas.wait(),
        "callee: BYE from pbx",
    );
    assert!(
        took >= Duration::from_secs(55) && took < Duration::from_secs(75),
        "pbx ended the session after {took:?}, expected about 60 s"
    );
    let rows = cdr_rows(&pbx, 1);
    assert_fields(&rows[0], &[("disposition", "ANSWERED")]);
}

/// Reliable provisionals (RFC 3262): a caller that requires 100rel gets a
/// 180 with RSeq from pbx, PRACKs it, and the call completes.
#[test]
fn caller_requiring_100rel_gets_reliable_ringing() {
    require_sipp!();
    let pbx = Pbx::start(&b2bua_config());
    let (uas, uac, _) = call(&pbx, "b2b_uas", "b2b_uac_100rel");
    uac.assert_both("caller: reliable 180, PRACK, 200, ACK, BYE", &uas, "callee");
    let rows = cdr_rows(&pbx, 1);
    assert_fields(&rows[0], &[("disposition", "ANSWERED")]);
}

/// `pbx reload` puts an edited dial plan in service without a restart:
/// 777 is unknown, then routes to bob; a broken file is refused with its
/// position and 777 keeps working.
#[test]
fn pbx_reload_puts_a_new_dial_plan_in_service() {
    require_sipp!();
    let metrics = format!("127.0.0.1:{}", free_port());
    let pbx = Pbx::start_with_metrics(&b2bua_config(), &metrics);
    let port = free_port();
    register_contact(&pbx, "bob", port, false);
    let before = pbx.sipp("b2b_uac").service("777").run();
    assert!(
        before.messages.contains("SIP/2.0 404"),
        "{}",
        before.messages
    );

    let original = std::fs::read_to_string(&pbx.config).unwrap();
    let route = "\n[[dialplan]]\nextension = \"777\"\ntype = \"user\"\nuser = \"bob\"\n";
    std::fs::write(&pbx.config, format!("{original}{route}")).unwrap();
    let out = pbx.admin(&["reload"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("(dial plan, 1 entries)"), "{text}");
    let server = pbx.sipp("b2b_uas").server().local_port(port).spawn();
    let client = pbx.sipp("b2b_uac").service("777").run();
    client.assert_both("777 reaches bob", &server.wait(), "bob answers");

    // a broken dial plan is refused with its position; 777 still works
    let broken =
        format!("{original}{route}\n[[dialplan]]\nextension = \"778\"\ntype = \"nowhere\"\n");
    std::fs::write(&pbx.config, broken).unwrap();
    let out = pbx.admin(&["reload"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pbx.toml:") && err.contains("nowhere"),
        "{err}"
    );
    let server = pbx.sipp("b2b_uas").server().local_port(port).spawn();
    let client = pbx.sipp("b2b_uac").service("777").run();
    client.assert_both("777 still reaches bob", &server.wait(), "bob answers");
}
