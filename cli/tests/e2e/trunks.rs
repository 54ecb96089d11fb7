//! SIP trunks with sipp playing the carriers: outbound REGISTER with digest
//! auth and its refresh, least-cost routing with failover (503, and a
//! carrier that never answers) and digest auth on the INVITE, an inbound
//! DID call to a registered user, OPTIONS probes marking a dead trunk down,
//! `pbx trunks`, and the records' direction / did / trunk fields.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::harness::{free_port, Pbx, RawUa};
use crate::proxy::{register_contact, TRUSTED};
use crate::require_sipp;

pub(crate) fn b2bua(extra: &str) -> String {
    format!("{TRUSTED}\n{}", b2bua_untrusted(extra))
}

fn b2bua_untrusted(extra: &str) -> String {
    let (base, top) = crate::harness::relay_range();
    format!(
        "[calls]\nengine = \"b2bua\"\nring_timeout_secs = 20\n\n\
         [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {base}\nport_max = {}\n\n{extra}",
        top,
    )
}

/// Calls to national numbers (`0…`) leave by least-cost routing.
pub(crate) const LCR_PLAN: &str =
    "[[dialplan]]\nprefix = \"0\"\ntype = \"trunk\"\ntrunk = \"lcr\"\n";

fn trunk(name: &str, port: u16, priority: u32, extra: &str) -> String {
    format!(
        "[[trunks]]\nname = \"{name}\"\nproxy = \"127.0.0.1:{port}\"\nprefixes = [\"+31\"]\n\
         priority = {priority}\noutbound = {{ country_code = \"31\" }}\nsetup_timeout_secs = 2\n{extra}\n"
    )
}

use crate::b2bua::cdr_rows;

pub(crate) fn field<'a>(row: &'a HashMap<String, String>, k: &str) -> &'a str {
    row.get(k).map_or("<missing>", String::as_str)
}

#[test]
fn outbound_fails_over_from_503_to_a_trunk_that_challenges() {
    require_sipp!();
    let (p1, p2) = (free_port(), free_port());
    let cfg = b2bua(&format!(
        "{LCR_PLAN}{}{}",
        trunk("first", p1, 1, ""),
        trunk(
            "second",
            p2,
            2,
            "username = \"acct\"\npassword = \"trunk-pw\"\ncaller_id = \"+31201234500\"\nfrom_domain = \"carrier.test\""
        )
    ));
    let pbx = Pbx::start(&cfg);
    let first = pbx.sipp("trunk_uas_503").server().local_port(p1).spawn();
    let second = pbx.sipp("trunk_uas_auth").server().local_port(p2).spawn();
    let uac = pbx.sipp("b2b_uac").service("0201234567").run();
    let (first, second) = (first.wait(), second.wait());
    first.assert_ok("first carrier answers 503");
    uac.assert_both(
        "caller reaches the second carrier",
        &second,
        "second carrier: 401, then the call",
    );
    // Both carriers got the number in E.164; the second one the trunk's caller id.
    assert!(
        first.messages.contains("INVITE sip:+31201234567@127.0.0.1"),
        "{}",
        first.messages
    );
    assert!(
        second
            .messages
            .contains("INVITE sip:+31201234567@127.0.0.1"),
        "{}",
        second.messages
    );
    assert!(
        second
            .messages
            .contains("From: <sip:+31201234500@carrier.test>"),
        "{}",
        second.messages
    );
    assert!(
        second
            .messages
            .contains("\nAuthorization: Digest username=\"acct\""),
        "{}",
        second.messages
    );

    let rows = cdr_rows(&pbx, 1);
    let row = &rows[0];
    assert_eq!(field(row, "direction"), "outbound");
    assert_eq!(field(row, "trunk"), "second");
    assert_eq!(field(row, "did"), "");
    assert_eq!(field(row, "callee"), "0201234567");
    assert_eq!(
        field(row, "callee_e164"),
        "+31201234567",
        "as sent to the trunk"
    );
    assert_eq!(field(row, "disposition"), "ANSWERED");
    let legs = field(row, "legs");
    assert!(
        legs.contains(&format!("1:sip:+31201234567@127.0.0.1:{p1}:503")),
        "{legs}"
    );
    assert!(
        legs.contains(&format!("2:sip:+31201234567@127.0.0.1:{p2}:200")),
        "{legs}"
    );
}

