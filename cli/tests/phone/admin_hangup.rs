//! Commands to the call engine from outside SIP, end to end: `pbx calls
//! hangup ID` ends a live B2BUA call between two `pbx phone`s (both see the
//! BYE; the record says `admin.hangup`, the outbox has the call's events),
//! and SIGTERM ends the live calls first (`pbx.shutdown`), then stops.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::{pbx, start_server_with, wait_registered, Kill};

fn admin(config: &Path, args: &[&str]) -> Output {
    pbx()
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// Two phones in a 30 s call through the B2BUA: (server, callee, caller,
/// config, id of the live call).
fn live_call(root: &Path) -> (Kill, Kill, Kill, std::path::PathBuf, String) {
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\n[metrics]\nlisten = \"{metrics}\"\n"
    );
    let (server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let target = format!("127.0.0.1:{port}");
    let tone = root.join("tone.wav");
    write_tone(&tone, 700.0, 30.0);
    let phone = |user: &str, mode: &[&str], log: &str| {
        let log = std::fs::File::create(root.join(log)).unwrap();
        Kill(
            pbx()
                .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
                .args(["--server", &target])
                .args(mode)
                .arg("--play")
                .arg(&tone)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let bob = phone(
        "2002",
        &["answer", "--duration", "30s", "--wait", "20s"],
        "bob.log",
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let alice = phone("2001", &["call", "2002", "--duration", "30s"], "alice.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let out = admin(&config, &["calls"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(line) = text.lines().find(|l| l.contains("\tanswered\t")) {
            break line.split('\t').next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the call was never answered: {text}\npbx:\n{}",
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    (server, bob, alice, config, id)
}

/// Waits for a phone to exit (well before its own 30 s).
fn exits_soon(phone: &mut Kill, who: &str, root: &Path, log: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if let Some(status) = phone.0.try_wait().unwrap() {
            let text = std::fs::read_to_string(root.join(log)).unwrap_or_default();
            return format!("{status}\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "{who} still in the call:\n{}",
            std::fs::read_to_string(root.join(log)).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cdr_csv(config: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = admin(config, &["cdr", "--csv"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn pbx_calls_hangup_ends_a_live_call_on_both_phones() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, mut bob, mut alice, config, id) = live_call(root);

    let bad = admin(&config, &["calls", "hangup", "nope"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is no call id"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let unknown = admin(&config, &["calls", "hangup", "c0000000000000001"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no live call"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let out = admin(&config, &["calls", "hangup", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob_text = exits_soon(&mut bob, "bob", root, "bob.log");
    let alice_text = exits_soon(&mut alice, "alice", root, "alice.log");
    assert!(bob_text.contains("remote hangup"), "{bob_text}");
    assert!(alice_text.contains("remote hangup"), "{alice_text}");
    let cdr = cdr_csv(&config);
    let row = cdr.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("admin.hangup") && row.contains("ANSWERED") && row.contains(&id),
        "{cdr}"
    );
    assert!(String::from_utf8_lossy(&admin(&config, &["calls"]).stderr).contains("no live calls"));
}

#[test]
fn sigterm_ends_live_calls_before_the_server_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (mut server, mut bob, mut alice, config, id) = live_call(root);
    let pid = server.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let bob_text = exits_soon(&mut bob, "bob", root, "bob.log");
    let alice_text = exits_soon(&mut alice, "alice", root, "alice.log");
    assert!(bob_text.contains("remote hangup"), "{bob_text}");
    assert!(alice_text.contains("remote hangup"), "{alice_text}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "pbx did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The record was flushed before the process ended.
    let cdr = cdr_csv(&config);
    let row = cdr.lines().nth(1).unwrap_or_default();
    assert!(row.contains("pbx.shutdown") && row.contains(&id), "{cdr}");
}
