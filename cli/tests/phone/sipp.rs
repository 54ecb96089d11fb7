//! sipp peers that echo every RTP packet (`-rtp_echo`): what `pbx phone`
//! hears back proves sipp received it. DTMF: sipp answers with PCMU and
//! telephone-event, the phone decodes its own RFC 4733 events, in order.
//! Late offer: sipp calls `pbx phone answer` through `pbx serve` without
//! SDP and answers the phone's offer in the ACK.

use super::*;
use crate::baresip::have;

fn sipp_available() -> bool {
    if have("sipp") {
        return true;
    }
    assert!(
        std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
        "sipp is required here (apt-get install sip-tester)"
    );
    eprintln!("skipping: sipp not installed");
    false
}

fn scenario(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/sipp/{name}.xml"))
}

#[test]
fn dtmf_and_audio_reach_a_sipp_echo_peer() {
    if !sipp_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (sip_port, media_port) = (free_udp_port(), free_udp_port());
    let sipp_log = std::fs::File::create(root.join("sipp.log")).unwrap();
    let mut sipp = Kill(
        Command::new("sipp")
            .arg("-sf")
            .arg(scenario("uas_echo"))
            .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
            .args(["-mp", &media_port.to_string(), "-rtp_echo"])
            .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
            .current_dir(root)
            .stdout(sipp_log.try_clone().unwrap())
            .stderr(sipp_log)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let tone = root.join("a440.wav");
    write_tone(&tone, 440.0, 10.0);
    let heard = root.join("heard.wav");
    let server = format!("127.0.0.1:{sip_port}");
    let phone = pbx()
        .args(["phone", "--user", "alice", "--server", &server])
        .args(["call", &format!("sip:echo@{server}"), "--duration", "3s"])
        .args(["--dtmf", "4*7"])
        .arg("--play")
        .arg(&tone)
        .arg("--record")
        .arg(&heard)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&phone.stderr).into_owned();
    let sipp_status = sipp.0.wait().unwrap();
    let sipp_text = std::fs::read_to_string(root.join("sipp.log")).unwrap_or_default();
    assert!(phone.status.success(), "{log}\nsipp:\n{sipp_text}");
    assert!(
        sipp_status.success(),
        "sipp's scenario passed:\n{sipp_text}"
    );
    let digits: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF "))
        .collect();
    assert_eq!(digits, ["4 received", "* received", "7 received"], "{log}");
    assert_hears(&heard, 440.0, 1000.0, "the phone (its own echo)");
}

#[test]
fn pbx_phone_answers_a_late_offer_from_sipp() {
    if !sipp_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // sipp does not answer digest challenges here: trust loopback.
    let trusted = "[security]\ntrusted = [\"127.0.0.1/32\"]\n";
    let (_server, port, config) = start_server_with(root, trusted);
    std::thread::sleep(Duration::from_millis(300));
    let tone = root.join("b1000.wav");
    write_tone(&tone, 1000.0, 10.0);
    let heard = root.join("b-heard.wav");
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args(["phone", "--user", "2002", "--password", "2002-pw"])
            .args(["--server", &format!("127.0.0.1:{port}")])
            .args(["answer", "--duration", "10s", "--wait", "20s"])
            .arg("--play")
            .arg(&tone)
            .arg("--record")
            .arg(&heard)
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let sipp = Command::new("sipp")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-sf")
        .arg(scenario("uac_late_offer"))
        .args([
            "-s",
            "2002",
            "-i",
            "127.0.0.1",
            "-p",
            &free_udp_port().to_string(),
        ])
        .args(["-mp", &free_udp_port().to_string(), "-rtp_echo"])
        .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
        .current_dir(root)
        .output()
        .unwrap();
    let sipp_text =
        String::from_utf8_lossy(&sipp.stdout).into_owned() + &String::from_utf8_lossy(&sipp.stderr);
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    assert!(
        sipp.status.success(),
        "sipp's late-offer call passed:\n{sipp_text}\nbob:\n{bob_text}"
    );
    assert!(bob_status.success(), "{bob_text}");
    assert!(
        bob_text.contains("codec Pcmu (answer in the ACK)"),
        "{bob_text}"
    );
    assert!(bob_text.contains("call ended: remote hangup"), "{bob_text}");
    assert_hears(&heard, 1000.0, 440.0, "the phone (its own echo)");
}
