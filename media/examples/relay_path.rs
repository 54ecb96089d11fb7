//! A/B micro-measurement of the relay's per-packet socket path over
//! loopback, interleaved in one process so that the noise of a shared
//! machine hits every variant alike: batches of each variant alternate,
//! every batch is timed on its own and the median batch is reported.
//!
//! Variants (relay side only; the endpoints' sends and receives are not
//! timed):
//! - `unconnected`: `recv_from` + [`RelaySession::handle_datagram`] +
//!   `send_to` (the driver before sockets were connected);
//! - `connected`: the same with both relay sockets `connect()`ed to their
//!   peers, `send` instead of `send_to` (the driver once latching settled);
//! - `eagain probe`: the extra `recv_from` that returns `WouldBlock` at the
//!   end of every edge-triggered drain (one per readiness event).
//!
//! `cargo run --release -p media --example relay_path -- [rounds=400] [batch=64]`

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::relay::{Channel, Forward, LegConfig, RelayConfig, RelaySession, Side};
use media::rtp::{PayloadType, RtpHeader, Ssrc};

struct Path {
    client: UdpSocket,
    relay_in: UdpSocket,
    relay_out: UdpSocket,
    far: UdpSocket,
    relay_addr: SocketAddr,
    session: RelaySession,
    connected: bool,
}

impl Path {
    fn new(connected: bool) -> Self {
        let bind = || UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (client, relay_in, relay_out, far) = (bind(), bind(), bind(), bind());
        far.set_nonblocking(true).expect("nonblocking");
        relay_in.set_nonblocking(true).expect("nonblocking");
        let addr = |s: &UdpSocket| s.local_addr().expect("addr");
        let leg = |x| LegConfig {
            remote_rtp: Some(x),
            remote_rtcp: Some(x),
            rtcp_mux: true,
        };
        if connected {
            relay_in.connect(addr(&client)).expect("connect");
            relay_out.connect(addr(&far)).expect("connect");
        }
        let session = RelaySession::new(
            RelayConfig::default(),
            Instant::now(),
            leg(addr(&client)),
            leg(addr(&far)),
        );
        Self {
            relay_addr: addr(&relay_in),
            client,
            relay_in,
            relay_out,
            far,
            session,
            connected,
        }
    }

    /// One batch: returns (relay time for `batch` packets, time of `batch`
    /// WouldBlock probes).
    fn batch(&mut self, batch: usize, seq: &mut u16, connected: bool) -> (Duration, Duration) {
        let mut pkt = [0u8; 256];
        let mut buf = [0u8; 2048];
        let (mut work, mut probe) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..batch {
            let h = RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence: *seq,
                timestamp: u32::from(*seq) * 160,
                ssrc: Ssrc(7),
            };
            *seq = seq.wrapping_add(1);
            let n = h.write(&[0xff; 160], &mut pkt).expect("rtp");
            self.client
                .send_to(&pkt[..n], self.relay_addr)
                .expect("send");
            let t = Instant::now();
            let (n, from) = self.relay_in.recv_from(&mut buf).expect("recv");
            let now = Instant::now();
            if let Forward::Send { to, len, .. } =
                self.session
                    .handle_datagram(now, Side::A, Channel::Rtp, from, &mut buf, n)
            {
                let _ = if connected {
                    self.relay_out.send(&buf[..len])
                } else {
                    self.relay_out.send_to(&buf[..len], to)
                };
            }
            let t2 = Instant::now();
            work += t2 - t;
            let empty = self.relay_in.recv_from(&mut buf).is_err();
            probe += t2.elapsed();
            assert!(empty, "one datagram per event");
            while self.far.recv_from(&mut buf).is_ok() {}
        }
        (work, probe)
    }
}

