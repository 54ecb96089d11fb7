//! Browser phones bridged by the B2BUA (issue 17): a str0m peer plays the
//! browser over a real SIP-over-WebSocket connection and real UDP (ICE,
//! DTLS-SRTP, rtcp-mux) against `pbx serve`, and calls or is called by
//! `pbx phone` processes over UDP and TCP. Audio is checked by spectrum both
//! ways; RFC 4733 keys from the browser drive an IVR menu; a browser and a
//! phone hear each other in a conference room; a wrong
//! fingerprint and a DTLS timeout end the call with the `webrtc.*` cause in
//! the call record.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::audio::{tone_share, write_tone};
use super::baresip::free_udp_port;
use super::browser::{Browser, Dtls, Law};
use super::{assert_hears, pbx, wait_registered, Kill};

struct Server {
    _kill: Kill,
    port: u16,
    ws: std::net::SocketAddr,
    config: PathBuf,
}

/// `pbx serve` (B2BUA, media anchored) on UDP, TCP and WS; users 2001-2003;
/// 500 → IVR flow `entry` (key 1 → 2002).
fn start(root: &Path) -> Server {
    let port = free_udp_port();
    let ws_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("entry.toml"),
        format!(
            "[flow]\nname = \"entry\"\nprompts = \"{}\"\n\
             [nodes.menu]\ntype = \"menu\"\nprompts = [\"main_menu\"]\ntimeout = \"8s\"\n\
             exits = {{ \"1\" = \"op\", default = \"bye\" }}\n\
             [nodes.op]\ntype = \"transfer\"\ntarget = \"ext:2002\"\n\
             [nodes.bye]\ntype = \"hangup\"\nreason = \"no_choice\"\n",
            prompts.display()
        ),
    )
    .unwrap();
    let config = root.join("pbx.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndomain = \"127.0.0.1\"\n\
             listen = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\", \"ws:127.0.0.1:{ws_port}\"]\n\
             data_dir = \"{}\"\n\
             [calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\n\
             [ivr]\nflows_dir = \"{}\"\n\
             [metrics]\nlisten = \"off\"\n\
             [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"entry\"\n\
             [[dialplan]]\nextension = \"800\"\ntype = \"conference\"\nmoderator_pin = \"42\"\n\
             [[users]]\nname = \"2001\"\npassword = \"2001-pw\"\n\
             [[users]]\nname = \"2002\"\npassword = \"2002-pw\"\n\
             [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n",
            root.join("data").display(),
            flows.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(root.join("pbx.log")).unwrap();
    let kill = Kill(
        pbx()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("PBX_LOG", "info,pbx_core::media_anchor=debug")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let ws = std::net::SocketAddr::from(([127, 0, 0, 1], ws_port));
    let deadline = Instant::now() + Duration::from_secs(10);
    let sip = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    while std::net::TcpStream::connect(ws).is_err() || std::net::TcpStream::connect(sip).is_err() {
        assert!(
            Instant::now() < deadline,
            "pbx never listened on {ws} and {sip}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // as the other phone tests: the listeners' threads settle
    std::thread::sleep(Duration::from_millis(300));
    Server {
        _kill: kill,
        port,
        ws,
        config,
    }
}

fn log_of(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join(name)).unwrap_or_default()
}

/// `pbx phone` 2001 or 2002 answering (over `transport`), playing `tone`.
fn answering_phone(
    root: &Path,
    s: &Server,
    (user, secs): (&str, &str),
    tone: &Path,
    heard: &Path,
    tcp: bool,
) -> Kill {
    let log = std::fs::File::create(root.join(format!("{user}.log"))).unwrap();
    let mut cmd = pbx();
    cmd.args(["phone", "--user", user, "--password", &format!("{user}-pw")])
        .args(["--server", &format!("127.0.0.1:{}", s.port)]);
    if tcp {
        cmd.args(["--transport", "tcp"]);
    }
    let phone = Kill(
        cmd.args(["answer", "--duration", secs, "--wait", "30s"])
            .arg("--play")
            .arg(tone)
            .arg("--record")
            .arg(heard)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let aor = format!("{user}@127.0.0.1");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = pbx()
            .args(["--config", s.config.to_str().unwrap(), "registrations"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&aor) {
            return phone;
        }
        assert!(
            Instant::now() < deadline,
            "{aor} never registered:
{}
pbx:
{}",
            log_of(root, &format!("{user}.log")),
            log_of(root, "pbx.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The browser heard `want` Hz (and not `other`) for at least a second.
fn browser_hears(b: &Browser, want: f64, other: f64, root: &Path) {
    browser_heard(&b.heard, want, other, root);
}

fn browser_heard(heard: &[i16], want: f64, other: f64, root: &Path) {
    let loud: Vec<&[i16]> = heard
        .chunks_exact(800)
        .filter(|w| w.iter().any(|s| s.unsigned_abs() > 256))
        .collect();
    assert!(
        loud.len() >= 10,
        "the browser heard {} windows of 100 ms:\n{}",
        loud.len(),
        log_of(root, "pbx.log")
    );
    let mean =
        |f: f64| loud.iter().map(|w| tone_share(w, 8000.0, f)).sum::<f64>() / loud.len() as f64;
    let (hit, miss) = (mean(want), mean(other));
    assert!(
        hit > 0.5 && miss < 0.05,
        "browser: {want} Hz share {hit:.3}, {other} Hz {miss:.3}"
    );
}

/// The CSV call records, once there are `rows` of them.
fn cdr_csv(config: &Path, rows: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = pbx()
            .args(["--config", config.to_str().unwrap(), "cdr", "--csv"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() > rows || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn browser_calls_phone(tcp: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 10.0);
    let mut phone = answering_phone(root, &s, ("2002", "4s"), &tone, &heard, tcp);
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.register();
    let status = b.call("2002", |o| o);
    assert_eq!(status, 200, "pbx:\n{}", log_of(root, "pbx.log"));
    b.run(Duration::from_secs(3));
    assert!(
        b.connected,
        "ICE + DTLS with pbx:\n{}",
        log_of(root, "pbx.log")
    );
    b.hangup();
    let _ = phone.0.wait();
    let phone_log = log_of(root, "2002.log");
    assert!(phone_log.contains("connected"), "{phone_log}");
    assert_hears(&heard, 440.0, 1000.0, "the phone");
    browser_hears(&b, 1000.0, 440.0, root);
    let cdr = cdr_csv(&s.config, 1);
    let row = cdr.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("ANSWERED") && row.contains("call.normal"),
        "{cdr}"
    );
}

#[test]
fn browser_calls_a_udp_phone_with_audio_both_ways() {
    browser_calls_phone(false);
}

#[test]
fn browser_calls_a_tcp_phone_with_audio_both_ways() {
    browser_calls_phone(true);
}

#[test]
fn udp_phone_calls_a_browser_with_audio_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 10.0);
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.register();
    wait_registered(&s.config, "2003@127.0.0.1", root);
    let log = std::fs::File::create(root.join("2001.log")).unwrap();
    let mut caller = Kill(
        pbx()
            .args(["phone", "--user", "2001", "--password", "2001-pw"])
            .args(["--server", &format!("127.0.0.1:{}", s.port)])
            .args(["call", "2003", "--duration", "3s"])
            .arg("--play")
            .arg(&tone)
            .arg("--record")
            .arg(&heard)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let offer = b.answer();
    assert!(
        offer.contains("UDP/TLS/RTP/SAVPF") && offer.contains("a=ice-lite"),
        "{offer}"
    );
    assert!(offer.contains("a=setup:actpass"), "{offer}");
    b.run(Duration::from_secs(6));
    assert!(
        b.connected,
        "ICE + DTLS with pbx:\n{}",
        log_of(root, "pbx.log")
    );
    assert!(b.bye, "the caller hung up after 3 s");
    let status = caller.0.wait().unwrap();
    assert!(status.success(), "{}", log_of(root, "2001.log"));
    assert_hears(&heard, 440.0, 1000.0, "the phone");
    browser_hears(&b, 1000.0, 440.0, root);
}

#[test]
fn browser_keys_drive_an_ivr_menu() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 10.0);
    let mut operator = answering_phone(root, &s, ("2002", "3s"), &tone, &heard, false);
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.register();
    assert_eq!(b.call("500", |o| o), 200, "{}", log_of(root, "pbx.log"));
    b.run(Duration::from_millis(2500));
    assert!(b.connected, "{}", log_of(root, "pbx.log"));
    assert!(!b.heard.is_empty(), "the browser hears the menu prompt");
    b.press(1);
    b.run(Duration::from_secs(5));
    let _ = operator.0.wait();
    let op_log = log_of(root, "2002.log");
    assert!(
        op_log.contains("connected"),
        "key 1 transferred the browser to 2002:\n{op_log}\npbx:\n{}",
        log_of(root, "pbx.log")
    );
}

#[test]
fn browser_and_phone_talk_in_a_conference_room() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 20.0);
    let log = std::fs::File::create(root.join("2002.log")).unwrap();
    let mut guest = Kill(
        pbx()
            .args(["phone", "--user", "2002", "--password", "2002-pw"])
            .args(["--server", &format!("127.0.0.1:{}", s.port)])
            .args(["call", "800", "--duration", "9s", "--dtmf", "#"])
            .arg("--play")
            .arg(&tone)
            .arg("--record")
            .arg(&heard)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.register();
    assert_eq!(b.call("800", |o| o), 200, "{}", log_of(root, "pbx.log"));
    b.run(Duration::from_millis(1500));
    assert!(b.connected, "{}", log_of(root, "pbx.log"));
    // '#': join as a guest (no moderator PIN)
    b.press(11);
    b.run(Duration::from_secs(6));
    b.hangup();
    let _ = guest.0.wait();
    // the last 3 s: the room's mix (the guest's tone), not the prompts
    let tail = &b.heard[b.heard.len().saturating_sub(24_000)..];
    browser_heard(tail, 1000.0, 440.0, root);
    assert_hears(&heard, 440.0, 1000.0, "the phone in the room");
}

#[test]
fn wrong_fingerprint_ends_the_call_with_its_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 10.0);
    let _phone = answering_phone(root, &s, ("2002", "20s"), &tone, &heard, false);
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.register();
    // one hex digit of the certificate's fingerprint changed
    let status = b.call("2002", |offer| {
        let at = offer.find("a=fingerprint:sha-256 ").expect("fingerprint") + 22;
        let mut o = offer.into_bytes();
        o[at] = if o[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(o).unwrap()
    });
    assert_eq!(status, 200);
    b.run(Duration::from_secs(5));
    assert!(
        b.bye,
        "pbx hung up the browser:\n{}",
        log_of(root, "pbx.log")
    );
    assert!(!b.connected);
    let cdr = cdr_csv(&s.config, 1);
    assert!(cdr.contains("webrtc.fingerprint_mismatch"), "{cdr}");
    assert!(log_of(root, "pbx.log").contains("webrtc.fingerprint_mismatch"));
}

#[test]
fn dtls_timeout_ends_the_call_with_its_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = start(root);
    let (tone, heard) = (root.join("p1000.wav"), root.join("phone-heard.wav"));
    write_tone(&tone, 1000.0, 20.0);
    let _phone = answering_phone(root, &s, ("2002", "30s"), &tone, &heard, false);
    let mut b = Browser::connect(s.ws, "2003", "2003-pw", Law::Pcmu, 440.0);
    b.dtls = Dtls::Drop;
    b.register();
    assert_eq!(b.call("2002", |o| o), 200);
    // pbx's DTLS timeout is 10 s once ICE works
    b.run(Duration::from_secs(15));
    assert!(
        b.bye,
        "pbx hung up the browser:\n{}",
        log_of(root, "pbx.log")
    );
    let cdr = cdr_csv(&s.config, 1);
    assert!(cdr.contains("webrtc.dtls_timeout"), "{cdr}");
}
