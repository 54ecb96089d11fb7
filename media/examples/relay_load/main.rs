//! Bounded relay load generator over loopback: N simulated G.711 calls
//! (20 ms packets both ways) through the relay driver thread for a fixed
//! time. Reports loss, p50/p99 added delay (send → receive through the
//! relay) and the relay thread's CPU use, from which "calls per core"
//! follows.
//!
//! `cargo run --release -p media --example relay_load -- [calls] [seconds] [port_base] [threads] [relay|bare|uring]`
//!
//! `bare` replaces the relay by the floor of any socket relay: a thread
//! that only moves each datagram from one connected socket to its
//! partner (level-triggered epoll, `recv` + `send`, no latching, stats or
//! continuity). Same generator, same accounting: the ratio relay / bare is
//! what the relay's own work costs on top of the kernel's. `uring` is the
//! same floor on io_uring (one `io_uring_enter` per batch instead of a
//! `recv` and a `send` syscall per datagram).
//!
//! Keep the relay port range below the ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`): the simulated endpoints bind
//! ephemeral ports, which would otherwise collide with relay ports.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::relay::driver::{DriverConfig, SessionId};
use media::relay::pool::RelayPool;
use media::relay::{LegConfig, RelayConfig};
use media::rtp::{PayloadType, RtpHeader, Ssrc};
use mio::{Events, Interest, Poll, Token};

mod bare;