/// Edge- vs level-triggered epoll around the connected path: one
/// `epoll_wait` per packet; edge-triggered drains until `WouldBlock`,
/// level-triggered reads one datagram per event (epoll re-checks the
/// socket on the next wait instead of a `recvfrom` syscall).
fn poll_batch(
    p: &mut Path,
    ep: &rustix::fd::OwnedFd,
    events: &mut [std::mem::MaybeUninit<rustix::event::epoll::Event>],
    batch: usize,
    seq: &mut u16,
    edge: bool,
) -> Duration {
    let mut pkt = [0u8; 256];
    let mut buf = [0u8; 2048];
    let mut work = Duration::ZERO;
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    for _ in 0..batch {
        let h = RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence: *seq,
            timestamp: u32::from(*seq) * 160,
            ssrc: Ssrc(7),
        };
        *seq = seq.wrapping_add(1);
        let n = h.write(&[0xff; 160], &mut pkt).expect("rtp");
        p.client.send_to(&pkt[..n], p.relay_addr).expect("send");
        let t = Instant::now();
        let (ready, _) = rustix::event::epoll::wait(ep, &mut *events, Some(&zero)).expect("wait");
        for _ in ready.iter() {
            while let Ok((n, from)) = p.relay_in.recv_from(&mut buf) {
                let now = Instant::now();
                if let Forward::Send { to, len, .. } =
                    p.session
                        .handle_datagram(now, Side::A, Channel::Rtp, from, &mut buf, n)
                {
                    let _ = if p.connected {
                        p.relay_out.send(&buf[..len])
                    } else {
                        p.relay_out.send_to(&buf[..len], to)
                    };
                }
                if !edge {
                    break;
                }
            }
        }
        work += t.elapsed();
        while p.far.recv_from(&mut buf).is_ok() {}
    }
    work
}

/// `edge` (edge-triggered drain) with `edge_connected` sockets against
/// level-triggered, one read per event, with `level_connected` sockets.
fn epoll_ab(
    rounds: usize,
    batch: usize,
    edge_connected: bool,
    level_connected: bool,
) -> (f64, f64) {
    use rustix::event::epoll;
    let mut paths = [Path::new(edge_connected), Path::new(level_connected)];
    let eps: Vec<_> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
            let flags = if i == 0 {
                epoll::EventFlags::IN | epoll::EventFlags::ET
            } else {
                epoll::EventFlags::IN
            };
            epoll::add(&ep, &p.relay_in, epoll::EventData::new_u64(0), flags).expect("add");
            ep
        })
        .collect();
    let mut events = vec![std::mem::MaybeUninit::uninit(); 64];
    let mut seq = 0u16;
    let mut per = [Vec::new(), Vec::new()];
    for r in 0..rounds + 1 {
        for j in 0..2 {
            let i = (r + j) % 2;
            let w = poll_batch(&mut paths[i], &eps[i], &mut events, batch, &mut seq, i == 0);
            if r > 0 {
                per[i].push(w.as_secs_f64() * 1e6 / batch as f64);
            }
        }
    }
    let [mut e, mut l] = per;
    (median(&mut e), median(&mut l))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(400);
    let batch: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(64);
    let mut paths = [Path::new(false), Path::new(true)];
    let mut seq = 0u16;
    // warm up (latch windows close after 10 packets)
    for (i, p) in paths.iter_mut().enumerate() {
        p.batch(batch, &mut seq, i == 1);
    }
    let mut per = [Vec::new(), Vec::new()];
    let mut probes = Vec::new();
    for r in 0..rounds {
        // alternate which variant goes first
        for j in 0..2 {
            let i = (r + j) % 2;
            let (work, probe) = paths[i].batch(batch, &mut seq, i == 1);
            per[i].push(work.as_secs_f64() * 1e6 / batch as f64);
            probes.push(probe.as_secs_f64() * 1e6 / batch as f64);
        }
    }
    let [mut u, mut c] = per;
    let (mu, mc) = (median(&mut u), median(&mut c));
    println!("rounds={rounds} batch={batch} (median of per-batch µs/packet, relay side only)");
    println!("unconnected recv_from+handle+send_to: {mu:.3} µs");
    println!("connected   recv_from+handle+send   : {mc:.3} µs");
    println!("ratio connected/unconnected: {:.3}", mc / mu);
    println!(
        "final EAGAIN probe per readiness event: {:.3} µs",
        median(&mut probes)
    );
    let (me, ml) = epoll_ab(rounds, batch, true, true);
    println!("connected sockets, epoll_wait+recv+handle+send:");
    println!("  edge-triggered, drain to EAGAIN: {me:.3} µs");
    println!(
        "  level-triggered, one recv/event: {ml:.3} µs  (ratio {:.3})",
        ml / me
    );
    let (me, ml) = epoll_ab(rounds, batch, false, true);
    println!("driver before → after, epoll_wait+recv+handle+send:");
    println!("  edge-triggered drain, unconnected, send_to: {me:.3} µs");
    println!(
        "  level-triggered one read, connected, send : {ml:.3} µs  (ratio {:.3})",
        ml / me
    );
}
