//! Click-to-call end to end: `pbx calls originate 2001 2002` rings the
//! agent's `pbx phone` (2001) first; once it answers pbx dials 2002 for it,
//! and the two hear each other's tone through the relay. The call's record
//! has the agent as caller and the number as callee. An agent without a
//! registered phone and a number that routes nowhere are refused before
//! anything rings.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::{assert_hears, pbx, start_server_with, wait_registered, Kill};

fn admin(config: &Path, args: &[&str]) -> Output {
    pbx()
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn click_to_call_rings_the_agent_then_bridges_the_number() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\n[metrics]\nlisten = \"{metrics}\"\n"
    );
    let (_server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let target = format!("127.0.0.1:{port}");

    let nobody = admin(&config, &["calls", "originate", "2001", "2002"]);
    assert!(!nobody.status.success());
    let err = String::from_utf8_lossy(&nobody.stderr);
    assert!(err.contains("no registered phone"), "{err}");

    let phone = |user: &str, freq: f64| {
        let tone = root.join(format!("{user}.tone.wav"));
        write_tone(&tone, freq, 20.0);
        let log = std::fs::File::create(root.join(format!("{user}.log"))).unwrap();
        Kill(
            pbx()
                .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
                .args(["--server", &target])
                .args(["answer", "--duration", "4s", "--wait", "30s"])
                .arg("--play")
                .arg(&tone)
                .arg("--record")
                .arg(root.join(format!("{user}.heard.wav")))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let mut agent = phone("2001", 500.0);
    let mut customer = phone("2002", 1300.0);
    wait_registered(&config, "2001@127.0.0.1", root);
    wait_registered(&config, "2002@127.0.0.1", root);

    let unroutable = admin(&config, &["calls", "originate", "2001", "99999"]);
    assert!(!unroutable.status.success());
    let err = String::from_utf8_lossy(&unroutable.stderr);
    assert!(err.contains("cannot be dialed"), "{err}");

    let out = admin(&config, &["calls", "originate", "2001", "2002"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(id.starts_with('c') && id.len() == 17, "call id {id:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    for (who, p) in [("agent", &mut agent), ("customer", &mut customer)] {
        loop {
            if let Some(status) = p.0.try_wait().unwrap() {
                assert!(status.success(), "{who} phone failed");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{who} still in the call\npbx:\n{}",
                std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_hears(&root.join("2001.heard.wav"), 1300.0, 500.0, "the agent");
    assert_hears(&root.join("2002.heard.wav"), 500.0, 1300.0, "the customer");

    // The record: caller the agent, callee the number, answered.
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let out = admin(&config, &["cdr", "--csv"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(line) = text.lines().find(|l| l.starts_with(&id)) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no record of {id}:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields[1], "2001", "{line}");
    assert_eq!(fields[2], "2002", "{line}");
    assert!(line.contains("ANSWERED"), "{line}");
}
