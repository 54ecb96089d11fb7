//! Two `pbx phone` processes that share no codec call each other through
//! `pbx serve` with the B2BUA engine: pbx offers the callee its transcodable
//! codecs too, answers the caller in the caller's codec and the relay
//! transcodes per packet; each recording holds the other side's tone, a
//! key press (RFC 4733) reaches the callee and is reported by the relay,
//! and the call record shows both legs' codecs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::audio::write_tone;
use super::baresip::free_udp_port;
use super::{assert_hears, pbx, wait_registered, Kill};

/// `pbx serve` in B2BUA mode with users 2001 and 2002, logging the
/// engine's debug lines (the relay's key presses).
fn start_b2bua(root: &std::path::Path) -> (Kill, u16, std::path::PathBuf) {
    let port = free_udp_port();
    let config = root.join("pbx.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndomain = \"127.0.0.1\"\nlisten = [\"udp:127.0.0.1:{port}\"]\ndata_dir = \"{}\"\n\
             [calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\n\
             [metrics]\nlisten = \"off\"\n\
             [[users]]\nname = \"2001\"\npassword = \"2001-pw\"\n[[users]]\nname = \"2002\"\npassword = \"2002-pw\"\n",
            root.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(root.join("pbx.log")).unwrap();
    let server = Kill(
        pbx()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("PBX_LOG", "info,pbx_core::b2bua::engine=debug")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    (server, port, config)
}

/// A profile allowing exactly one codec (`--codec` would add G.711).
fn profile(root: &std::path::Path, user: &str, port: u16, codec: &str) -> std::path::PathBuf {
    let p = root.join(format!("{user}.toml"));
    std::fs::write(
        &p,
        format!(
            "[account]\nuser = \"{user}\"\npassword = \"{user}-pw\"\n\
             [server]\naddress = \"127.0.0.1:{port}\"\n[media]\ncodecs = [\"{codec}\"]\n"
        ),
    )
    .unwrap();
    p
}

fn call_between(caller_codec: &str, callee_codec: &str, names: (&str, &str)) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, port, config) = start_b2bua(root);
    std::thread::sleep(Duration::from_millis(300));
    let (tone_a, tone_b) = (root.join("a440.wav"), root.join("b1000.wav"));
    write_tone(&tone_a, 440.0, 10.0);
    write_tone(&tone_b, 1000.0, 10.0);
    let (heard_a, heard_b) = (root.join("a-heard.wav"), root.join("b-heard.wav"));
    let bob_log = std::fs::File::create(root.join("bob.log")).unwrap();
    let mut bob = Kill(
        pbx()
            .args(["phone", "--profile"])
            .arg(profile(root, "2002", port, callee_codec))
            .args(["answer", "--duration", "5s", "--wait", "20s", "--play"])
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
        .args(["phone", "--profile"])
        .arg(profile(root, "2001", port, caller_codec))
        .args(["call", "2002", "--duration", "3s", "--dtmf", "5", "--play"])
        .arg(&tone_a)
        .arg("--record")
        .arg(&heard_a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alice_log = String::from_utf8_lossy(&alice.stderr).into_owned();
    let bob_status = bob.0.wait().unwrap();
    let bob_text = std::fs::read_to_string(root.join("bob.log")).unwrap_or_default();
    let pbx_log = || std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default();
    assert!(
        alice.status.success() && bob_status.success(),
        "alice:\n{alice_log}\nbob:\n{bob_text}\npbx:\n{}",
        pbx_log()
    );
    assert!(
        alice_log.contains(&format!("codec {}", names.0)),
        "{alice_log}"
    );
    assert!(
        bob_text.contains(&format!("codec {}", names.1)),
        "{bob_text}"
    );
    assert_hears(&heard_a, 1000.0, 440.0, "alice");
    assert_hears(&heard_b, 440.0, 1000.0, "bob");
    // the key press went through the relay to Bob, and pbx saw it
    assert!(bob_text.contains("DTMF 5 received"), "{bob_text}");
    // without the terminal colours
    let log: String = pbx_log()
        .split('\x1b')
        .map(|part| {
            part.find('m')
                .filter(|_| part.starts_with('['))
                .map_or(part, |i| &part[i + 1..])
        })
        .collect();
    assert!(
        log.lines()
            .any(|l| l.contains("DTMF through the relay") && l.contains("digit=5")),
        "{log}"
    );
    // the record: each leg with its own codec (written behind: poll)
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = |c: &str| match c {
        "pcmu" => "PCMU/8000",
        "pcma" => "PCMA/8000",
        _ => "opus/48000/2",
    };
    let codecs = format!("{} {}", want(caller_codec), want(callee_codec));
    loop {
        let cdr = pbx()
            .args(["--config", config.to_str().unwrap(), "cdr", "--csv"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&cdr.stdout).into_owned();
        if text
            .lines()
            .any(|l| l.contains("ANSWERED") && l.contains(&codecs))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no record with {codecs}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn pcmu_phone_and_pcma_phone_talk_through_the_b2bua() {
    call_between("pcmu", "pcma", ("Pcmu", "Pcma"));
}

#[cfg(feature = "opus")]
#[test]
fn opus_phone_and_pcma_phone_talk_through_the_b2bua() {
    call_between("opus", "pcma", ("Opus", "Pcma"));
}
