//! Stateful proxy: calls through sipp UAC -> pbx -> sipp UAS (Record-Route and
//! loose routing, 486, CANCEL, forking, TCP, 407 then success) and locally
//! answered refusals (404, 480, 403, 483) via the raw helper.

use std::time::Duration;

use crate::harness::{free_port, password, Msg, Pbx, RawUa, SippResult};
use crate::require_sipp;

/// Peers on 127.0.0.0/8 are trusted: INVITEs are not challenged.
pub(crate) const TRUSTED: &str = "[security]\ntrusted = [\"127.0.0.0/8\"]\n";

/// Registers `user` (a base user) with contact `sip:user@127.0.0.1:port` (`;transport=tcp` when `tcp`).
pub(crate) fn register_contact(pbx: &Pbx, user: &str, port: u16, tcp: bool) {
    let contact = format!(
        "sip:{user}@127.0.0.1:{port}{}",
        if tcp { ";transport=tcp" } else { "" }
    );
    RawUa::new().register_ok(pbx.addr(), user, &contact);
}

/// Runs `uas` on a registered port of `callee`, then `uac` calling it; returns both results.
pub(crate) fn call(
    pbx: &Pbx,
    callee: &str,
    uas: &str,
    uac: &str,
    tcp: bool,
) -> (SippResult, SippResult) {
    let port = free_port();
    register_contact(pbx, callee, port, tcp);
    let mut server = pbx.sipp(uas).server().local_port(port);
    let mut client = pbx.sipp(uac).service(callee);
    if tcp {
        server = server.tcp();
        client = client.tcp();
    }
    let server = server.spawn();
    let client = client.run();
    let server = server.wait();
    (server, client)
}

#[test]
fn call_through_the_proxy() {
    require_sipp!();
    let pbx = Pbx::start(TRUSTED);
    let (uas, uac) = call(&pbx, "bob", "uas", "uac", false);
    uac.assert_both(
        "caller: INVITE/180/200(Record-Route)/ACK/BYE",
        &uas,
        "callee: INVITE(Record-Route)/180/200/ACK/BYE",
    );
    // The BYE reached the callee through the proxy, which added its own Via.
    assert!(
        uas.messages.contains("BYE sip:uas@127.0.0.1"),
        "BYE routed to the callee's Contact:\n{}",
        uas.messages
    );
}

#[test]
fn busy_reaches_the_caller() {
    require_sipp!();
    let pbx = Pbx::start(TRUSTED);
    let (uas, uac) = call(&pbx, "bob", "uas_busy", "uac_busy", false);
    uac.assert_both(
        "caller gets 486",
        &uas,
        "callee sends 486 and gets the proxy's ACK",
    );
}

#[test]
fn cancel_after_ringing() {
    require_sipp!();
    let pbx = Pbx::start(TRUSTED);
    let (uas, uac) = call(&pbx, "bob", "uas_cancel", "uac_cancel", false);
    uac.assert_both(
        "caller: 180, CANCEL -> 200, 487",
        &uas,
        "callee: CANCEL -> 200, 487, ACK",
    );
}

#[test]
fn forking_to_two_contacts() {
    require_sipp!();
    let pbx = Pbx::start(TRUSTED);
    let (winner_port, loser_port) = (free_port(), free_port());
    register_contact(&pbx, "bob", winner_port, false);
    register_contact(&pbx, "bob", loser_port, false);
    let winner = pbx.sipp("uas").server().local_port(winner_port).spawn();
    let loser = pbx
        .sipp("uas_cancel")
        .server()
        .local_port(loser_port)
        .spawn();
    let uac = pbx.sipp("uac").service("bob").run();
    let (winner, loser) = (winner.wait(), loser.wait());
    uac.assert_both(
        "caller: two 180s, one 200, ACK, BYE",
        &winner,
        "answering branch",
    );
    loser.assert_both("other branch rings and is cancelled", &uac, "caller");
    let ringing = uac.messages.matches("SIP/2.0 180").count();
    assert!(
        ringing >= 2,
        "both branches rang at the caller ({ringing} x 180):\n{}",
        uac.messages
    );
}

#[test]
fn call_over_tcp() {
    require_sipp!();
    let pbx = Pbx::start(TRUSTED);
    let (uas, uac) = call(&pbx, "carol", "uas", "uac", true);
    uac.assert_both("caller over TCP", &uas, "callee over TCP");
    assert!(
        uac.messages.contains("Record-Route: <sip:127.0.0.1")
            && uac.messages.contains("transport=tcp"),
        "{}",
        uac.messages
    );
}

#[test]
fn untrusted_invite_from_local_user_is_challenged_then_succeeds() {
    require_sipp!();
    let pbx = Pbx::start("");
    let port = free_port();
    register_contact(&pbx, "bob", port, false);
    let uas = pbx.sipp("uas").server().local_port(port).spawn();
    let uac = pbx
        .sipp("uac_auth")
        .service("bob")
        .key("caller", "alice")
        .auth("alice", &password("alice"))
        .run();
    let uas = uas.wait();
    uac.assert_both(
        "407, then the call with Proxy-Authorization",
        &uas,
        "callee gets the authenticated call",
    );
    assert!(uac.messages.contains("SIP/2.0 407"), "{}", uac.messages);
    assert!(
        !uas.messages.contains("Proxy-Authorization"),
        "our credentials are consumed, not forwarded:\n{}",
        uas.messages
    );
}

/// Sends one INVITE and returns the final response.
fn invite(pbx: &Pbx, ruri: &str, from: &str, max_forwards: u32) -> Msg {
    let ua = RawUa::new();
    let msg = ua
        .invite_msg(ruri, from, "")
        .replace("Max-Forwards: 70", &format!("Max-Forwards: {max_forwards}"));
    ua.transact(pbx.addr(), &msg, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no final response to INVITE {ruri}"))
}

#[test]
fn local_refusals() {
    let pbx = Pbx::start("");
    let foreign = "sip:someone@example.org";
    let r = invite(&pbx, "sip:nobody@127.0.0.1", foreign, 70);
    assert_eq!(r.status(), 404, "unknown user: {}", r.raw);
    let r = invite(&pbx, "sip:bob@127.0.0.1", foreign, 70);
    assert_eq!(
        (r.status(), r.reason()),
        (480, "Not registered"),
        "{}",
        r.raw
    );
    let r = invite(&pbx, "sip:bob@example.com", foreign, 70);
    assert_eq!(
        (r.status(), r.reason()),
        (403, "Relaying denied"),
        "no open relay: {}",
        r.raw
    );
    let r = invite(&pbx, "sip:bob@127.0.0.1", foreign, 0);
    assert_eq!(r.status(), 483, "Max-Forwards: 0: {}", r.raw);
    let r = invite(&pbx, "sip:bob@127.0.0.1", "sip:alice@127.0.0.1", 70);
    assert_eq!(r.status(), 407, "local user without credentials: {}", r.raw);
    let chal = r.header("Proxy-Authenticate").expect("Proxy-Authenticate");
    assert!(
        chal.starts_with("Digest ") && chal.contains("realm=\"127.0.0.1\""),
        "{chal}"
    );
}
