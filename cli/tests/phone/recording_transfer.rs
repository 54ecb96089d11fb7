//! One recording spans a blind transfer (issue 14): A (2001) calls B
//! (2002, a console phone), who transfers A to C (2003) by REFER. The call
//! keeps its id, so there is one recording of it: A on the left for the
//! whole call; on the right B, then C, in that order.

use std::io::Write;
use std::time::{Duration, Instant};

use super::audio::{tone_share, write_tone};
use super::crm_calls::console;
use super::recording::{
    admin, fetch_channels, phone, recording_server, uploaded_record, CALLEE_HZ, CALLER_HZ,
};
use super::wait_registered;

/// C's tone (B plays `CALLEE_HZ`, A `CALLER_HZ`).
const C_HZ: f64 = 1000.0;

/// Indices of the 100 ms windows of `samples` where `hz` is most of the sound.
fn windows_of(samples: &[i16], rate: f64, hz: f64) -> Vec<usize> {
    let window = (rate / 10.0) as usize;
    samples
        .chunks_exact(window)
        .enumerate()
        .filter(|(_, w)| w.iter().any(|s| s.unsigned_abs() > 256))
        .filter(|(_, w)| tone_share(w, rate, hz) > 0.5)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn one_recording_spans_a_blind_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, _) = recording_server(
        root,
        "mode = \"always\"\n[[users]]\nname = \"2003\"\npassword = \"2003-pw\"\n",
    );
    let tone = |name: &str, hz: f64| {
        let p = root.join(name);
        write_tone(&p, hz, 30.0);
        p
    };
    let (a_tone, b_tone, c_tone) = (
        tone("a.wav", CALLER_HZ),
        tone("b.wav", CALLEE_HZ),
        tone("c.wav", C_HZ),
    );
    let _c = phone(
        root,
        &target,
        "2003",
        &["answer", "--duration", "4s", "--wait", "40s"],
        Some(&c_tone),
        "c.log",
    );
    let (_b, mut b_in) = console(root, &target, "2002", &b_tone);
    wait_registered(&config, "2002@127.0.0.1", root);
    wait_registered(&config, "2003@127.0.0.1", root);
    let mut a = phone(
        root,
        &target,
        "2001",
        &["call", "2002", "--duration", "20s"],
        Some(&a_tone),
        "a.log",
    );
    std::thread::sleep(Duration::from_millis(1500));
    writeln!(b_in, "answer").unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    writeln!(b_in, "transfer 2003").unwrap();
    // C hangs up 4 s after it answers, which ends A's call
    let log = |f: &str| std::fs::read_to_string(root.join(f)).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "A is still in the call:\n{}\n{}\n{}\npbx:\n{}",
            log("a.log"),
            log("2002.log"),
            log("c.log"),
            log("pbx.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // one recording of the call, uploaded
    let deadline = Instant::now() + Duration::from_secs(15);
    let call = loop {
        let text =
            String::from_utf8_lossy(&admin(&config, &["recordings", "list"]).stdout).into_owned();
        let rows: Vec<&str> = text.lines().skip(1).collect();
        if rows.iter().any(|l| l.contains("\tuploaded\t")) {
            assert_eq!(
                rows.len(),
                1,
                "one recording for the transferred call:\n{text}"
            );
            break rows[0].split('\t').next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no uploaded recording:\n{text}\npbx:\n{}",
            log("pbx.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    uploaded_record(&config, &call);
    let out = root.join("got.wav");
    let (rate, left, right) = fetch_channels(&config, &call, &out);
    let a_left = windows_of(&left, rate, CALLER_HZ);
    let (b_right, c_right) = (
        windows_of(&right, rate, CALLEE_HZ),
        windows_of(&right, rate, C_HZ),
    );
    assert!(
        a_left.len() >= 40,
        "A on the left through the call: {} windows",
        a_left.len()
    );
    assert!(
        b_right.len() >= 10 && c_right.len() >= 10,
        "B then C on the right: {} and {} windows",
        b_right.len(),
        c_right.len()
    );
    // B before the transfer, C after it (a window or two may overlap the switch)
    let (b_last, c_first) = (*b_right.last().unwrap(), c_right[0]);
    assert!(
        b_last <= c_first + 2,
        "B's last window {b_last} comes before C's first {c_first}"
    );
    assert!(
        windows_of(&left, rate, C_HZ).is_empty() && windows_of(&left, rate, CALLEE_HZ).is_empty(),
        "the left channel is A's alone"
    );
}
