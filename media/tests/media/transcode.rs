//! The relay driver over real UDP sockets with legs of different codecs:
//! each endpoint decodes the other's tone in its own codec, and a key
//! press (RFC 4733) is reported as a relay event while it flows on.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use media::codec::{AudioDecoder, AudioEncoder};
use media::demux::{classify, PacketKind};
use media::dtmf::goertzel::goertzel_power;
use media::dtmf::rfc4733::DtmfSender;
use media::dtmf::Digit;
use media::relay::driver::{Command, DriverConfig, RelayEvent, RelayHandle, SessionId};
use media::relay::{LegConfig, LegMedia, RelayConfig, Side};
use media::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
use media::sdp::Codec;

fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn leg(s: &UdpSocket) -> LegConfig {
    LegConfig {
        remote_rtp: Some(s.local_addr().unwrap()),
        remote_rtcp: None,
        rtcp_mux: true,
    }
}

/// One phone: its codec (payload type, clock), a coder at 8 kHz, its socket.
struct Phone {
    sock: UdpSocket,
    pt: u8,
    codec: Codec,
    enc: AudioEncoder,
    dec: AudioDecoder,
    heard: Vec<i16>,
}

impl Phone {
    fn new(pt: u8, codec: Codec) -> Self {
        Self {
            sock: endpoint(),
            pt,
            codec,
            enc: AudioEncoder::new(codec, 8000).unwrap(),
            dec: AudioDecoder::new(codec, 8000).unwrap(),
            heard: Vec::new(),
        }
    }
    fn media(&self) -> LegMedia {
        LegMedia {
            codec: Some((PayloadType(self.pt), self.codec)),
            telephone_event: Some((PayloadType(101), self.codec.clock_rate())),
            ..LegMedia::default()
        }
    }
    /// Sends 20 ms of `freq` Hz (frame `i`) to `to`.
    fn send_tone(&mut self, i: u32, freq: f64, to: SocketAddr) {
        let pcm: Vec<i16> = (0..160)
            .map(|k| {
                let t = f64::from(i * 160 + k) / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 400];
        let n = self.enc.encode(&pcm, &mut payload).unwrap();
        let mut b = [0u8; 512];
        let len = RtpHeader {
            marker: i == 0,
            payload_type: PayloadType(self.pt),
            sequence: i as u16,
            timestamp: i * self.codec.clock_rate() / 50,
            ssrc: Ssrc(u32::from(self.pt) + 1),
        }
        .write(&payload[..n], &mut b)
        .unwrap();
        self.sock.send_to(&b[..len], to).unwrap();
    }
    /// Receives one RTP packet and decodes it (it must be in our codec);
    /// the relay's own RTCP reports in between are skipped.
    fn hear(&mut self) {
        let mut buf = [0u8; 2048];
        let n = loop {
            let (n, _) = self.sock.recv_from(&mut buf).unwrap();
            if classify(&buf[..n]) == PacketKind::Rtp {
                break n;
            }
        };
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.payload_type(), PayloadType(self.pt), "{:?}", self.codec);
        let mut pcm = [0i16; 960];
        let m = self.dec.decode(Some(p.payload()), &mut pcm).unwrap();
        self.heard.extend_from_slice(&pcm[..m]);
    }
    fn assert_hears(&self, want: f64, other: f64) {
        let tail = &self.heard[self.heard.len() / 2..];
        let (w, o) = (
            goertzel_power(tail, want as f32, 8000.0),
            goertzel_power(tail, other as f32, 8000.0),
        );
        assert!(
            w > 100.0 * o,
            "{:?}: {want} Hz {w} vs {other} Hz {o}",
            self.codec
        );
    }
}

/// A port range whose first ports are free now (other test runs and
/// servers on this machine use relay ports too).
fn free_range(from: u16) -> u16 {
    (from..60000)
        .step_by(200)
        .find(|base| (0..16).all(|i| UdpSocket::bind(("127.0.0.1", base + i)).is_ok()))
        .expect("a free port range")
}

/// A relay thread on a free port range from `from` on.
fn relay_from(from: u16) -> RelayHandle {
    let port_min = free_range(from);
    RelayHandle::spawn(DriverConfig {
        port_min,
        port_max: port_min + 40,
        relay: RelayConfig::default(),
        ..DriverConfig::default()
    })
    .unwrap()
}

