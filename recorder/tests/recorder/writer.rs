//! The writer and the spool on a real file system.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use recorder::{
    wav, CallId, Error, Metadata, Push, Recorder, RecordingState, SampleRate, Side, SpoolConfig,
    Timestamp,
};

use crate::common::*;

const FRAME_MS: u64 = 20;

fn push_tone(
    tap: &recorder::RecordingTap,
    side: Side,
    hz: f64,
    rate: u32,
    from_ms: u64,
    to_ms: u64,
    t0: Option<Instant>,
) {
    let n = (rate as u64 * FRAME_MS / 1000) as usize;
    let mut ms = from_ms;
    while ms < to_ms {
        let pos = ms * u64::from(rate) / 1000;
        let at = match t0 {
            Some(t0) => Timestamp::Instant(t0 + Duration::from_millis(ms)),
            None => Timestamp::Sample(pos),
        };
        assert_eq!(
            tap.push(side, at, &tone(hz, rate, pos, n, 8000.0)),
            Push::Queued
        );
        ms += FRAME_MS;
    }
}

fn ms_range(x: &[i16], rate: u32, from_ms: u64, to_ms: u64) -> &[i16] {
    let a = (from_ms * u64::from(rate) / 1000) as usize;
    let b = ((to_ms * u64::from(rate) / 1000) as usize).min(x.len());
    &x[a..b]
}

#[test]
fn stereo_tones_land_on_their_channels_at_8_and_16_khz() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, report) = Recorder::open(spool_cfg(dir.path())).unwrap();
    assert!(report.recovered.is_empty());
    for (id, rate) in [("st8", SampleRate::Hz8000), ("st16", SampleRate::Hz16000)] {
        let t0 = Instant::now();
        let tap = rec.start(start_req(id, rate, t0)).unwrap();
        let hz = rate.hz();
        // Interleave the sides frame by frame, as two legs would.
        for ms in (0..1000).step_by(FRAME_MS as usize) {
            push_tone(&tap, Side::Caller, 440.0, hz, ms, ms + FRAME_MS, None);
            push_tone(&tap, Side::Agent, 1000.0, hz, ms, ms + FRAME_MS, None);
        }
        tap.stop(t0 + Duration::from_secs(1)).unwrap();
        let meta = wait_closed(dir.path(), id);
        assert_eq!(meta.state, RecordingState::Spooled);
        assert_eq!(meta.duration_ms, 1000);
        assert_eq!(
            (meta.parties.agent.as_deref(), meta.parties.queue.as_deref()),
            (Some("alice"), Some("sales"))
        );
        let path = dir.path().join(format!("{id}.wav"));
        let (sha, size) = wav::sha256_file(&path).unwrap();
        assert_eq!(
            (meta.sha256.as_deref(), meta.size),
            (Some(sha.as_str()), Some(size))
        );
        let (r, left, right) = read_stereo(&path);
        assert_eq!((r, left.len()), (hz, hz as usize));
        let (l440, l1k) = (goertzel(&left, 440.0, hz), goertzel(&left, 1000.0, hz));
        let (r440, r1k) = (goertzel(&right, 440.0, hz), goertzel(&right, 1000.0, hz));
        assert!(
            l440 > 100.0 * l1k,
            "left carries the caller's 440 Hz: {l440} vs {l1k}"
        );
        assert!(
            r1k > 100.0 * r440,
            "right carries the agent's 1 kHz: {r1k} vs {r440}"
        );
    }
    assert_eq!(rec.metrics().spooled, 2);
    assert_eq!(rec.metrics().frames_dropped, 0);
}

