//! Music on hold through the B2BUA (`[calls] music_on_hold`): two `pbx
//! phone` consoles with their own tones; when the caller holds, pbx answers
//! it and re-INVITEs the callee to a media endpoint looping the music WAV
//! (a 400 Hz tone here); on resume the callee hears the caller again.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::audio::{read_wav, tone_share, write_tone};
use super::{pbx, start_server_with, wait_registered, Kill};

const CALLER: f64 = 500.0;
const CALLEE: f64 = 800.0;
const MUSIC: f64 = 400.0;

/// Per 100 ms window with sound: shares of (caller, callee, music).
fn windows(path: &Path) -> Vec<[f64; 3]> {
    let (rate, samples) = read_wav(path);
    samples
        .chunks_exact((rate / 10.0) as usize)
        .filter(|w| w.iter().any(|s| s.unsigned_abs() > 256))
        .map(|w| [CALLER, CALLEE, MUSIC].map(|f| tone_share(w, rate, f)))
        .collect()
}

#[test]
fn b2bua_held_phone_hears_music_then_the_caller_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let music = root.join("music.wav");
    write_tone(&music, MUSIC, 3.0);
    let extra = format!(
        "[calls]\nengine = \"b2bua\"\nmusic_on_hold = \"{}\"\n[media]\nanchor = \"always\"\n",
        music.display()
    );
    let (_server, port, config) = start_server_with(root, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let server = format!("127.0.0.1:{port}");
    let phone = |user: &str, f: f64, name: &str| {
        let tone = root.join(format!("{name}.wav"));
        write_tone(&tone, f, 30.0);
        let mut child = pbx()
            .args(["phone", "--user", user, "--password", &format!("{user}-pw")])
            .args(["--server", &server])
            .arg("--play")
            .arg(&tone)
            .arg("--record")
            .arg(root.join(format!("{name}-heard.wav")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        (Kill(child), stdin)
    };
    let (mut b, mut b_in) = phone("2002", CALLEE, "b");
    wait_registered(&config, "2002@127.0.0.1", root);
    let (mut a, mut a_in) = phone("2001", CALLER, "a");
    std::thread::sleep(Duration::from_millis(500));
    for (to_a, line, ms) in [
        (true, "dial 2002", 1200),
        (false, "answer", 2000),
        (true, "hold", 3000),
        (true, "resume", 2500),
        (true, "status", 0),
        (false, "status", 300),
        (true, "quit", 0),
        (false, "quit", 0),
    ] {
        let w = if to_a { &mut a_in } else { &mut b_in };
        writeln!(w, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(ms));
    }
    drop((a_in, b_in));
    let text = |k: &mut Kill| {
        let (mut out, mut err) = (String::new(), String::new());
        k.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        k.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = k.0.wait().unwrap();
        format!("{out}\n--- stderr ({status}):\n{err}")
    };
    let (a_out, b_out) = (text(&mut a), text(&mut b));
    let all = format!(
        "A:\n{a_out}\nB:\n{b_out}\npbx:\n{}",
        std::fs::read_to_string(root.join("pbx.log")).unwrap_or_default()
    );
    assert!(
        a_out.contains("on hold") && a_out.contains("resumed"),
        "{all}"
    );
    assert!(
        b_out.contains("peer put us on hold") && b_out.contains("peer resumed"),
        "{all}"
    );
    let heard = windows(&root.join("b-heard-1.wav"));
    let music_windows = heard
        .iter()
        .filter(|w| w[2] > 0.5 && w[0] < 0.05 && w[1] < 0.05)
        .count();
    eprintln!("held B hears the music in {music_windows} windows of 100 ms (3 s hold)");
    assert!(
        music_windows >= 15,
        "B hears the music for 1.5 s of the 3 s hold ({music_windows} windows)\n{all}"
    );
    // Before the hold and after the resume B hears A (and no music).
    let first = heard.iter().position(|w| w[2] > 0.5).unwrap_or(0);
    let before = heard[..first].iter().filter(|w| w[0] > 0.5).count();
    assert!(before >= 10, "B heard A before the hold ({before})\n{all}");
    let tail = &heard[heard.len().saturating_sub(10)..];
    assert!(
        tail.iter().filter(|w| w[0] > 0.5 && w[2] < 0.05).count() >= 8,
        "B hears A again after the resume: {tail:?}\n{all}"
    );
}
