//! A conference room through `pbx serve` (B2BUA engine): three `pbx phone`
//! parties call room 800, each playing its own tone. The moderator enters
//! the PIN; every party hears the other two tones and not its own
//! (mix-minus). Then the moderator presses `*6` (mute every guest): the
//! guests' tones disappear for everyone. The three calls leave CDR rows.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::audio::{read_wav, tone_share, write_tone};
use super::{pbx, start_server_with, wait_registered, Kill};

const MODERATOR: f64 = 500.0;
const GUEST_A: f64 = 800.0;
const GUEST_B: f64 = 1100.0;

/// Tone shares of each 100 ms window: (moderator, a, b), all zero for a
/// silent window.
fn all_windows(path: &Path) -> Vec<[f64; 3]> {
    let (rate, samples) = read_wav(path);
    samples
        .chunks_exact((rate / 10.0) as usize)
        .map(|w| {
            if w.iter().any(|s| s.unsigned_abs() > 256) {
                [MODERATOR, GUEST_A, GUEST_B].map(|f| tone_share(w, rate, f))
            } else {
                [0.0; 3]
            }
        })
        .collect()
}

/// The windows with sound.
fn windows(path: &Path) -> Vec<[f64; 3]> {
    all_windows(path)
        .into_iter()
        .filter(|w| w.iter().any(|&x| x > 0.0))
        .collect()
}

/// Windows where `hears` are all present (share > 0.15) and `not` absent
/// (share < 0.05).
fn count(ws: &[[f64; 3]], hears: &[usize], not: &[usize]) -> usize {
    ws.iter()
        .filter(|w| hears.iter().all(|&i| w[i] > 0.15) && not.iter().all(|&i| w[i] < 0.05))
        .count()
}

#[test]
fn three_phones_in_a_room_hear_mix_minus_and_the_moderator_mutes_guests() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/prompts");
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\n[media]\nanchor = \"always\"\nprompts_dir = \"{}\"\n\
         [[dialplan]]\nextension = \"800\"\ntype = \"conference\"\nmoderator_pin = \"42\"\n\
         [[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n",
        prompts.display()
    );
    let (_server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let account = |user: &str| {
        let mut c = pbx();
        c.args(["phone", "--user", user, "--password", &format!("{user}-pw")])
            .args(["--server", &server]);
        c
    };
    let tone = |name: &str, f: f64| {
        let p = root.join(name);
        write_tone(&p, f, 20.0);
        p
    };
    let (t_mod, t_a, t_b) = (
        tone("m.wav", MODERATOR),
        tone("a.wav", GUEST_A),
        tone("b.wav", GUEST_B),
    );
    let guest = |user: &str, play: &Path, record: &Path| -> Kill {
        let log = std::fs::File::create(root.join(format!("{user}.log"))).unwrap();
        let mut c: Command = account(user);
        c.args(["call", "800", "--duration", "10s", "--dtmf", "#"])
            .arg("--play")
            .arg(play)
            .arg("--record")
            .arg(record)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        Kill(c.spawn().unwrap())
    };
    let (heard_a, heard_b) = (root.join("a-heard.wav"), root.join("b-heard.wav"));
    let mut ga = guest("2002", &t_a, &heard_a);
    let mut gb = guest("2003", &t_b, &heard_b);
    wait_registered(&config, "2003@127.0.0.1", root);
    std::thread::sleep(Duration::from_millis(800));
    let mut moderator = account("2001")
        .arg("--play")
        .arg(&t_mod)
        .arg("--record")
        .arg(root.join("m-heard.wav"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = moderator.stdin.take().unwrap();
    for (line, pause) in [
        ("dial 800", 1500),
        ("dtmf 42#", 3500),
        ("dtmf *6", 3500),
        ("hangup", 500),
        ("quit", 0),
    ] {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(pause));
    }
    drop(stdin);
    let out = moderator.wait_with_output().unwrap();
    let (sa, sb) = (ga.0.wait().unwrap(), gb.0.wait().unwrap());
    let logs = || {
        let read = |n: &str| std::fs::read_to_string(root.join(n)).unwrap_or_default();
        format!(
            "moderator:\n{}{}\n2002:\n{}\n2003:\n{}\npbx:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            read("2002.log"),
            read("2003.log"),
            read("pbx.log")
        )
    };
    assert!(
        out.status.success() && sa.success() && sb.success(),
        "{}",
        logs()
    );

    let m = windows(&root.join("m-heard-1.wav"));
    let a = windows(&heard_a);
    let b = windows(&heard_b);
    // before the mute: each hears the other two, never itself (≥ 1 s)
    assert!(
        count(&m, &[1, 2], &[0]) >= 10,
        "moderator hears both guests\n{}",
        logs()
    );
    assert!(
        count(&a, &[0, 2], &[1]) >= 10,
        "guest A hears the moderator and B"
    );
    assert!(
        count(&b, &[0, 1], &[2]) >= 10,
        "guest B hears the moderator and A"
    );
    // after *6 the guests hear only the moderator (≥ 1 s of it) ...
    assert!(count(&a, &[0], &[1, 2]) >= 10, "guest A no longer hears B");
    assert!(count(&b, &[0], &[1, 2]) >= 10, "guest B no longer hears A");
    // ... and their last second holds no guest tone at all
    for (who, ws, own) in [("A", &a, 1), ("B", &b, 2)] {
        let tail = &ws[ws.len().saturating_sub(10)..];
        assert!(
            tail.iter()
                .all(|w| w[1] < 0.05 && w[2] < 0.05 && w[own] < 0.05),
            "guest {who} still hears a guest at the end: {tail:?}"
        );
    }
    // the moderator's last second before hanging up: silence (mix-minus of
    // a room where only the moderator speaks), no guest tone
    let m_all = all_windows(&root.join("m-heard-1.wav"));
    let tail = &m_all[m_all.len().saturating_sub(10)..];
    assert!(tail.iter().all(|w| w[1] < 0.05 && w[2] < 0.05), "{tail:?}");

    // three call records to room 800, answered (written behind: poll)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let cdr = pbx()
            .args(["--config", config.to_str().unwrap(), "cdr", "--csv"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&cdr.stdout).into_owned();
        let n = text
            .lines()
            .filter(|l| l.contains(",800,") && l.contains("ANSWERED"))
            .count();
        if n >= 3 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(",800,") && l.contains("ANSWERED"))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for user in ["2001", "2002", "2003"] {
        assert!(rows.iter().any(|r| r.contains(user)), "{user}: {text}");
    }
}
