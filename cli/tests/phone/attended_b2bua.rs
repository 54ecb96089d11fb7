//! Attended transfer and consultation through the B2BUA engine (`[calls]
//! engine = "b2bua"`): three `pbx phone` consoles, each playing its own
//! tone. A talks to B, holds B, consults C, then either `atransfer`s (pbx
//! joins B and C, RFC 3891 / RFC 5589 §7: they hear each other's tones, A's
//! calls are gone, both calls leave records) or hangs up on C and resumes
//! B (B hears A again).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use super::audio::{read_wav, tone_share, write_tone};
use super::{pbx, start_server_with, wait_registered, Kill};

const A_TONE: f64 = 500.0;
const B_TONE: f64 = 800.0;
const C_TONE: f64 = 1100.0;

fn console(server: &str, user: &str, play: &Path, record: &Path) -> (Kill, ChildStdin) {
    let mut child: Child = pbx()
        .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
        .args(["--server", server])
        .arg("--play")
        .arg(play)
        .arg("--record")
        .arg(record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (Kill(child), stdin)
}

/// What a console printed, once it has quit.
fn output(k: &mut Kill) -> String {
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = k.0.stdout.take() {
        o.read_to_string(&mut out).unwrap();
    }
    if let Some(mut e) = k.0.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    let status = k.0.wait().unwrap();
    format!("{out}\n--- stderr ({status}):\n{err}")
}

/// Per 100 ms window with sound: the shares of (A, B, C) tones.
fn windows(path: &Path) -> Vec<[f64; 3]> {
    let (rate, samples) = read_wav(path);
    samples
        .chunks_exact((rate / 10.0) as usize)
        .filter(|w| w.iter().any(|s| s.unsigned_abs() > 256))
        .map(|w| [A_TONE, B_TONE, C_TONE].map(|f| tone_share(w, rate, f)))
        .collect()
}

/// Windows where tone `i` dominates (share > 0.5) and the others are absent.
fn hearing(ws: &[[f64; 3]], i: usize) -> usize {
    ws.iter()
        .filter(|w| w[i] > 0.5 && (0..3).filter(|&j| j != i).all(|j| w[j] < 0.05))
        .count()
}

/// One three-phone scenario at a time: four of them in parallel on a
/// loaded 2-core machine delay registrations past the harness's patience.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Setup {
    _serial: std::sync::MutexGuard<'static, ()>,
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    _server: Kill,
    phones: [(Kill, ChildStdin); 3],
}

/// `pbx serve` in B2BUA mode with 2001 (A), 2002 (B), 2003 (C) consoles
/// registered; A has called B, B answered, A holds B, called C, C answered.
fn consulting(extra: &str) -> Setup {
    let config = format!(
        "[calls]\nengine = \"b2bua\"\n{extra}[media]\nanchor = \"always\"\n\
         [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n"
    );
    three_phones(
        &config,
        &[
            (0, "dial 2002", 1200),
            (1, "answer", 2000),
            (0, "hold", 1000),
            (0, "dial 2003", 1200),
            (2, "answer", 1500),
        ],
    )
}

/// `pbx serve` with `config` (appended to the test server's) and the
/// three consoles registered, after `script`: (phone, console line, pause
/// in ms after it).
fn three_phones(config: &str, script: &[(usize, &str, u64)]) -> Setup {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let (server, port, config) = start_server_with(&root, config);
    std::thread::sleep(Duration::from_millis(300));
    let server_addr = format!("127.0.0.1:{port}");
    let phone = |user: &str, f: f64, name: &str| {
        let tone = root.join(format!("{name}.wav"));
        write_tone(&tone, f, 30.0);
        console(
            &server_addr,
            user,
            &tone,
            &root.join(format!("{name}-heard.wav")),
        )
    };
    let c = phone("2003", C_TONE, "c");
    let b = phone("2002", B_TONE, "b");
    wait_registered(&config, "2003@127.0.0.1", &root);
    wait_registered(&config, "2002@127.0.0.1", &root);
    let a = phone("2001", A_TONE, "a");
    std::thread::sleep(Duration::from_millis(500));
    let mut phones = [a, b, c];
    for &(who, line, ms) in script {
        writeln!(phones[who].1, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(ms));
    }
    Setup {
        _serial: serial,
        _tmp: tmp,
        root,
        config,
        _server: server,
        phones,
    }
}

