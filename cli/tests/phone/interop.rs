//! Interop with baresip in both directions through `pbx serve`: `pbx phone
//! call` reaches an auto-answering baresip, and a baresip reaches `pbx
//! phone answer`. Each side's recording holds the other side's tone
//! (Goertzel), and the RFC 4733 digits `pbx phone` sends are the ones
//! baresip reports (`received event: '1'`).

use super::*;
use crate::baresip::{available, baresip_dir, decoded_wav};

fn baresip(dir: &Path, log: &Path, extra: &[&str]) -> Command {
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new("baresip");
    cmd.arg("-f")
        .arg(dir)
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    cmd
}

/// The digits baresip logged as received (the start of each RFC 4733
/// event: `received event: '1' (end=0)`), in order.
fn baresip_digits(log: &str) -> String {
    log.split("received event: '")
        .skip(1)
        .filter_map(|r| {
            let mut chars = r.chars();
            let digit = chars.next()?;
            chars.as_str().starts_with("' (end=0)").then_some(digit)
        })
        .collect()
}

/// Waits (up to 5 s) until baresip's recording of the call is complete.
fn wait_decoded(dir: &Path, log: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(wav) = decoded_wav(dir).filter(|_| text.contains("terminated")) {
            return wav;
        }
        assert!(
            Instant::now() < deadline,
            "baresip's call did not end:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pbx_phone_calls_baresip() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 10.0);
    write_tone(&tone_b, 1000.0, 20.0);
    let bob_dir = baresip_dir(root, "bob", "2002", port, &tone_b);
    let bob_log = root.join("bob.log");
    let _bob = Kill(baresip(&bob_dir, &bob_log, &["-t", "25"]).spawn().unwrap());
    wait_registered(&config, "2002@127.0.0.1", root);

    let heard_a = root.join("a-heard.wav");
    let alice = pbx()
        .args(["phone", "--user", "2001", "--password", "2001-pw"])
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["call", "2002", "--duration", "4s", "--dtmf", "15#"])
        .arg("--play")
        .arg(&tone_a)
        .arg("--record")
        .arg(&heard_a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice.stderr).into_owned();
    assert!(
        alice.status.success(),
        "pbx phone's call to baresip connected:\n{alice_log}\nbaresip:\n{}",
        std::fs::read_to_string(&bob_log).unwrap_or_default()
    );
    let dec = wait_decoded(&bob_dir, &bob_log);
    let bob_text = std::fs::read_to_string(&bob_log).unwrap_or_default();
    assert_eq!(baresip_digits(&bob_text), "15#", "{bob_text}");
    assert_hears(&heard_a, 1000.0, 440.0, "pbx phone");
    assert_hears(&dec, 440.0, 1000.0, "baresip");
}

#[test]
fn baresip_calls_pbx_phone() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 20.0);
    write_tone(&tone_b, 1000.0, 10.0);
    let heard_b = root.join("b-heard.wav");
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args(["phone", "--user", "2002", "--password", "2002-pw"])
            .args(["--server", &format!("127.0.0.1:{port}")])
            .args([
                "answer",
                "--duration",
                "4s",
                "--wait",
                "20s",
                "--dtmf",
                "2*",
            ])
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

    let alice_dir = baresip_dir(root, "alice", "2001", port, &tone_a);
    let alice_log = root.join("alice.log");
    let dial = format!("/dial sip:2002@127.0.0.1:{port}");
    let _alice = Kill(
        baresip(&alice_dir, &alice_log, &["-e", &dial, "-t", "10"])
            .spawn()
            .unwrap(),
    );
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    assert!(
        bob_status.success(),
        "pbx phone answered baresip:\n{bob_text}\nbaresip:\n{}",
        std::fs::read_to_string(&alice_log).unwrap_or_default()
    );
    assert!(
        bob_text.contains("incoming call from sip:2001@"),
        "{bob_text}"
    );
    let dec = wait_decoded(&alice_dir, &alice_log);
    let alice_text = std::fs::read_to_string(&alice_log).unwrap_or_default();
    assert!(alice_text.contains("Call established"), "{alice_text}");
    assert_eq!(baresip_digits(&alice_text), "2*", "{alice_text}");
    assert_hears(&heard_b, 440.0, 1000.0, "pbx phone");
    assert_hears(&dec, 1000.0, 440.0, "baresip");
}
