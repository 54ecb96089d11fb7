//! Bounded load of recorded relay calls over loopback: N simulated G.711
//! calls (20 ms packets both ways, spread over the 20 ms) through a relay
//! pool for a fixed time, every call recorded through its relay session's
//! tap into one [`Recorder`] (`RelayRecording` adapter, spool on disk).
//! Reports the relay threads' CPU per packet, the recorder threads' CPU,
//! and whether any frame was dropped or lost on the way.
//!
//! `cargo run --release -p recorder --example relay_record_load -- [calls] [seconds] [port_base] [threads] [record|plain] [queue_frames]`
//!
//! `plain` runs the same calls unrecorded: the difference of the CPU per
//! packet is what the tap costs. Endpoints never read what the relay
//! forwards (the kernel drops it), so the generator is the only other load.
//! Keep the port range below the ephemeral range (the endpoints bind
//! ephemeral ports).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::relay::driver::{Command, DriverConfig, RelayEvent, SessionId};
use media::relay::pool::RelayPool;
use media::relay::{LegConfig, RecordStats, RelayConfig, Side as Leg};
use media::rtp::{PayloadType, RtpHeader, Ssrc};
use recorder::{CallId, Parties, Recorder, RelayRecording, SampleRate, SpoolConfig, StartRequest};

/// CPU seconds of this process's threads whose name starts with `prefix`.
fn cpu_seconds(prefix: &str) -> f64 {
    let mut total = 0.0;
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let f: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |x| x.1)
            .split_whitespace()
            .collect();
        let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        total += (tick(11) + tick(12)) / 100.0;
    }
    total
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (calls, secs, base, threads) = (
        arg(1, 1000) as usize,
        arg(2, 10).min(120),
        arg(3, 20000) as u16,
        arg(4, 1) as usize,
    );
    let record = args.get(5).is_none_or(|m| m != "plain");
    let queue_frames = arg(6, SpoolConfig::default().queue_frames as u64) as usize;
    let cfg = DriverConfig {
        port_min: base,
        port_max: base + (calls as u16) * 4 + 16 * threads as u16,
        relay: RelayConfig {
            inactivity_timeout: Duration::from_secs(60),
            ..RelayConfig::default()
        },
        ..DriverConfig::default()
    };
    let relay = RelayPool::spawn(cfg, threads)?;
    let spool = tempfile::tempdir()?;
    let (rec, _) = Recorder::open(SpoolConfig {
        dir: spool.path().into(),
        queue_frames,
        ..SpoolConfig::default()
    })?;
    let mut eps = Vec::with_capacity(calls);
    let mut recordings = Vec::with_capacity(calls);
    for i in 0..calls {
        let (a, b) = (
            UdpSocket::bind("127.0.0.1:0")?,
            UdpSocket::bind("127.0.0.1:0")?,
        );
        let leg = |s: &UdpSocket| -> anyhow::Result<LegConfig> {
            Ok(LegConfig {
                remote_rtp: Some(s.local_addr()?),
                remote_rtcp: None,
                rtcp_mux: true,
            })
        };
        let id = SessionId(i as u64);
        let ports = relay.open_sync(id, leg(&a)?, leg(&b)?, Duration::from_secs(5))?;
        if record {
            let req = StartRequest {
                call_id: CallId::new(format!("load-{i}"))?,
                parties: Parties::default(),
                sample_rate: SampleRate::Hz8000,
                started_at: chrono::Utc::now(),
                now: Instant::now(),
            };
            let r = Arc::new(RelayRecording::new(rec.start(req)?, Leg::A));
            relay.send(Command::Record {
                id,
                sink: r.clone(),
            });
            recordings.push(r);
        }
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        let to = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        eps.push((a, b, to(ports.0.rtp), to(ports.1.rtp)));
    }
    let (relay_cpu0, rec_cpu0) = (cpu_seconds("rtp-relay"), cpu_seconds("rec-"));
    let t0 = Instant::now();
    let stop_at = t0 + Duration::from_secs(secs);
    let (mut sent, mut seq, mut next) = (0u64, 0u16, t0);
    let mut pkt = [0u8; 172];
    const SLOTS: usize = 20;
    let per_slot = calls.div_ceil(SLOTS).max(1);
    while Instant::now() < stop_at {
        for (slot, chunk) in eps.chunks(per_slot).enumerate() {
            if let Some(d) =
                (next + Duration::from_millis(slot as u64)).checked_duration_since(Instant::now())
            {
                std::thread::sleep(d);
            }
            for (j, (a, b, ra, rb)) in chunk.iter().enumerate() {
                let i = (slot * per_slot + j) as u32;
                for (sock, to, ssrc, byte) in [(a, ra, 2 * i, 0x10u8), (b, rb, 2 * i + 1, 0x90)] {
                    let h = RtpHeader {
                        marker: false,
                        payload_type: PayloadType::PCMU,
                        sequence: seq,
                        timestamp: u32::from(seq) * 160,
                        ssrc: Ssrc(ssrc),
                    };
                    let n = h.write(&[byte.wrapping_add(seq as u8 & 7); 160], &mut pkt)?;
                    if sock.send_to(&pkt[..n], to).is_ok() {
                        sent += 1;
                    }
                }
            }
        }
        seq = seq.wrapping_add(1);
        next += Duration::from_millis(20);
    }
    let wall = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    let relay_cpu = cpu_seconds("rtp-relay") - relay_cpu0;
    // stop every tap and sum what they saw
    let mut tap = RecordStats::default();
    let mut stopped = 0;
    if record {
        for i in 0..calls {
            relay.send(Command::StopRecord(SessionId(i as u64)));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while stopped < calls && Instant::now() < deadline {
            if let Ok(RelayEvent::RecordStopped { stats, .. }) =
                relay.events.recv_timeout(Duration::from_secs(1))
            {
                stopped += 1;
                tap.frames += stats.frames;
                tap.dropped += stats.dropped;
                tap.not_decoded += stats.not_decoded;
            }
        }
        let now = Instant::now();
        for r in &recordings {
            r.finish(now)?;
        }
    }
    let closing = Instant::now();
    drop(recordings);
    let rec_cpu_live = cpu_seconds("rec-") - rec_cpu0;
    let metrics_live = rec.metrics();
    rec.shutdown();
    let close_s = closing.elapsed().as_secs_f64();
    let spooled: u64 = std::fs::read_dir(spool.path())?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "mode={} threads={threads} calls={calls} wall={wall:.1}s sent={sent} pps={:.0}",
        if record { "record" } else { "plain" },
        sent as f64 / wall
    );
    println!(
        "relay threads cpu={relay_cpu:.2}s ({:.1}% of one core) => {:.2} us/packet",
        100.0 * relay_cpu / wall,
        1e6 * relay_cpu / sent.max(1) as f64
    );
    if record {
        println!(
            "tap: sessions stopped={stopped}/{calls} frames={} dropped={} not_decoded={} lost_before_tap={}",
            tap.frames,
            tap.dropped,
            tap.not_decoded,
            sent.saturating_sub(tap.frames + tap.dropped)
        );
        println!(
            "recorder: queued={} dropped={} late={} written(so far)={} writer+closer cpu={rec_cpu_live:.2}s ({:.1}% of one core) close+fsync+sha256 of all={close_s:.1}s spool={} MB",
            metrics_live.frames_queued,
            metrics_live.frames_dropped,
            metrics_live.frames_late,
            metrics_live.frames_written,
            100.0 * rec_cpu_live / wall,
            spooled / 1_000_000
        );
    }
    Ok(())
}