/// Quits every console; their outputs (A, B, C) and all of it for messages.
fn finish(s: &mut Setup) -> ([String; 3], String) {
    for (_, w) in s.phones.iter_mut() {
        writeln!(w, "status").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    for (_, w) in s.phones.iter_mut() {
        writeln!(w, "quit").unwrap();
    }
    let outs = [0, 1, 2].map(|i| output(&mut s.phones[i].0));
    let all = format!(
        "A:\n{}\nB:\n{}\nC:\n{}\npbx:\n{}",
        outs[0],
        outs[1],
        outs[2],
        std::fs::read_to_string(s.root.join("pbx.log")).unwrap_or_default()
    );
    (outs, all)
}

/// The CSV records, once `n` rows are there (written behind: poll).
fn cdr_rows(config: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cdr = pbx()
            .args(["--config", config.to_str().unwrap(), "cdr", "--csv"])
            .output()
            .unwrap();
        let rows: Vec<String> = String::from_utf8_lossy(&cdr.stdout)
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect();
        if rows.len() >= n || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn b2bua_attended_transfer_joins_the_held_phone_and_the_consulted_one() {
    attended_transfer("music_on_hold = \"\"\n");
}

/// The same while B hears pbx's music on hold (the fixture melody).
#[test]
fn b2bua_attended_transfer_takes_the_held_phone_off_music() {
    let moh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts/moh.wav");
    attended_transfer(&format!("music_on_hold = \"{}\"\n", moh.display()));
}

fn attended_transfer(calls: &str) {
    let mut s = consulting(calls);
    writeln!(s.phones[0].1, "atransfer").unwrap();
    std::thread::sleep(Duration::from_millis(4000));
    let ([a, b, c], all) = finish(&mut s);
    for want in ["attended transfer of call", "call ended: remote hangup"] {
        assert!(a.contains(want), "A: {want:?} missing\n{all}");
    }
    let a_status = a.rsplit("2001@127.0.0.1: registered").next().unwrap_or("");
    assert!(a_status.contains("no call"), "A's calls are gone:\n{all}");
    assert!(!a_status.contains("on hold"), "A's calls are gone:\n{all}");
    for (who, out) in [("B", &b), ("C", &c)] {
        let status = out.rsplit("@127.0.0.1: registered").next().unwrap_or("");
        assert!(status.contains(": connected;"), "{who} talks:\n{all}");
    }
    // B hears C and C hears B, each for at least a second.
    let heard_b = windows(&s.root.join("b-heard-1.wav"));
    let heard_c = windows(&s.root.join("c-heard-1.wav"));
    eprintln!(
        "after atransfer ({calls:?}): B hears C in {} windows of 100 ms, C hears B in {}",
        hearing(&heard_b, 2),
        hearing(&heard_c, 1)
    );
    assert!(hearing(&heard_b, 2) >= 10, "B hears C:\n{all}");
    assert!(
        hearing(&heard_c, 1) >= 10,
        "C hears B: {:?}\n{all}",
        heard_c
            .iter()
            .map(|w| w.map(|x| (x * 100.0) as i32))
            .collect::<Vec<_>>()
    );
    // Their last second: only each other.
    for (who, ws, other) in [("B", &heard_b, 2), ("C", &heard_c, 1)] {
        let tail = &ws[ws.len().saturating_sub(10)..];
        assert!(
            tail.iter().filter(|w| w[other] > 0.5).count() >= 8,
            "{who} hears the other at the end: {tail:?}\n{all}"
        );
    }
    // Two records: the consultation call ended as transferred; the first
    // call is still up (B and C talk) until they hang up at quit.
    let rows = cdr_rows(&s.config, 2);
    let text = rows.join("\n");
    assert_eq!(rows.len(), 2, "{text}\n{all}");
    let consult = rows.iter().find(|r| r.contains(",2003,")).expect("call 2");
    assert!(
        consult.contains("ANSWERED") && consult.contains("call.transferred"),
        "{text}"
    );
    let first = rows.iter().find(|r| r.contains(",2002,")).expect("call 1");
    assert!(
        first.contains("ANSWERED") && first.contains("call.normal"),
        "{text}"
    );
}

#[test]
fn b2bua_consultation_returns_to_the_held_phone() {
    consultation_return("music_on_hold = \"\"\n");
}

/// The same while B hears pbx's music on hold during the consultation.
#[test]
fn b2bua_consultation_returns_from_music_on_hold() {
    let moh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts/moh.wav");
    consultation_return(&format!("music_on_hold = \"{}\"\n", moh.display()));
}

fn consultation_return(calls: &str) {
    let mut s = consulting(calls);
    for (line, ms) in [("hangup", 1000), ("resume", 2500)] {
        writeln!(s.phones[0].1, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(ms));
    }
    let ([a, b, _], all) = finish(&mut s);
    assert!(a.contains("is on hold (resume / hangup)"), "{all}");
    let a_status = a.rsplit("2001@127.0.0.1: registered").next().unwrap_or("");
    assert!(
        a_status.contains(": connected;"),
        "A talks to B again:\n{all}"
    );
    assert!(b.contains("peer resumed"), "{all}");
    // B heard A before the hold and hears A again at the end.
    let heard_b = windows(&s.root.join("b-heard-1.wav"));
    let tail = &heard_b[heard_b.len().saturating_sub(10)..];
    assert!(
        tail.iter().filter(|w| w[0] > 0.5).count() >= 8,
        "B hears A after resume: {tail:?}\n{all}"
    );
    let heard_c = windows(&s.root.join("c-heard-1.wav"));
    assert!(
        hearing(&heard_c, 0) >= 5,
        "C heard A while consulted:\n{all}"
    );
    let rows = cdr_rows(&s.config, 2);
    assert_eq!(rows.len(), 2, "{}", rows.join("\n"));
}

/// A talks to B, holds B, joins conference room 800 where C already is,
/// then `atransfer`s: B takes A's place in the room (pbx hands B's leg to
/// the room's application); B and C hear each other, A's calls are gone.
#[test]
fn b2bua_attended_transfer_into_a_conference_room() {
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let config = format!(
        "[calls]\nengine = \"b2bua\"\nmusic_on_hold = \"\"\n\
         [media]\nanchor = \"always\"\nprompts_dir = \"{}\"\n\
         [[dialplan]]\nextension = \"800\"\ntype = \"conference\"\n\
         [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n",
        prompts.display()
    );
    let mut s = three_phones(
        &config,
        &[
            (2, "dial 800", 1500),
            (0, "dial 2002", 1200),
            (1, "answer", 2000),
            (0, "hold", 1000),
            (0, "dial 800", 2000),
            (0, "atransfer", 4000),
        ],
    );
    let ([a, b, c], all) = finish(&mut s);
    assert_a_transferred_and_gone(&a, &all);
    for (who, out) in [("B", &b), ("C", &c)] {
        let status = out.rsplit("@127.0.0.1: registered").next().unwrap_or("");
        assert!(
            status.contains(": connected;"),
            "{who} is in the room:\n{all}"
        );
    }
    let heard_b = windows(&s.root.join("b-heard-1.wav"));
    let heard_c = windows(&s.root.join("c-heard-1.wav"));
    eprintln!(
        "after atransfer into the room: B hears C in {} windows of 100 ms, C hears B in {}",
        hearing(&heard_b, 2),
        hearing(&heard_c, 1)
    );
    for (who, ws, other) in [("B", &heard_b, 2), ("C", &heard_c, 1)] {
        let tail = &ws[ws.len().saturating_sub(10)..];
        assert!(
            tail.iter().filter(|w| w[other] > 0.5).count() >= 8,
            "{who} hears the other in the room at the end: {tail:?}\n{all}"
        );
    }
    // The bridged call A-B ended as transferred; the room calls go on
    // until the consoles quit.
    let rows = cdr_rows(&s.config, 1);
    let text = rows.join("\n");
    let first = rows
        .iter()
        .find(|r| r.contains(",2002,"))
        .expect("call A-B");
    assert!(
        first.contains("ANSWERED") && first.contains("call.transferred"),
        "{text}"
    );
}

/// A flow that keeps talking whatever the time of day: the main menu
/// prompt, again after each 2 s without a key.
const MENU_FLOW: &str = r#"
[flow]
name = "menu"
start = "menu"
prompts = "PROMPTS"

[nodes.menu]
type = "menu"
prompts = ["main_menu"]
timeout_prompts = ["no_input"]
timeout = "2s"
retries = 5

[nodes.menu.exits]
"1" = "bye"
timeout = "bye"
default = "bye"

[nodes.bye]
type = "hangup"
reason = "done"
"#;

/// A talks to B, holds B, calls the IVR at 500 and `atransfer`s: B takes
/// A's place in the flow and hears its prompts.
#[test]
fn b2bua_attended_transfer_into_an_ivr_flow() {
    let flows = tempfile::tempdir().unwrap();
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    std::fs::write(
        flows.path().join("menu.toml"),
        MENU_FLOW.replace("PROMPTS", &prompts.display().to_string()),
    )
    .unwrap();
    let config = format!(
        "[calls]\nengine = \"b2bua\"\nmusic_on_hold = \"\"\n\
         [media]\nanchor = \"always\"\n[ivr]\nflows_dir = \"{}\"\n\
         [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"menu\"\n\
         [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n",
        flows.path().display()
    );
    let mut s = three_phones(
        &config,
        &[
            (0, "dial 2002", 1200),
            (1, "answer", 2000),
            (0, "hold", 1000),
            (0, "dial 500", 1500),
            (0, "atransfer", 4000),
        ],
    );
    let ([a, b, _], all) = finish(&mut s);
    assert_a_transferred_and_gone(&a, &all);
    let b_status = b.rsplit("2002@127.0.0.1: registered").next().unwrap_or("");
    assert!(
        b_status.contains(": connected;"),
        "B is in the flow:\n{all}"
    );
    // B heard A, then (held, no music) silence, then the flow's prompts:
    // sound without A's tone, for more than a second.
    let heard_b = windows(&s.root.join("b-heard-1.wav"));
    let after_a = heard_b
        .iter()
        .rposition(|w| w[0] > 0.5)
        .expect("B heard A before the hold");
    let prompts = heard_b[after_a + 1..]
        .iter()
        .filter(|w| w[0] < 0.05)
        .count();
    eprintln!("after atransfer into the flow: B hears prompts in {prompts} windows of 100 ms");
    assert!(prompts >= 10, "B hears the flow's prompts:\n{all}");
    let rows = cdr_rows(&s.config, 1);
    let text = rows.join("\n");
    let first = rows
        .iter()
        .find(|r| r.contains(",2002,"))
        .expect("call A-B");
    assert!(
        first.contains("ANSWERED") && first.contains("call.transferred"),
        "{text}"
    );
}

/// A (2001) said it transferred, and its last status shows no call left.
fn assert_a_transferred_and_gone(a: &str, all: &str) {
    assert!(a.contains("attended transfer of call"), "{all}");
    let a_status = a.rsplit("2001@127.0.0.1: registered").next().unwrap_or("");
    assert!(a_status.contains("no call"), "A's calls are gone:\n{all}");
}