#[test]
fn outbound_fails_over_when_the_first_trunk_never_answers() {
    require_sipp!();
    // Nothing listens on the first trunk's port.
    let (p1, p2) = (free_port(), free_port());
    let cfg = b2bua(&format!(
        "{LCR_PLAN}{}{}",
        trunk("silent", p1, 1, ""),
        trunk("backup", p2, 2, "")
    ));
    let pbx = Pbx::start(&cfg);
    let backup = pbx.sipp("b2b_uas").server().local_port(p2).spawn();
    let started = Instant::now();
    let uac = pbx.sipp("b2b_uac").service("0201234567").run();
    let backup = backup.wait();
    uac.assert_both(
        "caller reaches the backup carrier",
        &backup,
        "backup carrier",
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the backup was tried only after the setup timeout"
    );
    let rows = cdr_rows(&pbx, 1);
    let row = &rows[0];
    assert_eq!(field(row, "direction"), "outbound");
    assert_eq!(field(row, "trunk"), "backup");
    assert_eq!(field(row, "disposition"), "ANSWERED");
    let legs = field(row, "legs");
    assert!(
        legs.contains(&format!("1:sip:+31201234567@127.0.0.1:{p1}:")),
        "{legs}"
    );
    assert!(
        legs.contains(&format!("2:sip:+31201234567@127.0.0.1:{p2}:200")),
        "{legs}"
    );
}

#[test]
fn inbound_did_call_reaches_the_registered_user() {
    require_sipp!();
    let carrier = free_port();
    let cfg = b2bua(&format!(
        "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.1:{carrier}\"\n\
         inbound = {{ country_code = \"31\" }}\n\
         dids = [{{ number = \"+31201234567\", target = \"bob\" }}]\n"
    ));
    let pbx = Pbx::start(&cfg);
    let bob = free_port();
    register_contact(&pbx, "bob", bob, false);
    let uas = pbx.sipp("b2b_uas").server().local_port(bob).spawn();
    // The carrier sends the DID and the caller in national form from the
    // trunk's address.
    let uac = pbx
        .sipp("b2b_uac")
        .local_port(carrier)
        .service("0201234567")
        .key("caller", "0612345678")
        .run();
    let uas = uas.wait();
    uac.assert_both("carrier's call answered", &uas, "bob rings and answers");
    // bob sees the caller in E.164, ready to call back through a trunk
    assert!(
        uas.messages.contains("From: <sip:+31612345678@"),
        "{}",
        uas.messages
    );
    let rows = cdr_rows(&pbx, 1);
    let row = &rows[0];
    assert_eq!(field(row, "direction"), "inbound");
    assert_eq!(field(row, "did"), "+31201234567");
    assert_eq!(field(row, "caller"), "0612345678", "as received");
    assert_eq!(field(row, "caller_e164"), "+31612345678");
    assert_eq!(field(row, "callee_e164"), "+31201234567");
    assert_eq!(field(row, "trunk"), "carrier");
    assert_eq!(field(row, "disposition"), "ANSWERED");
    assert!(
        field(row, "legs").contains(&format!("1:sip:bob@127.0.0.1:{bob}:200")),
        "{row:?}"
    );

    // A number that is no DID of the trunk is refused (no relay through pbx).
    let refused = pbx
        .sipp("b2b_uac")
        .local_port(carrier)
        .service("0209999999")
        .run();
    assert_ne!(refused.status, Some(0), "a non-DID number must fail");
    assert!(
        refused.messages.contains("SIP/2.0 404"),
        "{}",
        refused.messages
    );
}

