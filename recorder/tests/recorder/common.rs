//! Shared helpers: tones, spectrum checks, waiting.

use std::path::Path;
use std::time::{Duration, Instant};

use recorder::{CallId, Metadata, Parties, SampleRate, SpoolConfig, StartRequest};

/// `n` samples of a sine at `hz`, starting at sample `from`.
pub(crate) fn tone(hz: f64, rate: u32, from: u64, n: usize, amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = (from + i as u64) as f64 / f64::from(rate);
            (amp * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}

/// Power of `hz` in `x` (Goertzel), normalized by length.
pub(crate) fn goertzel(x: &[i16], hz: f64, rate: u32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f64).powi(2)
}

/// Both channels of a stereo 16-bit WAV.
pub(crate) fn read_stereo(path: &Path) -> (u32, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).expect("readable wav");
    let spec = r.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (2, 16));
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let l = s.iter().step_by(2).copied().collect();
    let rr = s.iter().skip(1).step_by(2).copied().collect();
    (spec.sample_rate, l, rr)
}

pub(crate) fn spool_cfg(dir: &Path) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_path_buf(),
        ..SpoolConfig::default()
    }
}

pub(crate) fn start_req(id: &str, rate: SampleRate, now: Instant) -> StartRequest {
    StartRequest {
        call_id: CallId::new(id).expect("valid id"),
        parties: Parties {
            caller: Some("+4930111".into()),
            callee: Some("200".into()),
            queue: Some("sales".into()),
            agent: Some("alice".into()),
            policy: None,
        },
        sample_rate: rate,
        started_at: chrono::DateTime::parse_from_rfc3339("2025-05-06T07:08:09Z")
            .expect("date")
            .with_timezone(&chrono::Utc),
        now,
    }
}

/// Polls `f` every 20 ms until it returns Some, at most `limit`.
pub(crate) fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "condition not met within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sidecar of `id` once its state is no longer `recording`.
pub(crate) fn wait_closed(dir: &Path, id: &str) -> Metadata {
    wait_for(Duration::from_secs(20), || {
        let m = Metadata::load(&dir.join(format!("{id}.json"))).ok()?;
        (m.state != recorder::RecordingState::Recording).then_some(m)
    })
}

/// True when env `PBX_E2E_REQUIRE_SIPP=1` (CI): missing external tools fail
/// instead of skipping.
pub(crate) fn required() -> bool {
    std::env::var("PBX_E2E_REQUIRE_SIPP").is_ok_and(|v| v == "1")
}

/// Skips (prints why) or, when [`required`], panics.
pub(crate) fn skip_or_fail(why: &str) {
    assert!(!required(), "PBX_E2E_REQUIRE_SIPP=1 but {why}");
    eprintln!("SKIPPED: {why}");
}
