//! Per-packet cost of a WebRTC leg against the plain relay forward, in one
//! criterion group so the numbers compare directly. Run briefly with
//! `cargo bench -p media --bench webrtc -- --warm-up-time 1 --measurement-time 3`.
//!
//! - `plain_relay_forward`: `RelaySession::handle_packet` of a 172-byte PCMU
//!   packet (what an RTP-to-RTP call costs per packet).
//! - `leg_send_srtp`: `WebRtcLeg::send_rtp` of the same packet plus draining
//!   the SRTP datagram (parse, str0m RTP-mode bookkeeping, SRTP protect with
//!   AES-128-CM/HMAC-SHA1-80 or AEAD-GCM as negotiated).
//! - `leg_receive_srtp`: `WebRtcLeg::handle_datagram` of one SRTP datagram
//!   from the browser plus draining the decrypted packet (SRTP unprotect,
//!   replay check, str0m receive bookkeeping).
//!
//! The browser side is a plain str0m `Rtc` connected over an in-memory
//! network before timing starts; its packets for `leg_receive_srtp` are
//! produced outside the timed section.

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media::relay::{Channel, LegConfig, RelayConfig, RelaySession, Side};
use media::rtp::{PayloadType, RtpHeader, Ssrc};
use media::webrtc::{LegOutput, WebRtcConfig, WebRtcLeg};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

const LEG: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40_000);
const BROWSER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50_000);

fn rtp_packet(buf: &mut [u8], seq: u16) -> usize {
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: Ssrc(7),
    }
    .write(&[0x55; 160], buf)
    .expect("fits")
}

/// The browser: str0m with full ICE, offering audio.
struct Browser {
    rtc: Rtc,
    mid: Mid,
    out: VecDeque<Vec<u8>>,
    connected: bool,
    seq: u64,
}

impl Browser {
    fn input(&mut self, input: Input<'_>) {
        self.rtc.handle_input(input).expect("browser input");
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().expect("browser output") {
                Output::Timeout(_) => return,
                Output::Transmit(t) => self.out.push_back(t.contents.into()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(_) => {}
            }
        }
    }

    fn receive(&mut self, now: Instant, data: &[u8]) {
        let contents = DatagramRecv::try_from(data).expect("datagram");
        let r = Receive {
            proto: Protocol::Udp,
            source: LEG,
            destination: BROWSER,
            contents,
        };
        self.input(Input::Receive(now, r));
    }

    fn write(&mut self, now: Instant) {
        self.seq += 1;
        let mut api = self.rtc.direct_api();
        let tx = api.stream_tx_by_mid(self.mid, None).expect("stream");
        let ts = (self.seq * 160) as u32;
        tx.write_rtp(RtpWrite::new(
            Pt::from(0),
            SeqNo::from(self.seq),
            ts,
            now,
            [0x55u8; 160],
        ));
        self.drain();
        // The pacer releases the packet on its (immediately due) timeout.
        self.input(Input::Timeout(now));
    }
}

/// Connects a leg and a browser; returns both with nothing in flight.
fn connected_pair() -> (WebRtcLeg, Browser) {
    let now = Instant::now();
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m_rust_crypto::default_provider()))
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true, false)
        .build(now);
    rtc.add_local_candidate(Candidate::host(BROWSER, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let (mut leg, answer) =
        WebRtcLeg::accept_offer(WebRtcConfig::new(LEG), now, &offer.to_sdp_string())
            .expect("accepted");
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer"),
        )
        .expect("applied");
    let mut browser = Browser {
        rtc,
        mid,
        out: VecDeque::new(),
        connected: false,
        seq: 0,
    };
    browser.drain();
    let deadline = now + Duration::from_secs(10);
    while !(leg.is_connected() && browser.connected) {
        assert!(Instant::now() < deadline, "pair did not connect");
        pump(&mut leg, &mut browser);
        std::thread::sleep(Duration::from_millis(1));
    }
    pump(&mut leg, &mut browser);
    (leg, browser)
}

/// Moves everything in flight and runs due timeouts, so consent checks and
/// RTCP keep the pair alive between measurements.
fn pump(leg: &mut WebRtcLeg, browser: &mut Browser) {
    let now = Instant::now();
    leg.handle_timeout(now);
    browser.input(Input::Timeout(now));
    loop {
        let mut moved = false;
        while let Some(o) = leg.poll_output() {
            if let LegOutput::Transmit { data, .. } = o {
                browser.receive(now, &data);
                moved = true;
            }
        }
        while let Some(d) = browser.out.pop_front() {
            leg.handle_datagram(now, BROWSER, &d);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn webrtc(c: &mut Criterion) {
    let mut g = c.benchmark_group("webrtc_packet");
    g.throughput(Throughput::Elements(1));
    let mut buf = [0u8; 256];
    let mut seq = 0u16;

    let a: SocketAddr = "127.0.0.1:4000".parse().expect("literal");
    let b: SocketAddr = "127.0.0.1:5000".parse().expect("literal");
    let leg_cfg = |x| LegConfig {
        remote_rtp: Some(x),
        remote_rtcp: Some(x),
        rtcp_mux: true,
    };
    let mut relay = RelaySession::new(
        RelayConfig::default(),
        Instant::now(),
        leg_cfg(a),
        leg_cfg(b),
    );
    g.bench_function("plain_relay_forward", |bch| {
        bch.iter(|| {
            let n = rtp_packet(&mut buf, seq);
            seq = seq.wrapping_add(1);
            black_box(relay.handle_packet(Instant::now(), Side::A, Channel::Rtp, a, &mut buf[..n]))
        })
    });

    let (mut leg, mut browser) = connected_pair();
    g.bench_function("leg_send_srtp", |bch| {
        bch.iter_custom(|iters| {
            pump(&mut leg, &mut browser);
            let start = Instant::now();
            let mut sent = 0u64;
            for _ in 0..iters {
                let n = rtp_packet(&mut buf, seq);
                seq = seq.wrapping_add(1);
                leg.send_rtp(Instant::now(), &buf[..n]).expect("sent");
                while let Some(o) = leg.poll_output() {
                    sent += u64::from(matches!(o, LegOutput::Transmit { .. }));
                    black_box(o);
                }
            }
            let took = start.elapsed();
            assert!(
                sent >= iters,
                "every packet left as SRTP: {sent} of {iters}"
            );
            took
        })
    });

    let (mut leg, mut browser) = connected_pair();
    g.bench_function("leg_receive_srtp", |bch| {
        // Chunks of 256 packets (a few seconds of one call's audio), made and
        // delivered between the timed sections, keep memory flat however
        // many iterations criterion asks for.
        bch.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            let mut left = iters;
            let mut batch = Vec::with_capacity(256);
            while left > 0 {
                let n = left.min(256);
                left -= n;
                pump(&mut leg, &mut browser);
                let now = Instant::now();
                batch.clear();
                for _ in 0..n {
                    browser.write(now);
                    batch.extend(browser.out.drain(..));
                }
                let start = Instant::now();
                let mut got = 0u64;
                for d in &batch {
                    leg.handle_datagram(Instant::now(), BROWSER, d);
                    while let Some(o) = leg.poll_output() {
                        got += u64::from(matches!(o, LegOutput::Rtp(_)));
                    }
                }
                took += start.elapsed();
                assert!(
                    got >= n,
                    "every packet decrypted: {got} of {n} ({} datagrams)",
                    batch.len()
                );
            }
            took
        })
    });
    g.finish();
}

criterion_group!(benches, webrtc);
criterion_main!(benches);