#[test]
fn gaps_become_silence_and_jitter_is_absorbed() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let t0 = Instant::now();
    let tap = rec.start(start_req("gap", SampleRate::Hz8000, t0)).unwrap();
    let rate = 8000u32;
    for i in 0..50u64 {
        let ms = i * FRAME_MS;
        // Caller arrives with ±25 ms of jitter (within the 60 ms tolerance):
        // the left channel must stay one continuous tone.
        let jitter = [0i64, 25, -15, 10, -25][(i % 5) as usize];
        let at = t0 + Duration::from_millis((ms as i64 + 40 + jitter) as u64)
            - Duration::from_millis(40);
        let pos = ms * 8;
        tap.push(
            Side::Caller,
            Timestamp::Instant(at),
            &tone(440.0, rate, pos, 160, 8000.0),
        );
        // Agent: 0..300 ms, nothing 300..700 ms (loss / hold), then 700..1000 ms.
        if !(300..700).contains(&ms) {
            tap.push(
                Side::Agent,
                Timestamp::Instant(t0 + Duration::from_millis(ms)),
                &tone(1000.0, rate, pos, 160, 8000.0),
            );
        }
    }
    tap.stop(t0 + Duration::from_secs(1)).unwrap();
    let meta = wait_closed(dir.path(), "gap");
    assert_eq!(meta.late_frames, 0);
    let (_, left, right) = read_stereo(&dir.path().join("gap.wav"));
    assert_eq!(left.len(), 8000);
    let longest_zero_run = left
        .iter()
        .fold((0usize, 0usize), |(run, best), &s| {
            if s == 0 {
                (run + 1, best.max(run + 1))
            } else {
                (0, best)
            }
        })
        .1;
    assert!(
        longest_zero_run < 4,
        "left has a hole of {longest_zero_run} samples"
    );
    assert!(
        ms_range(&right, rate, 305, 695).iter().all(|&s| s == 0),
        "the agent's gap is silence"
    );
    let first_after = right[2400..].iter().position(|&s| s != 0).unwrap() + 2400;
    assert!(
        (5600..5610).contains(&first_after),
        "agent audio resumes at 700 ms, got sample {first_after}"
    );
    assert!(goertzel(ms_range(&right, rate, 720, 980), 1000.0, rate) > 1e5);
}

#[test]
fn pause_writes_silence_and_lists_the_span() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let t0 = Instant::now();
    let tap = rec
        .start(start_req("pause", SampleRate::Hz8000, t0))
        .unwrap();
    let at = |ms| t0 + Duration::from_millis(ms);
    push_tone(&tap, Side::Caller, 440.0, 8000, 0, 500, Some(t0));
    push_tone(&tap, Side::Agent, 1000.0, 8000, 0, 500, Some(t0));
    tap.pause(at(500)).unwrap();
    push_tone(&tap, Side::Caller, 440.0, 8000, 500, 1200, Some(t0));
    push_tone(&tap, Side::Agent, 1000.0, 8000, 500, 1200, Some(t0));
    tap.resume(at(1200)).unwrap();
    push_tone(&tap, Side::Caller, 440.0, 8000, 1200, 2000, Some(t0));
    push_tone(&tap, Side::Agent, 1000.0, 8000, 1200, 2000, Some(t0));
    tap.stop(at(2000)).unwrap();
    let meta = wait_closed(dir.path(), "pause");
    assert_eq!(
        meta.paused,
        vec![recorder::PausedSpan {
            start_ms: 500,
            end_ms: 1200
        }]
    );
    assert_eq!(meta.duration_ms, 2000);
    let (_, l, r) = read_stereo(&dir.path().join("pause.wav"));
    assert!(ms_range(&l, 8000, 501, 1199)
        .iter()
        .chain(ms_range(&r, 8000, 501, 1199))
        .all(|&s| s == 0));
    assert!(goertzel(ms_range(&l, 8000, 1250, 1950), 440.0, 8000) > 1e5);
    assert!(goertzel(ms_range(&r, 8000, 100, 450), 1000.0, 8000) > 1e5);
}

#[test]
fn one_recording_per_call_id_and_dropped_tap_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
    let t0 = Instant::now();
    let tap = rec.start(start_req("dup", SampleRate::Hz8000, t0)).unwrap();
    assert!(matches!(
        rec.start(start_req("dup", SampleRate::Hz8000, t0)),
        Err(Error::AlreadyRecording(_))
    ));
    push_tone(&tap, Side::Caller, 440.0, 8000, 0, 200, None);
    drop(tap);
    let meta = wait_closed(dir.path(), "dup");
    assert_eq!(
        (meta.state, meta.duration_ms),
        (RecordingState::Spooled, 200)
    );
    assert!(
        matches!(
            rec.start(start_req("dup", SampleRate::Hz8000, t0)),
            Err(Error::AlreadyRecording(_))
        ),
        "spooled: still one per call"
    );
    assert_eq!(rec.metrics().refused, 2);
    // A second recorder on the same spool is refused by the lock.
    assert!(matches!(
        Recorder::open(spool_cfg(dir.path())),
        Err(Error::SpoolLocked(_))
    ));
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        queue_frames: 16,
        ..spool_cfg(dir.path())
    };
    let (rec, _) = Recorder::open(cfg).unwrap();
    let tap = rec
        .start(start_req("flood", SampleRate::Hz8000, Instant::now()))
        .unwrap();
    let pcm = [1000i16; 160];
    const N: u64 = 30_000;
    let mut dropped_seen = 0u64;
    for i in 0..N {
        match tap.push(Side::Caller, Timestamp::Sample(i * 160), &pcm) {
            Push::Queued => {}
            Push::Dropped(n) => dropped_seen += u64::from(n),
            Push::Closed => panic!("writer gone"),
        }
    }
    let (queued, dropped) = (tap.counters().queued(), tap.counters().dropped());
    assert_eq!(queued + dropped, N);
    assert_eq!(dropped, dropped_seen);
    tap.stop(Instant::now()).unwrap();
    let meta = wait_closed(dir.path(), "flood");
    assert_eq!(meta.dropped_frames, dropped);
    assert_eq!(rec.metrics().frames_dropped, dropped);
    let (_, left, _) = read_stereo(&dir.path().join("flood.wav"));
    let written = left.iter().filter(|&&s| s == 1000).count() as u64;
    assert_eq!(
        written,
        queued * 160,
        "every queued frame is written, every dropped one is silence"
    );
    eprintln!("flood: {queued} queued, {dropped} dropped of {N}");
}

