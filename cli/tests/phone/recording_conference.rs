//! A conference room recorded as one mix (SPEC §22): with `recording.mode =
//! "always"`, two `pbx phone`s join room 800 playing their own tones; when
//! the last one hangs up the room session's recording is spooled, uploaded
//! and listed once (`conference` → `800`), and its WAV holds both tones.

use std::time::{Duration, Instant};

use super::audio::{tone_share, write_tone};
use super::recording::{admin, fetch_channels, phone, recording_server, wait_uploaded};
use super::wait_registered;

const A_HZ: f64 = 700.0;
const B_HZ: f64 = 1300.0;

#[test]
fn a_recorded_room_gives_one_mixed_recording_per_session() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, _) = recording_server(
        root,
        "mode = \"always\"\n[[dialplan]]\nextension = \"800\"\ntype = \"conference\"\n",
    );
    let (ta, tb) = (root.join("a.wav"), root.join("b.wav"));
    write_tone(&ta, A_HZ, 10.0);
    write_tone(&tb, B_HZ, 10.0);
    let mut a = phone(
        root,
        &target,
        "2001",
        &["call", "800", "--duration", "5s"],
        Some(&ta),
        "a.log",
    );
    wait_registered(&config, "2001@127.0.0.1", root);
    std::thread::sleep(Duration::from_millis(500));
    let mut b = phone(
        root,
        &target,
        "2002",
        &["call", "800", "--duration", "3s"],
        Some(&tb),
        "b.log",
    );
    let log = |f: &str| std::fs::read_to_string(root.join(f)).unwrap_or_default();
    assert!(b.0.wait().unwrap().success(), "2002:\n{}", log("b.log"));
    assert!(a.0.wait().unwrap().success(), "2001:\n{}", log("a.log"));

    let deadline = Instant::now() + Duration::from_secs(15);
    let line = loop {
        let text =
            String::from_utf8_lossy(&admin(&config, &["recordings", "list"]).stdout).into_owned();
        let rooms: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\tconference\t800\t"))
            .collect();
        assert!(rooms.len() <= 1, "one recording per room session:\n{text}");
        if let Some(l) = rooms.first() {
            break (*l).to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no room recording listed:\n{text}\npbx:\n{}",
            log("pbx.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = line.split('\t').next().unwrap().to_owned();
    assert!(id.starts_with("room-800-"), "{line}");
    wait_uploaded(&config, &id, 15, root);
    let out = root.join("room.wav");
    let (rate, left, _) = fetch_channels(&config, &id, &out);
    let secs = left.len() as f64 / rate;
    assert!((3.0..10.0).contains(&secs), "{secs:.1} s recorded");
    // Both parties are in the mix while both are in the room.
    let second = rate as usize;
    let both = (0..left.len() / second)
        .map(|i| &left[i * second..(i + 1) * second])
        .filter(|w| tone_share(w, rate, A_HZ) > 0.1 && tone_share(w, rate, B_HZ) > 0.1)
        .count();
    assert!(both >= 1, "no second with both tones in {secs:.1} s");
    // The recording's call id is listed once, and the calls themselves
    // have no recordings of their own.
    let all = String::from_utf8_lossy(&admin(&config, &["recordings", "list"]).stdout).into_owned();
    assert_eq!(all.lines().skip(1).count(), 1, "{all}");
}
