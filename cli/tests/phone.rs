//! Two `pbx phone` processes register with digest auth at a real `pbx
//! serve` and call each other through it with tones of different
//! frequencies: each recording must hold the other side's tone (Goertzel),
//! and the caller's exit code says the call connected.

#[path = "phone/admin_hangup.rs"]
mod admin_hangup;
#[path = "phone/attended.rs"]
mod attended;
#[path = "phone/attended_b2bua.rs"]
mod attended_b2bua;
#[path = "support/audio.rs"]
mod audio;
#[path = "support/baresip.rs"]
mod baresip;
#[path = "phone/browser.rs"]
mod browser;
#[path = "phone/conference.rs"]
mod conference;
#[path = "phone/conference_admin.rs"]
mod conference_admin;
#[path = "phone/crm_calls.rs"]
mod crm_calls;
#[path = "phone/interop.rs"]
mod interop;
#[path = "phone/moh.rs"]
mod moh;
#[path = "phone/opus.rs"]
mod opus;
#[path = "phone/originate.rs"]
mod originate;
#[path = "phone/profile.rs"]
mod profile;
#[path = "phone/queue.rs"]
mod queue;
#[path = "phone/queue_ops.rs"]
mod queue_ops;
#[path = "phone/recording.rs"]
mod recording;
#[path = "phone/recording_conference.rs"]
mod recording_conference;
#[path = "phone/recording_links.rs"]
mod recording_links;
#[path = "phone/recording_policy.rs"]
mod recording_policy;
#[path = "phone/recording_queue.rs"]
mod recording_queue;
#[path = "phone/recording_s3.rs"]
mod recording_s3;
#[path = "phone/recording_transfer.rs"]
mod recording_transfer;
#[path = "phone/sipp.rs"]
mod sipp;
#[path = "phone/transcode.rs"]
mod transcode;
#[path = "phone/transport.rs"]
mod transport;
#[path = "phone/webrtc.rs"]
mod webrtc;
#[path = "support/weed.rs"]
mod weed;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audio::{read_wav, tone_share, write_tone};
use baresip::free_udp_port;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pbx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pbx"))
}

fn start_server(root: &Path) -> (Kill, u16, std::path::PathBuf) {
    start_server_with(root, "")
}

