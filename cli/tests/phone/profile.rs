//! `pbx phone --profile FILE.toml` instead of flags.

use super::transport::assert_registered_over;
use super::*;

/// A profile file instead of flags: bob's account, server, transport (TCP)
/// and codec list (PCMA only) come from `bob.toml`; alice uses flags.
#[test]
fn a_profile_configures_account_transport_and_codecs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let profile = root.join("bob.toml");
    std::fs::write(
        &profile,
        format!(
            "[account]\nuser = \"2002\"\npassword = \"2002-pw\"\n\
             [server]\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\nkeepalive = \"1s\"\n\
             [media]\ncodecs = [\"pcma\"]\n"
        ),
    )
    .unwrap();
    let tone_a = root.join("a440.wav");
    write_tone(&tone_a, 440.0, 10.0);
    let heard_b = root.join("b-heard.wav");
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args(["phone", "--profile"])
            .arg(&profile)
            .args(["answer", "--duration", "5s", "--wait", "20s", "--record"])
            .arg(&heard_b)
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    assert_registered_over(&config, "tcp");
    let alice = pbx()
        .args(["phone", "--user", "2001", "--password", "2001-pw"])
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["call", "2002", "--duration", "3s", "--play"])
        .arg(&tone_a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice.stderr).into_owned();
    assert!(alice.status.success(), "{alice_log}");
    assert!(bob.0.wait().unwrap().success());
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    // Alice prefers PCMU but offers PCMA too; bob's profile allows only PCMA.
    assert!(bob_text.contains("codec Pcma"), "{bob_text}");
    assert!(alice_log.contains("codec Pcma"), "{alice_log}");
    assert_hears(&heard_b, 440.0, 1000.0, "bob");
}

#[test]
fn a_bad_profile_is_reported_with_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("bad.toml");
    std::fs::write(
        &profile,
        "[server]\ntransport = \"carrier-pigeon\"\n[account]\nuser = \"1\"\n",
    )
    .unwrap();
    let out = pbx()
        .args(["phone", "--profile"])
        .arg(&profile)
        .args(["call", "2002"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown transport \"carrier-pigeon\""),
        "{err}"
    );
}
