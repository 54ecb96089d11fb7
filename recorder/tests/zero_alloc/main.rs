//! Proves the producer side of a recording allocates nothing per frame: a
//! counting global allocator (counting only on the thread under test) wraps the
//! system allocator while a tap pushes N frames of both sides, including frames
//! dropped on a full queue and buffers split into several frames, and while a
//! media relay session with the [`RelayRecording`] adapter as its recording
//! tap handles N packets of each leg.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use recorder::{
    CallId, Parties, Push, Recorder, RelayRecording, SampleRate, Side, SpoolConfig, StartRequest,
    Timestamp,
};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCS.store(0, Ordering::SeqCst);
    ON.with(|c| c.set(true));
    let r = f();
    ON.with(|c| c.set(false));
    (ALLOCS.load(Ordering::SeqCst), r)
}

const N: u64 = 20_000;

#[test]
fn counter_sees_allocations() {
    let (n, v) = count(|| vec![1u8; 10]);
    assert!(n >= 1 && v.len() == 10);
}

fn request(id: &str, rate: SampleRate, now: Instant) -> StartRequest {
    StartRequest {
        call_id: CallId::new(id).unwrap(),
        parties: Parties::default(),
        sample_rate: rate,
        started_at: chrono::Utc::now(),
        now,
    }
}

#[test]
fn tap_push_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: dir.path().into(),
        ..SpoolConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let tap = rec.start(request("za", SampleRate::Hz8000, t0)).unwrap();
    let pcm: Vec<i16> = (0..160).map(|i| (i * 50) as i16).collect();
    // Warm-up.
    for i in 0..100u64 {
        tap.push(Side::Caller, Timestamp::Sample(i * 160), &pcm);
    }
    let (allocs, queued) = count(|| {
        let mut queued = 0u64;
        for i in 100..N {
            for side in [Side::Caller, Side::Agent] {
                if tap.push(
                    side,
                    Timestamp::Instant(t0 + Duration::from_millis(i * 20)),
                    &pcm,
                ) == Push::Queued
                {
                    queued += 1;
                }
            }
            if i % 200 == 0 {
                // Let the writer drain now and then, so most frames are queued.
                std::thread::yield_now();
            }
        }
        queued
    });
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} pushes",
        2 * (N - 100)
    );
    assert!(queued > 0);
    tap.stop(Instant::now()).unwrap();
    rec.shutdown();
}

#[test]
fn full_queue_and_split_buffers_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: dir.path().into(),
        queue_frames: 16,
        ..SpoolConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let tap = rec.start(request("zb", SampleRate::Hz16000, t0)).unwrap();
    // 60 ms at 16 kHz: three frames per push.
    let pcm = [7i16; 960];
    tap.push(Side::Agent, Timestamp::Sample(0), &pcm);
    let (allocs, dropped) = count(|| {
        let mut dropped = 0u32;
        for i in 1..N {
            if let Push::Dropped(n) = tap.push(Side::Agent, Timestamp::Sample(i * 960), &pcm) {
                dropped += n;
            }
        }
        dropped
    });
    assert_eq!(allocs, 0);
    assert_eq!(u64::from(dropped), tap.counters().dropped());
    assert_eq!(tap.counters().queued() + tap.counters().dropped(), 3 * N);
    drop(tap);
    rec.shutdown();
}

#[test]
fn relay_session_with_recording_tap_allocates_nothing() {
    use media::relay::{Channel, Forward, LegConfig, RelayConfig, RelaySession, Side as Leg};
    use media::rtp::{PayloadType, RtpHeader, Ssrc};
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: dir.path().into(),
        ..SpoolConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let tap = rec.start(request("zr", SampleRate::Hz8000, t0)).unwrap();
    let recording = std::sync::Arc::new(RelayRecording::new(tap, Leg::A));
    let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = (
        "127.0.0.1:4000".parse().unwrap(),
        "127.0.0.1:5000".parse().unwrap(),
    );
    let leg = |addr| LegConfig {
        remote_rtp: Some(addr),
        remote_rtcp: None,
        rtcp_mux: true,
    };
    let mut s = RelaySession::new(RelayConfig::default(), t0, leg(a), leg(b));
    s.set_record_sink(t0, recording.clone());
    let mut buf = [0u8; 2048];
    let mut step = |i: u64| {
        for (side, from, pt) in [
            (Leg::A, a, PayloadType::PCMU),
            (Leg::B, b, PayloadType::PCMA),
        ] {
            let h = RtpHeader {
                marker: false,
                payload_type: pt,
                sequence: i as u16,
                timestamp: (i as u32).wrapping_mul(160),
                ssrc: Ssrc(side as u32 + 1),
            };
            let n = h.write(&[0x55; 160], &mut buf).unwrap();
            let now = t0 + Duration::from_millis(20 * i);
            assert!(matches!(
                s.handle_datagram(now, side, Channel::Rtp, from, &mut buf, n),
                Forward::Send { .. }
            ));
        }
        if i.is_multiple_of(200) {
            std::thread::yield_now();
        }
    };
    for i in 0..100 {
        step(i);
    }
    let (allocs, ()) = count(|| (100..N).for_each(&mut step));
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} tapped packets",
        2 * (N - 100)
    );
    let stats = s.record_stats().unwrap();
    assert_eq!(stats.frames + stats.dropped, 2 * N);
    assert_eq!(stats.dropped, recording.tap().counters().dropped());
    assert!(stats.frames > 0);
    drop(s);
    recording.finish(Instant::now()).unwrap();
    rec.shutdown();
}
