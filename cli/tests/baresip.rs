//! Interop: two baresip instances register with digest auth at a real `pbx serve`
//! and call each other through it; the caller's recording must hold the callee's
//! tone (1000 Hz; the caller sends 440 Hz), checked with a Goertzel filter —
//! through the proxy (media end to end or anchored) and through the B2BUA.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/audio.rs"]
mod audio;
#[path = "support/baresip.rs"]
mod baresip;

use audio::{read_wav, tone_share, write_tone};
use baresip::{baresip_dir, decoded_wav, free_udp_port};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn registrations(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
        .args(["--config", config.to_str().unwrap(), "registrations"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a call alice (2001, 440 Hz) → bob (2002, 1000 Hz) through a `pbx serve`
/// with `extra_toml` appended to its config; `after` runs with the config
/// path while pbx still runs; returns alice's baresip log.
fn call_through_pbx(extra_toml: &str, after: &dyn Fn(&Path)) -> Option<String> {
    if !baresip::available() {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let port = free_udp_port();
    let config = root.join("pbx.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\"]\ndata_dir = \"{}\"\n\
             [metrics]\nlisten = \"off\"\n\
             {extra_toml}\n[[users]]\nname = \"2001\"\npassword = \"2001-pw\"\n[[users]]\nname = \"2002\"\npassword = \"2002-pw\"\n",
            root.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(root.join("pbx.log")).unwrap();
    let _pbx = Kill(
        Command::new(env!("CARGO_BIN_EXE_pbx"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));

    let tone_a = root.join("a440.wav");
    let tone_b = root.join("b1000.wav");
    write_tone(&tone_a, 440.0, 20.0);
    write_tone(&tone_b, 1000.0, 20.0);
    let alice = baresip_dir(root, "alice", "2001", port, &tone_a);
    let bob = baresip_dir(root, "bob", "2002", port, &tone_b);
    let bob_out = std::fs::File::create(root.join("bob.out")).unwrap();
    let _bob = Kill(
        Command::new("baresip")
            .args(["-f", bob.to_str().unwrap(), "-t", "25"])
            .current_dir(&bob)
            .stdin(Stdio::null())
            .stdout(bob_out.try_clone().unwrap())
            .stderr(bob_out)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !registrations(&config).contains("2002@127.0.0.1") {
        assert!(
            Instant::now() < deadline,
            "bob never registered:\n{}\npbx:\n{}",
            std::fs::read_to_string(root.join("bob.out")).unwrap_or_default(),
            std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let alice_out = Command::new("baresip")
        .args([
            "-f",
            alice.to_str().unwrap(),
            "-e",
            &format!("/dial sip:2002@127.0.0.1:{port}"),
            "-t",
            "8",
        ])
        .current_dir(&alice)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice_out.stdout).into_owned();
    let pbx_log = std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    assert!(
        alice_log.contains("Call established"),
        "alice's call was not established:\n{alice_log}\npbx:\n{pbx_log}"
    );

    // alice recorded what she decoded: bob's 1000 Hz, not her own 440 Hz.
    let dec = decoded_wav(&alice).expect("alice recorded the received audio");
    let (rate, samples) = read_wav(&dec);
    let heard: Vec<i16> = samples.into_iter().skip_while(|s| *s == 0).collect();
    assert!(
        heard.len() > rate as usize,
        "alice received at least a second of audio ({} samples)",
        heard.len()
    );
    let (hit, miss) = (
        tone_share(&heard, rate, 1000.0),
        tone_share(&heard, rate, 440.0),
    );
    assert!(
        hit > 0.5 && miss < 0.05,
        "alice hears bob's 1000 Hz: share {hit:.3}, 440 Hz share {miss:.3}"
    );
    after(&config);
    Some(alice_log)
}

#[test]
fn two_baresips_register_with_digest_and_call_each_other() {
    if let Some(log) = call_through_pbx("", &|_| {}) {
        assert!(
            !log.contains("receiving from 127.0.0.1:41"),
            "media flows end to end without anchoring:\n{log}"
        );
    }
}

#[test]
fn anchored_call_carries_the_audio_through_the_relay() {
    let relay = "[media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = 41000\nport_max = 41999\n";
    if let Some(log) = call_through_pbx(relay, &|_| {}) {
        assert!(
            log.contains("receiving from 127.0.0.1:41"),
            "alice receives RTP from the relay's ports:\n{log}"
        );
    }
}

#[test]
fn b2bua_call_carries_the_audio_through_both_legs() {
    let b2bua = "[calls]\nengine = \"b2bua\"\n\
                 [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = 42000\nport_max = 42999\n";
    if let Some(log) = call_through_pbx(b2bua, &answered_record_with_quality) {
        assert!(
            log.contains("receiving from 127.0.0.1:42"),
            "alice receives RTP from the relay's ports of her leg:\n{log}"
        );
    }
}

/// The call's record: ANSWERED, PCMU on both legs, and the relay's quality
/// figures for both legs (packets flowed, a MOS was computed).
fn answered_record_with_quality(config: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_pbx"))
            .args(["--config", config.to_str().unwrap(), "cdr", "--csv"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let row: Option<Vec<&str>> = lines.next().map(|l| l.split(',').collect());
        let field = |name: &str| {
            let i = header.iter().position(|h| *h == name)?;
            row.as_ref()?.get(i).copied()
        };
        let done = field("caller_mos").is_some_and(|m| !m.is_empty())
            && field("callee_mos").is_some_and(|m| !m.is_empty());
        if done {
            assert_eq!(field("disposition"), Some("ANSWERED"), "{text}");
            assert_eq!(field("caller"), Some("2001"), "{text}");
            assert_eq!(field("callee"), Some("2002"), "{text}");
            assert_eq!(field("codecs"), Some("PCMU/8000 PCMU/8000"), "{text}");
            let mos: f64 = field("caller_mos").unwrap_or("0").parse().unwrap_or(0.0);
            assert!(mos > 3.0, "caller leg MOS {mos}: {text}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no record with both legs' quality:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