/// `pbx serve` on UDP and TCP 127.0.0.1:PORT with users 2001 and 2002;
/// `extra` TOML follows its `[server]` table (`[[server.tls]]` entries,
/// other tables; the admin listener is off unless `extra` has `[metrics]`).
fn start_server_with(root: &Path, extra: &str) -> (Kill, u16, std::path::PathBuf) {
    let port = free_udp_port();
    let config = root.join("pbx.toml");
    let metrics = if extra.contains("[metrics]") {
        ""
    } else {
        "[metrics]\nlisten = \"off\"\n"
    };
    std::fs::write(
        &config,
        format!(
            "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\"]\ndata_dir = \"{}\"\n{extra}\n{metrics}\
             [[users]]\nname = \"2001\"\npassword = \"2001-pw\"\n[[users]]\nname = \"2002\"\npassword = \"2002-pw\"\n",
            root.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(root.join("pbx.log")).unwrap();
    let server = Kill(
        pbx()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    (server, port, config)
}

/// `pbx serve` again with the config (and data) of a stopped one.
fn restart_server(root: &Path, config: &Path) -> Kill {
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join("pbx.log"))
        .unwrap();
    let server = Kill(
        pbx()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    server
}

fn wait_registered(config: &Path, aor: &str, root: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = pbx()
            .args(["--config", config.to_str().unwrap(), "registrations"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(aor) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{aor} never registered:\n{}\npbx:\n{}",
            std::fs::read_to_string(root.join("bob.log")).unwrap_or_default(),
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The recording at `path` holds `want` Hz and not `other` Hz: over the
/// 100 ms windows with sound (a loaded machine leaves gaps and phase jumps
/// that would blur one Goertzel over the whole file), the mean share of
/// `want` is high and that of `other` is low, for at least a second.
fn assert_hears(path: &Path, want: f64, other: f64, who: &str) {
    let (rate, samples) = read_wav(path);
    let window = (rate / 10.0) as usize;
    let loud: Vec<&[i16]> = samples
        .chunks_exact(window)
        .filter(|w| w.iter().any(|s| s.unsigned_abs() > 256))
        .collect();
    assert!(
        loud.len() >= 10,
        "{who} heard at least a second of audio ({} windows of 100 ms of {})",
        loud.len(),
        samples.len() / window
    );
    let mean =
        |freq: f64| loud.iter().map(|w| tone_share(w, rate, freq)).sum::<f64>() / loud.len() as f64;
    let (hit, miss) = (mean(want), mean(other));
    assert!(
        hit > 0.5 && miss < 0.05,
        "{who} hears {want} Hz: share {hit:.3}, {other} Hz share {miss:.3} ({} windows)",
        loud.len()
    );
}

#[test]
fn two_phones_register_and_call_each_other_through_pbx() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 10.0);
    write_tone(&tone_b, 1000.0, 10.0);
    let (heard_a, heard_b) = (root.join("a-heard.wav"), root.join("b-heard.wav"));

    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args([
                "phone",
                "--user",
                "2002",
                "--password",
                "2002-pw",
                "--server",
                &server,
            ])
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

    let alice = pbx()
        .args([
            "phone",
            "--user",
            "2001",
            "--password",
            "2001-pw",
            "--server",
            &server,
        ])
        .args(["call", "2002", "--duration", "3s", "--dtmf", "1#"])
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
    let pbx_text = std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    assert!(
        alice.status.success(),
        "alice's call connected (exit {:?}):\n{alice_log}\nbob:\n{bob_text}\npbx:\n{pbx_text}",
        alice.status.code()
    );
    assert!(bob_status.success(), "bob answered:\n{bob_text}");
    assert!(alice_log.contains("connected"), "{alice_log}");
    // Alice hung up after 3 s: bob saw the BYE before his own 5 s ran out.
    assert!(bob_text.contains("call ended: remote hangup"), "{bob_text}");
    // Alice's RFC 4733 digits reached bob, in order.
    let digits: Vec<&str> = bob_text
        .lines()
        .filter_map(|l| l.strip_prefix("DTMF "))
        .collect();
    assert_eq!(digits, ["1 received", "# received"], "{bob_text}");

    assert_hears(&heard_a, 1000.0, 440.0, "alice");
    assert_hears(&heard_b, 440.0, 1000.0, "bob");
}

#[test]
fn calling_an_unknown_user_fails_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, _) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let out = pbx()
        .args(["phone", "--user", "2001", "--password", "2001-pw"])
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["call", "2002", "--duration", "1s", "--wait", "10s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("call failed: rejected with 4"), "{err}");
}

#[test]
fn wrong_password_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, _) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let out = pbx()
        .args(["phone", "--user", "2001", "--password", "nope"])
        .args(["--server", &format!("127.0.0.1:{port}")])
        .args(["call", "2002"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("registration failed: 40"), "{err}");
}

#[test]
fn console_dials_holds_resumes_sends_dtmf_and_hangs_up() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args([
                "phone",
                "--user",
                "2002",
                "--password",
                "2002-pw",
                "--server",
                &server,
            ])
            .args(["answer", "--duration", "20s", "--wait", "20s"])
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let mut alice = pbx()
        .args([
            "phone",
            "--user",
            "2001",
            "--password",
            "2001-pw",
            "--server",
            &server,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = alice.stdin.take().unwrap();
    for (line, pause) in [
        ("dial 2002", 1500),
        ("hold", 700),
        ("status", 100),
        ("resume", 700),
        ("dtmf 7", 700),
        ("hangup", 700),
        ("quit", 0),
    ] {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(pause));
    }
    drop(stdin);
    let out = alice.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let order = [
        "registered as 2001",
        "calling sip:2002@127.0.0.1",
        "connected",
        "on hold",
        "call #1: on hold",
        "resumed",
        "call ended: local hangup",
        "bye",
    ];
    let mut rest = text.as_str();
    for want in order {
        let at = rest
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing (in order) from:\n{text}"));
        rest = &rest[at + want.len()..];
    }
    assert!(bob_status.success(), "{bob_text}");
    assert!(bob_text.contains("DTMF 7 received"), "{bob_text}");
    assert!(bob_text.contains("call ended: remote hangup"), "{bob_text}");
}

/// With the `audio` feature the console runs on a sound card: the ALSA
/// `null` device (zeros in, discard out) stands in for one in CI. The
/// call connects and the peer hears the null microphone: silence.
#[cfg(feature = "audio")]
#[test]
fn console_on_the_alsa_null_sound_card() {
    let devices = pbx().args(["phone", "devices"]).output().unwrap();
    let listing = String::from_utf8_lossy(&devices.stdout).into_owned();
    assert!(devices.status.success(), "{listing}");
    if !listing.contains("null") {
        // test.sh (CI) must exercise cpal: no skipping there.
        assert!(
            std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
            "no ALSA null device (libasound2 installed?):\n{listing}"
        );
        eprintln!("skipping: no ALSA null device:\n{listing}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_server(root);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let heard_b = root.join("b-heard.wav");
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args([
                "phone",
                "--user",
                "2002",
                "--password",
                "2002-pw",
                "--server",
                &server,
            ])
            .args(["answer", "--duration", "20s", "--wait", "20s", "--record"])
            .arg(&heard_b)
            .stdin(Stdio::null())
            .stdout(bob_log.try_clone().unwrap())
            .stderr(bob_log)
            .spawn()
            .unwrap(),
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let mut alice = pbx()
        .args([
            "phone",
            "--user",
            "2001",
            "--password",
            "2001-pw",
            "--server",
            &server,
        ])
        .args([
            "--audio",
            "--input-device",
            "null",
            "--output-device",
            "null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = alice.stdin.take().unwrap();
    for (line, pause) in [
        ("dial 2002", 2500),
        ("status", 100),
        ("hangup", 700),
        ("quit", 0),
    ] {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(pause));
    }
    drop(stdin);
    let out = alice.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("connected"), "{text}");
    assert!(text.contains("call ended: local hangup"), "{text}");
    assert!(bob.0.wait().unwrap().success());
    let (_, samples) = read_wav(&heard_b);
    assert!(samples.len() > 8000, "bob recorded the call");
    assert!(
        samples.iter().all(|s| s.unsigned_abs() < 64),
        "the null microphone is silent"
    );
    // Alice sent RTP from the null capture device all along.
    let sent: u64 = text
        .lines()
        .find_map(|l| l.split("rtp sent ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        sent > 50,
        "alice sent RTP from the sound card ({sent}):\n{text}"
    );
}
