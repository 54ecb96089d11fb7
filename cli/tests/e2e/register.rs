//! Registrar: digest auth (MD5 via sipp, SHA-256 via the raw helper), wrong
//! passwords, bans, unknown users, and `pbx registrations`.

use std::time::{Duration, Instant};

use crate::harness::{password, Alg, Pbx, RawUa};
use crate::require_sipp;

/// Polls `pbx registrations` until `pred` holds (bindings are written behind).
pub(crate) fn wait_registrations(pbx: &Pbx, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = pbx.registrations();
        if pred(&out) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn register_with_digest_auth_via_sipp() {
    require_sipp!();
    let pbx = Pbx::start("");
    let sipp = pbx
        .sipp("register")
        .service("alice")
        .auth("alice", &password("alice"));
    let port = sipp.port;
    sipp.run()
        .assert_ok("REGISTER 401 -> 200 with expires in Contact");
    let contact = format!("sip:alice@127.0.0.1:{port}");
    let out = wait_registrations(&pbx, |o| o.contains(&contact));
    let line = out
        .lines()
        .find(|l| l.contains(&contact))
        .unwrap_or_else(|| panic!("{contact} not in:\n{out}"));
    assert!(line.starts_with("alice@127.0.0.1\t"), "{line}");
    assert!(line.contains("sipp-e2e"), "user agent kept: {line}");
}

#[test]
fn wrong_password_is_challenged_again() {
    require_sipp!();
    let pbx = Pbx::start("");
    pbx.sipp("register_rejected")
        .service("alice")
        .auth("alice", "not-the-password")
        .run()
        .assert_ok("401 after bad credentials");
    let out = pbx.registrations();
    assert!(
        !out.contains("sip:alice@"),
        "no binding after a failed REGISTER:\n{out}"
    );
}

#[test]
fn repeated_failures_ban_the_source() {
    let pbx =
        Pbx::start("[security]\nban_threshold = 3\nban_window_secs = 60\nban_time_secs = 60\n");
    let ua = RawUa::new();
    let contact = format!("sip:alice@{}", ua.local());
    for i in 0..3 {
        let out = ua.register(pbx.addr(), "alice", "wrong", &contact, Alg::Md5);
        let answer = out
            .answer
            .unwrap_or_else(|| panic!("failure {i} must still be answered"));
        assert_eq!(answer.status(), 401, "failure {i}: {}", answer.raw);
    }
    // Banned now: nothing from 127.0.0.1 is answered, from any port.
    let first = ua.register_msg(pbx.addr(), "alice", &contact, "after-ban", 1, None);
    assert!(
        ua.transact(pbx.addr(), &first, Duration::from_millis(800))
            .is_none(),
        "banned source got an answer"
    );
    assert!(
        RawUa::new()
            .options(pbx.addr(), Duration::from_millis(500))
            .is_none(),
        "banned source got an OPTIONS answer"
    );
    assert!(pbx.log_text().contains("banning source"), "ban logged");
}

#[test]
fn unknown_user_is_refused() {
    let pbx = Pbx::start("");
    let ua = RawUa::new();
    let contact = format!("sip:mallory@{}", ua.local());
    let out = ua.register(pbx.addr(), "mallory", "whatever", &contact, Alg::Md5);
    let answer = out.answer.expect("answer to REGISTER of an unknown user");
    assert_eq!(answer.status(), 401, "{}", answer.raw);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pbx.registrations().contains("mallory"));
}

#[test]
fn register_with_sha256() {
    let pbx = Pbx::start("[auth]\nalgorithms = [\"SHA-256\", \"MD5\"]\n");
    let ua = RawUa::new();
    let contact = format!("sip:bob@{}", ua.local());
    let out = ua.register(pbx.addr(), "bob", &password("bob"), &contact, Alg::Sha256);
    let algs: Vec<_> = out
        .challenge
        .all("WWW-Authenticate")
        .iter()
        .map(|c| c.contains("algorithm=SHA-256"))
        .collect();
    assert_eq!(
        algs.len(),
        2,
        "one challenge per algorithm: {}",
        out.challenge.raw
    );
    assert!(
        algs.contains(&true),
        "SHA-256 offered: {}",
        out.challenge.raw
    );
    assert!(out
        .challenge
        .all("WWW-Authenticate")
        .iter()
        .all(|c| c.contains("qop=\"auth\"")));
    let answer = out.answer.expect("answer to the SHA-256 REGISTER");
    assert_eq!(answer.status(), 200, "{}", answer.raw);
    let granted = answer.header("Contact").expect("Contact in 200");
    assert!(
        granted.contains(&contact) && granted.contains("expires=3600"),
        "{granted}"
    );
}

#[test]
fn registrations_lists_bindings() {
    let pbx = Pbx::start("");
    let (a, b) = (RawUa::new(), RawUa::new());
    let ca = format!("sip:alice@{}", a.local());
    let cb = format!("sip:carol@{};transport=tcp", b.local());
    a.register_ok(pbx.addr(), "alice", &ca);
    b.register_ok(pbx.addr(), "carol", &cb);
    let out = wait_registrations(&pbx, |o| o.lines().count() >= 2);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("alice@127.0.0.1\t") && l.contains(&ca)),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("carol@127.0.0.1\t") && l.contains(&cb)),
        "{out}"
    );
}
