//! DTMF from `pbx phone` reaches a sipp peer: sipp answers with PCMU and
//! telephone-event and echoes every RTP packet (`-rtp_echo`), so the
//! phone must decode its own RFC 4733 events, in order, and hear its own
//! tone — both prove sipp received them intact.

use super::*;
use crate::baresip::have;

#[test]
fn dtmf_and_audio_reach_a_sipp_echo_peer() {
    if !have("sipp") {
        assert!(
            std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
            "sipp is required here (apt-get install sip-tester)"
        );
        eprintln!("skipping: sipp not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (sip_port, media_port) = (free_udp_port(), free_udp_port());
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sipp/uas_echo.xml");
    let sipp_log = std::fs::File::create(root.join("sipp.log")).unwrap();
    let mut sipp = Kill(
        Command::new("sipp")
            .arg("-sf")
            .arg(&scenario)
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
