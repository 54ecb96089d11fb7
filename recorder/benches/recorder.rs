//! Frames per second through the recorder: the producer's `push` alone, and the
//! whole path (push → writer thread → WAV → close, fsync, sha256) for 100
//! concurrent 8 kHz calls × 1 s of audio (10,000 frames) per iteration.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recorder::{CallId, Parties, Recorder, SampleRate, Side, SpoolConfig, StartRequest, Timestamp};

fn request(id: String, now: Instant) -> StartRequest {
    StartRequest {
        call_id: CallId::new(id).unwrap(),
        parties: Parties::default(),
        sample_rate: SampleRate::Hz8000,
        started_at: chrono::Utc::now(),
        now,
    }
}

fn push_only(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: dir.path().into(),
        queue_frames: 1 << 20,
        ..SpoolConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let tap = rec.start(request("bench-push".into(), t0)).unwrap();
    let pcm = [100i16; 160];
    let mut pos = 0u64;
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push_one_frame", |b| {
        b.iter(|| {
            pos += 160;
            tap.push(Side::Caller, Timestamp::Sample(pos), &pcm)
        })
    });
    g.finish();
    drop(tap);
    rec.shutdown();
}

fn writer_path(c: &mut Criterion) {
    const CALLS: usize = 100;
    const FRAMES: u64 = 50; // 1 s per side at 20 ms
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(CALLS as u64 * FRAMES * 2));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let mut round = 0u32;
    g.bench_function("100_calls_1s_frames_only", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let dir = tempfile::tempdir().unwrap();
                let (rec, _) = Recorder::open(SpoolConfig {
                    dir: dir.path().into(),
                    queue_frames: 1 << 16,
                    ..SpoolConfig::default()
                })
                .unwrap();
                let t0 = Instant::now();
                let taps: Vec<_> = (0..CALLS)
                    .map(|i| rec.start(request(format!("f{round}-{i}"), t0)).unwrap())
                    .collect();
                let pcm = [100i16; 160];
                let before = rec.metrics().frames_written;
                let start = Instant::now();
                for f in 0..FRAMES {
                    for tap in &taps {
                        tap.push(Side::Caller, Timestamp::Sample(f * 160), &pcm);
                        tap.push(Side::Agent, Timestamp::Sample(f * 160), &pcm);
                    }
                }
                while rec.metrics().frames_written - before < CALLS as u64 * FRAMES * 2 {
                    std::hint::spin_loop();
                }
                total += start.elapsed();
                assert_eq!(rec.metrics().frames_dropped, 0);
                drop(taps);
                rec.shutdown();
            }
            total
        })
    });
    g.bench_function("100_calls_1s_end_to_end", |b| {
        b.iter(|| {
            round += 1;
            let dir = tempfile::tempdir().unwrap();
            let (rec, _) = Recorder::open(SpoolConfig {
                dir: dir.path().into(),
                queue_frames: 1 << 16,
                ..SpoolConfig::default()
            })
            .unwrap();
            let t0 = Instant::now();
            let taps: Vec<_> = (0..CALLS)
                .map(|i| rec.start(request(format!("b{round}-{i}"), t0)).unwrap())
                .collect();
            let pcm = [100i16; 160];
            for f in 0..FRAMES {
                for tap in &taps {
                    tap.push(Side::Caller, Timestamp::Sample(f * 160), &pcm);
                    tap.push(Side::Agent, Timestamp::Sample(f * 160), &pcm);
                }
            }
            for tap in taps {
                tap.stop(t0).unwrap();
            }
            let m = rec.metrics();
            assert_eq!(m.frames_dropped, 0);
            rec.shutdown();
        })
    });
    g.finish();
}

criterion_group!(benches, push_only, writer_path);
criterion_main!(benches);