fn relay_cpu_seconds() -> f64 {
    let mut total = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() != "rtp-relay" {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
            let f: Vec<&str> = after.split_whitespace().collect();
            // fields after ')' start at state (3rd); utime is 14th, stime 15th
            let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            total += (ut + st) / 100.0;
        }
    }
    total
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(500);
    let secs: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10);
    let base: u16 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(20000);
    let threads: usize = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(1);
    let cfg = DriverConfig {
        port_min: base,
        port_max: base + (calls as u16) * 4 + 16,
        relay: RelayConfig {
            inactivity_timeout: Duration::from_secs(60),
            ..RelayConfig::default()
        },
        ..DriverConfig::default()
    };
    let mode = args.get(5).map_or("relay", String::as_str);
    let bare = matches!(mode, "bare" | "uring");
    let relay = (!bare).then(|| RelayPool::spawn(cfg, threads).expect("relay"));
    let mut eps: Vec<(UdpSocket, UdpSocket, SocketAddr, SocketAddr)> = Vec::with_capacity(calls);
    let mut bare_pairs = Vec::new();
    for i in 0..calls {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let leg = |s: &UdpSocket| LegConfig {
            remote_rtp: Some(s.local_addr().unwrap()),
            remote_rtcp: None,
            rtcp_mux: true,
        };
        let (ra, rb) = match &relay {
            Some(relay) => {
                let ports = relay
                    .open_sync(
                        SessionId(i as u64),
                        leg(&a),
                        leg(&b),
                        Duration::from_secs(5),
                    )
                    .unwrap_or_else(|e| panic!("open failed at call {i}: {e}"));
                (
                    SocketAddr::from(([127, 0, 0, 1], ports.0.rtp)),
                    SocketAddr::from(([127, 0, 0, 1], ports.1.rtp)),
                )
            }
            None => {
                let port = |k: usize| base + (i * 2 + k) as u16;
                let ra = UdpSocket::bind(("127.0.0.1", port(0))).expect("bare relay port");
                let rb = UdpSocket::bind(("127.0.0.1", port(1))).expect("bare relay port");
                ra.connect(a.local_addr().unwrap()).unwrap();
                rb.connect(b.local_addr().unwrap()).unwrap();
                let addrs = (ra.local_addr().unwrap(), rb.local_addr().unwrap());
                bare_pairs.push((ra, rb));
                addrs
            }
        };
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        eps.push((a, b, ra, rb));
    }
    let bare_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bare_thread = bare.then(|| {
        let stop = std::sync::Arc::clone(&bare_stop);
        std::thread::Builder::new()
            .name("rtp-relay".into())
            .spawn({
                let uring = mode == "uring";
                move || bare::forward(bare_pairs, &stop, uring)
            })
            .unwrap()
    });
    // receiver thread: polls every endpoint socket, records delays
    let recv_socks: Vec<mio::net::UdpSocket> = eps
        .iter()
        .flat_map(|(a, b, _, _)| [a.try_clone().unwrap(), b.try_clone().unwrap()])
        .map(mio::net::UdpSocket::from_std)
        .collect();
    let t0 = Instant::now();
    let stop_at = t0 + Duration::from_secs(secs);
    let receiver = std::thread::spawn(move || {
        let mut socks = recv_socks;
        let mut poll = Poll::new().unwrap();
        for (i, s) in socks.iter_mut().enumerate() {
            poll.registry()
                .register(s, Token(i), Interest::READABLE)
                .unwrap();
        }
        let mut events = Events::with_capacity(4096);
        let mut hist = vec![0u64; 1_000_000]; // 10 µs buckets up to 10 s
        let mut received = 0u64;
        let mut buf = [0u8; 2048];
        let deadline = stop_at + Duration::from_millis(500);
        let spin = std::env::var_os("RELAY_LOAD_SPIN").is_some();
        let wait = if spin {
            Duration::ZERO
        } else {
            Duration::from_millis(50)
        };
        while Instant::now() < deadline {
            poll.poll(&mut events, Some(wait)).unwrap();
            for ev in events.iter() {
                let s = &socks[ev.token().0];
                while let Ok((n, _)) = s.recv_from(&mut buf) {
                    let now = t0.elapsed().as_nanos() as u64;
                    if n >= 20 {
                        let sent = u64::from_be_bytes(buf[12..20].try_into().unwrap());
                        let us = (now.saturating_sub(sent) / 10_000) as usize;
                        let last = hist.len() - 1;
                        hist[us.min(last)] += 1;
                        received += 1;
                    }
                }
            }
        }
        (received, hist)
    });
    // generator: 20 ms ticks on absolute deadlines, both directions
    let mut sent = 0u64;
    let mut pkt = [0u8; 172];
    let mut payload = [0xffu8; 160];
    let mut seq = 0u16;
    let mut next = Instant::now();
    let cpu0 = relay_cpu_seconds();
    let gen_start = Instant::now();
    // Calls are spread evenly over the 20 ms (as real calls are not in
    // phase): 20 slots of 1 ms, each sending its share of the calls.
    const SLOTS: usize = 20;
    let per_slot = calls.div_ceil(SLOTS);
    while Instant::now() < stop_at {
        for (slot, chunk) in eps.chunks(per_slot.max(1)).enumerate() {
            let slot_at = next + Duration::from_millis(slot as u64);
            let now = Instant::now();
            if slot_at > now {
                std::thread::sleep(slot_at - now);
            }
            for (j, (a, b, ra, rb)) in chunk.iter().enumerate() {
                let i = slot * per_slot + j;
                for (sock, to, ssrc) in [(a, ra, 2 * i as u32), (b, rb, 2 * i as u32 + 1)] {
                    let now = t0.elapsed().as_nanos() as u64;
                    payload[..8].copy_from_slice(&now.to_be_bytes());
                    let h = RtpHeader {
                        marker: false,
                        payload_type: PayloadType::PCMU,
                        sequence: seq,
                        timestamp: u32::from(seq) * 160,
                        ssrc: Ssrc(ssrc),
                    };
                    let n = h.write(&payload, &mut pkt).unwrap();
                    if sock.send_to(&pkt[..n], to).is_ok() {
                        sent += 1;
                    }
                }
            }
        }
        seq = seq.wrapping_add(1);
        next += Duration::from_millis(20);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    let wall = gen_start.elapsed().as_secs_f64();
    let (received, hist) = receiver.join().unwrap();
    let cpu = relay_cpu_seconds() - cpu0;
    bare_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(t) = bare_thread {
        let _ = t.join();
    }
    let pct = |p: f64| {
        let target = (received as f64 * p).ceil() as u64;
        let mut acc = 0;
        for (us, c) in hist.iter().enumerate() {
            acc += c;
            if acc >= target {
                return us * 10;
            }
        }
        hist.len() * 10
    };
    let loss = 1.0 - received as f64 / sent.max(1) as f64;
    let util = cpu / wall;
    println!(
        "mode={} threads={threads} calls={calls} wall={wall:.1}s sent={sent} received={received} loss={:.4}%",
        mode,
        loss * 100.0
    );
    println!(
        "added delay p50={}us p99={}us p99.9={}us",
        pct(0.5),
        pct(0.99),
        pct(0.999)
    );
    println!(
        "relay thread cpu={cpu:.2}s utilization={:.1}% pps={:.0}",
        util * 100.0,
        sent as f64 / wall
    );
    if cpu > 0.0 {
        let per_packet = cpu / sent.max(1) as f64;
        println!("=> relay cpu per packet ~ {:.2}us", per_packet * 1e6);
        // a G.711 call at 20 ms is 100 packets/s through the relay (50 each way)
        println!(
            "=> relayed G.711 calls per core ~ {:.0}",
            1.0 / (per_packet * 100.0)
        );
    }
}