/// Mounts a tmpfs of `size` at `dir` (root only); `None` (skipped/failed) otherwise.
fn tmpfs(dir: &Path, size: &str) -> Option<()> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip_or_fail("cannot mount a tmpfs (needs root) for the disk-full test");
        return None;
    }
    Some(())
}

#[test]
fn disk_full_refuses_new_recordings_and_keeps_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    if tmpfs(dir.path(), "1m").is_none() {
        return;
    }
    struct Umount<'a>(&'a Path);
    impl Drop for Umount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _umount = Umount(dir.path());
    let cfg = SpoolConfig {
        min_free_bytes: 64 * 1024,
        ..spool_cfg(dir.path())
    };
    let (rec, _) = Recorder::open(cfg).unwrap();
    let t0 = Instant::now();
    let done = rec
        .start(start_req("done", SampleRate::Hz8000, t0))
        .unwrap();
    push_tone(&done, Side::Caller, 440.0, 8000, 0, 2000, None);
    done.stop(t0).unwrap();
    let finished = wait_closed(dir.path(), "done");
    // 16 kHz stereo is 64 KB/s: 30 s cannot fit in what is left of 1 MiB.
    let big = rec
        .start(start_req("big", SampleRate::Hz16000, t0))
        .unwrap();
    for ms in (0..30_000).step_by(20) {
        let pos = ms * 16;
        big.push(
            Side::Caller,
            Timestamp::Sample(pos),
            &tone(440.0, 16000, pos, 320, 8000.0),
        );
        big.push(
            Side::Agent,
            Timestamp::Sample(pos),
            &tone(1000.0, 16000, pos, 320, 8000.0),
        );
        if ms % 1000 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    wait_for(Duration::from_secs(20), || {
        (rec.metrics().write_errors > 0).then_some(())
    });
    let err = rec
        .start(start_req("refused", SampleRate::Hz8000, t0))
        .unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert!(err.to_string().contains("refuses new recordings"), "{err}");
    assert!(rec.metrics().refused >= 1);
    drop(big);
    // The finished recording is untouched.
    let (sha, _) = wav::sha256_file(&dir.path().join("done.wav")).unwrap();
    assert_eq!(finished.sha256.as_deref(), Some(sha.as_str()));
    // The partial one is a playable file with what fit.
    wait_for(Duration::from_secs(10), || {
        (rec.metrics().active == 0).then_some(())
    });
    let r = wav::repair(&dir.path().join("big.wav")).unwrap();
    assert!(r.data_bytes > 0);
    hound::WavReader::open(dir.path().join("big.wav")).unwrap();
    // Space freed: recordings are accepted again.
    std::fs::remove_file(dir.path().join("big.wav")).unwrap();
    let again = rec
        .start(start_req("again", SampleRate::Hz8000, t0))
        .unwrap();
    again.stop(t0).unwrap();
    rec.shutdown();
}