/// `pbx trunks` lines by trunk name, waiting until `ready` holds (bounded).
pub(crate) fn trunks_until(
    pbx: &Pbx,
    ready: impl Fn(&HashMap<String, String>) -> bool,
) -> HashMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let out = pbx.admin(&["trunks"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: HashMap<String, String> = text
            .lines()
            .skip(1)
            .filter_map(|l| {
                l.split_whitespace()
                    .next()
                    .map(|n| (n.to_owned(), l.to_owned()))
            })
            .collect();
        if ready(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "pbx trunks never got there:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn register_with_digest_and_refresh_probes_and_pbx_trunks() {
    require_sipp!();
    let (reg, dead, live, metrics) = (free_port(), free_port(), free_port(), free_port());
    let cfg = b2bua(&format!(
        "[[trunks]]\nname = \"reg\"\nproxy = \"127.0.0.1:{reg}\"\nusername = \"acct\"\npassword = \"trunk-pw\"\n\
         from_domain = \"carrier.test\"\nregister = true\nregister_expires_secs = 10\n\n\
         [[trunks]]\nname = \"dead\"\nproxy = \"127.0.0.1:{dead}\"\noptions_interval_secs = 1\ndown_after = 2\n\n\
         [[trunks]]\nname = \"live\"\nproxy = \"127.0.0.1:{live}\"\noptions_interval_secs = 3\ndown_after = 2\nmax_calls = 2\n"
    ));
    let pbx = Pbx::start_with_metrics(&cfg, &format!("127.0.0.1:{metrics}"));
    let registrar = pbx.sipp("trunk_register").server().local_port(reg).spawn();
    let prober = pbx.sipp("trunk_options").server().local_port(live).spawn();
    let lines = trunks_until(&pbx, |l| {
        l.get("reg").is_some_and(|s| s.contains("registered"))
            && l.get("dead").is_some_and(|s| s.contains("down"))
            && l.get("live").is_some_and(|s| s.contains(" up "))
    });
    let live_line = &lines["live"];
    let fields: Vec<&str> = live_line.split_whitespace().collect();
    // name, registration, expires, health, rtt, calls
    assert_eq!(fields[1], "off", "{live_line}");
    assert!(
        fields[4].parse::<u64>().is_ok(),
        "an RTT in ms: {live_line}"
    );
    assert_eq!(fields[5], "0/2", "{live_line}");
    let reg_fields: Vec<&str> = lines["reg"].split_whitespace().collect();
    let expires: u64 = reg_fields[2].parse().expect("expires in seconds");
    assert!(expires <= 10, "{:?}", lines["reg"]);
    assert_eq!(reg_fields[3], "off", "no probes on reg: {:?}", lines["reg"]);
    // The registrar sees the refresh (with fresh credentials) before expiry.
    registrar
        .wait()
        .assert_ok("carrier registrar: two challenged REGISTERs, both with valid digests");
    prober.wait().assert_ok("carrier answers a probe");
    // The state change is logged.
    let log = pbx.log_text();
    assert!(log.contains("trunk down"), "{log}");
}

#[test]
fn foreign_callers_cannot_call_out_through_a_trunk() {
    // No sipp needed: the INVITE must be refused before any trunk is tried.
    let carrier = free_port();
    let pbx = Pbx::start(&b2bua_untrusted(&format!(
        "{LCR_PLAN}{}",
        trunk("carrier", carrier, 1, "")
    )));
    let ua = RawUa::new();
    let ruri = format!("sip:0201234567@{}", pbx.addr());
    let invite = ua.invite_msg(&ruri, "sip:mallory@evil.example", "");
    let answer = ua
        .transact(pbx.addr(), &invite, Duration::from_secs(3))
        .expect("an answer");
    assert_eq!(answer.status(), 403, "{}", answer.raw);
    assert!(!pbx.log_text().contains("call out through trunk"));
}
