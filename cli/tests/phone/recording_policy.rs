//! Recording policies end to end: `recording.mode` stays off, user 2002 is
//! `on_demand` (`[recording.users]`) and the dial-plan entry 3002 (which
//! rings 2002 too) says `never`. A call to 2002 without the start code is
//! not recorded; one where the caller presses the start code (`*2`) is,
//! from then on; the same call through 3002 with the start code is not
//! (never beats every other level).

use std::path::Path;
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::recording::{admin, phone, recording_server, wait_uploaded, CALLEE_HZ, CALLER_HZ};
use super::wait_registered;

/// One call from 2001 to `dial` (answered by 2002), the caller pressing
/// `dtmf` once connected: the call id, after the caller hung up.
pub(super) fn one_call(
    root: &Path,
    target: &str,
    config: &Path,
    dial: &str,
    dtmf: Option<&str>,
) -> String {
    let (caller_tone, callee_tone) = (root.join("caller.wav"), root.join("callee.wav"));
    if !caller_tone.exists() {
        write_tone(&caller_tone, CALLER_HZ, 10.0);
        write_tone(&callee_tone, CALLEE_HZ, 10.0);
    }
    let _bob = phone(
        root,
        target,
        "2002",
        &["answer", "--duration", "8s", "--wait", "20s"],
        Some(&callee_tone),
        &format!("bob-{dial}.log"),
    );
    wait_registered(config, "2002@127.0.0.1", root);
    let mut args = vec!["call", dial, "--duration", "3s"];
    if let Some(d) = dtmf {
        args.extend(["--dtmf", d]);
    }
    let mut alice = phone(
        root,
        target,
        "2001",
        &args,
        Some(&caller_tone),
        &format!("alice-{dial}.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let call = loop {
        let text = String::from_utf8_lossy(&admin(config, &["calls"]).stdout).into_owned();
        if let Some(l) = text.lines().find(|l| l.contains("\tanswered\t")) {
            break l.split('\t').next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no answered call to {dial}: {text}\npbx:\n{}",
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        alice.0.wait().unwrap().success(),
        "the call to {dial} failed"
    );
    call
}

fn listed(config: &Path) -> String {
    String::from_utf8_lossy(&admin(config, &["recordings", "list"]).stdout).into_owned()
}

#[test]
fn on_demand_records_after_the_start_code_and_never_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, _) = recording_server(
        root,
        "start_code = \"*2\"\n[recording.users]\n\"2002\" = \"on_demand\"\n\
         [[dialplan]]\nextension = \"3002\"\ntype = \"user\"\nuser = \"2002\"\nrecording = \"never\"\n",
    );
    let plain = one_call(root, &target, &config, "2002", None);
    let asked = one_call(root, &target, &config, "2002", Some("*2"));
    wait_uploaded(&config, &asked, 10, root);
    let never = one_call(root, &target, &config, "3002", Some("*2"));
    // Give a recording of the last call time to show up (it must not).
    std::thread::sleep(Duration::from_secs(2));
    let text = listed(&config);
    assert!(text.contains(&asked), "{text}");
    assert!(
        !text.contains(&plain),
        "recorded without the start code:\n{text}"
    );
    assert!(!text.contains(&never), "recorded against `never`:\n{text}");
    assert_eq!(text.lines().skip(1).count(), 1, "{text}");
    let log = std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    assert!(
        log.contains("on-demand recording started by the start code"),
        "{log}"
    );
}
