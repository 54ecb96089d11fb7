//! Two `pbx phone` processes with `--codec opus` call each other through
//! `pbx serve`: the SDP offers `opus/48000/2` (RFC 7587), both sides settle
//! on Opus, and each recording holds the other side's tone.

use std::process::Stdio;
use std::time::Duration;

use super::audio::write_tone;
use super::{assert_hears, pbx, start_server, wait_registered, Kill};

#[test]
fn two_phones_talk_opus_through_pbx() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 10.0);
    write_tone(&tone_b, 1000.0, 10.0);
    let (heard_a, heard_b) = (root.join("a-heard.wav"), root.join("b-heard.wav"));
    let account = |user: &str| {
        let mut c = pbx();
        c.args(["phone", "--user", user, "--password", &format!("{user}-pw")])
            .args(["--server", &server, "--codec", "opus"]);
        c
    };
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        account("2002")
            .args(["answer", "--duration", "5s", "--wait", "20s"])
            .arg("--play")
            .arg(&tone_b)
            .arg("--record")
            .arg(&heard_b)
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let alice = account("2001")
        .args(["call", "2002", "--duration", "3s"])
        .arg("--play")
        .arg(&tone_a)
        .arg("--record")
        .arg(&heard_a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice.stderr).into_owned();
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    assert!(
        alice.status.success(),
        "alice:\n{alice_log}\nbob:\n{bob_text}"
    );
    assert!(bob_status.success(), "bob:\n{bob_text}");
    assert!(alice_log.contains("codec Opus"), "{alice_log}");
    assert!(bob_text.contains("codec Opus"), "{bob_text}");
    assert_hears(&heard_a, 1000.0, 440.0, "alice");
    assert_hears(&heard_b, 440.0, 1000.0, "bob");
}