fn talk(from: u16, a: (u8, Codec), b: (u8, Codec)) {
    let relay = relay_from(from);
    let (mut pa, mut pb) = (Phone::new(a.0, a.1), Phone::new(b.0, b.1));
    let id = SessionId(3);
    let ports = relay
        .open_sync(id, leg(&pa.sock), leg(&pb.sock), Duration::from_secs(2))
        .unwrap();
    relay.send(Command::SetMedia {
        id,
        side: Side::A,
        media: pa.media(),
    });
    relay.send(Command::SetMedia {
        id,
        side: Side::B,
        media: pb.media(),
    });
    let to_a: SocketAddr = ([127, 0, 0, 1], ports.0.rtp).into();
    let to_b: SocketAddr = ([127, 0, 0, 1], ports.1.rtp).into();
    for i in 0..100 {
        pa.send_tone(i, 1000.0, to_a);
        pb.hear();
        pb.send_tone(i, 440.0, to_b);
        pa.hear();
    }
    pa.assert_hears(440.0, 1000.0);
    pb.assert_hears(1000.0, 440.0);
    // a key press on A: reported once, and B gets it in its numbering
    let mut dtmf = DtmfSender::new(160);
    dtmf.start(Digit::D5, 100 * 160, 800);
    let mut seq = 100u16;
    while let Some(ev) = dtmf.poll_packet() {
        let mut b = [0u8; 64];
        let len = RtpHeader {
            marker: ev.marker,
            payload_type: PayloadType(101),
            sequence: seq,
            timestamp: ev.timestamp,
            ssrc: Ssrc(u32::from(a.0) + 1),
        }
        .write(&ev.payload.to_bytes(), &mut b)
        .unwrap();
        seq += 1;
        pa.sock.send_to(&b[..len], to_a).unwrap();
        let (n, _) = pb.sock.recv_from(&mut b).unwrap();
        let p = RtpPacket::parse(&b[..n]).unwrap();
        assert_eq!((p.payload_type(), p.payload()[0]), (PayloadType(101), 5));
    }
    let ev = relay.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(
        matches!(
            ev,
            RelayEvent::Dtmf {
                id: SessionId(3),
                side: Side::A,
                digit: Digit::D5
            }
        ),
        "{ev:?}"
    );
    relay.send(Command::Close(id));
    let ev = relay.events.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(
        matches!(ev, RelayEvent::Closed { .. }),
        "one report per key: {ev:?}"
    );
}

#[test]
fn pcmu_and_pcma_legs_hear_each_other() {
    talk(48000, (0, Codec::Pcmu), (8, Codec::Pcma));
}

#[cfg(feature = "opus")]
#[test]
fn pcmu_and_opus_legs_hear_each_other() {
    talk(50000, (0, Codec::Pcmu), (111, Codec::Opus));
}

#[cfg(feature = "opus")]
#[test]
fn opus_and_pcma_legs_hear_each_other() {
    talk(52000, (111, Codec::Opus), (8, Codec::Pcma));
}

/// While it transcodes, the relay sends each leg RTCP of its own: an SR on
/// the stream that leg receives (same SSRC as the RTP), a block on what it
/// receives from the leg; the leg's RR on that SR gives the relay the
/// round-trip time, readable in the leg's stats.
#[test]
fn transcoding_relay_reports_on_its_own_streams_and_measures_rtt() {
    use media::rtcp::{self, RtcpCompound};
    let relay = relay_from(54000);
    let (mut pa, mut pb) = (Phone::new(0, Codec::Pcmu), Phone::new(8, Codec::Pcma));
    pa.sock
        .set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let id = SessionId(9);
    let ports = relay
        .open_sync(id, leg(&pa.sock), leg(&pb.sock), Duration::from_secs(2))
        .unwrap();
    for (side, media) in [(Side::A, pa.media()), (Side::B, pb.media())] {
        relay.send(Command::SetMedia { id, side, media });
    }
    let to_a: SocketAddr = ([127, 0, 0, 1], ports.0.rtp).into();
    let to_b: SocketAddr = ([127, 0, 0, 1], ports.1.rtp).into();
    let mut rtp_ssrc = None;
    let mut sr = None;
    let mut buf = [0u8; 2048];
    // paced like a call: 20 ms frames, up to 8 s (the first report is due
    // 1-3 s after the first transcoded packet)
    for i in 0..400 {
        pa.send_tone(i, 1000.0, to_a);
        pb.send_tone(i, 440.0, to_b);
        let _ = pb.sock.recv_from(&mut buf);
        while let Ok((n, _)) = pa.sock.recv_from(&mut buf) {
            match classify(&buf[..n]) {
                PacketKind::Rtp => rtp_ssrc = Some(RtpPacket::parse(&buf[..n]).unwrap().ssrc()),
                PacketKind::Rtcp => sr = Some(buf[..n].to_vec()),
                _ => {}
            }
        }
        if sr.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let sr = sr.expect("an RTCP report from the relay within 8 s");
    let compound = RtcpCompound::parse(&sr).unwrap();
    let first = compound.iter().next().unwrap();
    assert_eq!(first.packet_type(), rtcp::PT_SR);
    assert_eq!(
        first.sender_ssrc(),
        rtp_ssrc,
        "the SSRC of the RTP A receives"
    );
    let block = first.report_blocks().next().expect("a block on A's stream");
    assert_eq!(block.ssrc, Ssrc(1), "A's SSRC");
    assert_eq!(block.cumulative_lost, 0);
    // A answers after holding the SR for 10 ms (DLSR)
    std::thread::sleep(Duration::from_millis(10));
    let rr = rtcp::ReportBlock {
        ssrc: rtp_ssrc.unwrap(),
        lsr: first.sender_info().unwrap().ntp.compact(),
        dlsr: 655,
        ..Default::default()
    };
    let n = rtcp::write_rr(Ssrc(1), &[rr], &mut buf).unwrap();
    pa.sock.send_to(&buf[..n], to_a).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    relay.send(Command::QueryStats(id));
    let stats = loop {
        match relay.events.recv_timeout(Duration::from_secs(2)).unwrap() {
            RelayEvent::Stats { stats, .. } => break stats,
            _ => continue,
        }
    };
    let rtt = stats.0.rtt_ms.expect("RTT of leg A from its RR");
    assert!((0.0..50.0).contains(&rtt), "loopback RTT {rtt} ms");
}