#[test]
fn recovery_fixes_truncated_wavs_and_adopts_orphans() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (rec, _) = Recorder::open(spool_cfg(dir.path())).unwrap();
        let tap = rec
            .start(start_req("trunc", SampleRate::Hz16000, Instant::now()))
            .unwrap();
        push_tone(&tap, Side::Caller, 440.0, 16000, 0, 1000, None);
        push_tone(&tap, Side::Agent, 440.0, 16000, 0, 1000, None);
        tap.stop(Instant::now()).unwrap();
        rec.shutdown();
    }
    // Fake the crash state: sidecar back to `recording`, header sizes zeroed,
    // half a sample frame at the end.
    let side = dir.path().join("trunc.json");
    let mut m = Metadata::load(&side).unwrap();
    m.state = RecordingState::Recording;
    m.sha256 = None;
    m.store(&side).unwrap();
    let wavp = dir.path().join("trunc.wav");
    let mut b = std::fs::read(&wavp).unwrap();
    b[4..8].fill(0);
    b[40..44].fill(0);
    b.truncate(b.len() - 4 * 4000 + 3);
    std::fs::write(&wavp, &b).unwrap();
    // An orphan WAV without sidecar, and a sidecar without WAV.
    std::fs::copy(&wavp, dir.path().join("orphan.wav")).unwrap();
    let mut e = m.clone();
    e.call_id = CallId::new("empty").unwrap();
    e.store(&dir.path().join("empty.json")).unwrap();

    let (_rec, report) = Recorder::open(spool_cfg(dir.path())).unwrap();
    assert_eq!(report.recovered.len(), 2, "{report:?}");
    assert_eq!(report.removed_empty, vec![CallId::new("empty").unwrap()]);
    for id in ["trunc", "orphan"] {
        let m = Metadata::load(&dir.path().join(format!("{id}.json"))).unwrap();
        assert_eq!(
            (m.state, m.recovered, m.duration_ms),
            (RecordingState::Spooled, true, 750),
            "{id}"
        );
        let (sha, _) = wav::sha256_file(&dir.path().join(format!("{id}.wav"))).unwrap();
        assert_eq!(m.sha256.as_deref(), Some(sha.as_str()));
        let r = hound::WavReader::open(dir.path().join(format!("{id}.wav"))).unwrap();
        assert_eq!(r.duration(), 12000);
    }
}

/// The child of [`kill_9_mid_recording_leaves_a_recoverable_file`]: records
/// until killed (bounded to 60 s).
#[test]
#[ignore = "run by kill_9_mid_recording_leaves_a_recoverable_file as a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("PBX_REC_CRASH_DIR") else {
        return;
    };
    let (rec, _) = Recorder::open(spool_cfg(Path::new(&dir))).unwrap();
    let t0 = Instant::now();
    let tap = rec
        .start(start_req("crash", SampleRate::Hz8000, t0))
        .unwrap();
    let mut ms = 0u64;
    while t0.elapsed() < Duration::from_secs(60) {
        let pos = ms * 8;
        tap.push(
            Side::Caller,
            Timestamp::Sample(pos),
            &tone(440.0, 8000, pos, 160, 8000.0),
        );
        tap.push(
            Side::Agent,
            Timestamp::Sample(pos),
            &tone(1000.0, 8000, pos, 160, 8000.0),
        );
        ms += 20;
        if ms == 3000 {
            std::fs::write(Path::new(&dir).join("ready"), b"").unwrap();
        }
        // Faster than real time, slow enough not to flood the queue.
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn kill_9_mid_recording_leaves_a_recoverable_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer::crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PBX_REC_CRASH_DIR", dir.path())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(60), || {
        dir.path().join("ready").exists().then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = Metadata::load(&dir.path().join("crash.json")).unwrap();
    assert_eq!(before.state, RecordingState::Recording);

    let (_rec, report) = Recorder::open(spool_cfg(dir.path())).unwrap();
    assert_eq!(report.recovered, vec![CallId::new("crash").unwrap()]);
    let m = Metadata::load(&dir.path().join("crash.json")).unwrap();
    assert_eq!((m.state, m.recovered), (RecordingState::Spooled, true));
    assert!(
        m.duration_ms >= 2000,
        "at least the checkpointed audio: {} ms",
        m.duration_ms
    );
    let (rate, l, r) = read_stereo(&dir.path().join("crash.wav"));
    assert_eq!(l.len() as u64 * 1000 / u64::from(rate), m.duration_ms);
    let n = l.len().min(16000);
    assert!(goertzel(&l[..n], 440.0, rate) > 100.0 * goertzel(&l[..n], 1000.0, rate));
    assert!(goertzel(&r[..n], 1000.0, rate) > 100.0 * goertzel(&r[..n], 440.0, rate));
    let (sha, _) = wav::sha256_file(&dir.path().join("crash.wav")).unwrap();
    assert_eq!(m.sha256.as_deref(), Some(sha.as_str()));
}
