//! Recording to S3 through `pbx serve` (SeaweedFS on loopback): a recorded
//! call's WAV arrives in the bucket under `{prefix}/{yyyy}/{mm}/{dd}/{call}.wav`
//! with the JSON metadata beside it, whose sha256 and size match the object
//! (read back over SeaweedFS's filer, not pbx's S3 client) and what
//! `pbx recordings get` serves. Then the store is killed during a call: the
//! recording waits in the spool, retried with backoff, and arrives with a
//! matching sha256 once the store is back.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::audio::write_tone;
use super::recording::{admin, phone, recording_server, uploaded_record, wait_uploaded};
use super::recording::{CALLEE_HZ, CALLER_HZ};
use super::recording_policy::one_call;
use super::wait_registered;
use super::weed::{self, Weed};

/// The object of `call` in the bucket: the key's layout, the WAV, its
/// metadata's sha256 and size, and the same bytes from `pbx recordings get`.
fn check_object(weed: &Weed, config: &Path, root: &Path, call: &str) {
    let record = uploaded_record(config, call);
    let key = record["recording_key"].clone();
    let day = Command::new("date")
        .args(["-u", "+%Y/%m/%d"])
        .output()
        .unwrap();
    let day = String::from_utf8_lossy(&day.stdout).trim().to_owned();
    assert_eq!(key, format!("acme/pbx1/{day}/{call}.wav"), "{record:?}");
    let wav = weed
        .object(&key)
        .unwrap_or_else(|| panic!("{key} is not in the bucket; weed:\n{}", weed.log()));
    assert_eq!(&wav[..4], b"RIFF");
    let sha = hex::encode(Sha256::digest(&wav));
    let json = weed
        .object(&key.replace(".wav", ".json"))
        .expect("the metadata object beside the WAV");
    let meta: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(meta["sha256"].as_str(), Some(sha.as_str()), "{meta}");
    assert_eq!(meta["size"].as_u64(), Some(wav.len() as u64), "{meta}");
    assert_eq!(meta["call_id"].as_str(), Some(call), "{meta}");
    let out = root.join(format!("{call}.wav"));
    let got = admin(
        config,
        &["recordings", "get", call, "-o", out.to_str().unwrap()],
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), wav);
}

#[test]
fn recordings_reach_s3_and_survive_the_store_going_down() {
    let Some(bin) = weed::binary() else { return };
    let mut weed = Weed::start(&bin);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_server, target, config, _) = recording_server(
        root,
        &format!(
            "mode = \"always\"\nprefix = \"acme/pbx1\"\n{}",
            weed.s3_section()
        ),
    );
    let first = one_call(root, &target, &config, "2002", None);
    wait_uploaded(&config, &first, 30, root);
    check_object(&weed, &config, root, &first);

    // The store goes down during the next call and stays down after it.
    let (caller_tone, callee_tone) = (root.join("caller.wav"), root.join("callee.wav"));
    write_tone(&caller_tone, CALLER_HZ, 10.0);
    write_tone(&callee_tone, CALLEE_HZ, 10.0);
    let _bob = phone(
        root,
        &target,
        "2002",
        &["answer", "--duration", "8s", "--wait", "20s"],
        Some(&callee_tone),
        "bob-down.log",
    );
    wait_registered(&config, "2002@127.0.0.1", root);
    let mut alice = phone(
        root,
        &target,
        "2001",
        &["call", "2002", "--duration", "3s"],
        Some(&caller_tone),
        "alice-down.log",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let text = String::from_utf8_lossy(&admin(&config, &["calls"]).stdout).into_owned();
        if let Some(l) = text.lines().find(|l| l.contains("\tanswered\t")) {
            break l.split('\t').next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no answered call: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    weed.kill();
    assert!(alice.0.wait().unwrap().success(), "the call failed");
    std::thread::sleep(Duration::from_secs(4));
    let listed =
        String::from_utf8_lossy(&admin(&config, &["recordings", "list", "--call", &second]).stdout)
            .into_owned();
    assert!(
        listed.contains(&second) && !listed.contains("\tuploaded\t"),
        "spooled while the store is down:\n{listed}"
    );
    weed.restart();
    wait_uploaded(&config, &second, 60, root);
    check_object(&weed, &config, root, &second);
    // The first recording is still there after the restart.
    check_object(&weed, &config, root, &first);
}
